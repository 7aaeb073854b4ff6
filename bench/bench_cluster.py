"""cs-deploy against `docker stack deploy --detach=false` on the real 3-node cluster (scripts/cluster.sh), same file.

One compose file for everyone: 3 replicas of a busybox httpd from the cluster's TLS + htpasswd registry
(10.213.0.1:5445, so every worker pulls with the forwarded auth), one per node (`max_replicas_per_node: 1`, so
every node has the overlay from v1 on: a task landing on a node for the first time during an update can hit
swarm's "failed to find a load balancer IP" race), `endpoint_mode: dnsrr` on an overlay network (the kernel has
no IPVS), a 1 s healthcheck (in the image, as in tests/integration/test_cs_deploy_cluster.py), and
`update_config: order: stop-first, parallelism: 1, monitor: 2s`. Each contender has its own stack, deployed at
v1 first; then every round is one release per contender (v1 → v2, v2 → v1, ...), in an order that rotates round
by round, all against the same manager:

- cs-deploy with its stability window equal to the file's `update_config.monitor` (2 s, the window the CLI
  also waits), and cs-deploy at its default window (5 s);
- `docker stack deploy --with-registry-auth --detach=false` (the CLI waits for every service to converge).

Measured per release: (a) the step's total time, (b) the time from the last task of the new spec turning healthy
(swarm marks a task `running` only once its healthcheck passes; the timestamp comes from the node's agent, and
all nodes share this machine's clock) to the tool's exit. Also: the exit code and whether all 3 replicas ran
the new image on 3 nodes when the tool returned. Prints medians and ratios to the CLI's figures.

    .venv/bin/python bench/bench_cluster.py [--rounds 3] [--smoke]

Needs the cluster: `make testbed CLUSTER=3` (uses $TAGSHIP_TESTBED_DIR, default .testbed). Stacks, networks and
images (on the host and on every node) are removed at the end; the images stay in the cluster registry under a
unique repository name (the registry has no delete API enabled).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin" / "cs-deploy"
BASE = os.environ.get("TAGSHIP_BUSYBOX_IMAGE", "tagship/busybox:latest")
REPLICAS = 3
WINDOW = "2s"   # update_config.monitor in the file; cs-deploy "matched" uses the same window
DOCKERFILE = f"""FROM {BASE}
ARG V
RUN mkdir -p /www && echo "version $V" > /www/version
HEALTHCHECK --interval=1s --timeout=2s --retries=2 CMD wget -q -O /dev/null http://127.0.0.1:8080/version
CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]
"""
COMPOSE = f"""services:
  web:
    image: ${{REPO}}:${{TAG}}
    stop_grace_period: 1s
    networks: [net]
    deploy:
      endpoint_mode: dnsrr
      replicas: {REPLICAS}
      placement:
        max_replicas_per_node: 1
      update_config:
        order: stop-first
        parallelism: 1
        failure_action: pause
        monitor: {WINDOW}
networks:
  net:
    driver: overlay
"""
CONTENDERS = ("cs-deploy", "cs-deploy@5s", "stack-wait")


def read_env(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line.startswith("export "):
            line = line[7:]
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            out[key] = value.strip("'\"")
    return out


def sh(*cmd: str, env: dict[str, str] | None = None, stdin: str | None = None,
       timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=env, input=stdin if stdin is not None else "", capture_output=True, text=True,
                          timeout=timeout)


def poll(what: str, check, timeout: float = 90.0, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while not (got := check()):
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: not within {timeout:.0f}s: {what}")
        time.sleep(every)
    return got


def epoch(stamp: str) -> float:
    """Swarm's RFC 3339 timestamp with nanoseconds → seconds since the epoch."""
    head, _, frac = stamp.rstrip("Z").partition(".")
    return dt.datetime.fromisoformat(head).replace(tzinfo=dt.timezone.utc).timestamp() + float("0." + (frac or "0"))


