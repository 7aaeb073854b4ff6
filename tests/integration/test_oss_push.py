"""oss-push against `tagship oss-server` (signatures checked, objects on disk) with the real oss2 SDK.

Every run goes through the plugin's entry point (``main([])`` or the ``oss-push`` console script) and
every run's output is checked for the secret sentinels.
"""

import gzip
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import oss2
import pytest

from tagship_ossd.server import start_server
from tagship_ossd.sig import Credential

from oss_push.__main__ import main
from oss_push.multipart import CHECKPOINT_DIR

pytestmark = pytest.mark.oss

AK, SECRET = "LTAIpushTEST", "SENTINEL-oss-secret-7d1f"
STS_AK, STS_SECRET, STS_TOKEN = "STS.push", "SENTINEL-sts-secret-3c9a", "SENTINEL-sts-token-5e2b"
SENTINELS = (SECRET, STS_SECRET, STS_TOKEN)
BUCKET, REGION = "lyops", "cn-hangzhou"
DEST = "cmdb-api/static/1.2.3"
MANIFEST = f"{DEST}/.tagship-manifest.json"

FILES = {
    "index.html": b"<!doctype html><title>cmdb</title>\n",
    "css/app.3f9a1c2b.css": b"body { color: #333 }\n" * 200,
    "js/app.0a1b2c3d.js": b"console.log('cmdb');\n" * 300,
    "img/logo.png": bytes(range(256)) * 8,
    "admin/js/jquery.js": b"/* jquery */\n" * 50,
}


@dataclass
class Outcome:
    code: int
    out: str
    result: dict
    ops: dict

    def puts(self) -> int:
        return self.ops.get("PutObject", 0) + self.ops.get("UploadPart", 0)


@pytest.fixture
def srv(tmp_path):
    server = start_server(tmp_path / "oss-data", [(AK, SECRET), Credential(STS_AK, STS_SECRET, STS_TOKEN)],
                          [BUCKET], region=REGION)
    yield server
    server.stop()


@pytest.fixture
def ws(tmp_path):
    root = tmp_path / "ws"
    write_tree(root / "static_root/1.2.3", FILES)
    return root


def write_tree(root: Path, files: dict) -> None:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)


def seed_env(srv, ws) -> dict:
    """The seed's push_static step, pointed at the local endpoint."""
    return {"PLUGIN_ACCESS_KEY_ID": AK, "PLUGIN_ACCESS_KEY_SECRET": SECRET, "PLUGIN_ENDPOINT": srv.endpoint,
            "PLUGIN_BUCKET": BUCKET, "PLUGIN_TARGET": "static_root/1.2.3", "PLUGIN_DEST": DEST,
            "DRONE_WORKSPACE": str(ws), "DRONE_TAG": "v1.2.3", "DRONE_COMMIT_SHA": "c0ffee" * 6 + "c0ff"}


@pytest.fixture
def push(srv, ws, monkeypatch, capsys):
    def run(**settings) -> Outcome:
        env = seed_env(srv, ws)
        env.update({f"PLUGIN_{k.upper()}": str(v).lower() if isinstance(v, bool) else str(v)
                    for k, v in settings.items()})
        for k in list(os.environ):
            if k.startswith(("PLUGIN_", "DRONE_", "CI_", "OSS_", "ALIYUN_")):
                monkeypatch.delenv(k)
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        srv.reset_stats()
        code = main([])
        cap = capsys.readouterr()
        out = cap.out + cap.err
        for s in SENTINELS:
            assert s not in out
        result_file = ws / ".tagship" / "oss-push.json"
        text = result_file.read_text()
        assert not any(s in text for s in SENTINELS)
        return Outcome(code, out, json.loads(text), srv.stats()["by_op"])
    return run


def client(srv, kind="v1"):
    auth = {"v1": lambda: oss2.Auth(AK, SECRET), "v4": lambda: oss2.AuthV4(AK, SECRET)}[kind]()
    return oss2.Bucket(auth, srv.endpoint, BUCKET, region=REGION if kind == "v4" else None)


