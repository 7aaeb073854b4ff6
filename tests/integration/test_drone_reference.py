"""tagship's ports of Drone's Go code against the real code (Debian's Go packages, built offline).

- drone/envsubst v1.0.3 with drone's runner mapping: 6,000 seeded grammar-aware random templates, zero
  differences in refusal (error text) and in output bytes (and a Go panic is a panic in the port too);
- drone-runner-docker's encoder with go-yaml v2 + ghodss/yaml: every vector's PLUGIN_* text.
The Go program is built once per source hash (about 2 s cold), cached outside the repository.
"""
from __future__ import annotations

import json

import pytest
import yaml

from tagship.pipeline import drone_yaml, encoder, envsubst, goyaml
from goref import build, gen

SEEDS = (12, 1207)
PER_SEED = 3000


@pytest.fixture(scope="module")
def reference():
    try:
        build.binary()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    return build.run


def _port(template: str, env: dict[str, str]) -> tuple[str, bytes]:
    try:
        return "ok", envsubst.substitute_bytes(template.encode(), env)
    except envsubst.SubstitutionPanic:
        return "panic", b""
    except envsubst.SubstitutionError as exc:
        return "err", str(exc).encode()


def _envsubst_diffs(cases, answers) -> tuple[list[str], dict[str, int]]:
    diffs = []
    kinds = {"ok": 0, "err": 0, "panic": 0}
    for (template, env), (status, out) in zip(cases, answers):
        kinds[status] += 1
        want = (status, b"" if status == "panic" else out)
        got = _port(template, env)
        if got != want:
            diffs.append(f"{template!r} {env!r}: Go {want!r}, port {got!r}")
    return diffs, kinds


def _ask(reference, cases):
    return reference([build.envsubst_request(t.encode(), {k.encode(): v.encode() for k, v in e.items()})
                      for t, e in cases])


@pytest.mark.parametrize("seed", SEEDS)
def test_envsubst_matches_drone_envsubst_on_random_templates(reference, seed):
    cases = gen.cases(seed, PER_SEED)
    diffs, kinds = _envsubst_diffs(cases, _ask(reference, cases))
    assert not diffs, f"{len(diffs)} differences, first: " + "\n".join(diffs[:5])
    # the mix exercises both sides: many substitutions succeed, many are refused
    assert kinds["ok"] > PER_SEED // 4 and kinds["err"] > PER_SEED // 4, kinds


def test_the_random_templates_catch_a_wrong_function(reference, monkeypatch):
    """The differential test bites: with ${A##p} computed as ${A#p}, the same templates differ."""
    from tagship.pipeline import envsubst_funcs

    cases = gen.cases(SEEDS[0], PER_SEED)
    answers = _ask(reference, cases)
    monkeypatch.setitem(envsubst_funcs._FUNCS, b"##", envsubst_funcs.trim_shortest_prefix)
    diffs, _ = _envsubst_diffs(cases, answers)
    assert len(diffs) > 3


FIXED = ["${DRONE_TAG##v}", "${A-x}", "${A+x}", "${A?x}", "${}", "${#}", "${ A}", "${A/x}", "${A^x}", "${",
         "${A", "$A", "a\\\\b", "${A:+x}", "${A:?x}", "${A=${B}}", "${1A}", "${#A}", "${A^}", "${A#*}",
         "${A%[0-9]}", "${A/#a/x}", "${A: -2}", "${A:1:2}", "${A:0:-1}", "${NL}", "$${A}", "x\x00${A"]


def test_envsubst_fixed_cases_match(reference):
    env = {"A": "ßav1.2.3", "B": "b", "DRONE_TAG": "v1.2.3", "NL": 'a\n"b"'}
    answers = reference([build.envsubst_request(t.encode(), {k.encode(): v.encode() for k, v in env.items()})
                         for t in FIXED])
    for t, (status, out) in zip(FIXED, answers):
        assert _port(t, env) == (status, b"" if status == "panic" else out), t


# encoder vectors: drone-runner-docker's encoder_test.go cases first, then the edge cases
VECTORS = """\
string: "foo"
bool_true: true
bool_false: false
int: 1
float: 1.1
float_int: 1.0
slice_str: ["foo", "bar"]
slice_int: [1, 2]
slice_mixed: [foo, 1, true, 1.5]
map: {foo: bar}
nested: [{name: foo}, {name: bar}]
from_secret_extra: {from_secret: s, other: 1}
from_secret_empty: {from_secret: ''}
yes_key: {yes: 1}
neg_zero: -0.0
inf: .inf
ninf: -.inf
nan_in_map: {a: .nan}
big: 18446744073709551615
bigger: 99999999999999999999
hex: 0X10
octal: 017
eight: 08
date: 2001-12-14
bad_date: 2020-02-30
binary: !!binary aGVsbG8=
custom: !custom x
equals: =
merge_text: <<
null_key: {~: 1}
float_keys: {1.5: x, 0.1: y, 3.14159265358979: z}
json_floats: [1.0, 1e6, 1e21, 1e-7, 0.1, -0.0, {a: 1}]
list_inf: [.inf, ~, y, On]
html: {a: "<b>&</b>", c: "\\u2028\\b\\x01"}
unicode_key: {ß: 1, é: 2}
bool_words: [y, n, on, off, Yes]
nested_secret: {a: {from_secret: s}}
underscores: 1_000
binary_int: 0b101
neg_binary: -0b101
plus: +12
exp: 1e3
dot: .5
multi: "a\\nb"
str_numbers: ["1", "1.0", "true"]
"""


