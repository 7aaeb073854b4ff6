"""Plugin settings from ``PLUGIN_*`` environment variables, the way Drone 1.x writes them.

drone-runner-docker encodes a step's ``settings:`` as ``PLUGIN_<KEY upper-cased>``: strings as they are, a
list of strings comma-joined, any map or list of maps as JSON, booleans ``true``/``false``
(research/version-and-drone.md B1). Woodpecker does the same but also turns ``-``/``.`` into ``_``.

A plugin declares a :class:`PluginSettings` subclass with :func:`setting` fields and the types below;
:func:`load_settings` reads the environment and turns every problem into one line naming the env var.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
from dataclasses import dataclass
from typing import Any, Annotated, Iterable, Mapping, Sequence

from pydantic import BeforeValidator, Field, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from .errors import SettingsError
from .mask import MIN_SECRET
from .text import one_line, shown as _quoted
from .validators import load_json

PREFIX = "PLUGIN_"


@dataclass(frozen=True)
class Kind:
    """How a setting is written in YAML/env; shown by ``--help`` and the docs."""

    name: str


def _csv_list(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        if text.startswith("["):
            return load_json(text)
        return [item.strip() for item in text.split(",") if item.strip()]
    return value


def _json(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        return load_json(text)
    return value


def _str_map(value: Any) -> Any:
    value = _json(value)
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(k): v if isinstance(v, str) else json.dumps(v) if isinstance(v, (dict, list))
                else str(v).lower() if isinstance(v, bool) else str(v) for k, v in value.items()}
    return value


def _json_list(value: Any) -> Any:
    value = _json(value)
    if value is None:
        return []
    if isinstance(value, dict):
        return [value]
    return value


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}


def parse_duration(value: Any) -> float:
    """Seconds from ``90``, ``90s``, ``1.5m``, ``1h30m``, ``500ms`` (Go's syntax, as drone-helm3 accepts)."""
    expected = "a duration such as 90s, 10m, 1h30m or a number of seconds"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ValueError(expected)
        return float(value)
    text = str(value).strip().lower()
    if len(text) > 64:
        raise ValueError(expected)
    try:
        seconds = float(text)
    except ValueError:
        parts = _DURATION.findall(text)
        if not parts or "".join(n + u for n, u in parts) != text:
            raise ValueError(expected) from None
        seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if not math.isfinite(seconds) or seconds > 366 * 86400:
        raise ValueError(expected + " (at most a year)")
    return seconds


def _duration(value: Any) -> Any:
    return parse_duration(value) if value is not None and value != "" else value


StrList = Annotated[list[str], BeforeValidator(_csv_list), Kind("list")]
StrMap = Annotated[dict[str, str], BeforeValidator(_str_map), Kind("map")]
Duration = Annotated[float, BeforeValidator(_duration), Kind("duration")]
JsonValue = Annotated[Any, BeforeValidator(_json), Kind("json")]


def JsonList(item: Any) -> Any:  # noqa: N802 - reads like a type
    """A list of maps (JSON in the env) whose items validate as ``item``."""
    return Annotated[list[item], BeforeValidator(_json_list), Kind("list of maps")]


def setting(default: Any = ..., *, help: str, aliases: Sequence[str] = (), example: Any = None,
            holds_secrets: bool = False, **kw: Any) -> Any:
    """A plugin setting. ``aliases`` are other env var names read when ``PLUGIN_<NAME>`` is not set:
    Drone 0.8 secret names (``DOCKER_PASSWORD``), the seed's names (``ALIYUN_ACCESS_KEY_ID``) or an
    old setting name (``PLUGIN_TARGET``, which is announced as a notice when used)."""
    extra = {"env_aliases": list(aliases)}
    if holds_secrets:  # a JSON setting with passwords inside (e.g. registries): never echoed in an error
        extra["holds_secrets"] = True
    if example is not None:
        extra["example"] = example
    return Field(default, description=help, json_schema_extra=extra, **kw)


def env_names(name: str, field: FieldInfo) -> list[str]:
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    return [PREFIX + name.upper(), *extra.get("env_aliases", [])]


def _is_secret_type(ann: Any) -> bool:
    if ann is SecretStr:
        return True
    if getattr(ann, "__metadata__", None) is not None:  # Annotated[SecretStr, ...]
        return _is_secret_type(ann.__origin__)
    return any(_is_secret_type(a) for a in getattr(ann, "__args__", None) or ())


def is_secret(field: FieldInfo) -> bool:
    return _is_secret_type(field.annotation)


def _norm(key: str) -> str:
    return key.upper().replace("-", "_").replace(".", "_")


class DroneEnvSource(PydanticBaseSettingsSource):
    """Reads each field from its env names, first one set wins; remembers which name it came from."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str] | None = None):
        super().__init__(settings_cls)
        env = os.environ if environ is None else environ
        self.env: dict[str, str] = {}
        self.spellings: dict[str, list[str]] = {}
        for key in sorted(env):
            self.env[_norm(key)] = env[key]
            self.spellings.setdefault(_norm(key), []).append(key)
        self.raw = env
        self.origin: dict[str, str] = {}
        self.conflicts: list[str] = []

    def _conflict(self, norm: str, field_name: str) -> None:
        names = self.spellings.get(norm, [])
        if len({self.raw[n] for n in names}) > 1:
            line = (f"{' and '.join(names)}: two spellings of one setting ({field_name}) with different "
                    f"values; set it once")
            if line not in self.conflicts:
                self.conflicts.append(line)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        for name in env_names(field_name, field):  # an empty value counts as not set
            if self.env.get(_norm(name), "").strip():
                self._conflict(_norm(name), field_name)
                return self.env[_norm(name)], name, False
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            value, origin, _ = self.get_field_value(field, name)
            if value is not None:
                data[name] = value
                self.origin[name] = origin
        return data


class PluginSettings(BaseSettings):
    """Base of every plugin's settings model; common settings live here."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, validate_default=True,
                                      allow_inf_nan=False)

    dry_run: bool = setting(False, help="Print the full plan and change nothing remote.")
    debug: bool = setting(False, help="More detail in the log (still masked), tracebacks on internal errors.")
    deadline: Duration = setting("1h", help="Budget for the whole step: retries, rate-limit waits and "
                                 "subprocesses end by then, and the step fails (exit 1).", gt=0)
    allow_outside_workspace: bool = setting(False, help="Allow file settings to name paths outside the "
                                            "workspace (after following symlinks); by default that is exit 2.")

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings):
        return (init_settings, DroneEnvSource(settings_cls))

    def secret_values(self) -> Iterable[str]:
        for name, field in type(self).model_fields.items():
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                yield value.get_secret_value()


