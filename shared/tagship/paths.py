"""Paths a setting names stay inside the workspace (symlinks included), unless the step sets
``allow_outside_workspace: true``; private temporary files for keys and certificates.

:func:`confine` resolves a setting's path against the workspace and refuses (exit 2, naming the env var)
one that ends up outside it: ``../x``, ``/etc/passwd``, or a symlink pointing out. :func:`state_dir` is
the one guard for ``.tagship``: it must be a real directory in the workspace, never a symlink elsewhere.
:func:`private_dir` / :func:`write_private` make the 0700 directory and 0600 files that TLS keys and
docker configs are written to; the caller removes the directory (``shutil.rmtree``) when done.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import PluginError, SettingsError
from .text import shown

STATE = ".tagship"


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
        return True
    except ValueError:
        return False


def confine(workspace: Path | str, value: str | Path, env: str, *, allow: bool = False) -> Path:
    """``value`` (relative to the workspace, or absolute) as a path; a :class:`SettingsError` naming
    ``env`` if it (after following symlinks) lies outside the workspace and ``allow`` is false."""
    text = str(value)
    if "\x00" in text:
        raise SettingsError(f"{env}: expected a path, got {shown(text)}")
    root = Path(workspace).resolve()
    path = Path(text) if os.path.isabs(text) else Path(workspace) / text
    if allow:
        return path
    try:
        real = path.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        raise SettingsError(f"{env}: {shown(text)} cannot be resolved (a symlink loop?)") from None
    if not _inside(real, root):
        raise SettingsError(f"{env}: {shown(text)} is outside the workspace {root} (set "
                            f"PLUGIN_ALLOW_OUTSIDE_WORKSPACE=true if that is meant)")
    return path


def state_dir(workspace: Path | str, create: bool = True) -> Path:
    """``<workspace>/.tagship``: refused when it is a symlink or not a directory."""
    path = Path(workspace) / STATE
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        raise PluginError(f"{path} is a symlink or not a directory; tagship writes its results only into "
                          f"a real {STATE} directory in the workspace",
                          hint=f"remove {path} and run the step again")
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def private_dir(prefix: str = "tagship-") -> Path:
    """A fresh directory only this user can enter (0700); remove it with ``shutil.rmtree``."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(path, 0o700)
    return path


def write_private(directory: Path | str, name: str, text: str | bytes) -> Path:
    """``directory/name`` created 0600 (never following an existing file or link), holding ``text``."""
    path = Path(directory) / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "wb" if isinstance(text, bytes) else "w") as fh:
        fh.write(text)
    return path