def stored(srv, prefix=DEST + "/") -> dict[str, bytes]:
    b = client(srv)
    return {o.key: b.get_object(o.key).read() for o in oss2.ObjectIteratorV2(b, prefix=prefix)}


def expected(files=FILES, dest=DEST) -> dict[str, bytes]:
    return {f"{dest}/{rel}": data for rel, data in files.items()}


def test_seed_step_fresh_upload_then_rerun_sends_no_put(push, srv):
    first = push()
    assert first.code == 0, first.out
    assert "PLUGIN_TARGET is read as PLUGIN_SOURCE" in first.out
    objects = stored(srv)
    manifest = json.loads(objects.pop(MANIFEST))
    assert objects == expected()
    assert set(manifest["files"]) == set(expected()) and manifest["version"] == "v1.2.3"
    assert all(manifest["files"][k]["md5"] == hashlib.md5(v).hexdigest() for k, v in objects.items())
    r = first.result
    assert (r["uploaded"], r["skipped"], r["deleted"], r["manifest"]) == (5, 0, 0, MANIFEST)
    assert r["bytes"] == sum(map(len, FILES.values())) and r["requests"] >= 7 and "seconds" in r
    assert first.ops.get("HeadObject", 0) == 0                 # one listing, no HEAD per file

    again = push()
    assert again.code == 0, again.out
    assert again.puts() == 0 and "DeleteObject" not in again.ops
    assert again.ops == {"ListObjectsV2": 1, "GetObject": 1}   # the listing and the previous manifest
    assert (again.result["uploaded"], again.result["skipped"], again.result["requests"]) == (0, 5, 2)
    assert "already up to date" in again.out


def test_one_changed_file_with_overwrite_is_one_put(push, srv, ws):
    assert push().code == 0
    (ws / "static_root/1.2.3/index.html").write_bytes(b"<!doctype html><title>cmdb 2</title>\n")
    out = push(overwrite=True)
    assert out.code == 0, out.out
    assert out.ops["PutObject"] == 2 and "UploadPart" not in out.ops    # the file, then the manifest
    assert out.ops["DeleteObject"] == 1                                  # manifest off while the prefix changes
    assert (out.result["uploaded"], out.result["replaced"], out.result["skipped"]) == (1, 1, 4)
    assert stored(srv)[f"{DEST}/index.html"].endswith(b"cmdb 2</title>\n")


def test_changed_file_without_overwrite_is_refused_before_any_change(push, srv, ws):
    assert push().code == 0
    before = stored(srv)
    (ws / "static_root/1.2.3/index.html").write_bytes(b"changed")
    (ws / "static_root/1.2.3/new.txt").write_bytes(b"new")
    out = push()
    assert out.code == 1
    assert f"{DEST}/index.html: exists with other content" in out.out and "overwrite: true" in out.out
    assert out.puts() == 0 and "DeleteObject" not in out.ops
    assert stored(srv) == before


def test_forbid_overwrite_race_and_lost_answer(srv, ws):
    """x-oss-forbid-overwrite guards the PUT itself: another writer's object is a 409, but our own PUT whose
    answer was lost (here: a wrong CRC, so oss2 raises and we retry) is recognised by its MD5."""
    from oss_push import remote as rm
    from oss_push.settings import Settings

    s = Settings.model_validate({"endpoint": srv.endpoint, "bucket": BUCKET, "access_key_id": AK,
                                 "access_key_secret": SECRET, "dest": DEST})
    rem = rm.Remote(s)
    data = b"mine"
    md5 = hashlib.md5(data).hexdigest()
    client(srv).put_object(f"{DEST}/theirs", b"theirs")
    with pytest.raises(oss2.exceptions.ServerError) as err:
        rem.put(f"{DEST}/theirs", lambda: data, md5, {}, forbid=True)
    assert err.value.status == 409 and rem.stats.retries == 0          # a 4xx is never retried
    srv.set_faults(queue=[{"kind": "crc", "op": "PutObject"}])
    srv.reset_stats()
    assert rem.put(f"{DEST}/mine", lambda: data, md5, {}, forbid=True) == md5.upper()
    assert rem.stats.retries == 1 and srv.stats()["errors"].get("FileAlreadyExists") == 1
    assert client(srv).get_object(f"{DEST}/mine").read() == data


