"""What a settings model says about itself: one row per setting, for ``--help``, docs and lint."""

from __future__ import annotations

import enum
import typing
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from .settings import PREFIX, Kind, PluginSettings, env_names, is_secret


@dataclass
class SettingInfo:
    name: str            # the YAML key under settings:
    env: str             # PLUGIN_<NAME>
    aliases: list[str]   # other env names read
    kind: str            # string, bool, int, list, map, duration, secret, one of …
    default: Any
    required: bool
    secret: bool
    description: str
    choices: list[str] | None = None


def _kind(field: FieldInfo) -> tuple[str, list[str] | None]:
    for meta in field.metadata:
        if isinstance(meta, Kind):
            return meta.name, None
    ann = field.annotation
    args = [a for a in typing.get_args(ann) if a is not type(None)]
    if typing.get_origin(ann) in (typing.Union, getattr(__import__("types"), "UnionType", None)) and args:
        ann = args[0]
        for meta in getattr(ann, "__metadata__", ()):
            if isinstance(meta, Kind):
                return meta.name, None
        ann = typing.get_args(ann)[0] if typing.get_origin(ann) is typing.Annotated else ann
    if typing.get_origin(ann) is Literal:
        choices = [str(c) for c in typing.get_args(ann)]
        return "one of " + "|".join(choices), choices
    if isinstance(ann, type) and issubclass(ann, enum.Enum):
        choices = [str(m.value) for m in ann]
        return "one of " + "|".join(choices), choices
    if ann is SecretStr:
        return "secret", None
    if ann is bool:
        return "bool", None
    if ann is int:
        return "int", None
    if ann is float:
        return "number", None
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return "map", None
    origin = typing.get_origin(ann)
    if origin in (list, tuple):
        return "list", None
    if origin is dict:
        return "map", None
    return "string", None


def _default(field: FieldInfo) -> Any:
    if field.default is not PydanticUndefined:
        value = field.default
    elif field.default_factory is not None:
        value = field.default_factory()
    else:
        return None
    if isinstance(value, SecretStr):
        return None
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, BaseModel):
        return value.model_dump()
    return value


def describe(cls: type[PluginSettings]) -> list[SettingInfo]:
    rows = []
    common = set(PluginSettings.model_fields)
    order = [n for n in cls.model_fields if n not in common] + [n for n in cls.model_fields if n in common]
    for name in order:
        field = cls.model_fields[name]
        names = env_names(name, field)
        kind, choices = _kind(field)
        rows.append(SettingInfo(
            name=name, env=PREFIX + name.upper(), aliases=names[1:], kind=kind,
            default=_default(field), required=field.is_required(), secret=is_secret(field),
            description=field.description or "", choices=choices))
    return rows


def render_help(command: str, summary: str, cls: type[PluginSettings]) -> str:
    lines = [f"{command} — {summary}", "",
             f"usage: {command} [--help] [--debug] [--version]", "",
             "Settings are read from the environment (Drone: `settings:` keys become PLUGIN_<KEY>).",
             "Lists: comma-separated or a JSON array; maps: JSON; bool: true/false/1/0/yes/no;",
             "durations: 90s, 10m, 1h30m or seconds. Secrets are never printed.", ""]
    for row in describe(cls):
        flags = ["required" if row.required else f"default: {_show_default(row.default)}"]
        if row.secret and row.kind != "secret":
            flags.append("secret")
        lines.append(f"  {row.env}  ({row.kind}; {', '.join(flags)})")
        if row.aliases:
            lines.append(f"      also read from: {', '.join(row.aliases)}")
        if row.description:
            lines.append(f"      {row.description}")
    lines += ["", "Exit codes: 0 done · 1 the operation failed · 2 bad settings · 78 nothing to do (opt-in)."]
    return "\n".join(lines)


def _show_default(value: Any) -> str:
    if value is None or value == "" or value == [] or value == {}:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)
