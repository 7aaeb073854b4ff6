"""cs-deploy on a real 3-node swarm (scripts/cluster.sh: three dockerds in network namespaces, node1 the manager),
with a private image in the cluster's TLS + htpasswd registry, so every worker pulls with the forwarded auth.

The cluster is broken for real (a node SIGKILLed, drained, cut off from the registry, a second node with a
duplicate hostname) and always restored in a `finally`. The kernel has no IPVS, so services use
`endpoint_mode: dnsrr` and are probed over the overlay from a container on it.

Marker `cluster`; the tests fail (never skip) when the cluster is down: `make testbed CLUSTER=3`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

import conftest

pytestmark = [pytest.mark.engine, pytest.mark.cluster]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent / "cs-deploy"
CLUSTER_SH = ROOT / "scripts" / "cluster.sh"
HINT = "run `make testbed CLUSTER=3` (bash scripts/testbed.sh up --cluster 3) first"
DOCKERFILE = """FROM {base}
ARG V
RUN mkdir -p /www && echo "version $V" > /www/version
HEALTHCHECK --interval=1s --timeout=2s --retries=2 CMD wget -q -O /dev/null http://127.0.0.1:8080/version
CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]
"""
COMPOSE = """services:
  web:
    image: ${REPO}:${TAG}
    stop_grace_period: 1s
    networks: [net]
    deploy:
      endpoint_mode: dnsrr
      replicas: {REPLICAS}
      placement:
        max_replicas_per_node: {MAXPER}
        constraints: ["{CONSTRAINT}"]
      update_config:
        order: start-first
        parallelism: 1
        delay: {DELAY}
        failure_action: pause
        monitor: 1s
networks:
  net:
    driver: overlay
    attachable: true
"""


def csh(*args: str, timeout: float = 120) -> str:
    env = {**os.environ, "TAGSHIP_TESTBED_DIR": str(conftest.testbed_dir())}
    proc = subprocess.run(["bash", str(CLUSTER_SH), *args], env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"cluster.sh {' '.join(args)}: {proc.stdout}{proc.stderr}"
    return proc.stdout


def poll(what: str, check, timeout: float = 60.0, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f}s: {what}")
        time.sleep(every)


@pytest.fixture(scope="module")
def cluster(testbed):
    import docker

    env_file = conftest.testbed_dir() / "cluster" / "env"
    if not env_file.is_file():
        pytest.fail(f"the cluster is not up: {env_file} is missing; {HINT}", pytrace=False)
    env = conftest.read_env_file(env_file)
    try:
        api = docker.APIClient(base_url=env["TAGSHIP_CLUSTER_MANAGER"], timeout=60)
        nodes = api.nodes()
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"the cluster's manager is not answering ({exc}); {HINT}", pytrace=False)
    ready = [n for n in nodes if n["Status"]["State"] == "ready" and n["Spec"]["Availability"] == "active"]
    if len(ready) < 3:
        pytest.fail(f"the cluster has {len(ready)} ready nodes, not 3; {HINT}", pytrace=False)
    yield {"env": env, "api": api, "manager": env["TAGSHIP_CLUSTER_MANAGER"], "registry": env["TAGSHIP_CLUSTER_REGISTRY"],
           "user": env["TAGSHIP_CLUSTER_REGISTRY_USER"], "password": env["TAGSHIP_CLUSTER_REGISTRY_PASSWORD"]}
    api.close()


@pytest.fixture(scope="module")
def images(cluster, docker_client, busybox_image, tmp_path_factory):
    """app:1, app:2 and app:cut (only ever pulled by the cut-off node) in the cluster's private registry."""
    repo = f"{cluster['registry']}/csc-{uuid.uuid4().hex[:8]}/app"
    ctx = tmp_path_factory.mktemp("csc-image")
    (ctx / "Dockerfile").write_text(DOCKERFILE.format(base=busybox_image))
    auth = {"username": cluster["user"], "password": cluster["password"]}
    for tag in ("1", "2", "cut"):
        docker_client.images.build(path=str(ctx), tag=f"{repo}:{tag}", buildargs={"V": tag}, rm=True)
        for line in docker_client.images.push(repo, tag=tag, auth_config=auth, stream=True, decode=True):
            assert "error" not in line, line
    yield repo
    for tag in ("1", "2", "cut"):
        try:
            docker_client.images.remove(f"{repo}:{tag}", force=True)
        except Exception:  # noqa: BLE001
            pass


