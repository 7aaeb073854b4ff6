"""registry-push when things go wrong, against the real parts: a wrong password, a target that refuses or keeps
failing (required or optional), SIGTERM in the middle of a push, a dockerd that cannot start or must not.
Helpers and the test bed come from test_registry_push.py."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

import test_registry_push as rp
from doubles.fault_proxy import FaultProxy

pytestmark = pytest.mark.engine
_bed = rp._bed                      # the autouse fixture that fills rp.REG_A & co. from the `testbed` fixture
cleanup_images = rp.cleanup_images


def test_wrong_password_fails_clearly_without_printing_it(tmp_path):
    ws = rp._workspace(tmp_path)
    code, out, res = rp.run_plugin(ws, registry=rp.REG_A, repo=f"{rp._uid()}/app", DOCKER_USERNAME=rp.USER,
                                DOCKER_PASSWORD=rp.SENTINEL_PW, tags=["1.0.0"])
    assert code == 1
    assert f"login to {rp.REG_A} as {rp.USER} failed" in out and "401" in out
    assert "hint:" in out
    assert rp.SENTINEL_PW not in out and rp.SENTINEL_PW not in json.dumps(res)
    assert res["status"] == "failed" and "image_id" not in res          # failed before building anything


def test_optional_target_failure_is_a_warning(tmp_path, cleanup_images):
    repo = f"{rp._uid()}/app"
    ws = rp._workspace(tmp_path)
    cleanup_images.append(f"tagship-build/{repo.replace('/', '_')}:latest")
    code, out, res = rp.run_plugin(ws, registry=rp.REG_A, repo=repo, username=rp.USER, password=rp.PW_A, tags=["1.0.0"],
                                registries=[{"registry": rp.REG_B, "username": rp.USER, "password": rp.SENTINEL_PW,
                                             "required": False}])
    assert code == 0, out
    assert "optional, skipping it" in out and rp.SENTINEL_PW not in out
    assert res["refs"] == [f"{rp.REG_A}/{repo}:1.0.0"]


def test_dind_that_cannot_start_fails_fast_with_its_log_and_the_privileged_hint(tmp_path):
    ws = rp._workspace(tmp_path)
    # a bridge of its own (which does not exist: the daemon fails on the storage driver before networking)
    code, out, res = rp.run_plugin(ws, registry=rp.REG_A, repo=f"{rp._uid()}/x", daemon="dind",
                                storage_driver="no-such-driver", daemon_timeout="20s",
                                dockerd_args=["--bridge=tsrp-none0", "--iptables=false", "--ip-forward=false"])
    assert code == 1
    assert "dockerd exited" in out and "no-such-driver" in out
    assert "privileged: true" in out


def test_dind_refuses_to_share_the_network_namespace_of_another_engine(tmp_path):
    """Here the host's dockerd owns docker0: a second dockerd would take over its bridge (with --bridge=none
    it would delete it), so the plugin refuses before starting anything."""
    ws = rp._workspace(tmp_path)
    for extra in ([], ["--bridge=none"]):
        code, out, _ = rp.run_plugin(ws, registry=rp.REG_A, repo=f"{rp._uid()}/x", daemon="dind", dockerd_args=extra)
        assert code == 1 and "another Docker engine already runs in this network namespace" in out
        assert "starting dockerd" not in out
    assert Path("/sys/class/net/docker0").exists()


@pytest.fixture
def broken_b():
    """Registry B behind a proxy that answers every manifest PUT with 503: its blobs land, its tags never do."""
    tls = Path(rp.TB["TAGSHIP_TESTBED_DIR"]) / "tls"
    proxy = FaultProxy(rp.REG_B, ca=str(tls / "ca.crt"), cert=str(tls / "server.crt"), key=str(tls / "server.key"),
                       blob_fail_rate=0.0, fail_manifest_puts=1000).start()
    yield proxy
    proxy.stop()


def test_a_required_target_that_fails_keeps_latest_where_it_was_everywhere(tmp_path, cleanup_images, broken_b):
    repo = f"{rp._uid()}/svc"
    ws = rp._workspace(tmp_path, f"FROM {rp.BUSYBOX}\nCOPY app.conf /app.conf\nUSER worker\n")
    cleanup_images.append(f"tagship-build/{repo.replace('/', '_')}:latest")
    code, out, res = rp.run_plugin(ws, registry=rp.REG_A, repo=repo, username=rp.USER, password=rp.PW_A, push_attempts=2,
                                tags=["2.0.0", "latest"],
                                registries=[{"registry": broken_b.address, "username": rp.USER, "password": rp.PW_B}])
    assert code == 1
    assert f"push failed for required target(s) {broken_b.address}/{repo}" in out and "503" in out
    assert "not moving latest anywhere" in out and res["not_moved"] == ["latest"]
    assert res["refs"] == [f"{rp.REG_A}/{repo}:2.0.0"]                     # the version tag, proven
    assert rp.skopeo_digest(f"{rp.REG_A}/{repo}:2.0.0", tmp_path) == res["digest"]
    probe = subprocess.run(["skopeo", "inspect", "--raw", "--cert-dir", rp.TB["TAGSHIP_REGISTRY_CERT_DIR"],
                            "--creds", f"{rp.USER}:{rp.PW_A}", f"docker://{rp.REG_A}/{repo}:latest"],
                           capture_output=True, timeout=60)
    assert probe.returncode != 0                                        # latest did not move on A either


def test_an_optional_target_that_fails_is_a_warning_and_the_rest_is_published(tmp_path, cleanup_images, broken_b):
    repo = f"{rp._uid()}/svc"
    ws = rp._workspace(tmp_path, f"FROM {rp.BUSYBOX}\nCOPY app.conf /app.conf\nUSER worker\n")
    cleanup_images.append(f"tagship-build/{repo.replace('/', '_')}:latest")
    code, out, res = rp.run_plugin(ws, registry=rp.REG_A, repo=repo, username=rp.USER, password=rp.PW_A, push_attempts=2,
                                tags=["2.0.0", "latest"],
                                registries=[{"registry": broken_b.address, "username": rp.USER, "password": rp.PW_B,
                                             "required": False}])
    assert code == 0, out
    assert "optional target: a warning" in out
    assert sorted(res["refs"]) == [f"{rp.REG_A}/{repo}:2.0.0", f"{rp.REG_A}/{repo}:latest"]
    assert [t["status"] for t in res["targets"]] == ["pushed", "failed"]


def test_sigterm_during_the_push_stops_at_once_and_publishes_nothing(tmp_path, cleanup_images):
    """Drone stops a step with SIGTERM. A registry a second away per request keeps the push going for many
    seconds; the plugin must stop now (exit 143, what was left undone), and the engine, seeing its
    connection close, must drop the push — the tag never appears."""
    import signal
    import time

    tls = Path(rp.TB["TAGSHIP_TESTBED_DIR"]) / "tls"
    proxy = FaultProxy(rp.REG_A, ca=str(tls / "ca.crt"), cert=str(tls / "server.crt"), key=str(tls / "server.key"),
                       blob_fail_rate=0.0, latency=1.0).start()
    repo = f"{rp._uid()}/slow"
    ws = rp._workspace(tmp_path, f"FROM {rp.BUSYBOX}\nCOPY app.conf /app.conf\nUSER worker\n")
    cleanup_images.append(f"tagship-build/{repo.replace('/', '_')}:latest")
    env = {"PATH": os.environ["PATH"], "HOME": str(ws), "DRONE_WORKSPACE": str(ws), "PYTHONUNBUFFERED": "1",
           "PLUGIN_REGISTRY": proxy.address, "PLUGIN_REPO": repo, "PLUGIN_USERNAME": rp.USER, "PLUGIN_PASSWORD": rp.PW_A,
           "PLUGIN_TAGS": "1.0.0", "PLUGIN_CA_CERT": rp.TB["TAGSHIP_REGISTRY_CA"], "PLUGIN_POLICY": "off"}
    try:
        proc = subprocess.Popen([rp.PLUGIN], env=env, cwd=ws, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "pushing 1.0.0 to 1 target(s)" in line:
                break
        time.sleep(0.5)   # into the push (each request to the far registry takes a second)
        proc.send_signal(signal.SIGTERM)
        out = "".join(lines) + proc.communicate(timeout=60)[0]
        assert proc.returncode == 143, out
        assert "stopped by SIGTERM; left undone: " in out and "push" in out.split("left undone: ")[1]
        assert json.loads((ws / ".tagship" / "registry-push.json").read_text())["status"] == "interrupted"
        left = subprocess.run(["docker", "image", "ls", "-q", f"{proxy.address}/{repo}"], capture_output=True,
                              text=True).stdout
        assert left.strip() == ""                               # purged on the way out
    finally:
        proxy.stop()
    probe = subprocess.run(["skopeo", "inspect", "--raw", "--cert-dir", rp.TB["TAGSHIP_REGISTRY_CERT_DIR"],
                            "--creds", f"{rp.USER}:{rp.PW_A}", f"docker://{rp.REG_A}/{repo}:1.0.0"],
                           capture_output=True, timeout=60)
    assert probe.returncode != 0


def test_no_engine_is_an_actionable_error(tmp_path):
    ws = rp._workspace(tmp_path)
    code, out, res = rp.run_plugin(ws, registry=rp.REG_A, repo=f"{rp._uid()}/x", username=rp.USER,
                                   password=rp.PW_A, docker_host=f"unix://{tmp_path}/no-docker.sock")
    assert code == 1
    assert f"cannot reach the Docker engine at unix://{tmp_path}/no-docker.sock" in out
    assert "mount /var/run/docker.sock" in out and "Traceback" not in out
