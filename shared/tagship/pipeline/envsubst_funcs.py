"""drone/envsubst v1.0.3's substitution functions (``funcs.go``) and its glob (``path/match.go``), on bytes."""

from __future__ import annotations

import re
from typing import Callable

from . import gostr

class SubstitutionError(ValueError):
    """envsubst refused the text; ``str()`` is its error text, as Drone shows it. ``pos`` is the byte offset
    (in the UTF-8 text) of the ``${`` it refused."""

    pos: int | None = None


class SubstitutionPanic(SubstitutionError):
    """The Go code would panic here (a slice out of range): Drone's runner does not survive it."""


Func = Callable[..., bytes]
_INT = re.compile(rb"[+-]?[0-9]+\Z")
_MIN, _MAX = -(1 << 63), (1 << 63) - 1


def _atoi(b: bytes) -> int | None:
    """``strconv.Atoi``: an optional sign and decimal digits, in int64; ``None`` for an error."""
    if not _INT.match(b):
        return None
    n = int(b)
    return n if _MIN <= n <= _MAX else None


def _wrap(n: int) -> int:
    return (n + (1 << 63)) % (1 << 64) - (1 << 63)


def to_len(s: bytes, *args: bytes) -> bytes:
    return str(len(s)).encode()


def to_lower_first(s: bytes, *args: bytes) -> bytes:
    if not s:
        return s
    r, n = gostr.decode_rune(s)
    return gostr.rune_bytes(gostr.to_lower_rune(r)) + s[n:]


def to_upper_first(s: bytes, *args: bytes) -> bytes:
    if not s:
        return s
    r, n = gostr.decode_rune(s)
    return gostr.rune_bytes(gostr.to_upper_rune(r)) + s[n:]


def to_default(s: bytes, *args: bytes) -> bytes:
    return b"".join(args) if not s and args else s


def _slice(s: bytes, lo: int, hi: int | None = None) -> bytes:
    hi = len(s) if hi is None else hi
    if not 0 <= lo <= hi <= len(s):
        raise SubstitutionPanic(f"runtime error: slice bounds out of range [{lo}:{hi}] (envsubst would panic)")
    return s[lo:hi]


def to_substr(s: bytes, *args: bytes) -> bytes:
    if not args:
        return s
    pos = _atoi(args[0])
    if pos is None:
        return s
    if pos < 0:
        pos = max(len(s) + pos, 0)
    if len(args) == 1:
        return _slice(s, pos) if pos < len(s) else b""
    length = _atoi(args[1])
    if length is None:
        return s
    end = _wrap(pos + length)
    if end >= len(s):
        return _slice(s, pos) if pos < len(s) else b""
    return _slice(s, pos, end)


def replace_all(s: bytes, *args: bytes) -> bytes:
    return s if not args else gostr.replace(s, args[0], args[1] if len(args) > 1 else b"", -1)


def replace_first(s: bytes, *args: bytes) -> bytes:
    return s if not args else gostr.replace(s, args[0], args[1] if len(args) > 1 else b"", 1)


def replace_prefix(s: bytes, *args: bytes) -> bytes:
    if len(args) != 2:
        return s
    return gostr.replace(s, args[0], args[1], 1) if s.startswith(args[0]) else s


def replace_suffix(s: bytes, *args: bytes) -> bytes:
    if len(args) != 2:
        return s
    if s.endswith(args[0]):
        s = s[:len(s) - len(args[0])] + args[1]
    return s


def _reverse(s: bytes) -> bytes:
    return gostr.from_runes(gostr.runes(s)[::-1])


def _trim_shortest(s: bytes, arg: bytes) -> bytes:
    shortest = b""
    for i in range(len(s)):
        try:
            if match(arg, s[:len(s) - i]):
                shortest = s[:len(s) - i]
        except ValueError:
            return s
    return s[len(shortest):] if shortest else s


def _trim_longest(s: bytes, arg: bytes) -> bytes:
    for i in range(len(s)):
        try:
            if match(arg, s[:len(s) - i]):
                return s[len(s) - i:]
        except ValueError:
            return s
    return s


def trim_shortest_prefix(s: bytes, *args: bytes) -> bytes:
    return _trim_shortest(s, args[0]) if args else s


def trim_longest_prefix(s: bytes, *args: bytes) -> bytes:
    return _trim_longest(s, args[0]) if args else s