@pytest.fixture()
def stack(cluster, tmp_workspace):
    """A unique stack; its services, then (once swarm reaped the tasks) its network go afterwards."""
    name = f"csc{uuid.uuid4().hex[:8]}"
    yield {"name": name, "ws": Path(tmp_workspace)}
    api = cluster["api"]
    for svc in api.services(filters={"label": f"com.docker.stack.namespace={name}"}):
        api.remove_service(svc["ID"])

    def gone():
        for net in api.networks(filters={"label": f"com.docker.stack.namespace={name}"}):
            try:
                api.remove_network(net["Id"])
            except Exception:  # noqa: BLE001 — still in use while tasks are reaped
                pass
        return not api.networks(filters={"label": f"com.docker.stack.namespace={name}"})
    poll(f"stack {name}'s network removed", gone, timeout=90)


def deploy(cluster, images, stack, tag, **extra):
    ws = stack["ws"]
    shape = {"REPLICAS": "3", "MAXPER": "3", "CONSTRAINT": "node.role!=nobody", "DELAY": "0s",
             **{k: v for k, v in extra.items() if not k.startswith("PLUGIN_")}}
    text = COMPOSE
    for key, value in shape.items():
        text = text.replace("{" + key + "}", value)
    (ws / "docker-compose.yml").write_text(text)
    variables = {"REPO": images, "TAG": tag}
    env = {"PATH": os.environ["PATH"], "HOME": str(ws), "DRONE_WORKSPACE": str(ws), "DRONE_BUILD_EVENT": "tag",
           "DRONE_TAG": f"v{tag}", "PLUGIN_STACK": stack["name"], "PLUGIN_DOCKER_HOST": cluster["manager"],
           "PLUGIN_ENVIRONMENT": json.dumps(variables),
           "PLUGIN_REGISTRY_USERNAME": cluster["user"], "PLUGIN_REGISTRY_PASSWORD": cluster["password"],
           "PLUGIN_MONITOR": "2s", "PLUGIN_POLL_INTERVAL": "0.5s", "PLUGIN_TIMEOUT": "120s",
           **{k: v for k, v in extra.items() if k.startswith("PLUGIN_")}}
    proc = subprocess.run([str(BIN)], env=env, capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)
    output = proc.stdout + proc.stderr
    assert cluster["password"] not in output, "the registry password was printed"
    result_file = ws / ".tagship" / "cs-deploy.json"
    result = json.loads(result_file.read_text()) if result_file.exists() else {}
    return proc.returncode, output, result


def running_on(cluster, stack) -> dict[str, str]:
    """task ID -> hostname of the web service's running tasks."""
    api = cluster["api"]
    hosts = {n["ID"]: n["Description"]["Hostname"] for n in api.nodes()}
    tasks = api.tasks(filters={"service": f"{stack['name']}_web", "desired-state": "running"})
    return {t["ID"]: hosts.get(t["NodeID"], "?") for t in tasks if t["Status"]["State"] == "running"}


