"""registry-push's inline cache on a cold engine: an image built and pushed with BuildKit is the ``cache_from``
of a rebuild on a second dockerd that has never built anything (its own data root, exec root, socket and
bridge; no iptables), and every build step is CACHED there; the push then finds every layer in place.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

import test_registry_push as rp

pytestmark = pytest.mark.engine
_bed = rp._bed
cleanup_images = rp.cleanup_images


def _stop(proc: subprocess.Popen, root: Path, bridge: str) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
    for pid in filter(str.isdigit, os.listdir("/proc")):   # its containerd, should dockerd have been killed
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if cmd.startswith(b"containerd") and str(root).encode() in cmd:
            subprocess.run(["kill", pid], capture_output=True)
    with open("/proc/self/mounts") as fh:
        mounts = [line.split()[1] for line in fh if line.split()[1].startswith(str(root))]
    for mount in sorted(mounts, reverse=True):
        subprocess.run(["umount", "-l", mount], capture_output=True, timeout=30)
    shutil.rmtree(root, ignore_errors=True)
    subprocess.run(["ip", "link", "del", bridge], capture_output=True, timeout=30)


@pytest.fixture
def cold_engine(busybox_image):
    """A second dockerd on its own socket with nothing in it but the base image (docker save | load)."""
    uid = uuid.uuid4().hex[:6]
    root = Path(f"/run/tsi15-{uid}")          # short: containerd's socket lives below the exec root
    bridge = f"tsi15b{uid}"[:15]
    root.mkdir(mode=0o700)
    (root / "daemon.json").write_text("{}")   # never the host's /etc/docker/daemon.json
    subprocess.run(["ip", "link", "add", bridge, "type", "bridge"], check=True, timeout=30)
    subprocess.run(["ip", "addr", "add", f"10.250.{int(uid[:2], 16)}.1/24", "dev", bridge],
                   check=True, timeout=30)
    sock = f"unix://{root}/docker.sock"
    cmd = ["dockerd", f"--config-file={root}/daemon.json", f"--host={sock}", f"--data-root={root}/data",
           f"--exec-root={root}/exec", f"--pidfile={root}/docker.pid", f"--bridge={bridge}", "--iptables=false",
           "--ip-forward=false", "--ip-masq=false"]
    proc = subprocess.Popen(cmd, stdout=open(root / "dockerd.log", "wb"), stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while subprocess.run(["docker", "-H", sock, "version"], capture_output=True, timeout=30).returncode:
            assert proc.poll() is None and time.monotonic() < deadline, (root / "dockerd.log").read_text()[-2000:]
            time.sleep(0.3)
        save = subprocess.Popen(["docker", "save", busybox_image], stdout=subprocess.PIPE)
        subprocess.run(["docker", "-H", sock, "load", "-q"], stdin=save.stdout, check=True, capture_output=True,
                       timeout=120)
        assert save.wait(timeout=60) == 0
        yield sock
    finally:
        _stop(proc, root, bridge)


def test_a_cold_engine_rebuilds_from_cache_from_with_every_step_cached(tmp_path, cleanup_images, busybox_image,
                                                                       cold_engine):
    repo = f"{rp._uid()}/cached"
    image = f"{rp.REG_A}/{repo}"
    ws = rp._workspace(tmp_path, f"""FROM {busybox_image}
COPY app.conf /etc/app.conf
RUN mkdir -p /opt && head -c 300000 /dev/urandom > /opt/blob && cat /etc/app.conf > /opt/run
RUN --mount=type=cache,target=/var/cache/pkg ls /var/cache/pkg > /opt/cache-list
USER worker
""")
    cleanup_images += [f"tagship-build/{repo.replace('/', '_')}:latest", f"{image}:1.0.0"]
    common = dict(registry=rp.REG_A, repo=repo, username=rp.USER, password=rp.PW_A)
    code, out, first = rp.run_plugin(ws, tags=["1.0.0"], **common)
    assert code == 0, out
    assert first["builder"] == "buildkit" and first["steps"] == 3 and first["cached_steps"] == 0, out
    code, out, cold = rp.run_plugin(ws, tags=["1.0.1"], docker_host=cold_engine, cache_from=[f"{image}:1.0.0"],
                                    **common)
    assert code == 0, out
    assert cold["cached_steps"] == cold["steps"] == 3, out
    assert cold["layers_pushed"] == 0 and cold["layers_existing"] > 0, json.dumps(cold)
    # the cold engine really was cold: the image it built is there, and the pushed layers are the same ones
    pushed = subprocess.run(["docker", "-H", cold_engine, "image", "inspect", "-f", "{{json .RootFS.Layers}}",
                             cold["image_id"]], capture_output=True, text=True, timeout=60)
    here = subprocess.run(["docker", "image", "inspect", "-f", "{{json .RootFS.Layers}}", first["image_id"]],
                          capture_output=True, text=True, timeout=60)
    assert pushed.returncode == 0 and json.loads(pushed.stdout) == json.loads(here.stdout)
