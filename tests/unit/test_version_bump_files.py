"""Writing the version into files: the usual files, the rules, and all or nothing."""

from __future__ import annotations

import json

import pytest

from tagship.errors import PluginError
from version_bump.files import Edit, apply_edits, edit_text, plan_edits
from version_bump.settings import FileRule

PYPROJECT = """[build-system]
requires = ["setuptools>=1.2.0"]

[project]
name = "svc"
version = "1.2.0"
dependencies = ["lib==1.2.0"]
"""

PACKAGE_JSON = json.dumps({"name": "svc", "version": "1.2.0", "dependencies": {"left-pad": "1.2.0"}}, indent=2)

VERSION_GO = """package version

// Version is set by the release pipeline.
const Version = "1.2.0"

var minClient = "1.2.0"
"""


def test_pyproject_only_the_version_line():
    out, count, _ = edit_text(PYPROJECT, FileRule(path="pyproject.toml"), "1.2.0", "1.3.0")
    assert count == 1
    assert 'version = "1.3.0"' in out
    assert 'setuptools>=1.2.0' in out and "lib==1.2.0" in out


def test_package_json_leaves_dependencies_alone():
    out, count, _ = edit_text(PACKAGE_JSON, FileRule(path="package.json"), "1.2.0", "1.3.0")
    data = json.loads(out)
    assert count == 1 and data["version"] == "1.3.0" and data["dependencies"]["left-pad"] == "1.2.0"


def test_go_constant():
    out, count, _ = edit_text(VERSION_GO, FileRule(path="version.go"), "1.2.0", "1.3.0")
    assert count == 1 and 'const Version = "1.3.0"' in out and 'minClient = "1.2.0"' in out


def test_version_file_whole_content():
    assert edit_text("1.2.0\n", FileRule(path="VERSION"), "1.2.0", "1.3.0")[0] == "1.3.0\n"


def test_whole_versions_only():
    text = 'version = "11.2.0"\nversion2 = "1.2.0-rc.1"\nversion3 = "1.2.0.1"\n'
    with pytest.raises(ValueError, match="no line mentioning 'version' holds 1.2.0"):
        edit_text(text, FileRule(path="x.toml"), "1.2.0", "1.3.0")


def test_already_bumped_by_hand_is_left_as_is():
    got = edit_text('version = "1.3.0"\n', FileRule(path="pyproject.toml"), "1.2.0", "1.3.0")
    assert got == (None, 0, "already holds 1.3.0")


def test_no_earlier_release():
    with pytest.raises(ValueError, match="no earlier release"):
        edit_text('version = "0.0.0"\n', FileRule(path="pyproject.toml"), None, "0.1.0")


def test_search_replace_rule_with_placeholders():
    rule = FileRule(path="chart/Chart.yaml", search="appVersion: {current_version}",
                    replace="appVersion: {new_version}")
    out, count, _ = edit_text("version: 0.3.0\nappVersion: 1.2.0\n", rule, "1.2.0", "1.3.0")
    assert out == "version: 0.3.0\nappVersion: 1.3.0\n" and count == 1
    fixed = FileRule(path="x", search="VERSION=dev", replace="VERSION={new_version}")
    assert FileRule(path="x", search="{current_version}").replace == "{new_version}"
    assert edit_text("VERSION=dev\n", fixed, None, "2.0.0")[0] == "VERSION=2.0.0\n"
    with pytest.raises(ValueError, match="'appVersion: 1.2.0' is not in the file"):
        edit_text("appVersion: 1.1.0\n", rule, "1.2.0", "1.3.0")


def test_all_or_nothing(tmp_path):
    (tmp_path / "VERSION").write_text("1.2.0\n")
    (tmp_path / "pyproject.toml").write_text('version = "1.1.0"\n')  # does not hold 1.2.0
    with pytest.raises(PluginError) as exc:
        plan_edits(tmp_path, ["VERSION", "pyproject.toml", "missing.txt", "../outside"], "1.2.0", "1.3.0")
    message = exc.value.message
    assert message.startswith("files: no file was changed")
    assert "pyproject.toml: no line mentioning 'version' holds 1.2.0" in message
    assert "missing.txt: no such file" in message and "../outside: outside the workspace" in message
    assert (tmp_path / "VERSION").read_text() == "1.2.0\n"


def test_apply_keeps_crlf_and_mode(tmp_path):
    path = tmp_path / "VERSION.txt"
    path.write_bytes(b"version: 1.2.0\r\nother\r\n")
    path.chmod(0o640)
    edits = plan_edits(tmp_path, ["VERSION.txt"], "1.2.0", "1.3.0")
    apply_edits(edits)
    assert path.read_bytes() == b"version: 1.3.0\r\nother\r\n"
    assert path.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["VERSION.txt"]  # no temporary file left


def test_two_rules_on_one_file(tmp_path):
    path = tmp_path / "Chart.yaml"
    path.write_text("version: 1.2.0\nappVersion: 1.2.0\n")
    rules = [FileRule(path="Chart.yaml", search="version: {current_version}", replace="version: {new_version}"),
             FileRule(path="Chart.yaml", search="appVersion: {current_version}",
                      replace="appVersion: {new_version}")]
    apply_edits(plan_edits(tmp_path, rules, "1.2.0", "1.3.0"))
    assert path.read_text() == "version: 1.3.0\nappVersion: 1.3.0\n"


def test_a_failed_write_changes_nothing(tmp_path):
    (tmp_path / "VERSION").write_text("1.2.0\n")
    edits = plan_edits(tmp_path, ["VERSION"], "1.2.0", "1.3.0")
    blocked = Edit(tmp_path / "VERSION" / ".tags", "VERSION/.tags", "1.3.0", 1, "")  # its parent is a file
    with pytest.raises(PluginError, match="no file was changed, because writing failed"):
        apply_edits([*edits, blocked])
    assert (tmp_path / "VERSION").read_text() == "1.2.0\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["VERSION"]
    apply_edits([*edits, Edit(tmp_path / ".tagship" / "version.env", "x", "VERSION='1.3.0'\n", 1, "")])
    assert (tmp_path / ".tagship" / "version.env").stat().st_mode & 0o777 == 0o644
