"""cs-deploy on the real single-node swarm, run as a pipeline step would run it (the console script in a
subprocess, settings in PLUGIN_*), with images pushed to the test bed's TLS+htpasswd registry:

- a fresh deploy serves, pinned to the registry digest; a re-run changes nothing; an update converges;
- an image whose healthcheck fails → exit 1, the service back on the old image and still serving;
- the timeout path → exit 1, the service this run created is removed again;
- dry run prints the per-service diff (secrets masked) and changes nothing; fail_on_diff → exit 1;
- prune removes a service the file dropped (only when asked); configs are content-named and old ones collected.

Ports are published in host mode (the ingress routing mesh does not work on these machines) on random free
high ports; services use stop_grace_period 1s and 1s healthchecks so a test takes seconds.
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.engine

BIN = Path(sys.executable).parent / "cs-deploy"
APP_KEY = "SENTINEL-appkey-3f9c"
DOCKERFILE = """FROM {base}
ARG V
ARG HC=ok
RUN mkdir -p /www && echo "version $V" > /www/version && echo "$HC" > /hc
HEALTHCHECK --interval=1s --timeout=2s --retries=2 \\
  CMD grep -q ok /hc && wget -q -O /dev/null http://127.0.0.1:8080/version
CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]
"""
COMPOSE = """services:
  web:
    image: ${REPO}:${TAG}
    stop_grace_period: 1s
    environment:
      APP_SECRET_KEY: ${APP_SECRET_KEY}
      MODE: ${MODE:-prod}
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
WORKER = """  worker:
    image: ${REPO}:1
    stop_grace_period: 1s
    configs:
      - source: app_conf
        target: /etc/app.conf
configs:
  app_conf:
    file: ./app.conf
"""


@pytest.fixture(scope="module")
def images(testbed, swarm, docker_client, busybox_image, tmp_path_factory):
    """app:1, app:2 (healthy), app:bad (its healthcheck fails), pushed to the test bed's registry."""
    registry, user, password = testbed.registry, testbed.user, testbed.password
    repo = f"{registry}/csdtest-{uuid.uuid4().hex[:8]}/app"
    ctx = tmp_path_factory.mktemp("csd-image")
    (ctx / "Dockerfile").write_text(DOCKERFILE.format(base=busybox_image))
    auth = {"username": user, "password": password}
    digests = {}
    for tag, args in (("1", {"V": "1"}), ("2", {"V": "2"}), ("bad", {"V": "3", "HC": "bad"})):
        docker_client.images.build(path=str(ctx), tag=f"{repo}:{tag}", buildargs=args, rm=True)
        for line in docker_client.images.push(repo, tag=tag, auth_config=auth, stream=True, decode=True):
            assert "error" not in line, line
            if "aux" in line and "Digest" in line["aux"]:
                digests[tag] = line["aux"]["Digest"]
    yield {"repo": repo, "user": user, "password": password, "digests": digests}
    for tag in ("1", "2", "bad"):
        try:
            docker_client.images.remove(f"{repo}:{tag}", force=True)
        except Exception:
            pass


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


@pytest.fixture(scope="module")
def _cleanup(swarm, docker_client):
    """Stacks' networks/configs go once at the end (waiting for each stack's containers per test is slow)."""
    names: list[str] = []
    yield names
    labels = [f"com.docker.stack.namespace={n}" for n in names]
    deadline = time.monotonic() + 60      # configs and networks stay "in use" until swarm reaps the tasks
    while time.monotonic() < deadline:
        left = [o for label in labels for kind in (docker_client.configs, docker_client.secrets, docker_client.networks)
                for o in kind.list(filters={"label": label})]
        for obj in left:
            try:
                obj.remove()
            except Exception:
                pass
        if not left:
            break
        time.sleep(0.5)


