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
from .goyaml import resolve

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
        return {_roundtrip(k): _roundtrip(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_roundtrip(x) for x in v]
    return str(v)


def _key(k: Any) -> str:
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
    for k, v in src.items():
        if (k if isinstance(k, str) else None) == "from_secret":
            if isinstance(v, (dict, list)):
                return None
            name = "" if v is None else (v if isinstance(v, str) else _list_item(v))
            return name or None
    return None


def env_value(value: Any, text: Any) -> tuple[str, str | None]:
    """An ``environment:`` entry (runner-go ``Variable``): ("value", text) | ("secret", name) | ("null", None)
    | ("error", message). A scalar keeps its YAML text (``On`` stays ``On``); a map reads ``value`` and
    ``from_secret``; a list is a decode error; null is a nil pointer (the runner fails on it)."""
    if text is None and value is None:
        return "null", None
    if isinstance(value, list):
        return "error", "cannot unmarshal !!seq into manifest.variable"
    if isinstance(value, dict):
        name = secret_name(value, text)
        if name:
            return "secret", name
        src = text if isinstance(text, dict) else {}
        v = src.get("value")
        if isinstance(v, (dict, list)):
            return "error", "cannot unmarshal a map or list into the value of manifest.variable"
        return "value", "" if v is None else str(v)
    return "value", text if isinstance(text, str) else encode(value)
