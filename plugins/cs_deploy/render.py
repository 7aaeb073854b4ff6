"""Rendering the compose file: strict variable substitution, compose-spec validation, masked printing.

Substitution follows compose's rules on *values* of the parsed YAML (never keys, never the raw text, so a value
with ``:`` or a newline cannot change the file's structure): ``$VAR``, ``${VAR}``, ``${VAR:-default}`` (unset or
empty), ``${VAR-default}`` (unset), ``${VAR:?message}`` / ``${VAR?message}`` (an error), ``${VAR:+alt}`` /
``${VAR+alt}``, and ``$$`` for a literal ``$``. Unlike compose, an unset variable without a default is an error
(exit 2), not a silent empty string: a deploy with ``image: app:`` is worse than no deploy.

``compose-spec.json`` is the Compose Specification JSON schema (Apache-2.0), from compose-spec/compose-spec
``schema/compose-spec.json`` as shipped in the docker-compose 1.29.2 wheel on PyPI
(``compose/config/compose_spec.json``; sha256 0dc04bd346dcfee1b1419628fff79937bbf076925f298f272a2b490e2b112bac).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from tagship.errors import SettingsError

_VAR = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|(?P<named>[_a-zA-Z][_a-zA-Z0-9]*)"
    r"|\{(?P<braced>[_a-zA-Z][_a-zA-Z0-9]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<invalid>))")

# docker/cli cli/compose/loader/interpolate.go interpolateTypeCastMapping: cast after substitution, before the
# schema ("*" one key or list item); a service path starts at the service, a top-level one at its section
_SERVICE_CASTS = {
    ("configs", "*", "mode"): "int", ("secrets", "*", "mode"): "int", ("healthcheck", "retries"): "int",
    ("healthcheck", "disable"): "bool", ("deploy", "replicas"): "int",
    ("deploy", "update_config", "parallelism"): "int", ("deploy", "update_config", "max_failure_ratio"): "float",
    ("deploy", "rollback_config", "parallelism"): "int", ("deploy", "rollback_config", "max_failure_ratio"): "float",
    ("deploy", "restart_policy", "max_attempts"): "int", ("deploy", "placement", "max_replicas_per_node"): "int",
    ("ports", "*", "target"): "int", ("ports", "*", "published"): "int", ("ulimits", "*"): "int",
    ("ulimits", "*", "*"): "int", ("privileged",): "bool", ("read_only",): "bool", ("stdin_open",): "bool",
    ("tty",): "bool", ("volumes", "*", "read_only"): "bool", ("volumes", "*", "volume", "nocopy"): "bool"}
_TOP_CASTS = {("networks", "*", "external"): "bool", ("networks", "*", "internal"): "bool",
              ("networks", "*", "attachable"): "bool", ("volumes", "*", "external"): "bool",
              ("secrets", "*", "external"): "bool", ("configs", "*", "external"): "bool"}
_TRUE, _FALSE = {"y", "yes", "true", "on"}, {"n", "no", "false", "off"}


def _matches(pattern: tuple[str, ...], path: tuple[str, ...]) -> bool:
    return len(pattern) == len(path) and all(p in ("*", q) for p, q in zip(pattern, path))


def _cast_kind(path: tuple[str, ...]) -> str | None:
    if len(path) > 2 and path[0] == "services":
        table, tail = _SERVICE_CASTS, path[2:]
    else:
        table, tail = _TOP_CASTS, path
    return next((kind for pattern, kind in table.items() if _matches(pattern, tail)), None)


def _cast(value: str, kind: str | None, where: str) -> Any:
    """docker's toInt / toFloat / toBoolean; a value that does not fit is an error naming the key."""
    if kind is None:
        return value
    text = value.strip()
    try:
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
    except ValueError:
        raise Unset(f"{where}: {value!r} is not a{'n integer' if kind == 'int' else ' number'}") from None
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    raise Unset(f"{where}: {value!r} is not a boolean (true/false, yes/no, on/off)")


class Unset(ValueError):
    """A variable with no value and no default; ``name`` and the compose path are in the message."""


