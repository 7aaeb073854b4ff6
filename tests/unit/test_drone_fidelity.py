"""exec and lint read a .drone.yml as Drone does: envsubst v1.0.3, go-yaml v2 typing, the runner's encoder.

Each case from issue 12 is a row here; the differential tests against the real Go code are in
tests/integration/test_drone_reference.py.
"""

import math

import pytest

from tagship.pipeline import drone_yaml, encoder, envsubst, goyaml, lint
from tagship.pipeline.drone_yaml import PipelineError, parse, plugin_env

ENV = {"A": "ßav1.2.3", "DRONE_TAG": "v1.2.3", "NL": 'a\n"b"', "E": ""}


@pytest.mark.parametrize("text, error", [
    ("${A-x}", "missing closing brace"), ("${A+x}", "missing closing brace"), ("${A?x}", "missing closing brace"),
    ("${}", "unable to parse variable name"), ("${#}", "bad substitution"), ("${ A}", "unable to parse variable name"),
    ("${A/x}", "bad substitution"), ("${A^x}", "bad substitution"), ("${", "unable to parse variable name"),
    ("${A", "missing closing brace"),
])
def test_envsubst_refuses_what_drone_refuses(text, error):
    with pytest.raises(envsubst.SubstitutionError, match=f"^{error}$"):
        envsubst.substitute(text, ENV)


@pytest.mark.parametrize("text, out", [
    ("${DRONE_TAG##v}", "1.2.3"),
    ("$A", "$A"),                                # bare $VAR is text
    ("a\\\\b", "a\\b"),                          # \\ outside ${} is an escape
    ("$${A}", "${A}"),
    ("${A:+x}", "ßav1.2.3"), ("${E:+x}", "x"),   # :+ and :? act as a default
    ("${E:?x}", "x"),
    ("${E=${DRONE_TAG}}", "v1.2.3"),
    ("${1A}", ""),                               # a name may start with a digit
    ("${#A}", "9"),                              # bytes, not characters
    ("${A^^}", "ßAV1.2.3"),                      # Go's simple case mapping keeps ß
    ("${DRONE_TAG#*}", "1.2.3"),                 # the empty prefix is never tried: one byte goes
    ("${DRONE_TAG%[0-9]}", "v1.2.3"),            # the suffix pattern is reversed: no glob
    ("${DRONE_TAG/#v/x}", "x1.2.3"),
    ("${DRONE_TAG: -2}", "v1.2.3"),              # " -2" is not an int: the whole value
    ("${DRONE_TAG:1:2}", "1."),
    ("${NL}", '"a\\n\\"b\\""'),                  # the runner quotes a value holding a newline (%q)
    ("x\x00${A", "x"),                           # a NUL ends the text
])
def test_envsubst_results(text, out):
    assert envsubst.substitute(text, ENV) == out


def test_envsubst_panic_is_its_own_error():
    with pytest.raises(envsubst.SubstitutionPanic):
        envsubst.substitute("${A:0:-1}", ENV)


def test_refused_file_is_a_pipeline_error_with_its_line():
    with pytest.raises(PipelineError, match=r"missing closing brace \(line 3\)"):
        parse("kind: pipeline\nsteps:\n- {name: a, image: x, commands: ['echo ${A-x}']}\n", ENV)


@pytest.mark.parametrize("yaml_text, value", [
    ("v: y", True), ("v: On", True), ("v: n", False), ("v: 0X10", 16), ("v: 017", 15), ("v: 08", 8.0),
    ("v: 2001-12-14", "2001-12-14"), ("v: 2020-02-30", "2020-02-30"), ("v: !!binary aGVsbG8=", "hello"),
    ("v: =", "="), ("v: <<", "<<"), ("v: !custom x", "x"), ("v: 1_000", 1000), ("v: 0b101", 5),
    ("v: 99999999999999999999", 1e20), ("v: 18446744073709551615", 18446744073709551615), ("v: ~", None),
    ("v: !!float 1", 1.0), ("v: '1'", "1"),
])
def test_goyaml_types_as_go_yaml_v2(yaml_text, value):
    got = goyaml.load_all(yaml_text)[0]["v"]
    assert got == value and type(got) is type(value)


def test_goyaml_refuses_what_go_refuses_with_the_line_where_it_is_decoded():
    doc = goyaml.load_all("a: 1\nb: !!int x\n")[0]
    assert goyaml.decode_error(doc) == "cannot decode !!str `x` as a !!int (line 2)"
    with pytest.raises(PipelineError, match=r"settings: n: cannot decode !!str `x` as a !!int \(line 15\)"):
        parse(PIPE.replace("ünï: z", "n: !!int x"), {})
    # a struct field Drone does not have is never decoded: no error
    assert parse(PIPE.replace("  image:", "  unknown: !!int x\n  image:"), {})


