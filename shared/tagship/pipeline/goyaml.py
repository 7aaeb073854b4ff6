"""``.drone.yml`` read with go-yaml v2's typing (Drone's reader is buildkite/yaml, a fork of go-yaml v2).

PyYAML does the parsing; the resolvers and constructors are replaced by a port of go-yaml v2's ``resolve``
and ``decoder.scalar`` for ``interface{}`` targets:
- plain scalars: ``y/Y/yes/on/true…`` and ``n/no/off/false…`` are bools, ``~``/``null``/empty are null,
  ints by ``strconv.ParseInt(s, 0, 64)`` after removing ``_`` (``0X10`` is 16, ``017`` is 15, ``08`` is the float
  8), then uint64, then YAML-style floats; ``.inf``/``.nan``; dates stay the text as written (an impossible
  date is just a string); ``=`` and ``<<`` (as a value) are strings;
- quoted scalars are strings; ``!!binary`` is the decoded text; an unknown tag (``!custom``) is ignored;
  ``!!int``/``!!float``/``!!bool``/``!!null`` resolve the text under that tag (``!!float 1`` is 1.0) and an
  impossible one is an error, as in Go.

``load_all(text)`` gives the typed documents. ``load_all(text, as_text=True)`` gives the same shape with every
scalar as go-yaml decodes it into a Go ``string`` (its text; null is ``None``): what Drone sees for
``environment:`` values and for string-keyed maps such as ``settings:``.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from typing import Any

import yaml

_PLAIN = "tag:tagship.dev,go:plain"
_Y = "tag:yaml.org,2002:"
_BOOLS = {**dict.fromkeys(["y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"], True),
          **dict.fromkeys(["n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"], False)}
_SPECIAL: dict[str, tuple[str, Any]] = {
    **{k: ("bool", v) for k, v in _BOOLS.items()},
    **dict.fromkeys(["", "~", "null", "Null", "NULL"], ("null", None)),
    **dict.fromkeys([".nan", ".NaN", ".NAN"], ("float", math.nan)),
    **dict.fromkeys([".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"], ("float", math.inf)),
    **dict.fromkeys(["-.inf", "-.Inf", "-.INF"], ("float", -math.inf)),
}
_YAML_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z")
_GO_FLOAT = re.compile(r"[-+]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?|inf(inity)?|nan)\Z", re.I)
_TS_PREFIX = re.compile(r"[0-9]{4}-")
_TS = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})"
                 r"(?:(?:[Tt]([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:\.[0-9]+)?(?:Z|[+-][0-9]{2}:[0-9]{2}))"
                 r"|(?: ([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:\.[0-9]+)?))?\Z")
_INT64 = (-(1 << 63), (1 << 63) - 1)


PLAIN_TAG, NULL_TAG = _PLAIN, _Y + "null"
EXPLICIT_TAGS = {_Y + t for t in ("bool", "int", "float", "null", "timestamp", "binary")}


class GoYAMLError(ValueError):
    """go-yaml would refuse this value (its error text), e.g. ``!!int x``."""


def _parse_int(s: str, base: int = 0) -> int | None:
    """``strconv.ParseInt(s, base, 64)`` (``None`` for an error); base 0 reads 0x/0o/0b/0 prefixes."""
    body = s[1:] if s[:1] in "+-" else s
    neg = s[:1] == "-"
    if base == 0:
        low = body[:2].lower()
        base, body = (16, body[2:]) if low == "0x" else (8, body[2:]) if low == "0o" else \
            (2, body[2:]) if low == "0b" else (8, body[1:]) if body[:1] == "0" and len(body) > 1 else (10, body)
    digits = "0123456789abcdef"[:base]
    if not body or any(c not in digits for c in body.lower()):
        return None
    n = int(body, base) * (-1 if neg else 1)
    return n if _INT64[0] <= n <= _INT64[1] else None


def _parse_uint(s: str) -> int | None:
    if s[:1] in "+-":
        return None
    low = s[:2].lower()
    base, body = (16, s[2:]) if low == "0x" else (8, s[2:]) if low == "0o" else (2, s[2:]) if low == "0b" else \
        (8, s[1:]) if s[:1] == "0" and len(s) > 1 else (10, s)
    digits = "0123456789abcdef"[:base]
    if not body or any(c not in digits for c in body.lower()):
        return None
    v = int(body, base)
    return v if v < (1 << 64) else None


def _timestamp(s: str) -> bool:
    m = _TS.match(s) if _TS_PREFIX.match(s) else None
    if not m:
        return False
    import datetime

    try:
        datetime.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return False
    hms = [g for g in m.groups()[3:] if g is not None]
    return not hms or (int(hms[0]) < 24 and int(hms[1]) < 60 and int(hms[2]) < 60)


def resolve(value: str) -> tuple[str, Any]:
    """go-yaml v2's resolution of a plain scalar: (kind, value); kind is str/bool/null/int/float/timestamp."""
    if value in _SPECIAL:
        return _SPECIAL[value]
    hint = value[:1]
    if hint == ".":
        if _GO_FLOAT.match(value) and not value.lower().lstrip("+-").startswith(("inf", "nan")):
            return "float", float(value)
    elif hint in "+-0123456789" and hint:
        if _timestamp(value):
            return "timestamp", value  # into interface{} go-yaml v2 keeps the text
        plain = value.replace("_", "")
        n = _parse_int(plain)
        if n is None:
            n = _parse_uint(plain)
        if n is not None:
            return "int", n
        if _YAML_FLOAT.match(plain):
            return "float", float(plain)
        if plain.startswith("0b"):
            n = _parse_int(plain[2:], 2)
            if n is None:
                n = _parse_uint("0b" + plain[2:])
            if n is not None:
                return "int", n
        elif plain.startswith("-0b"):
            n = _parse_int("-" + plain[3:], 2)
            if n is not None:
                return "int", n
    return "str", value


