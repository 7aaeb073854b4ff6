"""A byte-exact port of drone/envsubst v1.0.3, the ``${…}`` substitution Drone runs on ``.drone.yml``.

The scanner and parser are transliterated from ``parse/scan.go`` and ``parse/parse.go`` (quirks included:
the scanner works on UTF-8 bytes, a NUL byte ends the text, ``$$`` and ``\\\\`` are escapes outside ``${}``,
an unread after a peek steps back by the peeked rune's width), the functions from ``funcs.go`` and the glob
from ``path/match.go``. ``substitute`` adds what drone's runner (runner-go ``pipeline/runtime``) does around
it: an unknown variable is the empty string and a value holding a newline is written ``%q``-quoted.

Forms envsubst does not know (``${A-x}``, ``${A+x}``, ``${A:?x}``, ``${}``, ``${ A}``, a lone ``${``) are
refused with envsubst's own error text, as Drone fails the build with it. Bare ``$VAR`` is plain text.
"""

from __future__ import annotations

from typing import Callable, Mapping

from . import gostr
from .envsubst_funcs import SubstitutionError, SubstitutionPanic, lookup  # noqa: F401 (re-exported)

# the error texts (parse/parse.go)
BAD_SUBSTITUTION = "bad substitution"
MISSING_CLOSING_BRACE = "missing closing brace"
PARSE_VARIABLE_NAME = "unable to parse variable name"
PARSE_FUNC_SUBSTITUTION = "unable to parse substitution within function"
PARSE_DEFAULT_FUNCTION = "unable to parse default function"


# tokens and mode bits (parse/scan.go)
_ILLEGAL, _EOF, _IDENT, _LBRACK, _RBRACK = range(5)
_M_IDENT, _M_LBRACK, _M_RBRACK, _M_ESCAPE = 1, 2, 4, 8
_DOLLAR, _LBRACE, _RBRACE, _BSLASH = 0x24, 0x7B, 0x7D, 0x5C


def _accept_ident(r: int, i: int) -> bool:
    return gostr.is_letter(r) or gostr.is_digit(r) or r == 0x5F


_ACCEPT: dict[str, Callable[[int, int], bool]] = {
    "rune": lambda r, i: True,
    "ident": _accept_ident,
    "colon": lambda r, i: r == 0x3A,
    "one_hash": lambda r, i: r == 0x23 and i == 1,
    "not_closing": lambda r, i: r != _RBRACE,
    "hash_func": lambda r, i: r == 0x23 and i < 3,
    "percent_func": lambda r, i: r == 0x25 and i < 3,
    "default_func": lambda r, i: (i == 1 and r == 0x3A) or (i == 2 and r in (0x3D, 0x2D, 0x3F, 0x2B)),
    "replace_func": lambda r, i: (i == 1 and r == 0x2F) or (i == 2 and r in (0x2F, 0x23, 0x25)),
    "one_equal": lambda r, i: i == 1 and r == 0x3D,
    "one_colon": lambda r, i: i == 1 and r == 0x3A,
    "reject_colon_close": lambda r, i: r != 0x3A and r != _RBRACE,
    "slash": lambda r, i: r == 0x2F,
    "not_slash": lambda r, i: r != 0x2F,
    "casing_func": lambda r, i: r in (0x2C, 0x5E) and i < 3,
}