def probe(cluster, stack, seconds: float = 0) -> list[str]:
    """From a container on the stack's overlay network: every replica's answer (DNS round robin, tasks.web).
    With seconds, keeps asking `web` every 0.2 s for that long and returns every answer (or FAIL)."""
    net = f"{stack['name']}_net"
    if seconds:
        script = (f"end=$(( $(date +%s) + {int(seconds)} )); while [ $(date +%s) -lt $end ]; do "
                  "timeout 2 wget -q -O- http://web:8080/version || echo FAIL; sleep 0.2; done")
    else:
        script = ("for ip in $(nslookup tasks.web 2>/dev/null | awk '/^Name:/ {n=1} n && /^Address/ {print $NF}'); do "
                  "for try in 1 2 3 4 5; do timeout 2 wget -q -O- http://$ip:8080/version && break; sleep 1; done "
                  "|| echo FAIL; done")
    proc = subprocess.run(["docker", "-H", cluster["manager"], "run", "--rm", "--network", net,
                           "tagship/busybox:latest", "sh", "-c", script], capture_output=True, text=True,
                          timeout=seconds + 60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split("\n")


def answers(lines):
    return sorted(line for line in lines if line)


def test_tasks_spread_over_nodes_workers_pull_the_private_image_and_a_start_first_update_keeps_answering(
        cluster, images, stack):
    code, out, result = deploy(cluster, images, stack, "1", MAXPER="1")
    assert code == 0, out
    assert sorted(result["services"][0]["nodes"]) == ["tsc-node1", "tsc-node2", "tsc-node3"], result
    assert sorted(running_on(cluster, stack).values()) == ["tsc-node1", "tsc-node2", "tsc-node3"]
    assert answers(probe(cluster, stack)) == ["version 1"] * 3      # each node's replica answers over the overlay

    seen: list[str] = []
    prober = threading.Thread(target=lambda: seen.extend(probe(cluster, stack, seconds=25)))
    prober.start()
    time.sleep(3)
    code, out, result = deploy(cluster, images, stack, "2", MAXPER="2")   # start-first needs room for 2 per node
    prober.join()
    assert code == 0, out
    assert answers(probe(cluster, stack)) == ["version 2"] * 3
    got = answers(seen)
    assert "FAIL" not in got and "version 1" in got and "version 2" in got, got


def test_max_replicas_per_node_and_constraints_and_an_unplaceable_replica(cluster, images, stack):
    code, out, result = deploy(cluster, images, stack, "1", REPLICAS="2", MAXPER="1", CONSTRAINT="node.role==worker")
    assert code == 0, out
    assert sorted(running_on(cluster, stack).values()) == ["tsc-node2", "tsc-node3"]
    # a third replica: no worker may take a second one
    code, out, result = deploy(cluster, images, stack, "1", REPLICAS="3", MAXPER="1", CONSTRAINT="node.role==worker",
                               PLUGIN_TIMEOUT="90s")
    assert code == 1, out
    assert "cannot be placed" in out and "no suitable node" in out, out
    assert "rolled-back" in result["outcome"], result
    spec = cluster["api"].inspect_service(f"{stack['name']}_web")["Spec"]
    assert spec["Mode"]["Replicated"]["Replicas"] == 2
    assert sorted(poll("2 replicas running after the rollback",
                       lambda: len(running_on(cluster, stack)) == 2 and running_on(cluster, stack))
                  .values()) == ["tsc-node2", "tsc-node3"]


def test_a_worker_cut_off_from_the_registry_is_named(cluster, images, stack):
    rule = ["OUTPUT", "-d", cluster["registry"].split(":")[0], "-p", "tcp", "--dport", cluster["registry"].split(":")[1],
            "-j", "REJECT"]
    ns = ["nsenter", "--net=/run/netns/tsc-node3", "iptables"]
    subprocess.run(ns + ["-I", *rule], check=True)
    try:
        code, out, result = deploy(cluster, images, stack, "cut", REPLICAS="1", CONSTRAINT="node.hostname==tsc-node3")
    finally:
        subprocess.run(ns + ["-D", *rule], check=True)
    assert code == 1, out
    assert "on node tsc-node3" in out, out


def test_a_drained_node_gets_no_tasks_and_preflight_names_it(cluster, images, stack):
    api = cluster["api"]
    node = api.inspect_node("tsc-node2")
    spec = {**node["Spec"], "Availability": "drain"}
    api.update_node(node["ID"], node["Version"]["Index"], spec)
    try:
        code, out, result = deploy(cluster, images, stack, "1", PLUGIN_PREFLIGHT="enforce")
        assert code == 1 and "preflight failed: node tsc-node2 is drain" in out, out
        assert not api.services(filters={"name": f"{stack['name']}_web"})      # nothing was changed
        code, out, result = deploy(cluster, images, stack, "1")
        assert code == 0, out
        assert "preflight: node tsc-node2 is drain" in out
        assert sorted(result["services"][0]["nodes"]) == ["tsc-node1", "tsc-node3"], result
    finally:
        node = api.inspect_node("tsc-node2")
        api.update_node(node["ID"], node["Version"]["Index"], {**node["Spec"], "Availability": "active"})


def _node_state(cluster, host):
    states = [n["Status"]["State"] for n in cluster["api"].nodes() if n["Description"]["Hostname"] == host]
    return states[0] if len(states) == 1 else None


def test_a_stopped_node_fails_preflight_and_its_tasks_go_elsewhere(cluster, images, stack):
    csh("stop-node", "3")
    try:
        poll("tsc-node3 down in the manager's view", lambda: _node_state(cluster, "tsc-node3") == "down", timeout=60)
        code, out, result = deploy(cluster, images, stack, "1", PLUGIN_PREFLIGHT="enforce")
        assert code == 1 and "preflight failed: node tsc-node3 is down" in out, out
        code, out, result = deploy(cluster, images, stack, "1")
        assert code == 0, out
        assert sorted(set(result["services"][0]["nodes"])) == ["tsc-node1", "tsc-node2"], result
    finally:
        csh("start-node", "3")
        poll("tsc-node3 ready again", lambda: _node_state(cluster, "tsc-node3") == "ready", timeout=90)


def test_a_duplicate_hostname_fails_preflight(cluster, images, stack):
    try:
        csh("add-node", "4", "--hostname", "tsc-node2")
        poll("a second ready tsc-node2", lambda: sum(1 for n in cluster["api"].nodes()
                                                     if n["Description"]["Hostname"] == "tsc-node2"
                                                     and n["Status"]["State"] == "ready") == 2, timeout=60)
        code, out, result = deploy(cluster, images, stack, "1", PLUGIN_PREFLIGHT="enforce")
        assert code == 1 and "2 nodes share the hostname tsc-node2" in out, out
    finally:
        csh("remove-node", "4")
        poll("node 4 gone", lambda: sum(1 for n in cluster["api"].nodes()
                                         if n["Description"]["Hostname"] == "tsc-node2") == 1, timeout=60)


def _hosts(cluster, host):
    return [n for n in cluster["api"].nodes() if n["Description"]["Hostname"] == host]


def test_a_node_on_an_older_engine_is_reported_and_fails_enforce(cluster, images, stack):
    """node5 runs Debian bullseye's dockerd (20.10.5, fetched and cached by cluster.sh up) beside bookworm's."""
    old_dockerd = cluster["env"].get("TAGSHIP_CLUSTER_OLD_DOCKERD")
    if not old_dockerd or not Path(old_dockerd).is_file():
        pytest.fail(f"no older dockerd in the cluster env ({old_dockerd!r}); {HINT}", pytrace=False)
    new = cluster["api"].version()["Version"]
    try:
        csh("add-node", "5", "--dockerd", old_dockerd)
        poll("tsc-node5 ready", lambda: [n["Status"]["State"] for n in _hosts(cluster, "tsc-node5")] == ["ready"],
             timeout=90)
        old = _hosts(cluster, "tsc-node5")[0]["Description"]["Engine"]["EngineVersion"]
        assert old.startswith("20.10.5") and old != new, (old, new)
        differ = f"engine versions differ across nodes: {new} on tsc-node1, tsc-node2, tsc-node3; {old} on tsc-node5"
        code, out, result = deploy(cluster, images, stack, "1", PLUGIN_PREFLIGHT="enforce")
        assert code == 1 and f"preflight failed: {differ}" in out, out
        assert not cluster["api"].services(filters={"name": f"{stack['name']}_web"})   # nothing was changed
        code, out, result = deploy(cluster, images, stack, "1", PLUGIN_PREFLIGHT="warn")
        assert code == 0, out
        assert f"preflight: {differ}" in out, out
    finally:
        csh("remove-node", "5")
        poll("tsc-node5 gone from the swarm", lambda: not _hosts(cluster, "tsc-node5"), timeout=60)


def test_a_worker_killed_mid_rollout_is_never_green_on_a_half_done_rollout(cluster, images, stack):
    # no per-node limit here: the two live nodes must be able to take node3's replicas (and start-first's extra)
    code, out, _ = deploy(cluster, images, stack, "1", REPLICAS="3")
    assert code == 0, out
    box = {}
    # swarm may stall on the dead node's old task: a 45 s budget bounds the wait (red and rolled back is right then)
    rollout = threading.Thread(target=lambda: box.update(r=deploy(cluster, images, stack, "2", REPLICAS="3",
                                                                  DELAY="2s", PLUGIN_TIMEOUT="45s")))
    rollout.start()
    try:
        poll("the rollout under way", lambda: any(
            t["Spec"]["ContainerSpec"]["Image"].split("@")[0].endswith(":2")
            for t in cluster["api"].tasks(filters={"service": f"{stack['name']}_web"})), timeout=60, every=0.2)
        csh("stop-node", "3")
        rollout.join(timeout=300)
        code, out, result = box["r"]
        api = cluster["api"]
        spec_image = api.inspect_service(f"{stack['name']}_web")["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
        if code == 0:       # green only if every replica runs the new spec on a live node
            assert ":2@" in spec_image
            hosts = {n["ID"]: (n["Description"]["Hostname"], n["Status"]["State"]) for n in api.nodes()}
            live = [t for t in api.tasks(filters={"service": f"{stack['name']}_web", "desired-state": "running"})
                    if t["Status"]["State"] == "running" and hosts[t["NodeID"]][1] == "ready"]
            assert len(live) >= 3 and all(":2@" in t["Spec"]["ContainerSpec"]["Image"] for t in live), out
        else:               # or red, and back on the old spec
            assert code == 1 and "rolled-back" in result["outcome"], out
            assert ":1@" in spec_image
    finally:
        csh("start-node", "3")
        poll("tsc-node3 ready again", lambda: _node_state(cluster, "tsc-node3") == "ready", timeout=90)