def _shown(value: Any, secret: bool) -> str:
    return "******" if secret else _quoted(value)


def _is_map(field: FieldInfo) -> bool:
    """A map or JSON setting: its value can hold secrets (build args, environment), so it is never echoed."""
    kinds = [m.name for m in field.metadata if isinstance(m, Kind)]
    origin = getattr(field.annotation, "__origin__", None)
    return origin is dict or any(k in ("map", "json", "list of maps") for k in kinds)


def _typo_of(env: str, source: "DroneEnvSource", known: set[str]) -> str:
    """A set ``PLUGIN_*`` variable that no setting reads and that looks like ``env`` mistyped."""
    unknown = sorted(n for n in source.env if n.startswith(PREFIX) and n not in known)
    close = difflib.get_close_matches(_norm(env), unknown, n=1, cutoff=0.75)
    return f"; {source.spellings[close[0]][0]} is set: a typo?" if close else ""


_EXPECTED = {
    "int_parsing": "an integer", "int_type": "an integer", "int_from_float": "an integer",
    "float_parsing": "a number", "float_type": "a number",
    "bool_parsing": "a boolean (true/false/1/0/yes/no)", "bool_type": "a boolean (true/false/1/0/yes/no)",
    "list_type": "a list (comma-separated or a JSON array)", "dict_type": "a JSON map",
    "model_type": "a JSON map", "model_attributes_type": "a JSON map", "string_type": "a string",
    "extra_forbidden": "no such key",
}


def _expected(err: dict[str, Any]) -> str:
    if err.get("type") in _EXPECTED:
        return _EXPECTED[err["type"]]
    msg = err.get("msg", "")
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    ctx = err.get("ctx") or {}
    if err.get("type") == "literal_error" and "expected" in ctx:
        return f"one of {ctx['expected']}"
    if not msg:
        return "a valid value"
    return msg[0].lower() + msg[1:] if msg[1:2].islower() else msg


