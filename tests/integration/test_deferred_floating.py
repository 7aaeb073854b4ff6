"""Floating tags move only after a healthy deploy: registry-push with ``defer_floating`` pushes the version
tag alone; cs-deploy, after a healthy deploy of that digest, moves latest/X/X.Y over the registry's HTTP API;
after a failed deploy nothing moves and latest stays on the previous release.

Real parts: dockerd, the test bed's TLS+htpasswd registry, the single-node swarm. Tags are read back with
skopeo, independently of both plugins. Both plugins run as console scripts with an explicit env (a Drone step).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.engine

BIN = Path(sys.executable).parent
SENTINEL_PW_NOTE = "the registry password never appears in output or result files"
DOCKERFILE = """FROM {base}
ARG VERSION
ARG RUN_ID
RUN mkdir -p /www && echo "version $VERSION $RUN_ID" > /www/version
HEALTHCHECK --interval=1s --timeout=2s --retries=2 CMD wget -q -O /dev/null http://127.0.0.1:8080/version
CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]
"""
COMPOSE = """services:
  web:
    image: ${REPO}:${VERSION}
    stop_grace_period: 1s
    ports:
      - target: 8080
        published: ${PORT}
        mode: host
    deploy:
      replicas: 1
      update_config:
        order: stop-first
        failure_action: pause
        monitor: 1s
"""


def _free_port() -> int:
    for _ in range(50):
        port = random.randint(20000, 40000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port")


@pytest.fixture
def release(testbed, swarm, busybox_image, docker_client, tmp_path):
    """A workspace, a unique repository and stack; the stack's services, network and images go afterwards."""
    uid = uuid.uuid4().hex[:8]
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "Dockerfile").write_text(DOCKERFILE.format(base=busybox_image))
    (ws / "docker-compose.yml").write_text(COMPOSE)
    box = {"ws": ws, "repo": f"dftest{uid}/app", "stack": f"dftest{uid}", "port": _free_port(), "uid": uid,
           "tb": testbed}
    yield box
    for svc in docker_client.services.list(filters={"label": f"com.docker.stack.namespace={box['stack']}"}):
        svc.remove()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        nets = docker_client.networks.list(filters={"label": f"com.docker.stack.namespace={box['stack']}"})
        for net in nets:
            try:
                net.remove()
            except Exception:
                pass
        if not nets:
            break
        time.sleep(0.5)
    subprocess.run(["docker", "image", "rm", "-f", f"tagship-build/{box['repo'].replace('/', '_')}:latest"],
                   capture_output=True, timeout=60)


def _env(box: dict, version: str, **settings: str) -> dict[str, str]:
    tb = box["tb"]
    env = {"PATH": os.environ["PATH"], "HOME": str(box["ws"]), "DRONE_WORKSPACE": str(box["ws"]), "DRONE": "true",
           "DRONE_BUILD_EVENT": "tag", "DRONE_TAG": f"v{version}", "DRONE_COMMIT_REF": f"refs/tags/v{version}"}
    env.update({k if k.isupper() else f"PLUGIN_{k.upper()}": v for k, v in settings.items()})
    return env


def _run(box: dict, plugin: str, env: dict[str, str]) -> tuple[int, str, dict]:
    proc = subprocess.run([str(BIN / plugin)], env=env, cwd=box["ws"], capture_output=True, text=True, timeout=240)
    out = proc.stdout + proc.stderr
    path = box["ws"] / ".tagship" / f"{plugin}.json"
    text = path.read_text() if path.exists() else "{}"
    assert box["tb"].password not in out and box["tb"].password not in text, SENTINEL_PW_NOTE
    return proc.returncode, out, json.loads(text)


def push(box: dict, version: str) -> tuple[int, str, dict]:
    tb = box["tb"]
    (box["ws"] / ".version").write_text(version + "\n")
    major, minor, _ = version.split(".")
    (box["ws"] / ".tags").write_text(f"{version},{major}.{minor},{major},latest\n")
    return _run(box, "registry-push", _env(box, version, registry=tb.registry, repo=box["repo"],
                                           username=tb.user, password=tb.password, ca_cert=tb.ca,
                                           defer_floating="true", policy="off",
                                           build_args=json.dumps({"RUN_ID": box["uid"]})))


