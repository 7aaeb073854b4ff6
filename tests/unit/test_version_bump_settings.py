"""version-bump's settings as a user meets them: --help, one-line errors, the Drone encodings of `files`."""

from __future__ import annotations

import pytest

from tagship.errors import SettingsError
from tagship.settings import load_settings
from version_bump.__main__ import main
from version_bump.settings import FileRule, Settings


def test_help_lists_every_setting(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in Settings.model_fields:
        assert f"PLUGIN_{name.upper()}  (" in out, name
    assert "one of line|global|off; default: line" in out


def load(**env):
    return load_settings(Settings, {f"PLUGIN_{k.upper()}": v for k, v in env.items()})[0]


@pytest.mark.parametrize(
    "env,line",
    [
        ({"bump": "huge"},
         "PLUGIN_BUMP: expected one of 'auto', 'major', 'minor', 'patch' or 'prerelease', got 'huge'"),
        ({"version": "1.2"}, "PLUGIN_VERSION: 1.2 is not SemVer 2.0.0: it needs MAJOR.MINOR.PATCH"),
        ({"version": "1.2.x", "scheme": "pep440"}, "PLUGIN_VERSION: 1.2.x is not a PEP 440 version"),
        ({"current_version": "v1.2.0"}, "PLUGIN_CURRENT_VERSION: v1.2.0 is not SemVer 2.0.0: it starts with 'v'"),
        ({"prerelease_token": "nightly", "scheme": "pep440"}, "PLUGIN_PRERELEASE_TOKEN: prerelease_token 'nightly'"),
        ({"extra_tags": "ok,bad/tag"}, "PLUGIN_EXTRA_TAGS: not a valid docker tag: bad/tag"),
        ({"tags_suffix": "linux/amd64"}, "PLUGIN_TAGS_SUFFIX: 'linux/amd64' cannot be part of a docker tag"),
        ({"files": '[{"path": "a", "serach": "x"}]'}, "PLUGIN_FILES[0].serach: expected no such key"),
        ({"files": "[1"}, "PLUGIN_FILES: expected JSON (it does not parse"),
    ],
)
def test_bad_settings_one_line_naming_the_variable(env, line):
    with pytest.raises(SettingsError) as exc:
        load(**env)
    assert len(exc.value.problems) == 1
    assert exc.value.problems[0].startswith(line), exc.value.problems[0]


def test_files_encodings():
    assert load(files="VERSION, pyproject.toml").files == [FileRule(path="VERSION"), FileRule(path="pyproject.toml")]
    got = load(files='["VERSION", {"path": "Chart.yaml", "search": "appVersion: {current_version}"}]').files
    assert got == [FileRule(path="VERSION"), FileRule(path="Chart.yaml", search="appVersion: {current_version}")]
    assert load(files='{"path": "a.go"}').files == [FileRule(path="a.go")]  # one map, as Drone encodes it
    assert load().files == []


def test_defaults():
    s = load()
    assert (s.tag_prefix, s.scheme, s.bump, s.require_increase, s.latest, s.floating_tags, s.fetch_tags) == (
        "v", "semver", "auto", "line", "auto", "smart", True)
    assert (s.tags_file, s.version_file) == (".tags", ".version")
