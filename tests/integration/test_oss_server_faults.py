"""tagship oss-server: fault injection, control endpoints, HTTP/1.1 details, virtual-host style and the CLI."""
import http.client
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from email.utils import formatdate

import oss2
import pytest
from oss2 import exceptions as ossx

from tagship_ossd import sig as oss_sig
from tagship_ossd.server import start_server

pytestmark = pytest.mark.oss

AK, SECRET, BUCKET = "LTAIfaults", "faults-secret", "fault-bucket"


@pytest.fixture
def server(tmp_path):
    srv = start_server(tmp_path / "data", {AK: SECRET}, [BUCKET])
    yield srv
    srv.stop()


def bucket(server):
    return oss2.Bucket(oss2.Auth(AK, SECRET), server.endpoint, BUCKET)


def control(server, name, body=None):
    req = urllib.request.Request(f"{server.endpoint}/_tagship/{name}",
                                 data=None if body is None else json.dumps(body).encode(),
                                 method="GET" if body is None else "POST")
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read())


def test_scripted_faults_503_drop_crc(server):
    b = bucket(server)
    server.set_faults(queue=[{"kind": "503", "op": "PutObject"}, "drop", {"kind": "crc", "op": "PutObject"}])
    with pytest.raises(ossx.ServerError) as e:
        b.put_object("a", b"1")
    assert (e.value.status, e.value.code) == (503, "ServiceUnavailable")
    with pytest.raises(ossx.RequestError):
        b.put_object("a", b"2")
    assert not b.object_exists("a")  # neither the 503 nor the dropped request did anything
    with pytest.raises(ossx.InconsistentError):  # stored, but the answer's CRC is wrong: oss2 notices
        b.put_object("a", b"3")
    assert b.get_object("a").read() == b"3"
    stats = server.stats()
    assert stats["faults"] == {"503": 1, "drop": 1, "crc": 1} and stats["faults_injected"] == 3
    assert stats["by_op"]["PutObject"] == 3 and stats["by_status"]["dropped"] == 1


def test_nocrc_answers_without_the_crc64_header_on_the_four_operations(server):
    """oss2 checks a CRC only when the answer has one: with ``nocrc`` every check is silently skipped."""
    b = bucket(server)
    head = "x-oss-hash-crc64ecma"
    assert head in b.put_object("plain", b"data").headers
    server.set_faults(queue=[{"kind": "nocrc", "op": op} for op in
                             ("PutObject", "UploadPart", "CompleteMultipartUpload", "GetObject")] + ["nocrc"])
    assert b.head_object("plain").server_crc is not None   # HEAD is not a CRC operation: the queue waits
    put = b.put_object("a", b"abc")
    assert put.crc is None and head not in put.headers
    upload_id = b.init_multipart_upload("big").upload_id
    part = b.upload_part("big", upload_id, 1, b"p" * 1000)
    assert part.crc is None and head not in part.headers
    done = b.complete_multipart_upload("big", upload_id, [oss2.models.PartInfo(1, part.etag)])
    assert done.crc is None and head not in done.headers
    got = b.get_object("a")
    assert got.server_crc is None and head not in got.headers and got.read() == b"abc"
    assert server.stats()["faults"]["nocrc"] == 4
    assert server.set_faults()["queue"] == [{"kind": "nocrc"}]   # the op-less entry: no CRC operation yet
    assert head not in b.put_object("plain", b"data").headers and server.set_faults()["queue"] == []
    # the operations were done: the objects and their CRCs are stored as usual
    assert b.get_object("big").read() == b"p" * 1000 and b.get_object("big").server_crc is not None
    server.set_faults(rate=1.0, kinds=["nocrc"])   # at random, nocrc too spares what has no CRC
    assert b.head_object("a").server_crc is not None and b.get_object("a").server_crc is None
    server.set_faults(rate=0)


def test_random_faults_are_seeded_and_counted(server):
    b = bucket(server)
    outcomes = []
    for _ in range(2):
        server.set_faults(rate=0.5, kinds=["503"], seed=7)
        run = []
        for i in range(30):
            try:
                b.put_object(f"k{i}", b".")
                run.append("ok")
            except ossx.ServerError as e:
                run.append(e.status)
        outcomes.append(run)
    assert outcomes[0] == outcomes[1] and 5 < outcomes[0].count(503) < 25
    server.set_faults(rate=0)
    assert server.stats()["faults"]["503"] == 2 * outcomes[0].count(503)