def substitute(text: str, variables: Mapping[str, str], where: str = "") -> str:
    """One string, compose rules, strict. Raises :class:`Unset` (a ValueError) naming ``where``."""

    def one(m: re.Match[str]) -> str:
        if m.group("escaped") is not None:
            return "$"
        if m.group("invalid") is not None:
            raise Unset(f"{where}: invalid interpolation at {text[m.start():m.start() + 12]!r} "
                        "(write $$ for a literal $)")
        name = m.group("named") or m.group("braced")
        op, arg = m.group("op"), m.group("arg") or ""
        value = variables.get(name)
        empty = value is None or (value == "" and op is not None and op.startswith(":"))
        if op in (":-", "-"):       # docker takes a default as written: a $ in it stays a $
            return arg if empty else value
        if op in (":+", "+"):
            return "" if empty else arg
        if op in (":?", "?"):
            if empty:
                raise Unset(f"{where}: ${{{name}}}: {arg or 'required'}")
            return value
        if value is None:
            raise Unset(f"{where}: ${{{name}}} is not set (give it in PLUGIN_ENVIRONMENT or PLUGIN_ENV_FROM, "
                        f"or write ${{{name}:-default}})")
        return value

    return _VAR.sub(one, text)


def interpolate(node: Any, variables: Mapping[str, str], path: tuple[str, ...] = ()) -> Any:
    """Substitute in every string value of a parsed compose document; collects all problems."""
    problems: list[str] = []
    result = _walk(node, variables, path, problems)
    if problems:
        raise SettingsError([f"PLUGIN_COMPOSE_FILE: {p}" for p in problems])
    return result


def _walk(node: Any, variables: Mapping[str, str], path: tuple[str, ...], problems: list[str]) -> Any:
    if isinstance(node, dict):
        return {k: _walk(v, variables, path + (str(k),), problems) for k, v in node.items()}
    if isinstance(node, list):
        return [_walk(v, variables, path + (str(i),), problems) for i, v in enumerate(node)]
    if isinstance(node, str) and "$" in node:
        try:
            value = substitute(node, variables, ".".join(path))
            return _cast(value, _cast_kind(path), ".".join(path))
        except Unset as exc:
            problems.append(str(exc))
            return node
    return node


@lru_cache(maxsize=1)
def _validator():
    import jsonschema

    schema = json.loads((Path(__file__).parent / "compose-spec.json").read_text())
    return jsonschema.Draft7Validator(schema)


def validate(compose: dict[str, Any]) -> None:
    """Against the compose-spec schema; raises SettingsError with one line per problem (at most 8)."""
    # the vendored schema (2021) predates the top-level `name:` of today's compose files; the stack name comes
    # from PLUGIN_STACK anyway
    compose = {k: v for k, v in compose.items() if k != "name"}
    errors = sorted(_validator().iter_errors(compose), key=lambda e: [str(p) for p in e.absolute_path])
    if not errors:
        return
    lines = []
    for err in errors[:8]:
        where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        lines.append(f"PLUGIN_COMPOSE_FILE: {where}: {_short(err.message)} (compose-spec)")
    if len(errors) > 8:
        lines.append(f"PLUGIN_COMPOSE_FILE: … and {len(errors) - 8} more schema problems")
    raise SettingsError(lines)


def _short(message: str) -> str:
    return message if len(message) <= 160 else message[:157] + "..."


def load(path: Path) -> dict[str, Any]:
    """Parse the compose file; a missing or unparsable file is a settings problem (exit 2)."""
    import yaml

    try:
        text = path.read_text()
    except OSError as exc:
        raise SettingsError(f"PLUGIN_COMPOSE_FILE: cannot read {path}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise SettingsError(f"PLUGIN_COMPOSE_FILE: {path.name} is not valid YAML{at}: "
                            f"{getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("services"), dict) or not data["services"]:
        raise SettingsError(f"PLUGIN_COMPOSE_FILE: {path.name} has no services")
    return data


def render(raw: Mapping[str, Any], variables: Mapping[str, str]) -> tuple[dict[str, Any], str]:
    """Substitute and validate a loaded file; returns the rendered document and its YAML text."""
    import yaml

    compose = interpolate(raw, variables)
    validate(compose)
    return compose, yaml.safe_dump(compose, sort_keys=False, default_flow_style=False, allow_unicode=True)
