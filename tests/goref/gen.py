"""Seeded, grammar-aware random templates for the differential envsubst test.

Each template mixes plain text (with the characters envsubst's scanner cares about: ``$ { } \\ / : # %``,
multi-byte runes, a NUL) and ``${…}`` expressions built from envsubst's grammar — names (valid, empty,
digit-first, non-ASCII, spaced), every operator it knows and several it does not, arguments with globs,
numbers, escapes and nested expressions — then sometimes mutated (a byte dropped, cut short, one inserted).
"""
from __future__ import annotations

import random

NAMES = ["A", "A", "B", "B", "TAG", "DRONE_TAG", "UNSET", "_x", "1A", "9", "é", "A b", " A", "", "A1_", "ß"]
OPS = ["", "", "#", "##", "###", "%", "%%", "%%%", ":", ":", "::", ":-", ":=", ":?", ":+", "-", "+", "?", "=",
       "==", "^", "^^", "^^^", ",", ",,", ",^", "/", "//", "/#", "/%", "///", "!", "@", "*", " ", ":é", ":😀"]
ARGS = ["", "x", "v", "v*", "*", "*.", "?", "??", "[0-9]", "[^a]", "[a-c]", "[a-", "[]", "[\\]]", "\\", "\\\\",
        "\\/", "a/b", "/", "-", "0", "1", "2", "-1", "-2", " -2", "+1", "5", "99", "1:2", "0:-1", "2:1", ":",
        "$", "$$", "$A", "${B}", "${A:-z}", "${#A}", "}", "{", "é", "ß", "😀", "1.", "*3", "\n", "a\\b"]
TEXT = ["a", "b", " ", "$", "$$", "{", "}", "\\", "\\\\", "/", ":", "#", "%", "x=1", "\n", "é", "😀", "\x00",
        "$A", "${", "$}", "\\$", "\\/"]
VALUES = ["", "v1.2.3", "abc", "a/b/c", "ß", "İx", "ǅx", "ᾳ", "ﬀ", "😀z", "é", "line1\nline2", 'q"\\',
          "\t", "tab\there\n", "ÀÉÎ", "123", "v", "--", "*", "[x]", "v10.20.30", "aXbXa", "ab.cd.ef",
          "x/y/z/", "ßav1.2.3", "élan", "Ünï", "a1b2c3", "a.a.a", "1.0.10"]


def _expr(rng: random.Random, depth: int) -> str:
    if rng.random() < 0.12:
        return "${#" + rng.choice(NAMES) + rng.choice(["}", "", "x}", ":1}"])
    name = rng.choice(NAMES)
    op = rng.choice(OPS)
    parts = [rng.choice(ARGS) for _ in range(rng.choice([0, 1, 1, 2, 3]))]
    if depth < 2 and rng.random() < 0.15:
        parts.append(_expr(rng, depth + 1))
    sep = rng.choice(["", "", "/", ":"])
    return "${" + name + op + sep.join(parts) + rng.choice(["}"] * 8 + ["", "}}"])


GOOD_OPS = ["#", "##", "%", "%%", "/", "//", "/#", "/%", "^", "^^", ",", ",,", ":", ":-", ":=", "=", ""]
PATTERNS = ["v", "*.", ".*", "*", "?", "a", "b", "[0-9]", "[a-z]*", "*/", "/*", "1", ".", "ß", "X", "[^a]*", "?."]


def _good(rng: random.Random) -> str:
    """A well-formed expression on a set variable: what exercises the functions' results."""
    name, op = rng.choice(["A", "B", "TAG", "DRONE_TAG"]), rng.choice(GOOD_OPS)
    if op in ("#", "##", "%", "%%"):
        arg = rng.choice(PATTERNS) + rng.choice(["", "", rng.choice(PATTERNS)])
    elif op.startswith("/"):
        arg = rng.choice(["a", ".", "X", "1", "0", "v", "ß", "*", "?", "\\/"]) + "/" + \
            rng.choice(["", "x", "_", "-", "${B}"])
    elif op == ":":
        arg = str(rng.randint(-4, 6)) + rng.choice(["", ":" + str(rng.randint(0, 5))])
    elif op in (":-", ":=", "="):
        arg = rng.choice(["d", "", "${B}", "x y"])
    else:
        arg = ""
    return "${" + name + op + arg + "}"


