"""The Drone 1.x encoding rules, pinned as a table (research/version-and-drone.md B1, B2, B5)."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import BaseModel, SecretStr

from tagship.errors import SettingsError
from tagship.settings import (Duration, JsonList, PluginSettings, StrList, StrMap, load_settings,
                              parse_duration, renamed_settings, setting, unknown_settings)


class Header(BaseModel):
    glob: str
    cache_control: str | None = None


class Example(PluginSettings):
    bucket: str = setting(help="The bucket.")
    source: str = setting(".", help="Local directory.", aliases=["PLUGIN_TARGET"])
    username: str | None = setting(None, help="Login.", aliases=["DOCKER_USERNAME"])
    password: SecretStr | None = setting(None, help="Password.", aliases=["DOCKER_PASSWORD"])
    access_key_id: SecretStr | None = setting(None, help="AK.", aliases=["ALIYUN_ACCESS_KEY_ID"])
    tags: StrList = setting([], help="Tags.")
    build_args: StrMap = setting({}, help="Build args.")
    headers: JsonList(Header) = setting([], help="Header rules.")
    timeout: Duration = setting("10m", help="Timeout.")
    purge: bool = setting(True, help="Purge.")
    concurrency: int = setting(16, help="Workers.")
    mode: Literal["rolling", "blue-green"] = setting("rolling", help="Mode.")


def load(**env: str) -> Example:
    return load_settings(Example, {"PLUGIN_BUCKET": "b", **env})[0]


CASES = [
    # (env, field, expected) — what drone-runner-docker writes, and what the plugin must read
    ({"PLUGIN_TAGS": "latest,1.0,1.0.0"}, "tags", ["latest", "1.0", "1.0.0"]),       # list → CSV
    ({"PLUGIN_TAGS": '["latest","1.0"]'}, "tags", ["latest", "1.0"]),                # JSON array accepted
    ({"PLUGIN_TAGS": "latest"}, "tags", ["latest"]),
    ({"PLUGIN_TAGS": ""}, "tags", []),
    ({"PLUGIN_BUILD_ARGS": '{"A":"x,y","N":3,"B":true}'}, "build_args", {"A": "x,y", "N": "3", "B": "true"}),
    ({"PLUGIN_HEADERS": '[{"glob":"*.html","cache_control":"no-cache"}]'}, "headers",
     [Header(glob="*.html", cache_control="no-cache")]),                              # list of maps → JSON
    ({"PLUGIN_HEADERS": '{"glob":"*.js"}'}, "headers", [Header(glob="*.js")]),        # one map → a list of one
    ({"PLUGIN_PURGE": "false"}, "purge", False),
    ({"PLUGIN_PURGE": "0"}, "purge", False),
    ({"PLUGIN_PURGE": "no"}, "purge", False),
    ({"PLUGIN_PURGE": "yes"}, "purge", True),
    ({"PLUGIN_PURGE": "1"}, "purge", True),
    ({"PLUGIN_TIMEOUT": "90s"}, "timeout", 90.0),
    ({"PLUGIN_TIMEOUT": "10m"}, "timeout", 600.0),
    ({"PLUGIN_TIMEOUT": "1h"}, "timeout", 3600.0),
    ({"PLUGIN_TIMEOUT": "1h30m"}, "timeout", 5400.0),
    ({"PLUGIN_TIMEOUT": "45"}, "timeout", 45.0),
    ({}, "timeout", 600.0),                                                          # default parsed too
    ({"PLUGIN_CONCURRENCY": "4"}, "concurrency", 4),
    ({"PLUGIN_MODE": "blue-green"}, "mode", "blue-green"),
    ({"plugin_concurrency": "5"}, "concurrency", 5),                                 # case-insensitive
    ({"PLUGIN_BUILD-ARGS": '{"A":"1"}'}, "build_args", {"A": "1"}),                   # Drone keeps '-' in keys
    ({"DOCKER_USERNAME": "u08"}, "username", "u08"),                                 # 0.8 secret name
    ({"PLUGIN_USERNAME": "new", "DOCKER_USERNAME": "old"}, "username", "new"),        # PLUGIN_* wins
    ({"PLUGIN_TARGET": "static_root/1.0"}, "source", "static_root/1.0"),              # the seed's name
]


@pytest.mark.parametrize("env,field,expected", CASES)
def test_encoding(env, field, expected):
    assert getattr(load(**env), field) == expected


def test_secret_aliases_are_secret():
    s = load(DOCKER_PASSWORD="SENTINEL-pw-7d1f", ALIYUN_ACCESS_KEY_ID="SENTINEL-ak")
    assert s.password.get_secret_value() == "SENTINEL-pw-7d1f"
    assert s.access_key_id.get_secret_value() == "SENTINEL-ak"
    assert "SENTINEL" not in repr(s)


@pytest.mark.parametrize("env,line", [
    ({"PLUGIN_TIMEOUT": "5q"}, "PLUGIN_TIMEOUT: expected a duration such as 90s, 10m, 1h30m or a number "
                               "of seconds, got '5q'"),
    ({"PLUGIN_CONCURRENCY": "many"}, "PLUGIN_CONCURRENCY: expected an integer, got 'many'"),
    ({"PLUGIN_PURGE": "maybe"}, "PLUGIN_PURGE: expected a boolean (true/false/1/0/yes/no), got 'maybe'"),
    ({"PLUGIN_MODE": "big-bang"}, "PLUGIN_MODE: expected one of 'rolling' or 'blue-green', got 'big-bang'"),
    ({"PLUGIN_HEADERS": "[{"}, "PLUGIN_HEADERS: expected JSON (it does not parse: Expecting property name "
                               "enclosed in double quotes) (the value is not shown: a map can hold secrets)"),
    ({"PLUGIN_HEADERS": '[{"cache_control":"x"}]'}, "PLUGIN_HEADERS[0].glob: required, missing (the value is "
                                                    "not shown: a map can hold secrets)"),
])
def test_bad_settings_one_line_each(env, line):
    with pytest.raises(SettingsError) as err:
        load(**env)
    assert err.value.problems == [line]


def test_missing_required_names_the_env_var():
    with pytest.raises(SettingsError) as err:
        load_settings(Example, {})
    assert err.value.problems == ["PLUGIN_BUCKET: required (The bucket.), not set"]


def test_bad_secret_value_is_not_shown():
    class S(PluginSettings):
        token: SecretStr = setting(help="t")
        n: int = setting(1, help="n")

    with pytest.raises(SettingsError) as err:
        load_settings(S, {"PLUGIN_TOKEN": "SENTINEL-tok", "PLUGIN_N": "SENTINEL-tok"})
    assert err.value.problems == ["PLUGIN_N: expected an integer, got 'SENTINEL-tok'"]


def test_several_problems_give_several_lines():
    with pytest.raises(SettingsError) as err:
        load_settings(Example, {"PLUGIN_CONCURRENCY": "x", "PLUGIN_PURGE": "x"})
    assert len(err.value.problems) == 3


def test_unknown_setting_did_you_mean():
    notes = unknown_settings(Example, {"PLUGIN_BUCKT": "x", "PLUGIN_BUCKET": "b", "PLUGIN_ZZZ": "1",
                                       "PLUGIN_TARGET": "old", "HOME": "/root"})
    assert notes == ["PLUGIN_BUCKT is not a setting of this plugin and is ignored; did you mean PLUGIN_BUCKET?",
                     "PLUGIN_ZZZ is not a setting of this plugin and is ignored"]


def test_renamed_setting_notice():
    settings, source = load_settings(Example, {"PLUGIN_BUCKET": "b", "PLUGIN_TARGET": "dir",
                                               "DOCKER_USERNAME": "u"})
    assert renamed_settings(Example, source) == [
        "PLUGIN_TARGET is read as PLUGIN_SOURCE (source); the old name still works"]


@pytest.mark.parametrize("text,seconds", [("500ms", 0.5), ("2m30s", 150), (12, 12), ("1.5h", 5400)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["10 minutes", "m", "1d", "-5s"])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)