class _Scanner:
    __slots__ = ("buf", "pos", "start", "width", "mode", "accept", "opened", "skipped", "skips")

    def __init__(self, buf: bytes) -> None:
        self.buf, self.pos, self.start, self.width, self.mode = buf, 0, 0, 0, 0
        self.opened = self.skipped = self.skips = 0
        self.accept = _ACCEPT["rune"]

    def read(self) -> int:
        if self.pos >= len(self.buf):
            self.width = 0
            return 0  # eof is rune(0): a NUL byte reads as the end too
        r, w = gostr.decode_rune(self.buf, self.pos)
        self.width = w
        self.pos += w
        return r

    def unread(self) -> None:
        self.pos -= self.width

    def skip(self) -> None:
        self.buf = self.buf[:self.pos - 1] + self.buf[self.pos:]
        self.skips += 1

    def peek(self) -> int:
        r = self.read()
        self.unread()
        return r

    def string(self) -> bytes:
        return self.buf[self.start:self.pos]

    def set(self, accept: str, mode: int) -> None:
        self.accept, self.mode = _ACCEPT[accept], mode

    def scan(self) -> int:
        self.start = self.pos
        r = self.read()
        if r == 0:
            return _EOF
        if self.lbrack(r):
            return _LBRACK
        if self.mode & _M_RBRACK and r == _RBRACE:
            return _RBRACK
        if self.ident(r):
            return _IDENT
        return _ILLEGAL

    def ident(self, r: int) -> bool:
        if not self.mode & _M_IDENT:
            return False
        if self.escaped(r):
            self.skip()
        elif not self.accept(r, self.pos - self.start):
            return False
        while True:
            r = self.read()
            if r == 0:
                self.unread()
                break
            if self.lbrack(r):
                self.unread()
                self.unread()
                break
            if self.escaped(r):
                self.skip()
                continue
            if not self.accept(r, self.pos - self.start):
                self.unread()
                break
        return True

    def lbrack(self, r: int) -> bool:
        if not self.mode & _M_LBRACK:
            return False
        if r == _DOLLAR:
            if self.read() == _LBRACE:
                return True
            self.unread()
        return False

    def escaped(self, r: int) -> bool:
        if not self.mode & _M_ESCAPE:
            return False
        if r == _DOLLAR and self.peek() == _DOLLAR:
            return True
        if r != _BSLASH:
            return False
        return self.peek() in (0x2F, _BSLASH)


# nodes: bytes (text) or a _Func; a list of nodes is the template
class _Func:
    __slots__ = ("param", "name", "args")

    def __init__(self, param: bytes = b"", name: bytes = b"") -> None:
        self.param, self.name, self.args = param, name, []


def parse(text: str | bytes) -> list:
    """The template's nodes; raises ``SubstitutionError`` with envsubst's text when it refuses it."""
    s = _Scanner(text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text)
    try:
        return _any(s)
    except SubstitutionError as exc:
        exc.pos = s.opened + s.skipped  # where the refused ${ starts (escapes skipped before it counted back)
        raise


def _any(s: _Scanner) -> list:
    nodes: list = []
    while True:  # parseAny, as a loop
        s.set("rune", _M_IDENT | _M_LBRACK | _M_ESCAPE)
        tok = s.scan()
        if tok == _IDENT:
            nodes.append(s.string())
        elif tok == _LBRACK:
            s.opened, s.skipped = s.start, s.skips
            nodes.append(_func(s))
        elif tok == _EOF:
            return nodes
        else:
            raise SubstitutionError(BAD_SUBSTITUTION)


def _expect(s: _Scanner, accept: str, mode: int, tok: int = _IDENT, err: str = BAD_SUBSTITUTION) -> bytes:
    s.set(accept, mode)
    if s.scan() != tok:
        raise SubstitutionError(err)
    return s.string()


def _rbrack(s: _Scanner) -> None:
    s.mode = _M_RBRACK
    if s.scan() != _RBRACK:
        raise SubstitutionError(BAD_SUBSTITUTION)


def _param(s: _Scanner, accept: str, mode: int):
    s.set(accept, mode | _M_LBRACK)
    tok = s.scan()
    if tok == _LBRACK:
        return _func(s)
    if tok in (_IDENT, _RBRACK):
        return s.string()
    raise SubstitutionError(PARSE_FUNC_SUBSTITUTION)


