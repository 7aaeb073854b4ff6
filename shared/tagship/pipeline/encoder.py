"""drone-runner-docker's settings encoder (``engine/compiler/encoder``) and runner-go's manifest types.

A setting's value, typed by go-yaml v2 (``goyaml``), becomes the ``PLUGIN_*`` text:
- string as is, bool ``true``/``false``, int in decimal, float as ``FormatFloat(v, 'g', -1, 64)`` (``1e+06``,
  ``-0``, ``+Inf``);
- a list: marshalled and read back as ``[]string`` — if that works (only scalars), comma-joined (null is
  empty, ``.inf`` stays ``.inf``); otherwise JSON;
- anything else: marshalled to YAML and converted by ghodss/yaml to JSON. go-yaml's round trip retypes
  (``1.0`` is ``1``), map keys become strings (``yes`` → ``"true"``, floats at 32-bit precision) and a map
  Go cannot convert (a null key, an Inf or NaN value) is the empty string.
A setting is a secret when it is a map whose ``from_secret`` reads as a non-empty Go string; other keys
beside it are ignored. ``{from_secret: ''}`` is plain JSON.
"""

from __future__ import annotations

import math
from typing import Any

from ..gofloat import format_g, json_float
from .goyaml import GoError, GoKey, PointerNull, decode_error, plain_key, resolve

INT64 = (-(1 << 63), (1 << 63) - 1)


class Unencodable(Exception):
    """ghodss/yaml or encoding/json refused the value (the runner writes the empty string)."""


def _yaml_float(f: float) -> str:
    s = format_g(f)
    return {"+Inf": ".inf", "-Inf": "-.inf", "NaN": ".nan"}.get(s, s)


def _roundtrip(v: Any) -> Any:
    """yaml.Marshal then yaml.Unmarshal into interface{}: floats come back as go-yaml reads their text."""
    if isinstance(v, bool) or v is None or isinstance(v, (str, int)):
        return v
    if isinstance(v, float):
        return resolve(_yaml_float(v))[1]
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            k = plain_key(k)
            # a NaN key cannot be looked up again: go-yaml marshals its value as null
            value = None if isinstance(k, float) and math.isnan(k) else _roundtrip(x)
            k = _roundtrip(k)
            out[k if isinstance(k, str) else GoKey(k)] = value
        return out
    if isinstance(v, (list, tuple)):
        return [_roundtrip(x) for x in v]
    return str(v)


def _key(k: Any) -> str:
    k = plain_key(k)
    if isinstance(k, str):
        return k
    if isinstance(k, bool):
        return "true" if k else "false"
    if isinstance(k, int) and INT64[0] <= k <= INT64[1]:
        return str(k)
    if isinstance(k, float):
        s = format_g(k, 32)
        return {"+Inf": ".inf", "-Inf": "-.inf", "NaN": ".nan"}.get(s, s)
    raise Unencodable(f"unsupported map key {k!r}")


