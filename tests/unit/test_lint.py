"""tagship lint against a small settings model of its own (and, at the end, the repo's real pipelines)."""

from pathlib import Path
from typing import Literal

import pytest
from pydantic import SecretStr

from tagship.pipeline import lint
from tagship.settings import Duration, PluginSettings, StrList, setting

ROOT = Path(__file__).resolve().parents[2]


class Fake(PluginSettings):
    bucket: str = setting(help="The bucket.")
    password: SecretStr = setting(help="The password.", aliases=["FAKE_PASSWORD"])
    token: SecretStr | None = setting(None, help="Optional token.")
    source: str = setting(".", help="Source dir.", aliases=["PLUGIN_TARGET"])
    workers: int = setting(4, help="Workers.")
    timeout: Duration = setting("10m", help="Timeout.")
    tags: StrList = setting([], help="Tags.")
    mode: Literal["fast", "safe"] = setting("safe", help="Mode.")


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.setattr(lint, "load_model", lambda plugin: Fake)


def run(text):
    findings, notes, checked = lint.lint_text(text)
    return findings, checked


def test_clean_pipeline_has_no_findings(fake):
    text = """
kind: pipeline
type: docker
name: x
steps:
- name: up
  image: registry.example.com:5000/ops/tagship/oss-push:0.1.0
  settings:
    bucket: b
    password: {from_secret: pw}
    target: static_root/${DRONE_TAG##v}
    workers: 8
    timeout: 90s
    tags: [latest, "${DRONE_TAG##v}"]
    mode: fast
- name: other
  image: plugins/docker
  settings: {anything: goes}
"""
    assert run(text) == ([], 1)


def test_each_kind_of_finding_is_one_line_with_step_and_key(fake):
    text = """
kind: pipeline
type: docker
name: x
steps:
- name: up
  image: tagship/oss-push
  bukcet: at-step-level
  settings:
    buckte: b
    password: hunter2-SENTINEL
    token: ${TOKEN}
    workers: many
    timeout: 5q
    mode: slow
"""
    findings, _ = run(text)
    assert findings == [
        "up: bukcet: not a step key of a 1.x pipeline",
        "up: buckte: unknown setting; did you mean bucket?",
        "up: bucket: required setting is missing",
        "up: password: secret given as a plain value in the pipeline file; use {from_secret: <name>}",
        "up: token: secret taken from ${TOKEN}, which Drone substitutes into the YAML (it is not masked as a "
        "secret); use {from_secret: <name>}",
        "up: workers: expected an integer, got 'many'",
        "up: timeout: expected a duration such as 90s, 10m, 1h30m or a number of seconds, got '5q'",
        "up: mode: expected one of 'fast' or 'safe', got 'slow'",
    ]
    assert not any("hunter2" in f for f in findings)


def test_required_secret_counts_when_its_alias_is_in_environment(fake):
    text = """
kind: pipeline
type: docker
name: x
steps:
- name: up
  image: tagship/oss-push
  environment:
    FAKE_PASSWORD: {from_secret: pw}
  settings: {bucket: b}
"""
    assert run(text) == ([], 1)
    plain = text.replace("{from_secret: pw}", "literal")
    assert run(plain)[0] == ["up: FAKE_PASSWORD: secret given as a plain value in the pipeline file; "
                             "use {from_secret: <name>}"]


def test_drone_08_step_level_keys_and_secrets(fake):
    text = """
pipeline:
  push_static:
    image: tagship/oss-push
    secrets: [fake_password]
    bucket: lyops
    target: static_root/${DRONE_TAG##v}
    wokers: 2
    when: {event: tag}
"""
    assert run(text)[0] == ["push_static: wokers: unknown setting; did you mean workers?"]
    seed = text.replace("    secrets: [fake_password]\n", "    password: ${FAKE_PASSWORD}\n")
    assert run(seed)[0][1] == ("push_static: password: secret taken from ${FAKE_PASSWORD}, which Drone "
                               "substitutes into the YAML (it is not masked as a secret); list it in secrets: (0.8)")


def test_from_secret_nested_in_a_map_is_flagged(fake):
    """Drone resolves from_secret only for a whole setting; nested, the plugin would get the literal map."""
    text = """
kind: pipeline
name: x
steps:
- name: deploy
  image: tagship/cs-deploy
  settings:
    bucket: b
    password: {from_secret: pw}
    tags:
    - {from_secret: tag}
"""
    assert run(text)[0][0] == ("deploy: tags: from_secret inside a map or list is not resolved by Drone (only a "
                               "whole setting can come from a secret); put it in the step's environment: instead")


def test_image_names():
    assert lint.plugin_of("tagship/cs-deploy") == "cs-deploy"
    assert lint.plugin_of("localhost:5443/tagship/version-bump:1.0@sha256:" + "a" * 64) == "version-bump"
    assert lint.plugin_of("tagship/busybox:latest") is None
    assert lint.plugin_of("plugins/docker") is None


def test_cli_exit_codes(fake, tmp_path, capsys):
    good = tmp_path / "good.yml"
    good.write_text("kind: pipeline\nname: x\nsteps:\n- name: a\n  image: tagship/oss-push\n  settings:\n"
                    "    bucket: b\n    password: {from_secret: pw}\n")
    assert lint.main([str(good)]) == 0
    assert "1 tagship step checked, no findings" in capsys.readouterr().out
    bad = tmp_path / "bad.yml"
    bad.write_text(good.read_text().replace("bucket: b", "bukket: b"))
    assert lint.main([str(bad)]) == 1
    out = capsys.readouterr().out
    assert "a: bukket: unknown setting; did you mean bucket?" in out
    assert lint.main([str(tmp_path / "nope.yml")]) == 2


def test_repo_pipelines_are_clean():
    """tagship's own .drone.yml and the examples' pipelines pass lint with the real settings models."""
    files = [ROOT / ".drone.yml", *sorted((ROOT / "examples").glob("*/.drone.yml"))]
    assert len(files) >= 3
    for f in files:
        findings, notes, checked = lint.lint_text(f.read_text())
        assert findings == [] and notes == [], f
        assert checked >= 1, f


def test_readme_pipeline_is_clean():
    """The seed's pipeline rewritten with tagship in README.md is what a newcomer copies: it must lint clean."""
    text = (ROOT / "README.md").read_text()
    block = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    findings, notes, checked = lint.lint_text(block)
    assert (findings, notes, checked) == ([], [], 4)