def trim_shortest_suffix(s: bytes, *args: bytes) -> bytes:
    return _reverse(_trim_shortest(_reverse(s), _reverse(args[0]))) if args else s


def trim_longest_suffix(s: bytes, *args: bytes) -> bytes:
    return _reverse(_trim_longest(_reverse(s), _reverse(args[0]))) if args else s


_FUNCS: dict[bytes, Func] = {
    b",": to_lower_first, b",,": lambda s, *a: gostr.lower(s), b"^": to_upper_first,
    b"^^": lambda s, *a: gostr.upper(s), b"##": trim_longest_prefix, b"%": trim_shortest_suffix,
    b"%%": trim_longest_suffix, b":": to_substr, b"/#": replace_prefix, b"/%": replace_suffix,
    b"/": replace_first, b"//": replace_all,
}


def lookup(name: bytes, nargs: int) -> Func:
    """``lookupFunc``: an unknown name (``:?``, ``:+``, ``=``…) is ``toDefault``."""
    if name == b"#":
        return to_len if nargs == 0 else trim_shortest_prefix
    return _FUNCS.get(name, to_default)


# ------------------------------------------------------------------------------------------- path.Match
def _scan_chunk(p: bytes) -> tuple[bool, bytes, bytes]:
    star = False
    while p and p[0] == 0x2A:
        p, star = p[1:], True
    inrange, i = False, 0
    while i < len(p):
        c = p[i]
        if c == 0x5C:
            if i + 1 < len(p):
                i += 1
        elif c == 0x5B:
            inrange = True
        elif c == 0x5D:
            inrange = False
        elif c == 0x2A and not inrange:
            break
        i += 1
    return star, p[:i], p[i:]


def _get_esc(chunk: bytes) -> tuple[int, bytes]:
    if not chunk or chunk[0] in (0x2D, 0x5D):
        raise ValueError("syntax error in pattern")
    if chunk[0] == 0x5C:
        chunk = chunk[1:]
        if not chunk:
            raise ValueError("syntax error in pattern")
    r, n = gostr.decode_rune(chunk)
    if (r == gostr.RUNE_ERROR and n == 1) or not chunk[n:]:
        raise ValueError("syntax error in pattern")
    return r, chunk[n:]


def _match_chunk(chunk: bytes, s: bytes) -> tuple[bytes, bool]:
    """(rest, ok); raises ValueError for a bad pattern."""
    while chunk:
        if not s:
            return b"", False
        c = chunk[0]
        if c == 0x5B:
            r, n = gostr.decode_rune(s)
            s, chunk = s[n:], chunk[1:]
            negated = bool(chunk) and chunk[0] == 0x5E
            if negated:
                chunk = chunk[1:]
            matched, nrange = False, 0
            while True:
                if chunk and chunk[0] == 0x5D and nrange > 0:
                    chunk = chunk[1:]
                    break
                lo, chunk = _get_esc(chunk)
                hi = lo
                if chunk[0] == 0x2D:
                    hi, chunk = _get_esc(chunk[1:])
                if lo <= r <= hi:
                    matched = True
                nrange += 1
            if matched == negated:
                return b"", False
        elif c == 0x3F:
            s, chunk = s[gostr.decode_rune(s)[1]:], chunk[1:]
        else:
            if c == 0x5C:
                chunk = chunk[1:]
                if not chunk:
                    raise ValueError("syntax error in pattern")
            if chunk[0] != s[0]:
                return b"", False
            s, chunk = s[1:], chunk[1:]
    return s, True


def match(pattern: bytes, name: bytes) -> bool:
    """envsubst's ``path.Match``: a trailing ``*`` matches the rest, ``/`` included."""
    while pattern:
        star, chunk, pattern = _scan_chunk(pattern)
        if star and not chunk:
            return True
        err = None
        try:
            t, ok = _match_chunk(chunk, name)
        except ValueError as exc:
            t, ok, err = b"", False, exc
        if ok and (not t or pattern):
            name = t
            continue
        if err is not None:
            raise err
        if star:
            found = False
            for i in range(len(name)):
                try:
                    t, ok = _match_chunk(chunk, name[i + 1:])
                except ValueError:
                    raise
                if ok:
                    if not pattern and t:
                        continue
                    name, found = t, True
                    break
            if found:
                continue
        return False
    return not name
