"""The entry wrapper: exit codes, summary, result file, card, signals, no bare tracebacks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from pydantic import SecretStr

from tagship import mask
from tagship.errors import PluginError, SkipRest
from tagship.runtime import run_plugin
from tagship.settings import PluginSettings, setting

SECRET = "SENTINEL-pw-91c2"


class Toy(PluginSettings):
    bucket: str = setting(help="The bucket.")
    password: SecretStr | None = setting(None, help="A password.", aliases=["DOCKER_PASSWORD"])


def run_toy(main, tmp_path, capsys, **env):
    mask.MASKER.clear()
    environ = {"PLUGIN_BUCKET": "b", "DRONE_WORKSPACE": str(tmp_path), **env}
    code = run_plugin("toy", "a toy plugin", Toy, main, argv=[], environ=environ)
    out = capsys.readouterr()
    return code, out.out + out.err


def result(tmp_path):
    return json.loads((tmp_path / ".tagship" / "toy.json").read_text())


def test_success_writes_result_and_summary(tmp_path, capsys):
    def main(settings, run):
        run.summary.append(("uploaded", 3))
        return {"uploaded": 3}

    code, out = run_toy(main, tmp_path, capsys, DRONE_COMMIT_SHA="c0ffee", DRONE_TAG="v1.0.0")
    assert code == 0
    assert "uploaded  3" in out and "toy: success" in out
    data = result(tmp_path)
    assert (data["status"], data["exit_code"], data["uploaded"], data["tag"], data["commit"]) == \
        ("success", 0, 3, "v1.0.0", "c0ffee")


def test_operation_failure_is_exit_1_with_hint_and_pending(tmp_path, capsys):
    def main(settings, run):
        run.pending = "manifest not written"
        raise PluginError(f"PUT denied for {settings.password.get_secret_value()}", hint="check the key")

    code, out = run_toy(main, tmp_path, capsys, DOCKER_PASSWORD=SECRET)
    assert code == 1
    assert "hint: check the key" in out and "left undone: manifest not written" in out
    assert SECRET not in out and SECRET not in (tmp_path / ".tagship" / "toy.json").read_text()


def test_internal_error_has_no_traceback_and_is_masked(tmp_path, capsys):
    def main(settings, run):
        raise KeyError(f"token {SECRET}")

    code, out = run_toy(main, tmp_path, capsys, PLUGIN_PASSWORD=SECRET)
    assert code == 1
    assert "Traceback" not in out and SECRET not in out
    assert "internal error: KeyError" in out


def test_debug_shows_masked_traceback(tmp_path, capsys):
    def main(settings, run):
        raise KeyError(f"token {SECRET}")

    code, out = run_toy(main, tmp_path, capsys, PLUGIN_PASSWORD=SECRET, PLUGIN_DEBUG="true")
    assert code == 1 and "Traceback" in out and SECRET not in out


def test_bad_settings_exit_2_without_calling_main(tmp_path, capsys):
    called = []
    code, out = run_toy(lambda s, r: called.append(1), tmp_path, capsys, PLUGIN_BUCKET="")
    mask.MASKER.clear()
    code2 = run_plugin("toy", "t", Toy, lambda s, r: called.append(1), argv=[],
                       environ={"DRONE_WORKSPACE": str(tmp_path), "DOCKER_PASSWORD": SECRET})
    out2 = capsys.readouterr().out
    assert code2 == 2 and not called
    assert out2.strip().endswith("PLUGIN_BUCKET: required (The bucket.), not set")
    assert SECRET not in out2


def test_skip_is_exit_78(tmp_path, capsys):
    def main(settings, run):
        raise SkipRest("not a tag build")

    code, out = run_toy(main, tmp_path, capsys)
    assert code == 78 and "skipped" in out


def test_card_written_when_card_path_set(tmp_path, capsys):
    card = tmp_path / "card.json"
    code, _ = run_toy(lambda s, r: r.summary.append(("digest", "sha256:abc")), tmp_path, capsys,
                      DRONE_CARD_PATH=str(card))
    body = json.loads(card.read_text())["body"]
    assert code == 0 and {"title": "digest", "value": "sha256:abc"} in body[2]["facts"]


def test_help_and_unknown_argument(capsys):
    assert run_plugin("toy", "a toy plugin", Toy, lambda s, r: None, argv=["--help"], environ={}) == 0
    out = capsys.readouterr().out
    assert "PLUGIN_BUCKET  (string; required)" in out and "also read from: DOCKER_PASSWORD" in out
    assert "PLUGIN_PASSWORD  (secret; default: none)" in out
    assert run_plugin("toy", "t", Toy, lambda s, r: None, argv=["--bucket=x"], environ={}) == 2


SCRIPT = """
import sys, time
from tagship.runtime import run_plugin
from tagship.settings import PluginSettings
def main(settings, run):
    run.pending = "2 of 5 uploads not started"
    print("started", flush=True)
    time.sleep(30)
sys.exit(run_plugin("toy", "t", PluginSettings, main, argv=[]))
"""


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_ends_cleanly_saying_what_is_undone(tmp_path, sig, code):
    env = {**os.environ, "DRONE_WORKSPACE": str(tmp_path)}
    p = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, env=env)
    assert p.stdout.readline().strip() == "started"
    p.send_signal(sig)
    out, _ = p.communicate(timeout=20)
    assert p.returncode == code
    assert "left undone: 2 of 5 uploads not started" in out and "Traceback" not in out
    assert json.loads((tmp_path / ".tagship" / "toy.json").read_text())["status"] == "interrupted"
