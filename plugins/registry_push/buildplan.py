"""Pure decisions for the build: which builder, which build secrets, the CLI's argv, what the progress said.

No I/O here; table-tested in tests/unit/test_registry_push_buildplan.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

SECRET_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MOUNT = re.compile(r"^\s*RUN\s+(\S+\s+)*--mount=", re.IGNORECASE | re.MULTILINE)
SYNTAX = re.compile(r"^#\s*syntax\s*=", re.IGNORECASE | re.MULTILINE)
STEP = re.compile(r"^#(\d+) \[[^\]]*\b\d+/\d+\] (?!FROM )")   # FROM is no build step of ours
CACHED = re.compile(r"^#(\d+) CACHED\s*$")
MIN_NEEDLE = 6   # shorter values would match by chance in any layer; they are still masked


@dataclass(frozen=True)
class BuildSecret:
    """One ``--secret``: its id and where its value comes from (an env var, or a file in the workspace)."""

    id: str
    env: str = ""
    file: str = ""


def _spec(text: str, setting: str) -> BuildSecret:
    """``id=NAME,env=VAR`` / ``id=NAME,src=PATH`` (buildx's syntax; ``source``/``file`` for src)."""
    fields: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep or not value.strip():
            raise ValueError(f"{setting}: {text[:60]!r} is not id=NAME,env=VAR or id=NAME,src=FILE")
        fields[key.strip().lower()] = value.strip()
    sid = fields.pop("id", "")
    env = fields.pop("env", "")
    src = fields.pop("src", "") or fields.pop("source", "") or fields.pop("file", "")
    fields.pop("type", None)
    if fields:
        raise ValueError(f"{setting}: unknown field {sorted(fields)[0]!r} in {text[:60]!r} (id, env, src)")
    if not sid or bool(env) == bool(src):
        raise ValueError(f"{setting}: {text[:60]!r} needs an id and exactly one of env= or src=")
    return BuildSecret(sid, env=env, file=src)


def _regroup(items: Iterable[str]) -> list[str]:
    """Drone joins a YAML list with commas, and a spec has commas too: a new spec starts at ``id=``."""
    out: list[str] = []
    for item in items:
        for part in str(item).split(","):
            part = part.strip()
            if not part:
                continue
            if part.lower().startswith("id=") or not out:
                out.append(part)
            else:
                out[-1] += "," + part
    return out


def parse_secrets(secrets: Sequence[str], from_env: Sequence[str], from_file: Sequence[str]) -> list[BuildSecret]:
    """All build secrets, in order; raises ValueError naming the env var. ``secrets`` (drone-docker's ``secret``)
    takes full specs; ``secrets_from_env`` takes ``id=VAR``; ``secrets_from_file`` takes ``id=PATH``."""
    out = [_spec(t, "PLUGIN_SECRETS") for t in _regroup(secrets)]
    for setting, items, kind in (("PLUGIN_SECRETS_FROM_ENV", from_env, "env"),
                                 ("PLUGIN_SECRETS_FROM_FILE", from_file, "file")):
        for item in items:
            sid, sep, where = str(item).partition("=")
            if not sep or not sid.strip() or not where.strip():
                raise ValueError(f"{setting}: {str(item)[:60]!r} is not id={'VAR' if kind == 'env' else 'PATH'}")
            out.append(BuildSecret(sid.strip(), **{kind: where.strip()}))
    seen: set[str] = set()
    for sec in out:
        if not SECRET_ID.match(sec.id):
            raise ValueError(f"PLUGIN_SECRETS: secret id {sec.id[:40]!r} must be letters, digits, . _ - only")
        if sec.id in seen:
            raise ValueError(f"PLUGIN_SECRETS: secret id {sec.id!r} is given twice")
        seen.add(sec.id)
    return out


def needs_buildkit(dockerfile_text: str) -> str:
    """Why this Dockerfile cannot build with the classic builder ('' when it can)."""
    if MOUNT.search(dockerfile_text):
        return "the Dockerfile uses RUN --mount"
    if SYNTAX.search(dockerfile_text):
        return "the Dockerfile names a # syntax= frontend"
    return ""


def choose_builder(setting: str, *, engine_ok: bool, cli: str | None, needs: str) -> tuple[str, str]:
    """(``buildkit`` | ``classic``, a notice) — or raises ValueError (bad settings: exit 2) / RuntimeError (this
    engine or CLI cannot do what the settings ask: exit 1, before anything is built)."""
    if setting == "classic":
        if needs:
            raise ValueError(f"PLUGIN_BUILDER: classic, but {needs} (use builder: auto or buildkit)")
        return "classic", ""
    if engine_ok and cli:
        return "buildkit", ""
    why = ("the engine does not support BuildKit" if not engine_ok else
           "no docker CLI here builds with BuildKit (DOCKER_BUILDKIT=1 docker build --help lists no --secret/--ssh)")
    if setting == "buildkit" or needs:
        raise RuntimeError(f"BuildKit is needed ({needs or 'builder: buildkit'}), but {why}")
    return "classic", f"builder: auto falls back to the classic builder: {why}"


def cli_args(cli: str, *, context: str, dockerfile: str, tag: str, iidfile: str, arg_names: Iterable[str],
             labels: Mapping[str, str], target: str, platform: str, cache_from: Sequence[str], pull: bool,
             nocache: bool, extra_hosts: Sequence[str], secrets: Sequence[tuple[str, str]], ssh_sock: str,
             network: str = "") -> list[str]:
    """``docker build`` for BuildKit. Build args go by name only (the values are in the CLI's environment, so
    no argv shows them); secrets by file; labels and the rest as flags."""
    cmd = [cli, "build", "--progress=plain", "--iidfile", iidfile, "-f", dockerfile, "-t", tag]
    for name in arg_names:
        cmd += ["--build-arg", name]
    for key, value in labels.items():
        cmd += ["--label", f"{key}={value}"]
    for sid, path in secrets:
        cmd += ["--secret", f"id={sid},src={path}"]
    if ssh_sock:
        cmd += ["--ssh", f"default={ssh_sock}"]
    for image in cache_from:
        cmd += ["--cache-from", image]
    for host in extra_hosts:
        cmd += ["--add-host", host]
    if target:
        cmd += ["--target", target]
    if platform:
        cmd += ["--platform", platform]
    if network:
        cmd += ["--network", network]
    if pull:
        cmd.append("--pull")
    if nocache:
        cmd.append("--no-cache")
    cmd.append(context)
    return cmd


def count_steps(lines: Iterable[str]) -> tuple[int, int]:
    """(CACHED steps, Dockerfile steps) from BuildKit's plain progress (``#5 [2/4] RUN …`` … ``#5 CACHED``)."""
    steps: set[str] = set()
    cached: set[str] = set()
    for line in lines:
        m = STEP.match(line)
        if m:
            steps.add(m.group(1))
            continue
        m = CACHED.match(line)
        if m:
            cached.add(m.group(1))
    return len(cached & steps), len(steps)


def count_classic(lines: Iterable[str]) -> tuple[int, int]:
    """(cached steps, steps) from the classic builder's stream (``Step 2/5 : …`` / ``---> Using cache``)."""
    steps = cached = 0
    for line in lines:
        text = line.strip()
        if re.match(r"^Step \d+/\d+ :", text):
            steps += 1
        elif text == "---> Using cache":
            cached += 1
    return cached, steps


def needles(values: Iterable[str], key: str = "") -> list[str]:
    """What the policy proof searches for: every secret value, and every line of the key's body (the
    BEGIN/END armour lines are the same in every key; too-short values would match by chance)."""
    out = [v for v in values if len(v) >= MIN_NEEDLE]
    for line in key.splitlines():
        line = line.strip()
        if line and not line.startswith("-----") and len(line) >= 16 and ":" not in line[:20]:
            out.append(line)
    return list(dict.fromkeys(out))