def explicit(tag: str, value: str) -> Any:
    short = "!!" + tag[len(_Y):] if tag.startswith(_Y) else tag
    if tag == _Y + "str":
        return value
    if tag == _Y + "binary":
        try:
            return base64.b64decode(value.encode(), validate=False).decode("utf-8", "surrogateescape")
        except (binascii.Error, ValueError):
            raise GoYAMLError("!!binary value contains invalid base64 data") from None
    if tag not in {_Y + t for t in ("bool", "int", "float", "null", "timestamp")}:
        return value  # a tag go-yaml does not resolve: the text
    kind, out = resolve(value)
    want = tag[len(_Y):]
    if kind == want:
        return out
    if want == "float" and kind == "int":
        return float(out)
    raise GoYAMLError(f"cannot decode !!{kind} `{value}` as a {short}")


class _Loader(yaml.SafeLoader):
    as_text = False


_Loader.yaml_implicit_resolvers = {}
_Loader.add_implicit_resolver(_Y + "merge", re.compile(r"<<\Z"), ["<"])
_Loader.add_implicit_resolver(_PLAIN, re.compile(r".*", re.S), None)


def _scalar(loader: _Loader, node: yaml.ScalarNode) -> Any:
    value = node.value
    if node.tag == _PLAIN:
        if loader.as_text:
            return None if resolve(value)[0] == "null" else value
        return resolve(value)[1]
    if loader.as_text and node.tag != _Y + "binary":
        return None if node.tag == _Y + "null" and resolve(value)[0] == "null" else value
    try:
        return explicit(node.tag, value)
    except GoYAMLError as exc:
        raise GoYAMLError(f"{exc} (line {node.start_mark.line + 1})") from None


def _any(loader: _Loader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return _scalar(loader, node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_yaml_seq(node)
    return loader.construct_yaml_map(node)


for _tag in (_PLAIN, _Y + "str", _Y + "bool", _Y + "int", _Y + "float", _Y + "null", _Y + "timestamp",
             _Y + "binary"):
    _Loader.add_constructor(_tag, _scalar)
_Loader.add_constructor(None, _any)


class _TextLoader(_Loader):
    as_text = True


def load_all(text: str, as_text: bool = False) -> list[Any]:
    """The documents of ``text``, typed as go-yaml v2 types them (or as Go strings, with ``as_text``)."""
    return list(yaml.load_all(text, Loader=_TextLoader if as_text else _Loader))


def compose_all(text: str) -> list[yaml.Node]:
    """The node trees (with line marks), for lint."""
    return list(yaml.compose_all(text, Loader=_Loader))