_HTML = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029",
         '"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _json_str(s: str) -> str:
    out = ['"']
    for c in s:
        if c in _HTML:
            out.append(_HTML[c])
        elif c < " ":
            out.append("\\u%04x" % ord(c))
        elif "\udc80" <= c <= "\udcff" or "\ud800" <= c <= "\udfff":
            out.append("\\ufffd")
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def _json(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        text = json_float(v)
        if text is None:
            raise Unencodable(f"json: unsupported value: {format_g(v)}")
        return text
    if isinstance(v, str):
        return _json_str(v)
    if isinstance(v, list):
        return "[" + ",".join(_json(x) for x in v) + "]"
    if isinstance(v, dict):
        items = {}
        for k, x in v.items():
            items[_key(k)] = x
        keys = sorted(items, key=lambda k: k.encode("utf-8", "surrogateescape"))
        return "{" + ",".join(_json_str(k) + ":" + _json(items[k]) for k in keys) + "}"
    return _json_str(str(v))


def to_json(value: Any) -> str:
    """ghodss/yaml's YAMLToJSON of go-yaml's Marshal; ``""`` where Go fails."""
    try:
        return _json(_roundtrip(value))
    except Unencodable:
        return ""


def _list_item(v: Any) -> str | None:
    if isinstance(v, (list, tuple, dict)):
        return None
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return _yaml_float(v)
    return str(v)


def ambiguous(value: Any) -> bool:
    """Whether two keys of one map become the same JSON key (``{1: a, 1.0: b}``): Go's answer then depends on
    its random map order."""
    if isinstance(value, (list, tuple)):
        return any(ambiguous(v) for v in value)
    if not isinstance(value, dict):
        return False
    try:
        rt = _roundtrip(value)
        names = [_key(k) for k in rt]
    except Unencodable:
        return False
    return len(set(names)) != len(names) or len(rt) != len(value) or any(ambiguous(v) for v in value.values())


def encode(value: Any) -> str:
    """``encoder.Encode``: the setting's env text (``value`` typed by ``goyaml``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_g(value)
    if isinstance(value, (list, tuple)):
        items = [_list_item(v) for v in value]
        if all(i is not None for i in items):
            return ",".join(items)  # type: ignore[arg-type]
        return to_json(list(value))
    return to_json(value)


def secret_name(value: Any, text: Any = None) -> str | None:
    """runner-go's ``Parameter``/``Variable``: the secret a value names, if any. ``text`` is the same value
    read as Go strings (``goyaml.load_all(as_text=True)``), which is how ``from_secret`` is read."""
    if not isinstance(value, dict):
        return None
    src = text if isinstance(text, dict) else value
    fields = dict(src.pairs) if hasattr(src, "pairs") else {k: v for k, v in src.items() if isinstance(k, str)}
    if "from_secret" not in fields:
        return None
    v = fields["from_secret"]
    if isinstance(v, (dict, list)):
        return None  # a decode error: the value is read as a plain map
    name = "" if v is None else (v if isinstance(v, str) else _list_item(v))
    return name or None


def setting(value: Any, text: Any) -> tuple[str, str | None]:
    """A ``settings:`` entry (runner-go ``Parameter``): ("secret", name) | ("nil", None) — not set at all, for
    ``null``/``~``/empty — | ("value", the encoder's text; ``Null`` reaches the encoder and is ``null``) |
    ("error", go-yaml's message: the file does not load)."""
    if isinstance(text, PointerNull):
        return "error", f"cannot unmarshal !!str `{text}` into *manifest.Parameter (a quoted {text} reads as null)"
    err = decode_error(value)
    if err:
        return "error", err
    name = secret_name(value, text)
    if name is not None:
        return "secret", name
    if value is None and text is None:
        return "nil", None
    return "value", encode(value)


def env_value(value: Any, text: Any) -> tuple[str, str | None]:
    """An ``environment:`` entry (runner-go ``Variable``): ("value", text) | ("secret", name) | ("null", None)
    | ("error", message). A scalar keeps its YAML text (``On`` stays ``On``, ``Null`` is empty); a map reads
    ``value`` and ``from_secret`` (other keys are ignored; a list or map in either is a decode error); a list
    is a decode error; ``null``/``~``/empty is a nil pointer (the runner fails the pipeline on it)."""
    if isinstance(text, PointerNull):
        return "error", f"cannot unmarshal !!str `{text}` into *manifest.Variable (a quoted {text} reads as null)"
    if isinstance(value, GoError):
        return "error", value.message
    if text is None and value is None:
        return "null", None
    if isinstance(value, list):
        return "error", "cannot unmarshal !!seq into manifest.variable"
    if isinstance(value, dict):
        fields = dict(text.pairs) if hasattr(text, "pairs") else dict(getattr(value, "pairs", value.items()))
        if any(isinstance(fields.get(k), (dict, list)) for k in ("value", "from_secret")):
            return "error", "cannot unmarshal a map or list into the value or from_secret of manifest.variable"
        typed = dict(getattr(value, "pairs", value.items()))
        err = decode_error(typed.get("value")) or decode_error(typed.get("from_secret"))
        if err:
            return "error", err
        name = fields.get("from_secret")
        if name:
            return "secret", str(name)
        v = fields.get("value")
        return "value", "" if v is None else str(v)
    return "value", text if isinstance(text, str) else encode(value)
