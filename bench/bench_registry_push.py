"""registry-push vs ``docker build && docker push`` (what drone-docker runs), and three targets vs one.

One process, side by side, on the test bed (dockerd + the two TLS registries). Every run gets a context of the
same shape with fresh random bytes, so nobody profits from another's build cache or already-pushed blobs:

    FROM tagship/busybox:latest · COPY a <size> MB file · RUN a small step · USER worker

Scenarios (median of --rounds):
  cli-1     docker build && docker push of 2 tags to registry A
  dd-1      drone-docker's sequence: docker version, docker info, docker build with its 4 auto labels and a
            temp tag, docker tag + docker push per tag (docker.go; its purge runs nothing)
  plugin-1  registry-push, same 2 tags to registry A (+ OCI labels, policy scan, digest read-back)
  cli-3 / dd-3 / plugin-3   the same to A, B and a third endpoint (cli and dd push one after another,
            the plugin pushes the targets in parallel)

The third target is a third docker-registry (TLS, htpasswd) the benchmark starts on a free port and removes.

    .venv/bin/python bench/bench_registry_push.py [--rounds 3] [--size-mb 24]

(A latency mode through tests/doubles/fault_proxy.py was tried and dropped: with every byte going through a
Python proxy on 2 shared cores, the proxy, not the push, was what got measured.)
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PLUGIN = str(ROOT / ".venv" / "bin" / "registry-push")


def testbed() -> dict[str, str]:
    env = {}
    for line in (ROOT / ".testbed" / "env").read_text().splitlines():
        if line.startswith("export "):
            k, _, v = line[7:].partition("=")
            env[k] = v
    return env


TB = testbed()


def third_registry(tls: Path) -> tuple[subprocess.Popen, str, Path]:
    """A third real registry (docker-registry, TLS, the same htpasswd as registry A) on a free port."""
    import socket
    import textwrap

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    root = Path(tempfile.mkdtemp(prefix="rp-bench-reg-"))
    htpasswd = Path(TB["TAGSHIP_TESTBED_DIR"]) / "registry-a" / "htpasswd"
    (root / "config.yml").write_text(textwrap.dedent(f"""\
        version: 0.1
        log: {{level: error}}
        storage: {{filesystem: {{rootdirectory: {root}/data}}, cache: {{blobdescriptor: inmemory}}}}
        http: {{addr: 127.0.0.1:{port}, tls: {{certificate: {tls}/server.crt, key: {tls}/server.key}}}}
        auth: {{htpasswd: {{realm: rp-bench, path: {htpasswd}}}}}
        """))
    proc = subprocess.Popen(["docker-registry", "serve", str(root / "config.yml")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    import requests

    for _ in range(100):
        try:
            if requests.get(f"https://127.0.0.1:{port}/v2/", verify=str(tls / "ca.crt"), timeout=1).status_code == 401:
                break
        except requests.RequestException:
            time.sleep(0.1)
    return proc, f"127.0.0.1:{port}", root


def context(size_mb: int) -> Path:
    ws = Path(tempfile.mkdtemp(prefix="rp-bench-"))
    (ws / "Dockerfile").write_text(f"FROM {TB['TAGSHIP_BUSYBOX_IMAGE']}\nCOPY blob.bin /data/blob.bin\n"
                                   "RUN md5sum /data/blob.bin > /data/blob.md5\nUSER worker\n")
    (ws / "blob.bin").write_bytes(os.urandom(size_mb * 1024 * 1024))
    return ws


def targets(third: str) -> list[tuple[str, str]]:
    return [(TB["TAGSHIP_REGISTRY"], TB["TAGSHIP_REGISTRY_PASSWORD"]),
            (TB["TAGSHIP_REGISTRY2"], TB["TAGSHIP_REGISTRY2_PASSWORD"]),
            (third, TB["TAGSHIP_REGISTRY_PASSWORD"])]


def run_cli(ws: Path, repo: str, dests: list[tuple[str, str]], cfg: Path) -> float:
    env = dict(os.environ, DOCKER_CONFIG=str(cfg), DOCKER_BUILDKIT="0")
    t0 = time.perf_counter()
    local = f"tagship-bench/{repo.replace('/', '_')}:build"
    built = subprocess.run(["docker", "build", "-q", "-t", local, str(ws)], env=env, capture_output=True, text=True)
    if built.returncode != 0:
        sys.exit(f"docker build failed: {built.stderr[-2000:]}")
    for host, _ in dests:
        for tag in ("1.0.0", "latest"):
            subprocess.run(["docker", "tag", local, f"{host}/{repo}:{tag}"], env=env, check=True)
            pushed = subprocess.run(["docker", "push", "-q", f"{host}/{repo}:{tag}"], env=env, capture_output=True,
                                    text=True)
            if pushed.returncode != 0:
                sys.exit(f"docker push failed: {pushed.stderr[-2000:]}")
    took = time.perf_counter() - t0
    refs = [local] + [f"{h}/{repo}:{t}" for h, _ in dests for t in ("1.0.0", "latest")]
    subprocess.run(["docker", "image", "rm", "-f", *refs], capture_output=True)
    return took


def run_dd(ws: Path, repo: str, dests: list[tuple[str, str]], cfg: Path) -> float:
    """drone-docker's command sequence (docker.go): version, info, build with its auto labels and a temp
    tag, then tag + push per tag; its purge runs nothing. Login is done up front (config file), as for cli."""
    env = dict(os.environ, DOCKER_CONFIG=str(cfg), DOCKER_BUILDKIT="0")
    t0 = time.perf_counter()
    local = f"tagship-bench/{repo.replace('/', '_')}:{uuid.uuid4().hex[:12]}"
    for cmd in (["docker", "version"], ["docker", "info"]):
        subprocess.run(cmd, env=env, check=True, capture_output=True)
    labels = [f"org.opencontainers.image.{k}={v}" for k, v in (
        ("created", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())), ("revision", "0" * 40),
        ("source", "https://git.example/x.git"), ("url", "https://git.example/x"))]
    cmd = ["docker", "build", "--rm=true", "-f", str(ws / "Dockerfile"), "-t", local]
    for label in labels:
        cmd += ["--label", label]
    built = subprocess.run(cmd + [str(ws)], env=env, capture_output=True, text=True)
    if built.returncode != 0:
        sys.exit(f"docker build failed: {built.stderr[-2000:]}")
    for host, _ in dests:
        for tag in ("1.0.0", "latest"):
            subprocess.run(["docker", "tag", local, f"{host}/{repo}:{tag}"], env=env, check=True)
            pushed = subprocess.run(["docker", "push", f"{host}/{repo}:{tag}"], env=env, capture_output=True, text=True)
            if pushed.returncode != 0:
                sys.exit(f"docker push failed: {pushed.stderr[-2000:]}")
    took = time.perf_counter() - t0
    refs = [local] + [f"{h}/{repo}:{t}" for h, _ in dests for t in ("1.0.0", "latest")]
    subprocess.run(["docker", "image", "rm", "-f", *refs], capture_output=True)
    return took


def run_plugin(ws: Path, repo: str, dests: list[tuple[str, str]]) -> float:
    (first, pw), rest = dests[0], dests[1:]
    env = {"PATH": os.environ["PATH"], "HOME": str(ws), "DRONE_WORKSPACE": str(ws),
           "PLUGIN_REGISTRY": first, "PLUGIN_REPO": repo, "PLUGIN_USERNAME": TB["TAGSHIP_REGISTRY_USER"],
           "PLUGIN_PASSWORD": pw, "PLUGIN_TAGS": "1.0.0,latest", "PLUGIN_CA_CERT": TB["TAGSHIP_REGISTRY_CA"],
           "PLUGIN_REGISTRIES": json.dumps([{"registry": h, "username": TB["TAGSHIP_REGISTRY_USER"], "password": p}
                                            for h, p in rest])}
    t0 = time.perf_counter()
    proc = subprocess.run([PLUGIN], env=env, capture_output=True, text=True)
    took = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"plugin failed:\n{proc.stdout[-3000:]}")
    subprocess.run(["docker", "image", "rm", "-f", f"tagship-build/{repo.replace('/', '_')}:latest"],
                   capture_output=True)
    return took


def login_cli(cfg: Path, dests: list[tuple[str, str]]) -> None:
    auths = {h: {"auth": base64.b64encode(f"{TB['TAGSHIP_REGISTRY_USER']}:{p}".encode()).decode()}
             for h, p in dests}
    (cfg / "config.json").write_text(json.dumps({"auths": auths}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--size-mb", type=int, default=24)
    a = ap.parse_args()
    tls = Path(TB["TAGSHIP_TESTBED_DIR"]) / "tls"
    reg_c, third, reg_root = third_registry(tls)
    all3 = targets(third)
    cfg = Path(tempfile.mkdtemp(prefix="rp-bench-cfg-"))
    login_cli(cfg, all3)
    times: dict[str, list[float]] = {k: [] for k in ("cli-1", "dd-1", "plugin-1", "cli-3", "dd-3", "plugin-3")}
    try:
        for i in range(a.rounds):
            # alternate who goes first in each round, so neither always meets a warmer engine
            order = ["cli-1", "dd-1", "plugin-1", "cli-3", "dd-3", "plugin-3"]
            order = order if i % 2 == 0 else order[::-1]
            for name in order:
                ws, repo = context(a.size_mb), f"rpbench{uuid.uuid4().hex[:8]}/app"
                dests = all3[:1] if name.endswith("-1") else all3
                kind = name.split("-")[0]
                took = (run_cli(ws, repo, dests, cfg) if kind == "cli" else run_dd(ws, repo, dests, cfg)
                        if kind == "dd" else run_plugin(ws, repo, dests))
                times[name].append(took)
                print(f"round {i + 1} {name:9} {took:6.2f}s", flush=True)
                subprocess.run(["rm", "-rf", str(ws)])
    finally:
        reg_c.terminate()
        reg_c.wait(timeout=10)
        subprocess.run(["rm", "-rf", str(reg_root)])
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"\nregistry-push benchmark: {a.rounds} rounds, {a.size_mb} MB layer, 2 tags per target, loopback, "
          "median seconds")
    print(f"{'scenario':30} {'plugin':>7} {'build&&push':>12} {'drone-docker':>13} {'plugin/b&&p':>12} "
          f"{'plugin/dd':>10}")
    for n, label in (("1", "1 target (registry A)"), ("3", "3 targets (A, B, C)")):
        p, c, d = med[f"plugin-{n}"], med[f"cli-{n}"], med[f"dd-{n}"]
        print(f"{label:30} {p:7.2f} {c:12.2f} {d:13.2f} {p / c:12.2f} {p / d:10.2f}")
    print(f"{'3 targets / 1 target':30} {med['plugin-3'] / med['plugin-1']:7.2f} "
          f"{med['cli-3'] / med['cli-1']:12.2f} {med['dd-3'] / med['dd-1']:13.2f}")

if __name__ == "__main__":
    main()
