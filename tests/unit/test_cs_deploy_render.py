"""cs-deploy rendering: compose's substitution rules, strictly (an unset variable is exit 2), the compose-spec
schema, and secrets masked in what is printed."""

from __future__ import annotations

import pytest

from cs_deploy import render
from tagship.errors import SettingsError

VARS = {"TAG": "1.4.0", "EMPTY": "", "PORT": "8080", "N": "3"}


@pytest.mark.parametrize("text, expected", [
    ("app:${TAG}", "app:1.4.0"),
    ("app:$TAG", "app:1.4.0"),
    ("${MISSING:-fallback}", "fallback"),
    ("${EMPTY:-fallback}", "fallback"),
    ("${EMPTY-fallback}", ""),
    ("${MISSING-x${TAG}}", "x${TAG}"),      # docker/cli: a default is taken as written, up to the first }
        ("${PW:-$2y$05$abc}", "$2y$05$abc"),    # a bcrypt hash as a default (docker keeps it)
    ("${TAG:+set}", "set"),
    ("${EMPTY:+set}", ""),
    ("${MISSING+set}", ""),
    ("price $$5 and $${TAG}", "price $5 and ${TAG}"),
    ("no vars", "no vars"),
])
def test_substitution_follows_compose_rules(text, expected):
    assert render.substitute(text, VARS, "x") == expected


@pytest.mark.parametrize("text, message", [
    ("app:${MISSING}", "${MISSING} is not set"),
    ("app:$MISSING", "${MISSING} is not set"),
    ("${MISSING:?give the tag}", "give the tag"),
    ("${EMPTY:?must not be empty}", "must not be empty"),
    ("${MISSING?}", "required"),
    ("cost $5", "invalid interpolation"),
])
def test_unset_or_invalid_is_an_error_naming_the_place(text, message):
    with pytest.raises(render.Unset) as err:
        render.substitute(text, VARS, "services.web.image")
    assert message in str(err.value) and "services.web.image" in str(err.value)


def test_every_problem_is_one_line_naming_the_env_var():
    doc = {"services": {"web": {"image": "a:${A}", "environment": {"X": "${B:?set B}"}}}}
    with pytest.raises(SettingsError) as err:
        render.interpolate(doc, {})
    assert len(err.value.problems) == 2
    assert all(p.startswith("PLUGIN_COMPOSE_FILE: services.web.") for p in err.value.problems)


def test_values_not_keys_and_numbers_cast_where_compose_wants_numbers():
    doc = {"services": {"web": {"image": "a:${TAG}", "ports": [{"target": 80, "published": "${PORT}"}],
                                "deploy": {"replicas": "${N}"}, "environment": {"${TAG}": "v"}}}}
    out = render.interpolate(doc, VARS)
    web = out["services"]["web"]
    assert web["deploy"]["replicas"] == 3 and web["ports"][0]["published"] == 8080
    assert web["environment"] == {"${TAG}": "v"}


def test_a_value_with_yaml_syntax_cannot_change_the_structure(tmp_path):
    path = tmp_path / "c.yml"
    path.write_text("services:\n  web:\n    image: app:1\n    environment:\n      MSG: ${MSG}\n")
    compose, text = render.render(render.load(path), {"MSG": "a: b\nevil: [1]"})
    assert compose["services"]["web"]["environment"] == {"MSG": "a: b\nevil: [1]"}
    assert "evil" not in compose["services"]["web"]


def test_schema_rejects_what_compose_would_reject():
    good = {"name": "shop", "x-common": {"a": 1},
            "services": {"web": {"image": "a:1", "deploy": {"replicas": 2, "update_config": {"order": "start-first"}}}}}
    render.validate(good)
    bad = {"services": {"web": {"image": "a:1", "deploy": {"replicas": "two", "update_config": {"order": "sideways"}},
                                "imagee": "typo"}}}
    with pytest.raises(SettingsError) as err:
        render.validate(bad)
    text = "\n".join(err.value.problems)
    assert "services.web" in text and "compose-spec" in text and len(err.value.problems) >= 2


@pytest.mark.parametrize("content, message", [
    ("services: [\n", "not valid YAML at line"),
    ("version: '3'\n", "has no services"),
])
def test_unreadable_files_are_exit_2(tmp_path, content, message):
    path = tmp_path / "c.yml"
    path.write_text(content)
    with pytest.raises(SettingsError, match=message):
        render.load(path)
    with pytest.raises(SettingsError, match="cannot read"):
        render.load(tmp_path / "missing.yml")


def test_values_are_cast_after_substitution_as_docker_does():
    raw = {"services": {"a": {"image": "x", "read_only": "${RO}", "tty": "${T}",
                              "deploy": {"replicas": "${R}", "restart_policy": {"max_attempts": "${R}"}},
                              "secrets": [{"source": "s", "mode": "${M}"}]}},
           "secrets": {"s": {"external": "${EXT}"}}}
    out = render.interpolate(raw, {"RO": "true", "T": "yes", "R": "2", "M": "0440", "EXT": "on"})
    svc = out["services"]["a"]
    assert svc["read_only"] is True and svc["tty"] is True and svc["deploy"]["replicas"] == 2
    assert svc["deploy"]["restart_policy"]["max_attempts"] == 2
    assert svc["secrets"][0]["mode"] == 440          # docker's strconv.Atoi: decimal, as `docker stack config` shows
    assert out["secrets"]["s"]["external"] is True
    with pytest.raises(SettingsError, match="services.a.read_only: 'maybe' is not a boolean"):
        render.interpolate(raw, {"RO": "maybe", "T": "yes", "R": "2", "M": "1", "EXT": "on"})