def test_control_endpoints_over_http(server):
    b = bucket(server)
    b.put_object("x", b"1")
    assert control(server, "stats")["by_op"] == {"PutObject": 1}
    settings = control(server, "faults", {"rate": 1.0, "kinds": "503", "latency_ms": 50})
    assert settings["rate"] == 1.0 and settings["kinds"] == ["503"] and settings["latency_ms"] == 50
    t0 = time.monotonic()
    with pytest.raises(ossx.ServerError):
        b.get_object("x")
    assert time.monotonic() - t0 >= 0.05
    control(server, "faults", {"rate": 0, "latency_ms": 0})
    assert b.get_object("x").read() == b"1"
    assert control(server, "reset-stats", {}) == {"ok": True}
    assert control(server, "stats")["requests"] == 0
    assert control(server, "health")["buckets"] == [BUCKET]
    with pytest.raises(urllib.error.HTTPError) as e:
        control(server, "faults", {"kinds": ["meteor"]})
    assert e.value.code == 400


def test_keep_alive_across_errors_heads_and_bodies(server):
    b = bucket(server)
    b.put_object("k", b"hello")
    host, port = server.endpoint[7:].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)

    def signed(method, path, key, body=b""):
        h = {"Date": formatdate(usegmt=True), "Content-Type": "application/octet-stream"}
        sts = oss_sig.v1_string_to_sign(method, h, BUCKET, key, [])
        h["Authorization"] = f"OSS {AK}:{oss_sig.v1_signature(SECRET, sts)}"
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        return r.status, r.read(), r

    status, data, _ = signed("GET", f"/{BUCKET}/k", "k")
    sock = conn.sock
    assert (status, data) == (200, b"hello")
    assert signed("HEAD", f"/{BUCKET}/k", "k")[:2] == (200, b"")
    assert signed("HEAD", f"/{BUCKET}/missing", "missing")[0] == 404
    status, data, r = signed("GET", f"/{BUCKET}/missing", "missing")
    assert status == 404 and b"<Code>NoSuchKey</Code>" in data and b"<HostId>" in data and b"<RequestId>" in data
    assert r.getheader("x-oss-request-id")
    assert signed("PUT", f"/{BUCKET}/k2", "k2", b"x" * 10_000)[0] == 200
    assert signed("PUT", f"/{BUCKET}/k3", "k3-wrong", b"y" * 5000)[0] == 403  # error after a body: still in sync
    assert signed("GET", f"/{BUCKET}/k2", "k2")[1] == b"x" * 10_000
    assert conn.sock is sock  # one connection for all of it
    conn.close()


def test_virtual_host_style(server):
    host, port = server.endpoint[7:].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    h = {"Date": formatdate(usegmt=True), "Host": f"{BUCKET}.oss-local.test:{port}"}
    h["Authorization"] = f"OSS {AK}:" + oss_sig.v1_signature(SECRET, oss_sig.v1_string_to_sign(
        "PUT", h, BUCKET, "dir/vhost.txt", []))
    conn.request("PUT", "/dir/vhost.txt", body=b"virtual", headers=h)
    assert conn.getresponse().read() == b"" and bucket(server).get_object("dir/vhost.txt").read() == b"virtual"


def test_cli_prints_endpoint_first_and_never_the_secret(tmp_path):  # through the `tagship` umbrella
    env = dict(os.environ, TAGSHIP_OSS_ACCESS_KEY_SECRET="cli-secret-value")
    proc = subprocess.Popen([sys.executable, "-m", "tagship.pipeline.cli", "oss-server", "--port", "0", "--data", str(tmp_path),
                             "--access-key-id", "CLIAK", "--bucket", "cli-bucket", "--bucket", "other-bucket",
                             "--sts", "STSAK:sts-secret-value:tok-value", "--verbose", "--fault-rate", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        endpoint = proc.stdout.readline().strip()
        assert endpoint.startswith("http://127.0.0.1:") and int(endpoint.rsplit(":", 1)[1]) > 0
        b = oss2.Bucket(oss2.Auth("CLIAK", "cli-secret-value"), endpoint, "cli-bucket")
        b.put_object("a.txt", b"cli")
        sts = oss2.Bucket(oss2.StsAuth("STSAK", "sts-secret-value", "tok-value"), endpoint, "other-bucket")
        sts.put_object("b.txt", b"sts")
        assert b.get_object("a.txt").read() == b"cli"
        with pytest.raises(ossx.SignatureDoesNotMatch):
            oss2.Bucket(oss2.Auth("CLIAK", "nope"), endpoint, "cli-bucket").get_object("a.txt")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert "PUT /cli-bucket/a.txt 200" in err  # --verbose logs request lines
    for secret in ("cli-secret-value", "sts-secret-value", "tok-value", "Authorization", "OSS CLIAK"):
        assert secret not in out + err


def test_cli_usage_errors(tmp_path):
    r = subprocess.run([sys.executable, "-m", "tagship_ossd", "--data", str(tmp_path)],
                       capture_output=True, text=True, env={k: v for k, v in os.environ.items()
                                                            if not k.startswith("TAGSHIP_OSS_")})
    assert r.returncode == 2 and "--access-key-id" in r.stderr and r.stdout == ""
