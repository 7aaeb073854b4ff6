"""cs-deploy on the real swarm keeps named and external objects by their names (issue 10's data-loss path):

- an external volume and a ``name:`` volume holding data are mounted as they are (the service sees the data;
  no ``<stack>_…`` volume appears);
- a missing external volume or network is exit 2 naming it, before anything changes (no service created);
- a service on an undeclared network is exit 2 naming the network;
- a replicated-job converges on its completions, is not re-run when unchanged, and a job whose tasks keep
  failing is exit 1 (and removed again, as this run created it).

The image is the test bed's local busybox (``allow_floating``: no registry digest to pin). Every object has a
unique ``i10t…`` name and is removed at the end, waiting until swarm let go of it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.engine

BIN = Path(sys.executable).parent / "cs-deploy"


@pytest.fixture()
def ctx(swarm, docker_client, busybox_image, tmp_workspace):
    uid = uuid.uuid4().hex[:8]
    made = {"uid": uid, "stack": f"i10t{uid}", "ws": Path(tmp_workspace), "image": busybox_image,
            "volumes": [], "networks": []}
    yield made
    api = docker_client.api
    label = f"com.docker.stack.namespace={made['stack']}"
    for svc in api.services(filters={"label": label}):
        api.remove_service(svc["ID"])
    deadline = time.monotonic() + 90       # volumes and networks stay in use until swarm reaps the containers
    while time.monotonic() < deadline:
        left = [c for c in docker_client.containers.list(all=True, filters={"label": label})]
        for c in left:
            try:
                c.remove(force=True)
            except Exception:
                pass
        if not left:
            break
        time.sleep(0.5)
    for net in api.networks(filters={"label": label}) + [{"Id": n} for n in made["networks"]]:
        _retry(lambda: api.remove_network(net["Id"]), deadline)
    for vol in made["volumes"]:
        _retry(lambda: api.remove_volume(vol), deadline)


def _retry(action, deadline: float) -> None:
    import docker

    while True:
        try:
            action()
            return
        except docker.errors.NotFound:
            return
        except docker.errors.APIError:
            if time.monotonic() > deadline:
                return
            time.sleep(0.5)


def run(ctx, compose: str, **extra) -> tuple[int, str]:
    ws = ctx["ws"]
    (ws / "docker-compose.yml").write_text(compose)
    env = {"PATH": os.environ["PATH"], "HOME": str(ws), "DRONE_WORKSPACE": str(ws), "PLUGIN_STACK": ctx["stack"],
           "PLUGIN_ALLOW_FLOATING": "true", "PLUGIN_MONITOR": "0s", "PLUGIN_POLL_INTERVAL": "0.3s",
           "PLUGIN_TIMEOUT": "90s", "PLUGIN_LINT": "off",
           "PLUGIN_ENVIRONMENT": json.dumps({"IMAGE": ctx["image"], "U": ctx["uid"]}), **extra}
    proc = subprocess.run([str(BIN)], env=env, capture_output=True, text=True, timeout=200,
                          stdin=subprocess.DEVNULL)
    return proc.returncode, proc.stdout + proc.stderr


def _volume_with_marker(docker_client, ctx, name: str) -> None:
    docker_client.volumes.create(name)
    ctx["volumes"].append(name)
    docker_client.containers.run(ctx["image"], ["sh", "-c", "echo kept > /v/marker"], remove=True,
                                 volumes={name: {"bind": "/v", "mode": "rw"}})


def _services(docker_client, ctx) -> list:
    return docker_client.api.services(filters={"label": f"com.docker.stack.namespace={ctx['stack']}"})


KEEP = """services:
  app:
    image: ${IMAGE}
    command: ["sh", "-c", "cat /ext/marker /named/marker && sleep 3600"]
    stop_grace_period: 1s
    healthcheck: {test: "test -f /ext/marker && test -f /named/marker", interval: 1s, retries: 3}
    volumes: ["ext:/ext", "named:/named"]
volumes:
  ext: {external: true, name: "i10t${U}-ext"}
  named: {name: "i10t${U}-named"}
"""


def test_external_and_named_volumes_keep_their_data(ctx, docker_client):
    uid = ctx["uid"]
    _volume_with_marker(docker_client, ctx, f"i10t{uid}-ext")
    _volume_with_marker(docker_client, ctx, f"i10t{uid}-named")
    code, out = run(ctx, KEEP)
    assert code == 0, out
    spec = docker_client.api.inspect_service(f"{ctx['stack']}_app")["Spec"]
    sources = {m["Target"]: m["Source"] for m in spec["TaskTemplate"]["ContainerSpec"]["Mounts"]}
    assert sources == {"/ext": f"i10t{uid}-ext", "/named": f"i10t{uid}-named"}
    assert not [v for v in docker_client.volumes.list() if v.name.startswith(ctx["stack"] + "_")]


def test_missing_external_volume_or_network_is_exit_2_before_any_change(ctx, docker_client):
    compose = KEEP.replace('named: {name: "i10t${U}-named"}', 'named: {}')
    code, out = run(ctx, compose)
    assert code == 2, out
    assert f"external volume i10t{ctx['uid']}-ext does not exist" in out
    net = """services:
  app: {image: "${IMAGE}", command: ["sleep", "3600"], networks: [edge]}
networks:
  edge: {external: true, name: "i10t${U}-edge"}
"""
    code, out = run(ctx, net)
    assert code == 2, out
    assert f"external network i10t{ctx['uid']}-edge does not exist" in out
    assert _services(docker_client, ctx) == []
    assert docker_client.api.networks(filters={"label": f"com.docker.stack.namespace={ctx['stack']}"}) == []


def test_undeclared_network_is_exit_2_naming_it(ctx, docker_client):
    code, out = run(ctx, """services:
  app: {image: "${IMAGE}", command: ["sleep", "3600"], networks: [backend]}
""")
    assert code == 2, out
    assert "network 'backend' is not declared" in out and "Traceback" not in out
    assert _services(docker_client, ctx) == []


JOB = """services:
  migrate:
    image: ${IMAGE}
    command: ["sh", "-c", "%s"]
    deploy:
      mode: replicated-job
      replicas: 2
      restart_policy: {condition: on-failure, delay: 100ms}
"""


def test_a_job_converges_on_completions_and_is_not_rerun_when_unchanged(ctx, docker_client):
    code, out = run(ctx, JOB % "echo migrated")
    assert code == 0, out
    service = docker_client.api.inspect_service(f"{ctx['stack']}_migrate")
    assert service["Spec"]["Mode"] == {"ReplicatedJob": {"MaxConcurrent": 2, "TotalCompletions": 2}}
    done = [t for t in docker_client.api.tasks(filters={"service": service["ID"]})
            if t["Status"]["State"] == "complete"]
    assert len(done) == 2
    code, out = run(ctx, JOB % "echo migrated")
    assert code == 0 and "already runs this spec" in out, out
    assert docker_client.api.inspect_service(service["ID"])["Version"] == service["Version"]


def test_a_job_whose_tasks_keep_failing_is_exit_1(ctx, docker_client):
    code, out = run(ctx, JOB % "exit 3")
    assert code == 1, out
    assert "job tasks failed" in out
    assert _services(docker_client, ctx) == []       # created by this run: removed again
