"""Shared by the hostile-input tests (issue 11): the plugins' entry points, a ``plugin`` fixture that runs
one in process on a cleaned environment, and assertions. Remote addresses are closed loopback ports."""

from __future__ import annotations

import os

import pytest

from tagship import deadline, log, mask

from cs_deploy.__main__ import main as cs_deploy
from oss_push.__main__ import main as oss_push
from registry_push.__main__ import main as registry_push
from version_bump.__main__ import main as version_bump

CLOSED = "127.0.0.1:9"  # discard port, nothing listens: every connection is refused at once
OSS = {"PLUGIN_ENDPOINT": f"http://{CLOSED}", "PLUGIN_BUCKET": "site", "PLUGIN_ACCESS_KEY_ID": "SENTINELid01",
       "PLUGIN_ACCESS_KEY_SECRET": "SENTINELsk01", "PLUGIN_MAX_RETRIES": "0"}
CS = {"PLUGIN_STACK": "hostile"}
RP = {"PLUGIN_REPO": f"{CLOSED}/hostile/app"}
PEM = "-----BEGIN CERTIFICATE-----\nSENTINELpem01\n-----END CERTIFICATE-----\n"
STAMP = "2026-01-01T00:00:00Z ERROR forged"


@pytest.fixture
def plugin(tmp_path, monkeypatch, capsys):
    """``plugin(main, **env)`` → (exit code, stdout+stderr) in a clean environment, workspace = tmp_path/ws."""
    ws = tmp_path / "ws"
    ws.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))

    def run(main, **env):
        for key in list(os.environ):
            if key.upper().startswith(("PLUGIN_", "DRONE", "CI_", "ALIYUN_", "OSS_", "DOCKER_")) or key == "CI":
                monkeypatch.delenv(key)
        monkeypatch.setenv("DRONE_WORKSPACE", str(ws))
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        mask.MASKER.clear()
        log.configure()
        try:
            code = main([])
        finally:
            deadline.start(None)
            log.configure()
        out = capsys.readouterr()
        return code, out.out + out.err

    run.ws = ws
    run.tmp = tmp_path / "tmp"
    return run


def lines_with(out: str, needle: str) -> list[str]:
    return [line for line in out.splitlines() if needle in line]


def assert_exit2_naming(code: int, out: str, env: str) -> None:
    assert code == 2, out
    assert "Traceback" not in out and "internal error" not in out, out
    assert lines_with(out, env), out
