"""Validators for values that go into headers, URLs, files and JSON: a bad value is a settings error
(exit 2 naming the variable) before it can become an internal error, a leak or a hang deep in an SDK.

Each ``check_*`` raises ``ValueError`` with what was expected (the settings layer names the env var);
the ``Annotated`` types below attach them to a field.
"""

from __future__ import annotations

import json
import math
import re
import urllib.parse
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, SecretStr

MAX_JSON_DEPTH = 32
MAX_URL = 2048
_ACCESS_KEY = re.compile(r"[!-~]{1,1024}")          # printable ASCII, no space: safe in any HTTP header
_REGION = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_HOST = re.compile(r"(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})?(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})?)*\.?")
_PEM = re.compile(r"-----BEGIN [A-Z0-9 ]+-----[\s\S]+-----END [A-Z0-9 ]+-----\s*")


def _plain(value: Any) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else str(value)


def check_access_key(value: Any) -> Any:
    """An AccessKey id/secret or STS token: printable ASCII without spaces (it goes into HTTP headers)."""
    if value is not None and not _ACCESS_KEY.fullmatch(_plain(value)):
        raise ValueError("an AccessKey: printable ASCII without spaces or line breaks (as the console shows it)")
    return value


def check_pem_or_file(value: Any) -> Any:
    """PEM text (ASCII, BEGIN/END lines) or the path of an existing file."""
    if value is None:
        return value
    text = _plain(value)
    if "-----BEGIN" in text:
        if not text.isascii() or not _PEM.fullmatch(text.strip() + "\n"):
            raise ValueError("PEM text (ASCII, from -----BEGIN ...----- to -----END ...-----) or a file path")
        return value
    try:
        if len(text) < 4096 and "\x00" not in text and Path(text).is_file():
            return value
    except (OSError, ValueError):
        pass
    raise ValueError("PEM text (-----BEGIN ...-----) or the path of an existing file")


def check_host(host: str) -> str:
    if not host or not (_HOST.fullmatch(host) or _is_ip(host)):
        raise ValueError("a host name or IP address")
    return host


def _is_ip(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False


def normalise_url(value: str, *, schemes: tuple[str, ...] = ("http", "https"), default: str = "https",
                  path: bool = False) -> str:
    """``host``, ``host:port`` or ``scheme://host[:port][/path]`` → a URL with a lower-case scheme and a
    checked host and port. ``path=False`` refuses a path (an API endpoint is scheme and host only)."""
    text = str(value).strip()
    if not text or len(text) > MAX_URL or not text.isprintable() or any(c.isspace() for c in text):
        raise ValueError(f"a URL or host name (printable, no spaces, at most {MAX_URL} characters)")
    if "://" not in text:
        text = f"{default}://{text}"
    scheme, _, rest = text.partition("://")
    scheme = scheme.lower()
    if scheme not in schemes:
        raise ValueError(f"an {' or '.join(s + '://' for s in schemes)} URL or a bare host name")
    try:
        parts = urllib.parse.urlsplit(f"{scheme}://{rest}")
        port = parts.port
    except ValueError:
        raise ValueError("a URL with a port between 1 and 65535") from None
    check_host(parts.hostname or "")
    if port is not None and not 1 <= port <= 65535:
        raise ValueError("a URL with a port between 1 and 65535")
    if parts.username or parts.password:
        raise ValueError("a URL without user:password@ (credentials go in their own settings)")
    if not path and parts.path not in ("", "/"):
        raise ValueError("a scheme and host (and port), no path")
    if parts.query or parts.fragment:
        raise ValueError("a URL without ?query or #fragment")
    return urllib.parse.urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") if path else "", "", ""))


def check_region(value: Any) -> Any:
    if value and not _REGION.fullmatch(str(value)):
        raise ValueError("a region such as cn-shanghai (lower-case letters, digits and '-')")
    return value


def json_depth(text: str) -> int:
    """The deepest nesting of ``[``/``{`` in JSON text (strings skipped), without parsing it."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _no_constant(name: str) -> Any:
    raise ValueError(f"JSON without {name} (not a JSON number)")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError("JSON with finite numbers")
    return number


def load_json(text: str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` for settings: at most ``max_depth`` levels, no NaN/Infinity; every problem is a
    ``ValueError`` saying what was expected."""
    if json_depth(text) > max_depth:
        raise ValueError(f"JSON nested at most {max_depth} levels deep")
    try:
        return json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except json.JSONDecodeError as exc:
        raise ValueError(f"JSON (it does not parse: {exc.msg})") from None
    except RecursionError:
        raise ValueError(f"JSON nested at most {max_depth} levels deep") from None


AccessKey = Annotated[SecretStr, AfterValidator(check_access_key)]
PemOrFile = Annotated[SecretStr, AfterValidator(check_pem_or_file)]
Region = Annotated[str, AfterValidator(check_region)]


def check_docker_host(value: Any) -> Any:
    """A Docker engine address: ``unix:///path``, ``tcp://host:port``, ``http(s)://host:port`` or
    ``ssh://[user@]host[:port]``."""
    if not value:
        return value
    text = str(value).strip()
    expected = "a Docker host such as unix:///var/run/docker.sock or tcp://manager:2376"
    if len(text) > MAX_URL or not text.isprintable() or any(c.isspace() for c in text):
        raise ValueError(expected)
    scheme, sep, rest = text.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in ("unix", "tcp", "http", "https", "ssh", "npipe"):
        raise ValueError(expected)
    if scheme in ("unix", "npipe"):
        if not rest.startswith("/") and scheme == "unix":
            raise ValueError(expected)
        return f"{scheme}://{rest}"
    try:
        parts = urllib.parse.urlsplit(f"{scheme}://{rest}")
        port = parts.port
    except ValueError:
        raise ValueError(expected + " (port 1-65535)") from None
    try:
        check_host(parts.hostname or "")
    except ValueError:
        raise ValueError(expected) from None
    if port is not None and not 1 <= port <= 65535:
        raise ValueError(expected + " (port 1-65535)")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.password:
        raise ValueError(expected)
    return f"{scheme}://{rest}"


def _api_url(value: Any) -> Any:
    return normalise_url(value) if value else value


def _any_url(value: Any) -> Any:
    return normalise_url(value, path=True) if value else value


ApiUrl = Annotated[str, AfterValidator(_api_url)]        # scheme://host[:port], https:// when no scheme
BaseUrl = Annotated[str, AfterValidator(_any_url)]       # the same, with a path allowed
DockerHost = Annotated[str, AfterValidator(check_docker_host)]
