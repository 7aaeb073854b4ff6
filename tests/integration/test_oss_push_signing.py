"""oss-push picks V4 signing where it can: a set region, or the region an Aliyun endpoint names; `signature`
forces a choice. Against `tagship oss-server`, which checks V1 and V4 signatures and the V4 region scope
(cn-hangzhou here). The Aliyun host names are pinned to 127.0.0.1 for this process, as /etc/hosts would.
"""

import json
import os
import socket
from urllib.parse import urlsplit

import oss2
import pytest

from tagship_ossd.server import start_server

from oss_push.__main__ import main

pytestmark = pytest.mark.oss

AK, SECRET = "LTAIsignTEST", "SENTINEL-sign-secret-40c2"
BUCKET, DEST, REGION = "site", "app/static/3.1.0", "cn-hangzhou"
FILES = {"index.html": b"<!doctype html>\n", "js/app.0a1b2c3d.js": b"console.log(1)\n" * 40}


@pytest.fixture
def srv(tmp_path):
    server = start_server(tmp_path / "oss-data", {AK: SECRET}, [BUCKET], region=REGION)
    yield server
    server.stop()


@pytest.fixture
def aliyun_hosts(monkeypatch):
    """*.aliyuncs.com resolves to 127.0.0.1 in this process (only there; nothing leaves the machine)."""
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if isinstance(host, str) and host.endswith(".aliyuncs.com"):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def push(srv, tmp_path, monkeypatch, capsys):
    ws = tmp_path / "ws"
    for rel, data in FILES.items():
        (ws / "dist" / rel).parent.mkdir(parents=True, exist_ok=True)
        (ws / "dist" / rel).write_bytes(data)

    def run(**settings):
        env = {"PLUGIN_ENDPOINT": srv.endpoint, "PLUGIN_BUCKET": BUCKET, "PLUGIN_ACCESS_KEY_ID": AK,
               "PLUGIN_ACCESS_KEY_SECRET": SECRET, "PLUGIN_SOURCE": "dist", "PLUGIN_DEST": DEST,
               "DRONE_WORKSPACE": str(ws)}
        env.update({f"PLUGIN_{k.upper()}": str(v) for k, v in settings.items()})
        for k in list(os.environ):
            if k.startswith(("PLUGIN_", "DRONE_", "OSS_", "ALIYUN_")):
                monkeypatch.delenv(k)
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        srv.reset_stats()
        code = main([])
        cap = capsys.readouterr()
        out = cap.out + cap.err
        assert SECRET not in out
        result = ws / ".tagship/oss-push.json"
        return code, out, json.loads(result.read_text()) if result.exists() else {}
    return run


def aliyun_endpoint(srv, region):
    """The Aliyun endpoint of ``region``, on the local server's port (http: the local server has no TLS)."""
    return f"http://oss-{region}.aliyuncs.com:{urlsplit(srv.endpoint).port}"


def stored(srv):
    b = oss2.Bucket(oss2.Auth(AK, SECRET), srv.endpoint, BUCKET)
    return {o.key[len(DEST) + 1:]: b.get_object(o.key).read() for o in oss2.ObjectIteratorV2(b, prefix=DEST + "/")}


def test_an_aliyun_endpoint_without_region_signs_v4_for_its_region(push, srv, aliyun_hosts):
    code, out, result = push(endpoint=aliyun_endpoint(srv, REGION))
    assert code == 0, out
    assert "signing V4 (region cn-hangzhou from the endpoint)" in out
    assert (result["signing"], result["region"]) == ("v4", REGION)
    got = stored(srv)
    got.pop(".tagship-manifest.json")
    assert got == FILES


def test_the_inferred_region_is_what_v4_is_scoped_to(push, srv, aliyun_hosts):
    """The server is in cn-hangzhou: a cn-beijing endpoint's V4 scope is refused there, which V1 would not be
    (V1 names no region) — so the region really came from the endpoint; signature: v1 still gets through."""
    code, out, _ = push(endpoint=aliyun_endpoint(srv, "cn-beijing"))
    assert code == 1, out
    assert "signing V4 (region cn-beijing from the endpoint)" in out and "Invalid signing region" in out
    assert "hint: V4 signatures are scoped to a region, and this one is not the bucket's" in out
    code, out, result = push(endpoint=aliyun_endpoint(srv, "cn-beijing"), signature="v1")
    assert code == 0, out
    assert "signing V1 (signature: v1)" in out and result["signing"] == "v1"


def test_the_local_endpoint_without_region_signs_v1_and_with_region_v4(push, srv):
    code, out, result = push()
    assert code == 0, out
    assert "signing V1 (set region for V4, which Aliyun recommends)" in out and result["signing"] == "v1"
    code, out, result = push(region=REGION, signature="v4")
    assert code == 0, out
    assert "signing V4 (region cn-hangzhou)" in out and result["region"] == REGION


def test_v4_without_any_region_is_a_settings_error_before_any_request(push, srv):
    code, out, _ = push(signature="v4")
    assert code == 2, out
    errors = [line for line in out.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and "ERROR PLUGIN_REGION: required with PLUGIN_SIGNATURE=v4" in errors[0]
    assert "Traceback" not in out and srv.stats()["requests"] == 0


def test_a_region_the_endpoint_contradicts_is_used_and_warned(push, srv, aliyun_hosts):
    code, out, _ = push(endpoint=aliyun_endpoint(srv, "cn-shanghai"), region=REGION)
    assert code == 0, out
    assert "region cn-hangzhou is set but the endpoint is in cn-shanghai" in out
