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
scalar as go-yaml decodes it into a Go ``string`` (its text): what Drone sees for ``environment:`` values and
``from_secret``. There ``None`` marks the null forms that leave a Go pointer nil (``null``, ``~``, empty,
``!!null``); ``Null`` and ``NULL`` are also null but reach the value's decoder, and read as ``""``. A map's
``pairs`` (``GoMap``) are its keys as Go strings, as a ``map[string]…`` or a struct reads them.
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


PLAIN_TAG, NULL_TAG, STR_TAG = _PLAIN, _Y + "null", _Y + "str"
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
            return ("float", float(value)) if not math.isinf(float(value)) else ("str", value)
    elif hint in "+-0123456789" and hint:
        if _timestamp(value):
            return "timestamp", value  # into interface{} go-yaml v2 keeps the text
        plain = value.replace("_", "")
        n = _parse_int(plain)
        if n is None:
            n = _parse_uint(plain)
        if n is not None:
            return "int", n
        if _YAML_FLOAT.match(plain) and not math.isinf(float(plain)):  # out of range: ParseFloat fails
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


class GoError:
    """A value go-yaml cannot decode (``!!int x``). go-yaml fails only where the value is decoded: anywhere
    in an ``interface{}`` tree such as a setting, but not in a struct field Drone does not have."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message

    def __repr__(self) -> str:
        return f"GoError({self.message!r})"


class PointerNull(str):
    """A quoted ``'~'`` or ``'null'``: go-yaml v2 takes it for null before a pointer's decoder runs, then
    cannot put a string there (``cannot unmarshal !!str `~` into *…``). Only settings and environment values
    are pointers in Drone's types."""


def decode_error(value: Any) -> str | None:
    """The first ``GoError`` in a decoded tree (what go-yaml's Unmarshal would return), if any."""
    if isinstance(value, GoError):
        return value.message
    if isinstance(value, dict):
        for v in getattr(value, "replaced", ()):
            err = decode_error(v)
            if err:
                return err
        for k, v in value.items():
            err = decode_error(plain_key(k)) or decode_error(v)
            if err:
                return err
    if isinstance(value, list):
        for v in value:
            err = decode_error(v)
            if err:
                return err
    return None


class GoKey:
    """A map key that is not a string, compared as Go compares interface keys: by type and value (so ``1``,
    ``1.0`` and ``true`` are three keys, as in Go, not one as in a Python dict; a NaN key is never equal)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GoKey) and type(other.value) is type(self.value) and other.value == self.value

    def __hash__(self) -> int:
        return hash((type(self.value).__name__, self.value))

    def __repr__(self) -> str:
        return f"GoKey({self.value!r})"


def plain_key(key: Any) -> Any:
    """The key's value (a ``GoKey`` unwrapped)."""
    return key.value if isinstance(key, GoKey) else key


class GoMap(dict):
    """A map as go-yaml decodes it into ``interface{}``; ``pairs`` is the same map decoded into a Go
    ``map[string]…`` or struct: (key as a Go string, value), in document order (a later key wins)."""

    pairs: list[tuple[str, Any]]
    replaced: list[Any]  # values a repeated key replaced: go-yaml decoded them all the same (and may fail)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.pairs, self.replaced = [], []


def _go_string(node: yaml.Node) -> str:
    """A key node decoded into a Go string: its text, or "" when it resolves to null."""
    if not isinstance(node, yaml.ScalarNode):
        raise GoYAMLError(f"cannot unmarshal a map or list key into string (line {node.start_mark.line + 1})")
    if node.tag == NULL_TAG or (node.tag == _PLAIN and resolve(node.value)[0] == "null"):
        return ""
    if node.tag == _Y + "binary":
        return explicit(node.tag, node.value)
    return node.value


class _Loader(yaml.SafeLoader):
    as_text = False

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> GoMap:
        self.flatten_mapping(node)
        mapping = GoMap()
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, (list, dict)):
                key = GoError(f"invalid map key (line {key_node.start_mark.line + 1})")
            value = self.construct_object(value_node, deep=deep)
            gokey = key if isinstance(key, str) else GoKey(key)
            if gokey in mapping:
                mapping.replaced.append(mapping[gokey])  # a map may still be filling: checked later
            mapping[gokey] = value
            try:
                mapping.pairs.append((_go_string(key_node), value))
            except GoYAMLError:
                pass  # such a key only matters where Go wants a string: not in an interface{} map
        return mapping

    def construct_yaml_map(self, node: yaml.MappingNode):  # type: ignore[override]
        data = GoMap()
        yield data
        value = self.construct_mapping(node)
        data.update(value)
        data.pairs, data.replaced = value.pairs, value.replaced


_Loader.yaml_implicit_resolvers = {}
_Loader.add_implicit_resolver(_Y + "merge", re.compile(r"<<\Z"), ["<"])
_Loader.add_implicit_resolver(_PLAIN, re.compile(r".*", re.S), None)


def _scalar(loader: _Loader, node: yaml.ScalarNode) -> Any:
    value = node.value
    if node.tag == _PLAIN:
        if loader.as_text:  # null, ~ and empty leave a Go pointer nil (None); Null and NULL decode to ""
            return (None if value in ("null", "~", "") else "") if resolve(value)[0] == "null" else value
        return resolve(value)[1]
    if loader.as_text and node.tag != _Y + "binary":
        if node.tag == _Y + "str" and node.style in ("'", '"') and value in ("~", "null"):
            return PointerNull(value)
        return None if node.tag == NULL_TAG else value
    try:
        return explicit(node.tag, value)
    except GoYAMLError as exc:
        return GoError(f"{exc} (line {node.start_mark.line + 1})")


def _any(loader: _Loader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return _scalar(loader, node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_yaml_seq(node)
    return loader.construct_yaml_map(node)


for _tag in (_PLAIN, _Y + "str", _Y + "bool", _Y + "int", _Y + "float", _Y + "null", _Y + "timestamp",
             _Y + "binary"):
    _Loader.add_constructor(_tag, _scalar)
_Loader.add_constructor(_Y + "map", _Loader.construct_yaml_map)
_Loader.add_constructor(None, _any)


class _TextLoader(_Loader):
    as_text = True


def load_all(text: str, as_text: bool = False) -> list[Any]:
    """The documents of ``text``, typed as go-yaml v2 types them (or as Go strings, with ``as_text``)."""
    return list(yaml.load_all(text, Loader=_TextLoader if as_text else _Loader))


def compose_all(text: str) -> list[yaml.Node]:
    """The node trees (with line marks), for lint."""
    return list(yaml.compose_all(text, Loader=_Loader))