class Contender:
    def __init__(self, kind: str, cl: dict[str, str], repo: str, work: Path):
        self.kind, self.cl, self.repo = kind, cl, repo
        self.stack = f"tscbench{kind.replace('-', '').replace('@', '')}{uuid.uuid4().hex[:6]}"
        self.ws = work / self.stack
        self.ws.mkdir()
        (self.ws / "docker-compose.yml").write_text(COMPOSE)
        self.config = work / "docker-config"

    def release(self, tag: str) -> tuple[int, float, float, str]:
        """Deploy tag; (exit code, seconds, epoch of the exit, output tail)."""
        env = {"PATH": os.environ["PATH"], "HOME": str(self.ws), "REPO": self.repo, "TAG": tag}
        if self.kind.startswith("cs-deploy"):
            env.update({"DRONE_WORKSPACE": str(self.ws), "DRONE_BUILD_EVENT": "tag", "DRONE_TAG": f"v{tag}",
                        "PLUGIN_STACK": self.stack,
                        "PLUGIN_DOCKER_HOST": self.cl["TAGSHIP_CLUSTER_MANAGER"],
                        "PLUGIN_ENVIRONMENT": json.dumps({"REPO": self.repo, "TAG": tag}),
                        "PLUGIN_REGISTRY_USERNAME": self.cl["TAGSHIP_CLUSTER_REGISTRY_USER"],
                        "PLUGIN_REGISTRY_PASSWORD": self.cl["TAGSHIP_CLUSTER_REGISTRY_PASSWORD"],
                        "PLUGIN_MONITOR": "5s" if self.kind.endswith("@5s") else WINDOW,
                        "PLUGIN_POLL_INTERVAL": "0.3s", "PLUGIN_TIMEOUT": "180s"})
            cmd = [str(BIN)]
        else:
            env["DOCKER_HOST"] = self.cl["TAGSHIP_CLUSTER_MANAGER"]
            cmd = ["docker", "--config", str(self.config), "stack", "deploy", "--detach=false",
                   "--with-registry-auth", "-c", str(self.ws / "docker-compose.yml"), self.stack]
        start = time.monotonic()
        proc = sh(*cmd, env=env)
        took, end = time.monotonic() - start, time.time()
        out = (proc.stdout + proc.stderr).replace(self.cl["TAGSHIP_CLUSTER_REGISTRY_PASSWORD"], "***")
        return proc.returncode, took, end, out[-1500:]


DIGESTS: dict[str, str] = {}   # tag -> digest pushed (a tool may pin the image as repo@digest)


def new_tasks(api, stack: str, tag: str) -> list[dict]:
    """Running tasks of the web service whose image is the released tag."""
    def is_tag(image: str) -> bool:
        return image.split("@")[0].endswith(f":{tag}") or (tag in DIGESTS and image.endswith("@" + DIGESTS[tag]))
    tasks = api.tasks(filters={"service": f"{stack}_web", "desired-state": "running"})
    return [t for t in tasks if t["Status"]["State"] == "running" and is_tag(t["Spec"]["ContainerSpec"]["Image"])]


def build_and_push(cl: dict[str, str], repo: str, work: Path) -> None:
    (work / "ctx").mkdir()
    (work / "ctx" / "Dockerfile").write_text(DOCKERFILE)
    for tag in ("1", "2"):
        res = sh("docker", "build", "-q", "--build-arg", f"V={tag}", "-t", f"{repo}:{tag}", str(work / "ctx"))
        if res.returncode:
            raise SystemExit(f"bench: docker build failed: {res.stderr.strip()}")
    login = sh("docker", "--config", str(work / "docker-config"), "login", "-u", cl["TAGSHIP_CLUSTER_REGISTRY_USER"],
               "--password-stdin", cl["TAGSHIP_CLUSTER_REGISTRY"], stdin=cl["TAGSHIP_CLUSTER_REGISTRY_PASSWORD"])
    if login.returncode:
        raise SystemExit(f"bench: docker login to {cl['TAGSHIP_CLUSTER_REGISTRY']} failed: {login.stderr.strip()}")
    for tag in ("1", "2"):
        res = sh("docker", "--config", str(work / "docker-config"), "push", f"{repo}:{tag}")
        if res.returncode:
            raise SystemExit(f"bench: docker push failed: {res.stderr.strip()}")
        DIGESTS[tag] = next((w for w in res.stdout.split() if w.startswith("sha256:")), "?")


