"""The Go reference program (main.go beside this file), built against Debian's Go packages at test time.

GOPATH mode (``GO111MODULE=off``) on ``/usr/share/gocode`` (golang-github-drone-envsubst-dev,
golang-gopkg-yaml.v2-dev, golang-github-ghodss-yaml-dev), ``GOPROXY=off``: nothing is fetched. The binary is
cached by the hash of the source and of the Go and package versions, under the test bed dir (or
``~/.cache/tagship``), never in the repository tree.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
GOPATH = "/usr/share/gocode"
PACKAGES = ("golang-go", "golang-github-drone-envsubst-dev", "golang-gopkg-yaml.v2-dev",
            "golang-github-ghodss-yaml-dev")
HINT = f"apt-get install -y {' '.join(PACKAGES)} (scripts/testbed.sh up installs them)"


def cache_dir() -> Path:
    bed = os.environ.get("TAGSHIP_TESTBED_DIR")
    base = Path(bed) / "cache" if bed else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tagship"
    return base / "goref"


def _versions() -> str:
    out = subprocess.run(["dpkg-query", "-W", "-f=${Package}=${Version}\n", *PACKAGES], capture_output=True,
                         text=True, stdin=subprocess.DEVNULL)
    return out.stdout


def binary() -> Path:
    """The built reference program; raises RuntimeError (with the install hint) when it cannot be built."""
    go = shutil.which("go") or ("/usr/lib/go/bin/go" if Path("/usr/lib/go/bin/go").exists() else None)
    if go is None or not Path(GOPATH, "src/github.com/drone/envsubst").is_dir():
        raise RuntimeError(f"the Go reference needs Go and Drone's Go packages: {HINT}")
    source = (HERE / "main.go").read_bytes()
    key = hashlib.sha256(source + _versions().encode()).hexdigest()[:16]
    target = cache_dir() / f"goref-{key}"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="goref-") as tmp:
        shutil.copy(HERE / "main.go", Path(tmp) / "main.go")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp, "GOPATH": GOPATH,
               "GO111MODULE": "off", "GOPROXY": "off", "GOFLAGS": "", "GOCACHE": str(Path(tmp) / "gocache"),
               "CGO_ENABLED": "0"}
        done = subprocess.run([go, "build", "-o", str(Path(tmp) / "ref"), "main.go"], cwd=tmp, env=env,
                              capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"building the Go reference failed ({HINT}):\n{done.stderr}")
        partial = target.with_name(f"{target.name}.{os.getpid()}")
        shutil.copy(Path(tmp) / "ref", partial)
        os.replace(partial, target)
    return target


def run(lines: list[str]) -> list[tuple[str, bytes]]:
    """Feed request lines to the reference; (status, answer bytes) per line."""
    done = subprocess.run([str(binary())], input="".join(line + "\n" for line in lines), capture_output=True,
                          text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"the Go reference failed: {done.stderr[-2000:]}")
    out = []
    for line in done.stdout.splitlines():
        status, _, payload = line.partition(" ")
        out.append((status, bytes.fromhex(payload)))
    if len(out) != len(lines):
        raise RuntimeError(f"the Go reference answered {len(out)} of {len(lines)} requests")
    return out


def envsubst_request(template: bytes, env: dict[bytes, bytes]) -> str:
    parts = ["envsubst", template.hex() or ""]
    for k, v in env.items():
        parts += [k.hex(), v.hex()]
    return " ".join(parts)
