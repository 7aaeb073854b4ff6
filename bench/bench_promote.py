"""Moving floating tags after a healthy deploy: what cs-deploy does (tagship.registry.put_tag — the manifest
read by digest and put under each tag, the digest checked) against the two ways a pipeline would otherwise do
it: `skopeo copy` of the version tag to each floating tag, and `docker tag` + `docker push` of each floating
tag (drone-docker's way; needs the image on the host). Three tags (1.0, 1, latest) per round, interleaved
rounds in one process, the test bed's TLS+htpasswd registry on loopback; medians and ratios.

Run: .venv/bin/python bench/bench_promote.py [rounds]      (needs `make testbed`)
"""

from __future__ import annotations

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

from tagship.registry import RegistryClient

ROOT = Path(__file__).resolve().parents[1]
TAGS = ("1.0", "1", "latest")


def env() -> dict[str, str]:
    out = {}
    for line in (ROOT / ".testbed" / "env").read_text().splitlines():
        if line.startswith("export ") and "=" in line:
            key, _, value = line[len("export "):].partition("=")
            out[key] = value
    return out


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    tb = env()
    reg, user, pw = tb["TAGSHIP_REGISTRY"], tb["TAGSHIP_REGISTRY_USER"], tb["TAGSHIP_REGISTRY_PASSWORD"]
    path = f"bench{uuid.uuid4().hex[:8]}/app"
    image = f"{reg}/{path}"
    tmp = Path(tempfile.mkdtemp(prefix="bench-promote-"))
    (tmp / "Dockerfile").write_text(f"FROM {tb.get('TAGSHIP_BUSYBOX_IMAGE', 'tagship/busybox:latest')}\n"
                                    f"RUN head -c 8000000 /dev/urandom > /blob\n")
    docker_cfg = tmp / "docker"
    docker_cfg.mkdir()
    (docker_cfg / "config.json").write_text(json.dumps({"auths": {reg: {"auth": base64.b64encode(
        f"{user}:{pw}".encode()).decode()}}}))
    denv = {**os.environ, "DOCKER_CONFIG": str(docker_cfg), "DOCKER_BUILDKIT": "0"}
    run = lambda *cmd: subprocess.run(cmd, env=denv, check=True, capture_output=True)  # noqa: E731
    try:
        run("docker", "build", "-q", "-t", f"{image}:1.0.0", str(tmp))
        run("docker", "push", f"{image}:1.0.0")
        api = RegistryClient(reg, user, pw, verify=tb["TAGSHIP_REGISTRY_CA"])
        digest = api.digest(path, "1.0.0")

        def tagship() -> None:
            client = RegistryClient(reg, user, pw, verify=tb["TAGSHIP_REGISTRY_CA"])   # a fresh step each time
            for tag in TAGS:
                client.put_tag(path, digest, tag)

        def skopeo() -> None:
            for tag in TAGS:
                run("skopeo", "copy", "-q", "--authfile", str(docker_cfg / "config.json"),
                    "--src-cert-dir", tb["TAGSHIP_REGISTRY_CERT_DIR"], "--dest-cert-dir",
                    tb["TAGSHIP_REGISTRY_CERT_DIR"], f"docker://{image}:1.0.0", f"docker://{image}:{tag}")

        def docker_push() -> None:
            for tag in TAGS:
                run("docker", "tag", f"{image}:1.0.0", f"{image}:{tag}")
                run("docker", "push", "-q", f"{image}:{tag}")

        contenders = {"tagship.registry (cs-deploy)": tagship, "skopeo copy": skopeo,
                      "docker tag + push": docker_push}
        times: dict[str, list[float]] = {name: [] for name in contenders}
        for r in range(rounds):
            names = list(contenders)
            names = names[r % len(names):] + names[:r % len(names)]      # alternate who goes first
            for name in names:
                t = time.perf_counter()
                contenders[name]()
                times[name].append(time.perf_counter() - t)
        for tag in TAGS:
            assert api.digest(path, tag) == digest, tag
        base = statistics.median(times["tagship.registry (cs-deploy)"])
        print(f"moving {len(TAGS)} floating tags to an already-pushed digest, {rounds} rounds, median seconds")
        print(f"{'contender':32} {'median s':>9} {'vs tagship':>11}")
        for name, values in times.items():
            med = statistics.median(values)
            print(f"{name:32} {med:9.3f} {med / base:10.1f}x")
    finally:
        for tag in ("1.0.0", *TAGS):
            subprocess.run(["docker", "image", "rm", "-f", f"{image}:{tag}"], capture_output=True)
        subprocess.run(["rm", "-rf", str(tmp)])


if __name__ == "__main__":
    main()
