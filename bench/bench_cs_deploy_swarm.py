"""cs-deploy (swarm) against `docker stack deploy`, side by side in one run on the real swarm and registry.

Baselines: `docker stack deploy --with-registry-auth` as codestation/drone-stack runs it (detached: returns as
soon as the specs are submitted), and the same with `--detach=false` (the CLI's own wait, the best a swarm
plugin that shells out can do). Each tool gets its own stack of one busybox httpd service (host-mode port,
stop-first, 1s healthcheck) and goes through the same releases:

- good:      v1 → v2                       is v2 served when the step returns?
- bad-pause: v2 → image whose healthcheck fails, update_config.failure_action: pause
- bad-rollback: same image, failure_action: rollback (swarm reverts by itself; docker/cli#6752)
- rerun:     v2 → v2 again                 does anything restart?

For each: the exit code, the wall time of the step, what the port serves when the step returns and 15 s later.
A green step that is not serving the new version, or a red step that leaves nothing serving, is the failure this
plugin exists to prevent. Run: .venv/bin/python bench/bench_cs_deploy_swarm.py   (needs scripts/testbed.sh up)
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin" / "cs-deploy"
DOCKERFILE = """FROM tagship/busybox:latest
ARG V
ARG HC=ok
RUN mkdir -p /www && echo "version $V" > /www/version && echo "$HC" > /hc
HEALTHCHECK --interval=1s --timeout=2s --retries=2 CMD grep -q ok /hc && wget -q -O /dev/null http://127.0.0.1:8080/version
CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]
"""
COMPOSE = """version: "3.8"
services:
  web:
    image: ${REPO}:${TAG}
    stop_grace_period: 1s
    ports:
      - target: 8080
        published: ${PORT}
        mode: host
    deploy:
      replicas: 1
      update_config:
        order: stop-first
        failure_action: ${FAILURE_ACTION}
        monitor: 2s
