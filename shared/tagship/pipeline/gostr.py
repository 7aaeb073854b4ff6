"""Go's string primitives on UTF-8 bytes, as the ports of Drone's Go code need them.

``decode_rune`` is ``utf8.DecodeRune`` (an invalid byte is U+FFFD with width 1), ``replace`` is
``strings.Replace`` (an empty ``old`` matches before every UTF-8 sequence), ``quote`` is ``strconv.Quote``
(``%q``), ``upper``/``lower`` are ``strings.ToUpper``/``ToLower`` with Go's simple (one-rune) case mapping.
Unicode tables are Python's (Go 1.19 has Unicode 13.0): characters added later differ.
"""

from __future__ import annotations

import unicodedata

RUNE_ERROR = 0xFFFD
_ERROR_BYTES = "\ufffd".encode()


def _seq_len(b0: int) -> int:
    if b0 < 0x80:
        return 1
    if 0xC2 <= b0 <= 0xDF:
        return 2
    if 0xE0 <= b0 <= 0xEF:
        return 3
    if 0xF0 <= b0 <= 0xF4:
        return 4
    return 0


def decode_rune(buf: bytes, pos: int = 0) -> tuple[int, int]:
    """(rune, width) at ``pos``; ``(RUNE_ERROR, 1)`` for an invalid sequence, ``(RUNE_ERROR, 0)`` at the end."""
    if pos >= len(buf):
        return RUNE_ERROR, 0
    b0 = buf[pos]
    if b0 < 0x80:
        return b0, 1
    n = _seq_len(b0)
    if n == 0:
        return RUNE_ERROR, 1
    try:  # Python's strict decoder rejects what Go's does: overlongs, surrogates, > U+10FFFF
        return ord(buf[pos:pos + n].decode("utf-8")), n
    except UnicodeDecodeError:
        return RUNE_ERROR, 1


def runes(buf: bytes) -> list[int]:
    """``[]rune(s)``."""
    out, pos = [], 0
    while pos < len(buf):
        r, w = decode_rune(buf, pos)
        out.append(r)
        pos += w
    return out


def from_runes(rs: list[int]) -> bytes:
    """``string([]rune)`` (runes are always valid here, since they come from ``runes``)."""
    return "".join(map(chr, rs)).encode("utf-8", "surrogatepass")


def rune_bytes(r: int) -> bytes:
    """``string(r)``."""
    if 0xD800 <= r <= 0xDFFF or r > 0x10FFFF or r < 0:
        return _ERROR_BYTES
    return chr(r).encode()


def is_letter(r: int) -> bool:
    return r != RUNE_ERROR and chr(r).isalpha()


def is_digit(r: int) -> bool:
    if r < 0x100:
        return 0x30 <= r <= 0x39
    return unicodedata.category(chr(r)) == "Nd"


def to_upper_rune(r: int) -> int:
    """``unicode.ToUpper``: the simple mapping (``ß`` stays ``ß``)."""
    if r < 0x80:
        return r - 32 if 0x61 <= r <= 0x7A else r
    c = chr(r)
    u = c.upper()
    if len(u) == 1:
        return ord(u)
    t = c.title()  # where the full mapping has several runes, the simple one (if any) is the titlecase one
    return ord(t) if len(t) == 1 else r


def to_lower_rune(r: int) -> int:
    """``unicode.ToLower``: the simple mapping."""
    if r < 0x80:
        return r + 32 if 0x41 <= r <= 0x5A else r
    if r == 0x130:  # İ: full lowercase is two runes, the simple one is i
        return 0x69
    low = chr(r).lower()
    return ord(low) if len(low) == 1 else r


def map_runes(fn, buf: bytes) -> bytes:
    """``strings.Map``: an invalid byte becomes U+FFFD."""
    out, pos = bytearray(), 0
    while pos < len(buf):
        r, w = decode_rune(buf, pos)
        out += rune_bytes(fn(r))
        pos += w
    return bytes(out)


def upper(buf: bytes) -> bytes:
    if buf.isascii():
        return buf.upper()
    return map_runes(to_upper_rune, buf)


def lower(buf: bytes) -> bytes:
    if buf.isascii():
        return buf.lower()
    return map_runes(to_lower_rune, buf)


def replace(s: bytes, old: bytes, new: bytes, n: int) -> bytes:
    """``strings.Replace(s, old, new, n)``; ``n < 0`` means all."""
    if old == new or n == 0:
        return s
    if old:
        return s.replace(old, new, n if n > 0 else -1)
    m = len(runes(s)) + 1
    n = m if n < 0 or m < n else n
    out, start = bytearray(), 0
    for i in range(n):
        j = start
        if i > 0:
            j += decode_rune(s, start)[1]
        out += s[start:j] + new
        start = j
    return bytes(out + s[start:])


_ESC = {7: b"\\a", 8: b"\\b", 12: b"\\f", 10: b"\\n", 13: b"\\r", 9: b"\\t", 11: b"\\v"}


def quote(s: bytes) -> bytes:
    """``strconv.Quote`` (what ``fmt.Sprintf("%q", s)`` writes)."""
    out, pos = bytearray(b'"'), 0
    while pos < len(s):
        r, w = decode_rune(s, pos)
        if w == 1 and r == RUNE_ERROR:
            out += b"\\x%02x" % s[pos]
        elif r in (0x22, 0x5C):
            out += b"\\" + bytes([r])
        elif chr(r).isprintable():
            out += s[pos:pos + w]
        elif r in _ESC:
            out += _ESC[r]
        elif r < 0x20 or r == 0x7F:
            out += b"\\x%02x" % r
        elif r < 0x10000:
            out += b"\\u%04x" % r
        else:
            out += b"\\U%08x" % r
        pos += w
    out += b'"'
    return bytes(out)
