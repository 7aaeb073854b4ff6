"""A service's container environment the way docker/cli's loader resolves it (``resolveEnvironment``): every
``env_file`` in order (docker's ``opts.ParseEnvFile``: ``KEY=VALUE`` lines, ``#`` comments, a bare ``KEY`` taken
from the environment), then ``environment:`` on top; a bare ``KEY`` in ``environment:`` takes its value from
the substitution variables (cs-deploy's environment is PLUGIN_ENVIRONMENT/PLUGIN_ENV_FROM, not the runner's).

A bare key with no value anywhere is left out (docker passes the bare name, which the engine treats as unset).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from tagship.errors import SettingsError


def parse_env_file(text: str, variables: Mapping[str, str], where: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.lstrip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not key or any(c.isspace() for c in key):
            raise SettingsError(f"PLUGIN_COMPOSE_FILE: {where} line {number}: variable {key!r} contains whitespaces")
        if sep:
            out[key] = value
        elif key in variables:
            out[key] = variables[key]
    return out


def _items(env: Any) -> list[tuple[str, str | None]]:
    if isinstance(env, dict):
        return [(str(k), None if v is None else (str(v).lower() if isinstance(v, bool) else str(v)))
                for k, v in env.items()]
    out: list[tuple[str, str | None]] = []
    for item in env or []:
        key, sep, value = str(item).partition("=")
        out.append((key, value if sep else None))
    return out


def resolve(compose: dict[str, Any], variables: Mapping[str, str], base: Path) -> None:
    """Rewrite every service's ``environment`` into the resolved map (``env_file`` merged in), in place."""
    for name, svc in (compose.get("services") or {}).items():
        if not isinstance(svc, dict):
            continue
        env: dict[str, str] = {}
        files = svc.get("env_file")
        for entry in [files] if isinstance(files, (str, dict)) else files or []:
            path_text = entry.get("path") if isinstance(entry, dict) else entry
            required = entry.get("required", True) if isinstance(entry, dict) else True
            path = base / str(path_text)
            try:
                text = path.read_text()
            except OSError as exc:
                if not required:
                    continue
                raise SettingsError(f"PLUGIN_COMPOSE_FILE: services.{name}.env_file: cannot read {path_text}: "
                                    f"{exc.strerror or exc}") from None
            env.update(parse_env_file(text, variables, f"services.{name}.env_file {path_text}"))
        for key, value in _items(svc.get("environment")):
            if value is None:
                if key in variables:
                    env[key] = variables[key]
                else:
                    env.pop(key, None)
            else:
                env[key] = value
        if files is not None or svc.get("environment") is not None:
            svc["environment"] = env