def format_errors(cls: type[PluginSettings], exc: ValidationError, source: DroneEnvSource) -> list[str]:
    lines = []
    for err in exc.errors():
        loc = err.get("loc") or ()
        name = str(loc[0]) if loc else ""
        field = cls.model_fields.get(name)
        if field is None:
            text = _expected(err)
            named = re.match(r"^[A-Za-z][A-Za-z0-9_]*: ", text)
            lines.append(text[0].upper() + text[1:] if named else f"settings: {text}")
            continue
        env = source.origin.get(name, PREFIX + name.upper())
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{_quoted(p)[1:-1]}" for p in loc[1:])
        if err.get("type") == "missing" and len(loc) == 1:
            known = {_norm(n) for f_name, f in cls.model_fields.items() for n in env_names(f_name, f)}
            lines.append(f"{env}: required ({field.description or name}), not set{_typo_of(env, source, known)}")
            continue
        given = source.env.get(_norm(env))
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        hidden = is_secret(field) or bool(extra.get("holds_secrets"))
        if given is not None and _is_map(field) and not hidden:  # never echoed: a map can hold secrets
            if err.get("type") == "missing":
                lines.append(f"{env}{where}: required, missing (the value is not shown: a map can hold secrets)")
            else:
                lines.append(f"{env}{where}: expected {_expected(err)} (the value is not shown: a map can "
                             f"hold secrets)")
            continue
        shown = _shown(given, hidden) if given is not None else "nothing"
        if err.get("type") == "missing":
            lines.append(f"{env}{where}: required, missing in {shown}")
            continue
        lines.append(f"{env}{where}: expected {_expected(err)}, got {shown}")
    return lines


def unknown_settings(cls: type[PluginSettings], environ: Mapping[str, str]) -> list[str]:
    """Warnings for ``PLUGIN_*`` variables that no setting reads, with a did-you-mean."""
    known = {_norm(n) for name, f in cls.model_fields.items() for n in env_names(name, f)
             if _norm(n).startswith(PREFIX)}
    notes = []
    for key in sorted(environ):
        norm = _norm(key)
        if norm.startswith(PREFIX) and norm not in known:
            close = difflib.get_close_matches(norm, sorted(known), n=1, cutoff=0.75)
            hint = f"; did you mean {close[0]}?" if close else ""
            notes.append(f"{key} is not a setting of this plugin and is ignored{hint}")
    return notes


def renamed_settings(cls: type[PluginSettings], source: DroneEnvSource) -> list[str]:
    """Notices for settings read from an old ``PLUGIN_*`` name (e.g. the seed's ``target``)."""
    notes = []
    for name, origin in source.origin.items():
        primary = PREFIX + name.upper()
        if origin != primary and _norm(origin).startswith(PREFIX):
            notes.append(f"{origin} is read as {primary} ({name}); the old name still works")
    return notes


def load_settings(cls: type[PluginSettings], environ: Mapping[str, str] | None = None
                  ) -> tuple[PluginSettings, DroneEnvSource]:
    """Validate ``cls`` from the environment; raise :class:`SettingsError` with one line per problem."""
    source = DroneEnvSource(cls, environ)
    data = source()
    try:
        settings = cls.model_validate(data)
    except ValidationError as exc:
        raise SettingsError([one_line(line) for line in source.conflicts + format_errors(cls, exc, source)]) \
            from None
    except RecursionError:  # a validator went too deep (should not happen: JSON depth is bounded)
        raise SettingsError("settings: nested too deeply") from None
    problems = list(source.conflicts)
    for name, field in cls.model_fields.items():
        value = getattr(settings, name)
        if isinstance(value, SecretStr) and 0 < len(value.get_secret_value().strip()) < MIN_SECRET:
            env = source.origin.get(name, PREFIX + name.upper())
            problems.append(f"{env}: a secret of at least {MIN_SECRET} characters (a shorter one cannot be "
                            f"masked in logs without hiding ordinary words)")
    if problems:
        raise SettingsError([one_line(line) for line in problems])
    return settings, source
