"""Secret masking: every value registered here is replaced by ``******`` in all output.

A secret is matched in every form it takes in output: as is, JSON-escaped, JSON-escaped twice (JSON
inside a JSON string), Python ``repr``, log-escaped (:mod:`tagship.text`) and URL-quoted; a lone surrogate
(a non-UTF-8 byte in the environment) is quoted as its raw byte. Values shorter than :data:`MIN_SECRET`
characters are not masked (they would turn the whole log into ``******`` soup): a secret setting that
short is refused with exit 2 by the entry wrapper. :func:`mask_data` masks every string of a result
before it is serialized.

Settings typed ``SecretStr`` are registered by the entry wrapper; values learnt at run time (a fetched token,
a build-arg that looks secret) are registered with :func:`register`. :class:`StreamMasker` masks a stream
delivered in chunks, holding back a tail that could be the start of a secret split across two chunks.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import urllib.parse
from typing import Any

from .text import escape

MASK = "******"
MIN_SECRET = 4


def _json_inner(value: str, ascii: bool = True) -> str:
    return json.dumps(value, ensure_ascii=ascii)[1:-1]


def _variants(value: str) -> set[str]:
    """The forms a secret takes in output."""
    forms = {value, escape(value), repr(value)[1:-1]}
    for ascii in (True, False):
        once = _json_inner(value, ascii)
        forms |= {once, _json_inner(once, ascii), _json_inner(_json_inner(once, ascii), ascii)}
    for quote in (urllib.parse.quote, urllib.parse.quote_plus):
        quoted = quote(value, safe="", errors="surrogateescape")
        forms |= {quoted, re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), quoted)}
    return {f for f in forms if len(f) >= MIN_SECRET}


class Masker:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._longest = 0

    def register(self, value: Any) -> None:
        """Mask ``value`` (a str or SecretStr; None and '' are ignored) from now on."""
        if value is None:
            return
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        value = str(value)
        if len(value.strip()) < MIN_SECRET:
            return
        with self._lock:
            new = _variants(value) - self._secrets
            if not new:
                return
            self._secrets |= new
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered))
            self._longest = len(ordered[0])

    def register_basic_auth(self, username: str, password: Any) -> None:
        """Mask the base64 ``user:password`` of an HTTP basic-auth header too."""
        if hasattr(password, "get_secret_value"):
            password = password.get_secret_value()
        if password:
            self.register(password)
            raw = f"{username}:{password}".encode("utf-8", "surrogateescape")
            self.register(base64.b64encode(raw).decode())

    def clear(self) -> None:
        with self._lock:
            self._secrets.clear()
            self._pattern = None
            self._longest = 0

    @property
    def longest(self) -> int:
        return self._longest

    def mask(self, text: Any) -> str:
        text = str(text)
        pattern = self._pattern
        return pattern.sub(MASK, text) if pattern is not None else text

    def pending_prefix(self, text: str) -> int:
        """Length of the longest suffix of ``text`` that is a proper prefix of a secret."""
        if not self._secrets:
            return 0
        for k in range(min(len(text), self._longest - 1), 0, -1):
            tail = text[-k:]
            if any(s.startswith(tail) and len(s) > k for s in self._secrets):
                return k
        return 0


MASKER = Masker()


def register(value: Any) -> None:
    MASKER.register(value)


def mask(text: Any) -> str:
    return MASKER.mask(text)


def mask_data(data: Any, masker: Masker | None = None) -> Any:
    """``data`` (dicts, lists, strings, numbers) with every string masked, keys included."""
    masker = masker or MASKER
    if isinstance(data, str):
        return masker.mask(data)
    if isinstance(data, dict):
        return {mask_data(k, masker) if isinstance(k, str) else k: mask_data(v, masker) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [mask_data(v, masker) for v in data]
    return data


class StreamMasker:
    """Masks text that arrives in chunks (a build stream, a subprocess pipe).

    ``feed`` returns what is safe to show now; ``flush`` returns the rest at the end.
    """

    def __init__(self, masker: Masker = MASKER):
        self._masker = masker
        self._hold = ""

    def feed(self, chunk: str) -> str:
        masked = self._masker.mask(self._hold + chunk)
        k = self._masker.pending_prefix(masked)
        self._hold = masked[len(masked) - k:] if k else ""
        return masked[: len(masked) - k] if k else masked

    def flush(self) -> str:
        rest, self._hold = self._masker.mask(self._hold), ""
        return rest
