"""Build secrets on disk only while the build runs: a private 0700 directory of 0600 files, removed on every
path out (success, failure, SIGTERM — the kit turns it into an exception that unwinds through here)."""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping, Sequence

from tagship import mask
from tagship.errors import SettingsError

from .buildplan import BuildSecret


@contextmanager
def private_dir(prefix: str = "tagship-secrets-") -> Iterator[Path]:
    """A 0700 temporary directory (mkdtemp makes it so), removed afterwards whatever happens."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        os.chmod(path, 0o700)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def write_private(path: Path, data: bytes) -> Path:
    """A new 0600 file (O_EXCL: never an existing file or a link planted there)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return path


def _confined(workspace: Path, name: str, sid: str) -> Path:
    path = (workspace / name).resolve()
    ws = workspace.resolve()
    if path != ws and ws not in path.parents:
        raise SettingsError(f"PLUGIN_SECRETS: secret {sid} reads {name}, which is outside the workspace")
    if not path.is_file():
        raise SettingsError(f"PLUGIN_SECRETS: secret {sid} reads {name}, which is not a file in the workspace")
    return path


def materialize(secrets: Sequence[BuildSecret], environ: Mapping[str, str], workspace: Path,
                into: Path) -> tuple[list[tuple[str, str]], list[str]]:
    """([(id, file)] for ``--secret``, the values — masked from now on and searched for by the policy proof).

    A value from an env var is written to a 0600 file in ``into``; a workspace file is copied there too, so the
    CLI reads only from the private directory and the workspace file cannot change under the build."""
    files, values = [], []
    for sec in secrets:
        if sec.env:
            if sec.env not in os.environ and sec.env not in environ:
                raise SettingsError(f"PLUGIN_SECRETS: secret {sec.id} reads the env var {sec.env}, which is not "
                                    "set (environment: {from_secret: …} on the step)")
            raw = os.environb.get(sec.env.encode()) if os.name == "posix" else None
            data = raw if raw is not None else environ[sec.env].encode("utf-8", "surrogateescape")
        else:
            data = _confined(workspace, sec.file, sec.id).read_bytes()
        text = data.decode("utf-8", "replace")
        mask.register(text)
        values.append(text)
        stripped = text.strip()
        if stripped and stripped != text:
            mask.register(stripped)
            values.append(stripped)
        files.append((sec.id, str(write_private(into / f"s{len(files)}", data))))
    return files, values