def test_delete_guard_then_delete_inside_dest_only(push, srv, ws):
    many = {f"old/{i}.txt": f"old {i}".encode() for i in range(8)}
    write_tree(ws / "static_root/1.2.3", many)
    assert push().code == 0
    neighbour = "cmdb-api/static/1.2.30/keep.txt"                      # shares the string prefix, not the dir
    client(srv).put_object(neighbour, b"other version")
    for rel in many:
        (ws / "static_root/1.2.3" / rel).unlink()
    refused = push(delete=True)                                          # 8 of 14 > the default 50%
    assert refused.code == 1 and "refusing to delete 8 of 14" in refused.out
    assert refused.puts() == 0 and "DeleteMultipleObjects" not in refused.ops and "DeleteObject" not in refused.ops
    assert len(stored(srv)) == 14

    done = push(delete=True, delete_max="8")
    assert done.code == 0, done.out
    assert done.result["deleted"] == 8 and done.ops["DeleteMultipleObjects"] == 1
    objects = stored(srv)
    manifest = json.loads(objects.pop(MANIFEST))
    assert objects == expected() and set(manifest["files"]) == set(expected())
    assert client(srv).get_object(neighbour).read() == b"other version"


def test_multipart_resumes_after_a_killed_run(srv, ws, tmp_path):
    big = os.urandom(29 * 256 * 1024 + 123)          # 30 parts of 256 KiB: >= 4.5 s at 150 ms each
    (ws / "static_root/1.2.3/big.bin").write_bytes(big)
    env = {**seed_env(srv, ws), "PLUGIN_MULTIPART_THRESHOLD": "1MiB", "PLUGIN_PART_SIZE": "256KiB",
           "PLUGIN_CONCURRENCY": "1", "PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    srv.set_faults(latency_ms=150)
    proc = subprocess.Popen([sys.executable, "-m", "oss_push"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    ckpts = ws / CHECKPOINT_DIR
    recorded = 0
    deadline = time.monotonic() + 60
    while recorded < 3 and time.monotonic() < deadline and proc.poll() is None:
        for f in ckpts.glob("*.json") if ckpts.is_dir() else []:
            try:
                recorded = max(recorded, len(json.loads(f.read_text())["parts"]))
            except (ValueError, OSError):
                pass
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    out = proc.communicate()[0].decode()
    assert recorded >= 3 and proc.returncode == -signal.SIGKILL, out
    assert not any(s in out for s in SENTINELS)
    srv.set_faults(latency_ms=0)
    srv.reset_stats()

    resumed = subprocess.run([sys.executable, "-m", "oss_push"], env=env, capture_output=True, text=True,
                             timeout=120)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    # the run's own request counts (the server's may still include the killed run's last request in flight)
    ops = json.loads((ws / ".tagship/oss-push.json").read_text())["requests_by_op"]
    assert "InitiateMultipartUpload" not in ops and ops["ListParts"] == 1
    assert ops["UploadPart"] <= 30 - recorded, resumed.stdout            # parts already sent are not resent
    assert "resuming multipart upload" in resumed.stdout
    assert client(srv).get_object(f"{DEST}/big.bin").read() == big
    assert not list(ckpts.glob("*.json"))
    head = client(srv).head_object(f"{DEST}/big.bin")
    assert head.headers["x-oss-meta-md5"] == hashlib.md5(big).hexdigest() and "-" in head.etag

    srv.reset_stats()
    rerun = subprocess.run([sys.executable, "-m", "oss_push"], env=env, capture_output=True, text=True,
                           timeout=120)
    assert rerun.returncode == 0 and srv.stats()["by_op"] == {"ListObjectsV2": 1, "GetObject": 1}


UNICODE = {"文件/报表 2024.csv": "金额,数量\n".encode(), "ünï code/ça+va & co.txt": b"accents",
           "emoji 🚀.txt": b"rocket", "a b/c%20d.txt": b"percent"}


@pytest.mark.parametrize("signing", ["v1", "v4", "sts-v1", "sts-v4"])
def test_signing_v1_v4_sts_with_unicode_keys(push, srv, ws, signing):
    write_tree(ws / "static_root/1.2.3", UNICODE)
    extra = {"region": REGION} if signing.endswith("v4") else {}
    if signing.startswith("sts"):
        extra.update(access_key_id=STS_AK, access_key_secret=STS_SECRET, security_token=STS_TOKEN)
    out = push(**extra)
    assert out.code == 0, out.out
    assert f"signing {signing[-2:].upper()}" in out.out
    objects = stored(srv)
    objects.pop(MANIFEST)
    assert objects == expected({**FILES, **UNICODE})
    assert push(**extra).puts() == 0


def test_wrong_secret_fails_fast_with_a_hint(push):
    out = push(access_key_secret="SENTINEL-oss-secret-7d1f-but-wrong")
    assert out.code == 1
    assert "SignatureDoesNotMatch" in out.out and "check access_key_id/access_key_secret" in out.out
    assert (out.result["retries"], out.result["requests"]) == (0, 1)
    assert sum(out.ops.values()) == 1                                     # a 403 is not retried


def test_dry_run_prints_the_whole_plan_and_changes_nothing(push, srv, ws):
    write_tree(ws / "static_root/1.2.3", {f"many/{i}.txt": b"x" for i in range(30)})
    out = push(dry_run=True)
    assert out.code == 0
    assert out.ops == {"ListObjectsV2": 1}
    assert f"upload  {DEST}/many/29.txt" in out.out and "dry run: nothing was changed" in out.out
    assert out.result["planned"]["upload"] == 35 and stored(srv) == {}


def test_headers_gzip_acl_and_storage_class(push, srv, ws):
    out = push(gzip="*.css,*.js", acl="public-read", storage_class="IA",
               headers='[{"glob": "admin/**", "cache_control": "private, max-age=60", "meta": {"team": "ops"}}]')
    assert out.code == 0, out.out
    b = client(srv)
    css = b.get_object(f"{DEST}/css/app.3f9a1c2b.css")
    assert css.read() == FILES["css/app.3f9a1c2b.css"]          # requests undoes Content-Encoding: gzip
    packed = gzip.compress(FILES["css/app.3f9a1c2b.css"], 9, mtime=0)
    listed = {o.key: o for o in b.list_objects_v2(prefix=DEST + "/css/").object_list}
    obj = listed[f"{DEST}/css/app.3f9a1c2b.css"]
    assert css.headers["Content-Encoding"] == "gzip" and obj.size == len(packed) < len(FILES["css/app.3f9a1c2b.css"])
    assert obj.etag == hashlib.md5(packed).hexdigest().upper()           # MD5 of the stored bytes
    assert css.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert css.headers["Content-Type"] == "text/css; charset=utf-8"
    assert css.headers["x-oss-storage-class"] == "IA"
    assert b.get_object_acl(f"{DEST}/css/app.3f9a1c2b.css").acl == "public-read"
    assert b.head_object(f"{DEST}/index.html").headers["Cache-Control"] == "no-cache"
    admin = b.head_object(f"{DEST}/admin/js/jquery.js").headers
    assert admin["Cache-Control"] == "private, max-age=60" and admin["x-oss-meta-team"] == "ops"
    assert push(gzip="*.css,*.js", acl="public-read", storage_class="IA",
                headers='[{"glob": "admin/**", "cache_control": "private, max-age=60", "meta": {"team": "ops"}}]'
                ).puts() == 0                                                 # gzip is deterministic: a rerun skips
    changed = push(overwrite=True, acl="public-read", storage_class="IA", gzip="*.css,*.js")
    assert changed.code == 0 and changed.result["replaced"] == 1          # only admin/ lost its header rule


def test_include_exclude_and_max_qps(push, srv):
    started = time.monotonic()
    out = push(include="**/*.js,**/*.css,*.html", exclude="admin/**", max_qps=3)
    elapsed = time.monotonic() - started
    assert out.code == 0, out.out
    objects = stored(srv)
    objects.pop(MANIFEST)
    assert sorted(objects) == [f"{DEST}/css/app.3f9a1c2b.css", f"{DEST}/index.html", f"{DEST}/js/app.0a1b2c3d.js"]
    # list + 3 PUTs + verify list + manifest PUT + stale-upload list = 7 requests at 3/s after a burst of 3
    assert out.result["requests"] == 7 and out.ops["ListMultipartUploads"] == 1 and elapsed >= 1.0


def test_sigterm_stops_promptly_without_a_manifest(srv, ws, tmp_path):
    write_tree(ws / "static_root/1.2.3", {f"many/{i:03d}.txt": b"x" * i for i in range(200)})
    env = {**seed_env(srv, ws), "PLUGIN_CONCURRENCY": "2", "PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    srv.set_faults(latency_ms=100)                                       # 200 files at 2 x 10/s: ~10 s
    proc = subprocess.Popen([sys.executable, "-m", "oss_push"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while srv.stats()["by_op"].get("PutObject", 0) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out = proc.communicate(timeout=30)[0]
    srv.set_faults(latency_ms=0)
    assert proc.returncode == 143, out
    assert "stopped by SIGTERM" in out and "left undone" in out and "manifest" in out
    assert srv.stats()["by_op"]["PutObject"] < 100                      # queued uploads were not started
    assert MANIFEST not in stored(srv)
    assert json.loads((ws / ".tagship/oss-push.json").read_text())["status"] == "interrupted"


def test_cdn_refresh_of_changed_files_through_the_openapi_double(push, srv, ws):
    """The repo's Aliyun OpenAPI double checks the RPC signature; RefreshObjectCaches is answered by a small
    subclass here (the double serves only the calls the other plugins make)."""
    import uuid

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the doubles package
    from doubles.aliyun_openapi import AliyunOpenApiDouble

    class CdnDouble(AliyunOpenApiDouble):
        def _route_rpc(self, params):
            if params["Action"] == "RefreshObjectCaches" and params["Version"] == "2018-05-10":
                return 200, {"RefreshTaskId": "7041", "RequestId": str(uuid.uuid4()).upper()}
            return super()._route_rpc(params)

    cdn = {"cdn_refresh": "files", "cdn_url": "https://static.example.com"}
    with CdnDouble(keys={AK: SECRET}) as api:
        assert push(cdn_endpoint=api.url, **cdn).code == 0
        (ws / "static_root/1.2.3/index.html").write_bytes(b"v2")
        out = push(cdn_endpoint=api.url, overwrite=True, **cdn)
        nothing = push(cdn_endpoint=api.url, overwrite=True, **cdn)
    assert out.code == 0 and out.result["cdn"] == {"refresh": "files", "requests": 1, "tasks": ["7041"]}
    calls = [r for r in api.requests if r["query"].get("Action") == "RefreshObjectCaches"]
    assert len(calls) == 2                                               # first publish, the change; not the no-op
    assert calls[1]["query"]["ObjectPath"] == f"https://static.example.com/{DEST}/index.html"
    assert calls[1]["query"]["ObjectType"] == "File"
    assert nothing.code == 0 and "cdn" not in nothing.result