def test_encoder_vectors_match_drone_runner_docker(reference):
    [(status, out)] = reference([f"encode {VECTORS.encode().hex()}"])
    assert status == "ok", out
    want = json.loads(out)
    typed = goyaml.load_all(VECTORS)[0]
    text = goyaml.load_all(VECTORS, as_text=True)[0]
    got = {}
    for (tk, tv), (xk, xv) in zip(typed.items(), text.items()):
        got[xk] = encoder.encode(tv)
    assert set(got) == set(want)
    diffs = {k: (want[k]["v"], got[k]) for k in want if want[k]["v"] != got[k]}
    assert not diffs


def _go_type(v) -> str:
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int" if -(1 << 63) <= v < (1 << 63) else "uint64"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "[]interface {}"
    return "map[interface {}]interface {}"


@pytest.mark.parametrize("seed", SEEDS)
def test_yaml_typing_and_encoder_match_go_on_random_values(reference, seed):
    values = gen.yaml_values(seed, 1500)
    answers = reference([f"encode {('v: ' + v).encode().hex()}" for v in values])
    diffs = []
    refused = ambiguous = 0
    for value, (status, out) in zip(values, answers):
        try:
            typed = goyaml.load_all("v: " + value)[0]["v"]
            if goyaml.decode_error(typed):
                raise goyaml.GoYAMLError(goyaml.decode_error(typed))
            if encoder.ambiguous(typed):  # Go's answer depends on its random map order
                ambiguous += 1
                continue
            got = ("ok", _go_type(typed), encoder.encode(typed))
        except (goyaml.GoYAMLError, yaml.YAMLError):
            got = ("err",)
        if status != "ok":
            refused += 1
            want = ("err",)
        else:
            entry = json.loads(out)["v"]
            want = ("ok", entry["t"], entry["v"])
        if got != want:
            diffs.append(f"{value!r}: Go {want!r}, port {got!r}")
    assert not diffs, f"{len(diffs)} differences, first: " + "\n".join(diffs[:8])
    assert 0 < refused < len(values) // 4 and ambiguous < len(values) // 20


@pytest.mark.parametrize("seed", SEEDS)
def test_settings_and_environment_read_as_runner_go_reads_them(reference, seed):
    """Random steps: each settings:/environment: key as a Go string, secret or value or nil, the value's text."""
    docs = gen.step_docs(seed, 1000)
    answers = reference([f"step {d.encode().hex()}" for d in docs])
    diffs, refused, ambiguous = [], 0, 0
    for doc, (status, out) in zip(docs, answers):
        try:
            typed = goyaml.load_all(doc)[0]
            text = goyaml.load_all(doc, as_text=True)[0]
            problems = drone_yaml.decode_problems((typed.get("settings"), text.get("settings")),
                                                  (typed.get("environment"), text.get("environment")))
            if problems:
                raise ValueError(problems[0])
            got = {}
            for section, prefix in (("settings", "s:"), ("environment", "e:")):
                pairs = drone_yaml._pairs(typed.get(section), text.get(section))
                for key, value, value_text in pairs:
                    if section == "settings":
                        kind, v = encoder.setting(value, value_text)
                        if kind == "error":
                            raise ValueError(v)
                        if kind == "value" and encoder.ambiguous(value):
                            raise LookupError
                        got[prefix + key] = {"nil": ""} if kind == "nil" else {"secret": v} \
                            if kind == "secret" else {"v": v}
                    else:
                        kind, v = encoder.env_value(value, value_text)
                        if kind == "error":
                            raise ValueError(v)
                        got[prefix + key] = {"nil": ""} if kind == "null" else {"secret": v} \
                            if kind == "secret" else {"v": v}
            got = ("ok", got)
        except LookupError:
            ambiguous += 1
            continue
        except (goyaml.GoYAMLError, yaml.YAMLError, ValueError):
            got = ("err",)
        want = ("ok", json.loads(out)) if status == "ok" else ("err",)
        refused += status != "ok"
        if got != want:
            diffs.append(f"{doc!r}: Go {want!r}, port {got!r}")
    assert not diffs, f"{len(diffs)} differences, first: " + "\n".join(diffs[:5])
    assert 0 < refused < len(docs) // 3 and ambiguous < len(docs) // 20
