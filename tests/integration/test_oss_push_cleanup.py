"""oss-push aborts the multipart uploads a SIGKILLed run left behind — only once nothing can resume them."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import oss2
import pytest

from tagship_ossd.server import start_server

from oss_push.cleanup import Upload, stale
from oss_push.multipart import CHECKPOINT_DIR

pytestmark = pytest.mark.oss

AK, SECRET = "LTAIcleanTEST", "SENTINEL-clean-secret-81aa"
BUCKET, DEST = "cleanup-bucket", "web/static/2.0.0"
SMALL = {"index.html": b"<!doctype html>\n", "app.js": b"console.log(1)\n" * 40}


@pytest.fixture
def srv(tmp_path):
    server = start_server(tmp_path / "oss-data", {AK: SECRET}, [BUCKET])
    yield server
    server.stop()


def workspace(root: Path, big: bytes | None) -> Path:
    src = root / "dist"
    src.mkdir(parents=True)
    for rel, data in SMALL.items():
        (src / rel).write_bytes(data)
    if big is not None:
        (src / "big.bin").write_bytes(big)
    return root


def env_for(srv, ws: Path, home: Path, **settings) -> dict:
    env = {"PLUGIN_ACCESS_KEY_ID": AK, "PLUGIN_ACCESS_KEY_SECRET": SECRET, "PLUGIN_ENDPOINT": srv.endpoint,
           "PLUGIN_BUCKET": BUCKET, "PLUGIN_SOURCE": "dist", "PLUGIN_DEST": DEST, "DRONE_WORKSPACE": str(ws),
           "PLUGIN_MULTIPART_THRESHOLD": "1MiB", "PLUGIN_PART_SIZE": "256KiB", "PLUGIN_CONCURRENCY": "1",
           "PATH": os.environ["PATH"], "HOME": str(home)}
    env.update({f"PLUGIN_{k.upper()}": str(v) for k, v in settings.items()})
    return env


def run(env: dict) -> dict:
    proc = subprocess.run([sys.executable, "-m", "oss_push"], env=env, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and SECRET not in out, out
    return json.loads((Path(env["DRONE_WORKSPACE"]) / ".tagship/oss-push.json").read_text())


def uploads(srv) -> list[tuple[str, str]]:
    b = oss2.Bucket(oss2.Auth(AK, SECRET), srv.endpoint, BUCKET)
    return [(u.key, u.upload_id) for u in oss2.MultipartUploadIterator(b)]


def test_a_killed_runs_upload_is_aborted_once_no_checkpoint_can_resume_it(srv, tmp_path):
    big = os.urandom(29 * 256 * 1024 + 7)              # 30 parts; at 150 ms a part the kill lands mid-upload
    ws1 = workspace(tmp_path / "ws1", big)
    srv.set_faults(latency_ms=150)
    proc = subprocess.Popen([sys.executable, "-m", "oss_push"], env=env_for(srv, ws1, tmp_path),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    ckpts, recorded, deadline = ws1 / CHECKPOINT_DIR, 0, time.monotonic() + 60
    while recorded < 2 and time.monotonic() < deadline and proc.poll() is None:
        for f in ckpts.glob("*.json") if ckpts.is_dir() else []:
            try:
                recorded = max(recorded, len(json.loads(f.read_text())["parts"]))
            except (ValueError, OSError):
                pass
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    killed = time.monotonic()
    srv.set_faults(latency_ms=0)
    assert recorded >= 2 and proc.returncode == -signal.SIGKILL
    orphan = uploads(srv)
    assert [k for k, _ in orphan] == [f"{DEST}/big.bin"]

    # 1. the killed run's workspace still has its checkpoint: a rerun there could resume it, so it stays
    #    (this run leaves big.bin out, and asks for any age)
    shutil.rmtree(ws1 / "dist")
    workspace(ws1, None)
    assert run(env_for(srv, ws1, tmp_path, stale_upload_age="0s"))["aborted_uploads"] == 0
    assert uploads(srv) == orphan

    # 2. a fresh workspace (Drone's next build) publishes big.bin itself; the orphan is younger than the
    #    default stale_upload_age (1h), so it stays
    ws2 = workspace(tmp_path / "ws2", big)
    result = run(env_for(srv, ws2, tmp_path))
    assert result["aborted_uploads"] == 0 and result["uploaded"] >= 1
    assert uploads(srv) == orphan

    # 3. the next change, with stale_upload_age 0: nothing here can resume it and it was idle before this run
    (ws2 / "dist/new.css").write_bytes(b"body{}\n")
    time.sleep(max(0.0, killed + 3 - time.monotonic()))   # server times have 1 s resolution: idle > the margin
    assert run(env_for(srv, ws2, tmp_path, stale_upload_age="0"))["aborted_uploads"] == 1
    assert uploads(srv) == []
    b = oss2.Bucket(oss2.Auth(AK, SECRET), srv.endpoint, BUCKET)
    assert b.get_object(f"{DEST}/big.bin").read() == big     # the published object is untouched

    # 4. a run that changes nothing asks nothing about uploads
    srv.reset_stats()
    assert run(env_for(srv, ws2, tmp_path, stale_upload_age="0"))["aborted_uploads"] == 0
    assert "ListMultipartUploads" not in srv.stats()["by_op"]


def test_abort_stale_uploads_false_lists_nothing(srv, tmp_path):
    b = oss2.Bucket(oss2.Auth(AK, SECRET), srv.endpoint, BUCKET)
    left = b.init_multipart_upload(f"{DEST}/left.bin").upload_id
    ws = workspace(tmp_path / "ws", None)
    srv.reset_stats()
    assert run(env_for(srv, ws, tmp_path, abort_stale_uploads="false", stale_upload_age="0"))["aborted_uploads"] == 0
    assert "ListMultipartUploads" not in srv.stats()["by_op"] and uploads(srv) == [(f"{DEST}/left.bin", left)]


@pytest.mark.parametrize("last_active,protected,expect", [
    (100.0, set(), True),            # idle since before the run, long enough: aborted
    (1000.5, set(), False),          # active after the run started (a concurrent run's upload): kept
    (100.0, {"U"}, False),           # a checkpoint here (or this run) owns it: kept
    (960.0, set(), False),           # idle before the run, but for less than stale_upload_age: kept
])
def test_stale_rule(last_active, protected, expect):
    # the run started at t=1000, it is now t=1010, stale_upload_age is 60 s
    assert bool(stale([Upload("k", "U", last_active)], protected, 1000.0, 1010.0, 60.0)) == expect