def template(rng: random.Random) -> str:
    pieces = []
    for _ in range(rng.randint(1, 3)):
        if rng.random() < 0.4:
            pieces.append(_good(rng))
            continue
        pieces.append(_expr(rng, 0) if rng.random() < 0.5 else rng.choice(TEXT) * rng.randint(1, 2))
    text = "".join(pieces)
    roll = rng.random()
    if roll < 0.08 and text:
        i = rng.randrange(len(text))
        text = text[:i] + text[i + 1:]
    elif roll < 0.14 and text:
        text = text[:rng.randrange(len(text))]
    elif roll < 0.2:
        i = rng.randrange(len(text) + 1)
        text = text[:i] + rng.choice("${}\\/:#%") + text[i:]
    return text


def environment(rng: random.Random) -> dict[str, str]:
    names = [n for n in NAMES if n != "UNSET"]
    return {n: rng.choice(VALUES) for n in rng.sample(names, rng.randint(0, len(names)))}


def cases(seed: int, count: int) -> list[tuple[str, dict[str, str]]]:
    rng = random.Random(seed)
    return [(template(rng), environment(rng)) for _ in range(count)]


# ------------------------------------------------------------------------------------------- YAML values
SCALARS = ["y", "Y", "yes", "No", "on", "OFF", "true", "False", "n", "~", "null", "Null", "", "0", "-0", "+0",
           "017", "08", "0x1F", "0X10", "0o17", "0b101", "-0b11", "1_000", "_1", "1__0", "+12", "-12", "9223372036854775807",
           "9223372036854775808", "18446744073709551615", "18446744073709551616", "99999999999999999999",
           "1.0", "-0.0", "1e6", "1E+3", "1e-7", ".5", "-.5", "+.5", "5.", ".inf", "-.Inf", "+.INF", ".nan",
           ".NaN", "1.5e300", "1e400", "0.1", "3.14159265358979", "123456789.0", "1_0.5", ".e1", "0x1p-2",
           "2001-12-14", "2020-02-30", "2001-12-14T21:59:43.10-05:00", "2001-12-14 21:59:43.10", "2001-1-2",
           "2001-12-14t21:59:43Z", "12:30", "1:20:30", "=", "<<", "abc", "ß", "é", "x y", "-", "+", ".", "0.",
           "'1'", '"true"', "'~'", '"a\\nb"', '"<b>&"', '"\\u2028"', '"\\x01"', "!!str 1", "!!int 1",
           "!!float 1", "!!bool yes", "!!null ~", "!!binary aGVsbG8=", "!custom x", "!!timestamp 2001-12-14",
           "!!int x", "!!float abc", "!!bool 1"]


def _value(rng: random.Random, depth: int) -> str:
    roll = rng.random()
    if depth < 3 and roll < 0.15:
        return "[" + ", ".join(_value(rng, depth + 1) for _ in range(rng.randint(0, 3))) + "]"
    if depth < 3 and roll < 0.3:
        items = []
        for _ in range(rng.randint(0, 3)):
            key = rng.choice([s for s in SCALARS if not s.startswith("!") and s not in ("", "<<")])
            items.append(f"{key}: {_value(rng, depth + 1)}")
        return "{" + ", ".join(items) + "}"
    return rng.choice(SCALARS)


def yaml_values(seed: int, count: int) -> list[str]:
    """``count`` random flow values (scalars, lists, maps), each to be read as ``v: <value>``."""
    rng = random.Random(seed)
    return [_value(rng, 0) for _ in range(count)]


KEYS = ["a", "yes", "On", "~", "0x10", "1.0", "ß", "é_x", "from_secret", "tag-name", "x.y", "'q'", "y", "null"]
SECRETS = ["{from_secret: s}", "{from_secret: s, other: 1}", "{from_secret: ''}", "{from_secret: 1}",
           "{from_secret: yes}", "{from_secret: [a]}", "{from_secret: ~}", "{value: v}", "{value: 1, x: 2}",
           "{value: [1]}", "{from_secret: s, value: v}"]


def step_doc(rng: random.Random) -> str:
    """A step's ``settings:`` and ``environment:`` maps with random keys and values (secrets among them)."""
    lines = []
    for section in ("settings", "environment"):
        keys = rng.sample(KEYS, rng.randint(0, 4))
        if not keys:
            continue
        lines.append(f"{section}:")
        for k in keys:
            roll = rng.random()
            v = rng.choice(SECRETS) if roll < 0.3 else rng.choice(SCALARS) if section == "environment" and \
                roll < 0.9 else _value(rng, 1)
            lines.append(f"  {k}: {v}")
    return "\n".join(lines) + "\n"


def step_docs(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    return [step_doc(rng) for _ in range(count)]