def deploy(box: dict, version: str, **extra: str) -> tuple[int, str, dict]:
    tb = box["tb"]
    settings = dict(stack=box["stack"], registry_username=tb.user, registry_password=tb.password,
                    registry_ca_cert=tb.ca, monitor="1s", poll_interval="0.3s", timeout="90s",
                    environment=json.dumps({"REPO": f"{tb.registry}/{box['repo']}", "PORT": str(box["port"])}),
                    health_url=f"http://127.0.0.1:{box['port']}/version", health_retries="20",
                    health_interval="0.25s")
    env = _env(box, version, **{**settings, **extra})
    return _run(box, "cs-deploy", env)


def registry_tags(box: dict, tmp_path: Path) -> dict[str, str]:
    """tag → manifest digest, read with skopeo (neither Docker nor the plugins)."""
    tb = box["tb"]
    auth = tmp_path / "skopeo-auth.json"
    auth.write_text(json.dumps({"auths": {tb.registry: {"auth": base64.b64encode(
        f"{tb.user}:{tb.password}".encode()).decode()}}}))
    base = ["skopeo"]
    ref = f"docker://{tb.registry}/{box['repo']}"
    listed = subprocess.run(base + ["list-tags", "--authfile", str(auth), "--cert-dir", tb.cert_dir, ref],
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr[-500:]
    out = {}
    for tag in json.loads(listed.stdout)["Tags"]:
        raw = subprocess.run(base + ["inspect", "--raw", "--authfile", str(auth), "--cert-dir", tb.cert_dir,
                                     f"{ref}:{tag}"], capture_output=True, timeout=60)
        assert raw.returncode == 0, raw.stderr.decode()[-500:]
        out[tag] = "sha256:" + hashlib.sha256(raw.stdout).hexdigest()
    return out


def test_latest_moves_after_a_healthy_deploy_and_stays_after_a_failed_one(release, tmp_path):
    box = release
    # 1.0.0: registry-push pushes the version tag alone and records what it left for cs-deploy
    code, out, pushed = push(box, "1.0.0")
    assert code == 0, out
    good = pushed["digest"]
    assert pushed["tags"] == ["1.0.0"]
    assert registry_tags(box, tmp_path) == {"1.0.0": good}
    deferred = pushed["deferred"]
    assert sorted(deferred["tags"]) == ["1", "1.0", "latest"] and deferred["digest"] == good
    assert deferred["targets"] == [{"repo": f"{box['tb'].registry}/{box['repo']}",
                                    "registry": box["tb"].registry, "insecure": False}]
    assert "password" not in json.dumps(deferred)
    assert "wait for cs-deploy" in out

    # a dry run only says what would move
    code, out, result = deploy(box, "1.0.0", dry_run="true")
    assert code == 0, out
    assert f"1.0, 1, latest would move to {good}" in out and "promoted" not in result, out
    assert registry_tags(box, tmp_path) == {"1.0.0": good}

    # a healthy deploy of that digest moves them
    code, out, result = deploy(box, "1.0.0")
    assert code == 0, out
    assert result["outcome"] == "deployed"
    assert sorted(result["promoted"]) == sorted(f"{box['tb'].registry}/{box['repo']}:{t}" for t in ("1", "1.0", "latest"))
    assert f"moved {box['tb'].registry}/{box['repo']}:latest → {good}" in out
    assert registry_tags(box, tmp_path) == {"1.0.0": good, "1.0": good, "1": good, "latest": good}

    # 1.0.1 is pushed (version tag only) but fails its health gate: rolled back, nothing moves
    code, out, pushed = push(box, "1.0.1")
    assert code == 0, out
    bad = pushed["digest"]
    assert bad != good and pushed["tags"] == ["1.0.1"]
    code, out, result = deploy(box, "1.0.1", health_body="^never$", health_retries="2", health_interval="0.2s")
    assert code == 1, out
    assert result["rollback"]["state"] == "rolled-back" and result["promoted"] == []
    assert f"latest stays on {good}" in out
    assert registry_tags(box, tmp_path) == {"1.0.0": good, "1.0": good, "1": good, "latest": good, "1.0.1": bad}


def test_a_failed_move_is_red_and_the_deploy_stays(release, tmp_path, docker_client):
    box, tb = release, release["tb"]
    code, out, pushed = push(box, "2.0.0")
    assert code == 0, out
    good = pushed["digest"]
    # a second registry that refuses cs-deploy's credentials (they are the first registry's)
    path = box["ws"] / ".tagship" / "registry-push.json"
    data = json.loads(path.read_text())
    data["deferred"]["targets"].append({"repo": f"{tb.registry2}/{box['repo']}", "registry": tb.registry2,
                                        "insecure": False})
    path.write_text(json.dumps(data))
    code, out, result = deploy(box, "2.0.0")
    assert code == 1, out
    assert result["outcome"] == "deployed"
    # the tag lists are read everywhere before anything moves: the refusal comes first, nothing moved
    assert result["error"].startswith("deployed, but ") and "latest were not moved" in result["error"], out
    assert "401" in result["error"] and "the deploy stays" in out
    # the deploy itself stays: the service runs the new digest
    spec = docker_client.api.inspect_service(f"{box['stack']}_web")["Spec"]
    assert spec["TaskTemplate"]["ContainerSpec"]["Image"].endswith("@" + good)
    assert registry_tags(box, tmp_path) == {"2.0.0": good}
    # as the hint says: fix it and re-run the step — the stack is unchanged, the tags move
    data["deferred"]["targets"].pop()
    path.write_text(json.dumps(data))
    code, out, result = deploy(box, "2.0.0")
    assert code == 0, out
    assert result["outcome"] == "unchanged" and len(result["promoted"]) == 3
    assert registry_tags(box, tmp_path) == {t: good for t in ("2.0.0", "2.0", "2", "latest")}


def test_a_release_that_went_out_meanwhile_keeps_latest(release, tmp_path):
    """Smart floating is judged again when the tags move: 3.1.0 went out while 3.0.1 was deploying, so 3.0
    moves to 3.0.1 but 3 and latest stay on 3.1.0."""
    box, tb = release, release["tb"]
    code, out, pushed = push(box, "3.0.1")
    assert code == 0, out
    assert sorted(pushed["deferred"]["tags"]) == ["3", "3.0", "latest"]
    from tagship.registry import RegistryClient

    api = RegistryClient(tb.registry, tb.user, tb.password, verify=tb.ca)
    # another pipeline released 3.1.0 (its own image) and moved 3 and latest to it while 3.0.1 was deploying
    other = box["ws"].parent / "other"
    other.mkdir()
    (other / "Dockerfile").write_text("FROM " + box["tb"].busybox_image + "\nRUN echo 3.1.0 > /v\n")
    ref = f"{tb.registry}/{box['repo']}"
    subprocess.run(["docker", "build", "-q", "-t", f"{ref}:3.1.0", str(other)], check=True, capture_output=True,
                   timeout=120)
    cfg = other / "docker"
    cfg.mkdir()
    (cfg / "config.json").write_text(json.dumps({"auths": {tb.registry: {"auth": base64.b64encode(
        f"{tb.user}:{tb.password}".encode()).decode()}}}))
    try:
        subprocess.run(["docker", "--config", str(cfg), "push", "-q", f"{ref}:3.1.0"], check=True,
                       capture_output=True, timeout=120)
    finally:
        subprocess.run(["docker", "image", "rm", "-f", f"{ref}:3.1.0"], capture_output=True, timeout=60)
    newer = api.digest(box["repo"], "3.1.0")
    for tag in ("3", "latest"):
        api.put_tag(box["repo"], newer, tag)

    code, out, result = deploy(box, "3.0.1")
    assert code == 0, out
    assert result["promoted"] == [f"{ref}:3.0"] and result["promotion_held_back"] == ["3", "latest"]
    assert "not moving 3, latest: the registry already has 3.1.0" in out
    tags = registry_tags(box, tmp_path)
    assert tags["3.0"] == tags["3.0.1"] == pushed["digest"]
    assert tags["3"] == tags["latest"] == tags["3.1.0"] == newer