@pytest.fixture()
def stack(swarm, docker_client, images, tmp_workspace, _cleanup):
    """A unique stack name, its port and workspace; its services are removed afterwards (the rest at the end)."""
    name = f"csdtest{uuid.uuid4().hex[:8]}"
    _cleanup.append(name)
    yield {"name": name, "port": _free_port(), "ws": Path(tmp_workspace)}
    for svc in docker_client.services.list(filters={"label": f"com.docker.stack.namespace={name}"}):
        svc.remove()


def deploy(images, stack, tag, compose=COMPOSE, **extra):
    ws = stack["ws"]
    (ws / "docker-compose.yml").write_text(compose)
    env = {"PATH": os.environ["PATH"], "HOME": str(ws), "DRONE_WORKSPACE": str(ws), "DRONE_BUILD_EVENT": "tag",
           "DRONE_TAG": f"v{tag}", "APP_SECRET_KEY": APP_KEY,
           "PLUGIN_STACK": stack["name"], "PLUGIN_ENV_FROM": "APP_SECRET_KEY",
           "PLUGIN_ENVIRONMENT": json.dumps({"REPO": images["repo"], "TAG": tag, "PORT": stack["port"]}),
           "PLUGIN_REGISTRY_USERNAME": images["user"], "PLUGIN_REGISTRY_PASSWORD": images["password"],
           "PLUGIN_MONITOR": "1s", "PLUGIN_POLL_INTERVAL": "0.3s", "PLUGIN_TIMEOUT": "90s", **extra}
    proc = subprocess.run([str(BIN)], env=env, capture_output=True, text=True, timeout=240)
    output = proc.stdout + proc.stderr
    for secret in (APP_KEY, images["password"]):
        assert secret not in output, "a secret was printed"
    result_file = ws / ".tagship" / "cs-deploy.json"
    result = json.loads(result_file.read_text()) if result_file.exists() else {}
    assert APP_KEY not in json.dumps(result)
    return proc.returncode, output, result


def serves(port: int) -> str:
    """The version the service answers with; a few tries, as a published host port takes a moment to bind."""
    last = None
    for _ in range(20):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/version", timeout=2) as resp:
                return resp.read().decode().strip()
        except OSError as exc:
            last = exc
            time.sleep(0.25)
    raise AssertionError(f"nothing serves on {port}: {last}")


def service(docker_client, stack, name="web"):
    return docker_client.api.inspect_service(f"{stack['name']}_{name}")


def test_fresh_deploy_rerun_and_update(images, stack, docker_client):
    code, out, result = deploy(images, stack, "1")
    assert code == 0, out
    assert serves(stack["port"]) == "version 1"
    spec = service(docker_client, stack)["Spec"]
    assert spec["TaskTemplate"]["ContainerSpec"]["Image"].endswith("@" + images["digests"]["1"])
    assert spec["Labels"]["com.docker.stack.namespace"] == stack["name"]
    env = spec["TaskTemplate"]["ContainerSpec"]["Env"]
    assert f"APP_SECRET_KEY={APP_KEY}" in env and "MODE=prod" in env      # the app gets its secret
    assert result["outcome"] == "deployed" and result["services"][0]["action"] == "create"
    assert result["services"][0]["state"] == "converged"

    version = service(docker_client, stack)["Version"]["Index"]
    code, out, result = deploy(images, stack, "1")
    assert code == 0 and result["outcome"] == "unchanged", out
    assert service(docker_client, stack)["Version"]["Index"] == version     # not touched, not restarted

    # registry-push ran earlier in the pipeline: its result is where the digest comes from
    (stack["ws"] / ".tagship").mkdir(exist_ok=True)
    (stack["ws"] / ".tagship" / "registry-push.json").write_text(json.dumps({
        "plugin": "registry-push", "status": "success", "image": images["repo"], "tags": ["2", "latest"],
        "refs": [f"{images['repo']}:2", f"{images['repo']}:latest"], "digest": images["digests"]["2"]}))
    code, out, result = deploy(images, stack, "2")
    assert code == 0, out
    assert f"{images['digests']['2']} (from the registry-push result)" in out
    assert serves(stack["port"]) == "version 2"
    row = result["services"][0]
    assert row["action"] == "update" and row["old_image"].endswith(images["digests"]["1"])
    assert row["new_image"].endswith(images["digests"]["2"]) and row["state"] == "converged"
    assert result["durations"]["wait"] > 0