def _func(s: _Scanner) -> _Func:
    if s.peek() == 0x23:  # ${#param}
        node = _Func(name=_expect(s, "one_hash", _M_IDENT))
        node.param = _expect(s, "ident", _M_IDENT)
        _rbrack(s)
        return node
    name = _expect(s, "ident", _M_IDENT, err=PARSE_VARIABLE_NAME)
    p = s.peek()
    if p == 0x3A:  # ':' default or substring
        s.read()
        r = s.peek()
        s.unread()
        return _default(s, name) if r in (0x3D, 0x2D, 0x3F, 0x2B) else _substr(s, name)
    if p == 0x3D:
        return _default(s, name)
    if p in (0x2C, 0x5E):
        node = _Func(name, _expect(s, "casing_func", _M_IDENT))
        _rbrack(s)
        return node
    if p == 0x2F:
        return _replace(s, name)
    if p in (0x23, 0x25):
        node = _Func(name, _expect(s, "hash_func" if p == 0x23 else "percent_func", _M_IDENT))
        node.args.append(_param(s, "not_closing", _M_IDENT))
        _rbrack(s)
        return node
    _expect(s, "ident", _M_RBRACK, _RBRACK, MISSING_CLOSING_BRACE)
    return _Func(name)


def _substr(s: _Scanner, name: bytes) -> _Func:
    node = _Func(name, _expect(s, "one_colon", _M_IDENT))
    node.args.append(_param(s, "reject_colon_close", _M_IDENT))
    s.set("colon", _M_IDENT | _M_RBRACK)
    tok = s.scan()
    if tok == _RBRACK:
        return node
    if tok != _IDENT:
        raise SubstitutionError(BAD_SUBSTITUTION)
    node.args.append(_param(s, "not_closing", _M_IDENT))
    _rbrack(s)
    return node


def _replace(s: _Scanner, name: bytes) -> _Func:
    node = _Func(name, _expect(s, "replace_func", _M_IDENT))
    node.args.append(_param(s, "not_slash", _M_IDENT | _M_ESCAPE))
    _expect(s, "slash", _M_IDENT)
    if s.peek() == _RBRACE:
        _rbrack(s)
        return node
    node.args.append(_param(s, "not_closing", _M_IDENT | _M_ESCAPE))
    _rbrack(s)
    return node


def _default(s: _Scanner, name: bytes) -> _Func:
    node = _Func(name)
    accept = "one_equal" if s.peek() == 0x3D else "default_func"
    node.name = _expect(s, accept, _M_IDENT, err=PARSE_DEFAULT_FUNCTION)
    while s.peek() != _RBRACE:
        node.args.append(_param(s, "not_closing", _M_IDENT))
    _rbrack(s)
    return node


# ------------------------------------------------------------------------------------------- evaluation
def execute(nodes: list, mapping: Callable[[bytes], bytes]) -> bytes:
    out = bytearray()
    for node in nodes:
        if isinstance(node, bytes):
            out += node
            continue
        args = [execute([a], mapping) for a in node.args]
        out += lookup(node.name, len(args))(mapping(node.param), *args)
    return bytes(out)


def drone_mapping(env: Mapping[str, str]) -> Callable[[bytes], bytes]:
    """drone's runner mapping: unknown → empty, a value holding a newline → ``%q``."""
    benv = {k.encode("utf-8", "surrogateescape"): v.encode("utf-8", "surrogateescape") for k, v in env.items()}

    def get(name: bytes) -> bytes:
        v = benv.get(name, b"")
        return gostr.quote(v) if b"\n" in v else v
    return get


def substitute_bytes(text: bytes, env: Mapping[str, str]) -> bytes:
    return execute(parse(text), drone_mapping(env))


def substitute(text: str, env: Mapping[str, str]) -> str:
    """``text`` as Drone's runner substitutes it; raises ``SubstitutionError`` where Drone fails the build."""
    out = substitute_bytes(text.encode("utf-8", "surrogateescape"), env)
    return out.decode("utf-8", "surrogateescape")


def variables(text: str) -> set[str]:
    """The variable names the text substitutes (none when envsubst refuses it)."""
    try:
        nodes = parse(text)
    except SubstitutionError:
        return set()
    names: set[str] = set()

    def walk(ns: list) -> None:
        for n in ns:
            if isinstance(n, _Func):
                names.add(n.param.decode("utf-8", "surrogateescape"))
                walk(n.args)
    walk(nodes)
    return names