"""


def testbed_env() -> dict[str, str]:
    out = {}
    for line in (ROOT / ".testbed" / "env").read_text().splitlines():
        if line.startswith("export ") and "=" in line:
            key, _, value = line[7:].partition("=")
            out[key] = value.strip("'\"")
    return out


def sh(*cmd: str, env: dict[str, str] | None = None, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=env, input=stdin, capture_output=True, text=True, timeout=300)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serving(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/version", timeout=2) as resp:
            return resp.read().decode().strip().replace("version ", "v")
    except OSError:
        return "down"


class Tool:
    def __init__(self, kind: str, repo: str, tb: dict[str, str], work: Path):
        self.kind, self.repo, self.tb = kind, repo, tb
        self.stack = f"csdbench{kind.replace('-', '')}{uuid.uuid4().hex[:6]}"
        self.port = free_port()
        self.ws = work / self.kind
        self.ws.mkdir()
        (self.ws / "docker-compose.yml").write_text(COMPOSE)
        self.config = work / "docker-config"

    def step(self, tag: str, failure_action: str) -> tuple[int, float]:
        env = {"PATH": os.environ["PATH"], "HOME": str(self.ws), "REPO": self.repo, "TAG": tag,
               "PORT": str(self.port), "FAILURE_ACTION": failure_action}
        start = time.monotonic()
        if self.kind == "cs-deploy":
            env.update({"DRONE_WORKSPACE": str(self.ws), "PLUGIN_STACK": self.stack,
                        "PLUGIN_ENV_FROM": "REPO,TAG,PORT,FAILURE_ACTION", "PLUGIN_MONITOR": "1s",
                        "PLUGIN_POLL_INTERVAL": "0.3s", "PLUGIN_TIMEOUT": "120s",
                        "PLUGIN_REGISTRY_USERNAME": self.tb["TAGSHIP_REGISTRY_USER"],
                        "PLUGIN_REGISTRY_PASSWORD": self.tb["TAGSHIP_REGISTRY_PASSWORD"]})
            proc = sh(str(BIN), env=env)
        else:
            detach = "--detach=true" if self.kind == "stack-detached" else "--detach=false"
            proc = sh("docker", "--config", str(self.config), "stack", "deploy", detach, "--with-registry-auth",
                      "-c", str(self.ws / "docker-compose.yml"), self.stack, env=env)
        return proc.returncode, time.monotonic() - start

    def remove(self) -> None:
        sh("docker", "stack", "rm", self.stack)


def main() -> None:
    tb = testbed_env()
    registry, user, password = tb["TAGSHIP_REGISTRY"], tb["TAGSHIP_REGISTRY_USER"], tb["TAGSHIP_REGISTRY_PASSWORD"]
    work = Path(tempfile.mkdtemp(prefix="csd-bench-"))
    repo = f"{registry}/csdbench-{uuid.uuid4().hex[:6]}/app"
    (work / "Dockerfile").write_text(DOCKERFILE)
    for tag, args in (("1", ["V=1"]), ("2", ["V=2"]), ("bad", ["V=3", "HC=bad"])):
        build = ["docker", "build", "-q", "-t", f"{repo}:{tag}"] + [a for kv in args for a in ("--build-arg", kv)]
        assert sh(*build, str(work)).returncode == 0
    login = sh("docker", "--config", str(work / "docker-config"), "login", "-u", user, "--password-stdin", registry,
               stdin=password)
    assert login.returncode == 0, "docker login failed"
    for tag in ("1", "2", "bad"):
        assert sh("docker", "--config", str(work / "docker-config"), "push", f"{repo}:{tag}").returncode == 0

    tools = [Tool(k, repo, tb, work) for k in ("cs-deploy", "stack-detached", "stack-wait")]
    scenarios = [("good", "1", "2", "pause"), ("bad-pause", "2", "bad", "pause"),
                 ("bad-rollback", "2", "bad", "rollback"), ("rerun", "2", "2", "pause")]
    rows = []
    try:
        for name, start, target, action in scenarios:
            for tool in tools:
                code, _ = tool.step(start, action)
                settle = time.monotonic() + 30
                while serving(tool.port) != f"v{start}" and time.monotonic() < settle:
                    time.sleep(0.5)
                before = json.loads(sh("docker", "service", "inspect", f"{tool.stack}_web").stdout)[0]["Version"]["Index"]
                code, seconds = tool.step(target, action)
                at_end = serving(tool.port)
                time.sleep(15)
                later = serving(tool.port)
                after = json.loads(sh("docker", "service", "inspect", f"{tool.stack}_web").stdout)[0]["Version"]["Index"]
                rows.append((name, tool.kind, code, seconds, at_end, later, after != before))
    finally:
        for tool in tools:
            tool.remove()
        sh("docker", "rmi", *(f"{repo}:{tag}" for tag in ("1", "2", "bad")))
        shutil.rmtree(work, ignore_errors=True)

    print(f"{'release':<13} {'tool':<15} {'exit':>4} {'step s':>7}  {'serving at end':<15} {'15s later':<10} {'spec changed'}")
    for name, kind, code, seconds, at_end, later, changed in rows:
        print(f"{name:<13} {kind:<15} {code:>4} {seconds:>7.1f}  {at_end:<15} {later:<10} {changed}")
    by = {(n, k): (c, s, e, l) for n, k, c, s, e, l, _ in rows}
    print("\nverdicts (a correct step: green and serving the new version at its end, or red and still serving):")
    for name, _, target, _ in scenarios:
        for kind in ("cs-deploy", "stack-detached", "stack-wait"):
            code, seconds, at_end, later = by[(name, kind)]
            want = f"v{target}" if target != "bad" else None
            correct = (code == 0 and at_end == want) if want else (code != 0 and at_end not in ("down", "v3"))
            print(f"  {name:<13} {kind:<15} {'correct' if correct else 'WRONG'}")
    good = {k: by[("good", k)][1] for k in ("cs-deploy", "stack-wait")}
    print(f"\ntime to a verified good release, cs-deploy / stack --detach=false: "
          f"{good['cs-deploy'] / good['stack-wait']:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