def test_failing_healthcheck_rolls_back_and_keeps_serving(images, stack, docker_client):
    assert deploy(images, stack, "1")[0] == 0
    code, out, result = deploy(images, stack, "bad")
    assert code == 1, out
    assert "rolling back web" in out and "back on its previous spec" in out
    assert result["status"] == "failed" and result["rollback"]["state"] == "rolled-back"
    image = service(docker_client, stack)["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
    assert image.endswith("@" + images["digests"]["1"])
    assert serves(stack["port"]) == "version 1"


def test_timeout_removes_what_this_run_created(images, stack, docker_client):
    slow = COMPOSE.replace("    stop_grace_period: 1s\n", "    stop_grace_period: 1s\n    healthcheck:\n      interval: 60s\n", 1)
    assert "interval: 60s" in slow                           # first health check only after a minute
    code, out, result = deploy(images, stack, "1", compose=slow, PLUGIN_TIMEOUT="3s")
    assert code == 1, out
    assert "not converged in time: web" in out
    assert result["outcome"] == "timeout, rolled-back"
    assert not docker_client.services.list(filters={"name": f"{stack['name']}_web"})


def test_dry_run_prints_the_diff_and_changes_nothing(images, stack, docker_client):
    assert deploy(images, stack, "1")[0] == 0
    before = service(docker_client, stack)["Version"]["Index"]
    code, out, result = deploy(images, stack, "2", PLUGIN_DRY_RUN="true",
                               PLUGIN_ENVIRONMENT=json.dumps({"REPO": images["repo"], "TAG": "2", "PORT": stack["port"],
                                                              "MODE": "debug"}),
                               APP_SECRET_KEY="SENTINEL-rotated-key-88")
    assert code == 0, out
    assert "~ web (update)" in out
    assert f"image: {images['repo']}:1@{images['digests']['1']} → {images['repo']}:2@{images['digests']['2']}" in out
    assert "env.MODE: prod → debug" in out and "env.APP_SECRET_KEY: ****** → ******" in out
    assert "SENTINEL-rotated-key-88" not in out
    assert result["outcome"] == "dry-run"
    assert service(docker_client, stack)["Version"]["Index"] == before
    assert serves(stack["port"]) == "version 1"

    code, out, _ = deploy(images, stack, "2", PLUGIN_FAIL_ON_DIFF="true")    # review mode never applies
    assert code == 1 and "would change web" in out
    assert service(docker_client, stack)["Version"]["Index"] == before
    assert deploy(images, stack, "1", PLUGIN_DRY_RUN="true", PLUGIN_FAIL_ON_DIFF="true")[0] == 0


def test_prune_and_content_named_configs(images, stack, docker_client):
    (stack["ws"] / "app.conf").write_text("level=1\n")
    code, out, _ = deploy(images, stack, "1", compose=COMPOSE + WORKER)
    assert code == 0, out
    label = {"label": f"com.docker.stack.namespace={stack['name']}"}
    first = {c.name for c in docker_client.configs.list(filters=label)}
    assert len(first) == 1 and next(iter(first)).startswith(f"{stack['name']}_app_conf_")

    (stack["ws"] / "app.conf").write_text("level=2\n")      # a changed config → a new name, the old one collected
    code, out, result = deploy(images, stack, "1", compose=COMPOSE + WORKER)
    assert code == 0, out
    assert [r["service"] for r in result["services"] if r["action"] == "update"] == ["worker"]
    second = {c.name for c in docker_client.configs.list(filters=label)}
    assert len(second) == 1 and second != first

    code, out, result = deploy(images, stack, "1")           # worker dropped from the file, no prune
    assert code == 0 and service(docker_client, stack, "worker")
    code, out, result = deploy(images, stack, "1", PLUGIN_PRUNE="true")
    assert code == 0, out
    assert result["removed"] == ["worker"] and "- worker (remove)" in out
    assert not docker_client.services.list(filters={"name": f"{stack['name']}_worker"})
    assert serves(stack["port"]) == "version 1"


def test_health_gate_passes_or_rolls_back(images, stack, docker_client):
    url = f"http://127.0.0.1:{stack['port']}/version"
    code, out, result = deploy(images, stack, "1", PLUGIN_HEALTH_URL=url, PLUGIN_HEALTH_BODY="^version 1$")
    assert code == 0 and "health gate passed" in out, out
    code, out, result = deploy(images, stack, "2", PLUGIN_HEALTH_URL=url, PLUGIN_HEALTH_BODY="^version 9$",
                               PLUGIN_HEALTH_RETRIES="2", PLUGIN_HEALTH_INTERVAL="0.2s")
    assert code == 1, out
    assert "health gate" in result["error"] and "does not match" in result["error"]
    assert result["rollback"]["state"] == "rolled-back" and "gate" in result["durations"]
    assert serves(stack["port"]) == "version 1"


def test_engine_refusing_a_later_service_rolls_back_the_earlier_ones(images, stack, docker_client):
    assert deploy(images, stack, "1")[0] == 0
    broken = COMPOSE + """  worker:
    image: ${REPO}:1
    deploy:
      restart_policy:
        condition: sometimes
"""
    code, out, result = deploy(images, stack, "2", compose=broken)
    assert code == 1, out
    assert "the engine refused the change" in result["error"] and result["touched"] == ["web"]
    assert result["rollback"]["state"] == "rolled-back"
    image = service(docker_client, stack)["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
    assert image.endswith("@" + images["digests"]["1"])
    assert not docker_client.services.list(filters={"name": f"{stack['name']}_worker"})
    assert serves(stack["port"]) == "version 1"


def test_cancelled_step_puts_the_service_back(images, stack, docker_client):
    """Drone cancels a step with SIGTERM: the rollout in progress is reverted, not left half-done."""
    assert deploy(images, stack, "1")[0] == 0
    slow = COMPOSE.replace("    stop_grace_period: 1s\n", "    stop_grace_period: 1s\n    healthcheck:\n      interval: 60s\n", 1)
    ws = stack["ws"]
    (ws / "docker-compose.yml").write_text(slow)
    env = {"PATH": os.environ["PATH"], "HOME": str(ws), "DRONE_WORKSPACE": str(ws), "APP_SECRET_KEY": APP_KEY,
           "PLUGIN_STACK": stack["name"], "PLUGIN_ENV_FROM": "APP_SECRET_KEY",
           "PLUGIN_ENVIRONMENT": json.dumps({"REPO": images["repo"], "TAG": "2", "PORT": stack["port"]}),
           "PLUGIN_REGISTRY_USERNAME": images["user"], "PLUGIN_REGISTRY_PASSWORD": images["password"],
           "PLUGIN_POLL_INTERVAL": "0.3s", "PLUGIN_TIMEOUT": "120s"}
    proc = subprocess.Popen([str(BIN)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "running (swarm is updating)" in line:     # the rollout is under way
            proc.send_signal(15)
            break
    out = "".join(lines) + proc.stdout.read()
    assert proc.wait(timeout=60) == 143, out
    assert "cancelled during the rollout; putting web back" in out and APP_KEY not in out
    image = service(docker_client, stack)["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
    assert image.endswith("@" + images["digests"]["1"])
    for _ in range(60):                                  # swarm finishes the revert even if the step was killed
        if serves_once(stack["port"]) == "version 1":
            break
        time.sleep(0.5)
    assert serves(stack["port"]) == "version 1"


def serves_once(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/version", timeout=2) as resp:
            return resp.read().decode().strip()
    except OSError:
        return None