def cleanup(api, cl: dict[str, str], contenders: list[Contender], repo: str) -> None:
    import docker

    for c in contenders:
        for svc in api.services(filters={"label": f"com.docker.stack.namespace={c.stack}"}):
            api.remove_service(svc["ID"])
    nodes = [cl[k] for k in sorted(cl) if k.startswith("TAGSHIP_CLUSTER_NODE") and k[-1].isdigit()]
    for url in nodes:
        node = docker.APIClient(base_url=url, timeout=60)
        for c in contenders:     # swarm reaps the task containers asynchronously
            poll(f"{c.stack}'s containers gone from {url}", lambda: not node.containers(
                all=True, filters={"label": f"com.docker.stack.namespace={c.stack}"}))
        for image in node.images(all=True):
            refs = (image.get("RepoTags") or []) + (image.get("RepoDigests") or [])
            if any(r.startswith(repo + ":") or r.startswith(repo + "@") for r in refs):
                node.remove_image(image["Id"], force=True)
        node.close()
    for c in contenders:
        def gone(stack=c.stack):
            for net in api.networks(filters={"label": f"com.docker.stack.namespace={stack}"}):
                try:
                    api.remove_network(net["Id"])
                except Exception:  # noqa: BLE001 — still in use while tasks are reaped
                    pass
            return not api.networks(filters={"label": f"com.docker.stack.namespace={stack}"})
        poll(f"stack {c.stack}'s network removed", gone)
    sh("docker", "rmi", f"{repo}:1", f"{repo}:2")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--smoke", action="store_true", help="one quick round (checks the benchmark works)")
    args = ap.parse_args()
    rounds = 1 if args.smoke else args.rounds
    import docker

    env_file = Path(os.environ.get("TAGSHIP_TESTBED_DIR") or ROOT / ".testbed") / "cluster" / "env"
    if not env_file.is_file():
        raise SystemExit(f"bench: {env_file} is missing: the cluster is not up (make testbed CLUSTER=3)")
    cl = read_env(env_file)
    api = docker.APIClient(base_url=cl["TAGSHIP_CLUSTER_MANAGER"], timeout=60)
    ready = [n for n in api.nodes() if n["Status"]["State"] == "ready" and n["Spec"]["Availability"] == "active"]
    if len(ready) < 3:
        raise SystemExit(f"bench: the cluster has {len(ready)} ready nodes, not 3")
    work = Path(tempfile.mkdtemp(prefix="tsc-bench-"))
    repo = f"{cl['TAGSHIP_CLUSTER_REGISTRY']}/tscbench-{uuid.uuid4().hex[:6]}/app"
    contenders: list[Contender] = []
    rows: list[tuple[int, str, int, float, float | None, bool]] = []
    try:
        build_and_push(cl, repo, work)
        contenders = [Contender(k, cl, repo, work) for k in CONTENDERS]
        for c in contenders:
            code, _, _, out = c.release("1")
            if code:
                raise SystemExit(f"bench: {c.kind}: first deploy of v1 failed (exit {code}):\n{out}")
            poll(f"{c.stack} at v1", lambda c=c: len(new_tasks(api, c.stack, "1")) == REPLICAS)
        for r in range(rounds):
            tag = "2" if r % 2 == 0 else "1"
            order = contenders[r % len(contenders):] + contenders[:r % len(contenders)]
            for c in order:
                code, took, end, out = c.release(tag)
                done = new_tasks(api, c.stack, tag)
                hosts = {t["NodeID"] for t in done}
                converged = code == 0 and len(done) == REPLICAS and len(hosts) == 3
                after = end - max(epoch(t["Status"]["Timestamp"]) for t in done) if len(done) == REPLICAS else None
                rows.append((r + 1, c.kind, code, took, after, converged))
                if code:
                    bad = [f"{t['ID'][:12]} {t['Status']['State']}: {t['Status'].get('Err') or t['Status'].get('Message')}"
                           for t in api.tasks(filters={"service": f"{c.stack}_web"})
                           if t["Status"]["State"] in ("failed", "rejected", "shutdown", "complete")]
                    print(f"round {r + 1} {c.kind}: exit {code}\n{out}\ntasks: {bad}", file=sys.stderr)
                # the next contender starts on a quiet cluster: this stack fully at the tag
                try:
                    poll(f"{c.stack} settled at v{tag}", lambda c=c: len(new_tasks(api, c.stack, tag)) == REPLICAS,
                         timeout=45)
                except SystemExit as exc:
                    print(exc, file=sys.stderr)
    finally:
        try:
            cleanup(api, cl, contenders, repo)
        finally:
            api.close()
            shutil.rmtree(work, ignore_errors=True)

    print(f"{'round':>5} {'tool':<13} {'exit':>4} {'total s':>8} {'healthy→exit s':>15}  3 replicas on 3 nodes at exit")
    for rnd, kind, code, took, after, conv in rows:
        print(f"{rnd:>5} {kind:<13} {code:>4} {took:>8.2f} {after if after is not None else float('nan'):>15.2f}  "
              f"{'yes' if conv else 'NO'}")
    med = {}
    for kind in CONTENDERS:
        mine = [row for row in rows if row[1] == kind]
        afters = [a for _, _, _, _, a, _ in mine if a is not None]
        med[kind] = (statistics.median(t for _, _, _, t, _, _ in mine), statistics.median(afters) if afters else None)
    base_total, base_after = med["stack-wait"]
    print(f"\nmedians of {rounds} round(s), ratio to `docker stack deploy --detach=false`:")
    for kind in CONTENDERS:
        total, after = med[kind]
        ratio_after = f"{after / base_after:.2f}x" if after and base_after else "n/a"
        print(f"  {kind:<13} total {total:6.2f} s ({total / base_total:.2f}x)   "
              f"last task healthy → exit {after if after is not None else float('nan'):5.2f} s ({ratio_after})")
    return 0 if all(row[2] == 0 and row[5] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
