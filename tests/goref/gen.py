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
          "\t", "tab\there\n", "ÀÉÎ", "123", "v", "--", "*", "[x]"]


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


def template(rng: random.Random) -> str:
    pieces = []
    for _ in range(rng.randint(1, 3)):
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
