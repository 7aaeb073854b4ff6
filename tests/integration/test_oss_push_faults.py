"""oss-push under injected faults (503s, dropped connections, wrong CRC64 answers) from tagship oss-server."""

import hashlib
import json
import os

import oss2
import pytest

from tagship_ossd.server import start_server

from oss_push.__main__ import main

pytestmark = pytest.mark.oss

AK, SECRET = "LTAIfaultTEST", "SENTINEL-fault-secret-91ab"
BUCKET, DEST = "site", "app/static/2.0.0"
MANIFEST = f"{DEST}/.tagship-manifest.json"
FILES = {f"js/chunk-{i:03d}.js": (f"chunk {i};" * (50 + i)).encode() for i in range(60)}
FILES.update({f"img/{i}.png": os.urandom(2000 + i) for i in range(20)})
FILES["media/video.bin"] = os.urandom(5 * 256 * 1024 + 77)   # multipart: 6 parts


@pytest.fixture
def srv(tmp_path):
    server = start_server(tmp_path / "oss-data", {AK: SECRET}, [BUCKET])
    yield server
    server.stop()


@pytest.fixture
def push(srv, tmp_path, monkeypatch, capsys):
    ws = tmp_path / "ws"
    for rel, data in FILES.items():
        (ws / "dist" / rel).parent.mkdir(parents=True, exist_ok=True)
        (ws / "dist" / rel).write_bytes(data)

    def run(**settings):
        env = {"PLUGIN_ENDPOINT": srv.endpoint, "PLUGIN_BUCKET": BUCKET, "PLUGIN_ACCESS_KEY_ID": AK,
               "PLUGIN_ACCESS_KEY_SECRET": SECRET, "PLUGIN_SOURCE": "dist", "PLUGIN_DEST": DEST,
               "PLUGIN_MULTIPART_THRESHOLD": "1MiB", "PLUGIN_PART_SIZE": "256KiB", "DRONE_WORKSPACE": str(ws)}
        env.update({f"PLUGIN_{k.upper()}": str(v) for k, v in settings.items()})
        for k in list(os.environ):
            if k.startswith(("PLUGIN_", "DRONE_")):
                monkeypatch.delenv(k)
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        code = main([])
        cap = capsys.readouterr()
        out = cap.out + cap.err
        assert SECRET not in out
        return code, out, json.loads((ws / ".tagship/oss-push.json").read_text())
    return run


def listing(srv) -> dict:
    b = oss2.Bucket(oss2.Auth(AK, SECRET), srv.endpoint, BUCKET)
    return {o.key: o for o in oss2.ObjectIteratorV2(b, prefix=DEST + "/")}


def assert_all_present_and_verified(srv):
    b = oss2.Bucket(oss2.Auth(AK, SECRET), srv.endpoint, BUCKET)
    objects = listing(srv)
    assert set(objects) == {f"{DEST}/{rel}" for rel in FILES} | {MANIFEST}
    for rel, data in FILES.items():
        got = b.get_object(f"{DEST}/{rel}").read()
        assert hashlib.md5(got).hexdigest() == hashlib.md5(data).hexdigest(), rel
    manifest = json.loads(b.get_object(MANIFEST).read())
    assert {k: v["md5"] for k, v in manifest["files"].items()} == \
        {f"{DEST}/{rel}": hashlib.md5(data).hexdigest() for rel, data in FILES.items()}


def test_ten_percent_faults_still_publish_everything(push, srv):
    srv.set_faults(rate=0.10, kinds=["503", "drop", "crc"], seed=4)
    code, out, result = push()
    faults = srv.stats()["faults_injected"]
    srv.set_faults(rate=0)
    assert code == 0, out
    assert faults > 0 and result["retries"] >= faults // 2 and "retrying in" in out
    assert result["uploaded"] == len(FILES) and result["manifest"] == MANIFEST
    assert_all_present_and_verified(srv)


def test_every_request_failing_exits_1_without_a_manifest(push, srv):
    srv.set_faults(rate=1.0, kinds=["503"])
    code, out, result = push(max_retries=2)
    srv.set_faults(rate=0)
    assert code == 1
    assert "HTTP 503" in out and "failed" in out
    assert result["status"] == "failed" and result.get("manifest") is None
    assert MANIFEST not in listing(srv)


def test_uploads_failing_midway_leave_no_manifest_and_a_rerun_finishes(push, srv):
    srv.set_faults(queue=[{"kind": "503", "op": "PutObject"}] * 3)   # one file's three tries
    code, out, result = push(max_retries=2, concurrency=1)
    assert code == 1, out
    assert "failed after retries: HTTP 503" in out and "the manifest was not written" in out
    assert "rerun the step" in out
    assert MANIFEST not in listing(srv)
    srv.reset_stats()
    code, out, result = push()
    assert code == 0, out
    sent = srv.stats()["by_op"]
    assert 0 < sent["PutObject"] <= len(FILES)  # only what the failed run did not finish, plus the manifest
    assert result["skipped"] + result["uploaded"] == len(FILES)
    assert_all_present_and_verified(srv)


@pytest.mark.parametrize("op", ["PutObject", "UploadPart", "CompleteMultipartUpload"])
def test_an_answer_without_crc64_fails_the_step_and_a_rerun_finishes(push, srv, op):
    """The server did the operation but its answer has no x-oss-hash-crc64ecma (oss2 would skip its check):
    with verify (the default) that is a red step at once, not retried, and no manifest."""
    srv.set_faults(queue=[{"kind": "nocrc", "op": op}])
    code, out, result = push(concurrency=1)
    assert code == 1, out
    assert "the server sent no x-oss-hash-crc64ecma" in out and "the manifest was not written" in out
    assert "set verify: false to accept" in out and "Traceback" not in out
    assert srv.stats()["faults"] == {"nocrc": 1} and result["retries"] == 0   # not retried: it would not help
    assert result["status"] == "failed" and result.get("manifest") is None
    assert MANIFEST not in listing(srv)
    srv.reset_stats()
    code, out, result = push()       # the endpoint sends CRCs again: the rerun completes the release
    assert code == 0, out
    assert_all_present_and_verified(srv)


def test_a_manifest_read_without_crc64_fails_before_any_change(push, srv, tmp_path):
    """The previous manifest decides what is skipped: read without a CRC, it is not trusted (with verify)."""
    assert push()[0] == 0
    (tmp_path / "ws/dist/new.txt").write_bytes(b"new in this release")
    srv.set_faults(queue=[{"kind": "nocrc", "op": "GetObject"}])
    srv.reset_stats()
    code, out, result = push()
    assert code == 1, out
    assert f"GET {MANIFEST}: the server sent no x-oss-hash-crc64ecma" in out and "nothing was changed" in out
    assert "PutObject" not in srv.stats()["by_op"] and "DeleteObject" not in srv.stats()["by_op"]
    assert MANIFEST in listing(srv) and f"{DEST}/new.txt" not in listing(srv)


def test_without_verify_answers_lacking_crc64_are_accepted_with_one_warning(push, srv):
    srv.set_faults(queue=[{"kind": "nocrc", "op": op} for op in
                          ("PutObject", "PutObject", "UploadPart", "CompleteMultipartUpload")])
    code, out, result = push(verify="false")
    assert code == 0, out
    assert srv.stats()["faults"] == {"nocrc": 4} and srv.set_faults()["queue"] == []
    assert out.count("x-oss-hash-crc64ecma") == 1 and "accepted as verify is false" in out
    assert result["manifest"] == MANIFEST
    assert_all_present_and_verified(srv)