@pytest.mark.parametrize("yaml_text, env", [
    ("v: 1.0", "1"), ("v: -0.0", "-0"), ("v: .inf", "+Inf"), ("v: 1e6", "1e+06"),
    ("v: {yes: 1}", '{"true":1}'), ("v: {a: 1.0, b: 1e6}", '{"a":1,"b":1000000}'), ("v: {~: 1}", ""),
    ("v: {a: .nan}", ""), ("v: [.inf, ~, y]", ".inf,,true"), ("v: [a, [b]]", '["a",["b"]]'),
    ("v: {from_secret: ''}", '{"from_secret":""}'), ("v: 99999999999999999999", "1e+20"),
    ("v: {1.5: x, 3.14159265358979: z}", '{"1.5":"x","3.1415927":"z"}'),
])
def test_encoder_edge_cases(yaml_text, env):
    assert encoder.encode(goyaml.load_all(yaml_text)[0]["v"]) == env


PIPE = """kind: pipeline
type: docker
name: p
steps:
- name: s
  image: tagship/oss-push
  environment:
    MODE: On
    PASS: {from_secret: pw, note: x}
  settings:
    token: {from_secret: tok, other: 1}
    empty_secret: {from_secret: ''}
    yes: 1
    ß: x
    ünï: z
"""


def test_plugin_env_is_drones():
    [pipeline] = parse(PIPE, {})
    env, used = plugin_env(pipeline.steps[0], {"tok": "T", "pw": "P"})
    assert env["MODE"] == "On"                     # environment: keeps the YAML text
    assert env["PASS"] == "P" and env["PLUGIN_TOKEN"] == "T"   # from_secret with other keys is a secret
    assert env["PLUGIN_EMPTY_SECRET"] == '{"from_secret":""}'
    assert env["PLUGIN_YES"] == "1"                # a settings key is its text, not a bool
    assert env["PLUGIN_ß"] == "x" and env["PLUGIN_ÜNÏ"] == "z"
    assert used == {"T", "P"}


def test_quoted_tilde_setting_fails_to_load_as_in_go_yaml_v2():
    with pytest.raises(PipelineError, match=r"cannot unmarshal !!str `~` into \*manifest.Parameter"):
        parse(PIPE.replace("ünï: z", "q: '~'"), {})
    assert any(f.startswith("s: settings.q: Drone cannot read a quoted '~'")
               for f in lint.lint_text(PIPE.replace("ünï: z", "q: '~'"))[0])


def test_null_environment_value_fails_exec_and_lint_names_it():
    text = PIPE.replace("MODE: On", "MODE:")
    [pipeline] = parse(text, {})
    assert drone_yaml.env_problems(pipeline.steps[0])[0].startswith("MODE: a null value")
    findings = lint.lint_text(text)[0]
    assert any(f.startswith("s: MODE: a null environment value") and "line 8" in f for f in findings)


def test_lint_reports_every_refused_template_with_step_key_and_line():
    text = PIPE + "- name: b\n  image: alpine\n  commands:\n  - echo ${A-x}\n  - echo ${ B}\n"
    findings = lint.lint_text(text)[0]
    assert [f for f in findings if "substitution refuses" in f] == [
        "b: commands[0]: Drone's substitution refuses 'echo ${A-x}': missing closing brace (line 19); "
        "write $$ for a literal $",
        "b: commands[1]: Drone's substitution refuses 'echo ${ B}': unable to parse variable name (line 20); "
        "write $$ for a literal $"]


def test_lint_reports_a_refused_comment_by_line():
    findings = lint.lint_text("# see ${\n" + PIPE)[0]
    assert findings[0].startswith("(file): line 1: Drone's substitution refuses the file here")


def test_lint_reports_go_type_errors():
    text = PIPE.replace("ünï: z", "n: !!int x") + "- name: c\n  image: alpine\n  commands: {a: 1}\n"
    findings = lint.lint_text(text)[0]
    assert "s: settings.n: cannot decode !!str `x` as a !!int (line 15)" in findings
    assert "c: commands: Drone cannot read it: expected a list (line 18)" in findings


def test_go_float_nan_and_inf():
    assert encoder.encode(math.nan) == "NaN" and encoder.encode(-math.inf) == "-Inf"


def test_keys_are_their_go_string_text_in_1x_and_08():
    text = PIPE.replace("    ünï: z\n", "    ~: n\n    0x10: On\n")
    env, _ = plugin_env(parse(text, {})[0].steps[0], {})
    assert env["PLUGIN_"] == "false" and env["PLUGIN_0X10"] == "true"   # ~ is "", y/n/On are bools as values
    legacy = "pipeline:\n  yes:\n    image: tagship/oss-push\n    on: 1.0\n    secrets: [pw]\n"
    [pipeline] = parse(legacy, {})
    assert pipeline.steps[0].name == "yes"
    assert plugin_env(pipeline.steps[0], {"pw": "P"})[0] == {"PLUGIN_ON": "1", "PW": "P"}
