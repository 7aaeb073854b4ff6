"""Text that goes into a log line: control characters escaped, so a value can never forge or split a line.

A value printed in a message may hold anything the environment can (a newline, an ANSI escape, a lone
surrogate from a non-UTF-8 byte). :func:`escape` turns such characters into their ``\\n`` / ``\\x1b`` /
``\\udcff`` form; :func:`one_line` does the same for a whole message (one problem = one log line), and
:func:`shown` is how a setting's value appears in an error: quoted, escaped and cut at ``limit`` characters.
"""

from __future__ import annotations

import re
from typing import Any

# C0 and C1 controls, DEL, line/paragraph separators, and lone surrogates (undecodable bytes)
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _sub(match: re.Match[str]) -> str:
    ch = match.group()
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code <= 0xff else f"\\u{code:04x}"


def escape(text: Any, keep: str = "") -> str:
    """``text`` with every control character (except those in ``keep``) written as an escape."""
    text = str(text)
    if not _CONTROL.search(text):
        return text
    if keep:
        return "".join(part if part in keep else _CONTROL.sub(_sub, part)
                       for part in re.split(f"([{re.escape(keep)}])", text))
    return _CONTROL.sub(_sub, text)


def one_line(text: Any) -> str:
    """A message as exactly one line: newlines included, every control character escaped."""
    return escape(text)


def shown(value: Any, limit: int = 60) -> str:
    """A value as it appears in an error: quoted, escaped, cut to ``limit`` characters."""
    text = escape(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return "'" + text.replace("'", "\\'") + "'"
