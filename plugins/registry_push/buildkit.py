"""Building with BuildKit through a docker CLI that can (docker-py cannot drive BuildKit's session).

The CLI is chosen deliberately: the static 28.x ``docker`` that is often first on PATH has no buildx and
refuses ``DOCKER_BUILDKIT=1``, while Debian's 20.10 CLI has BuildKit built in. A CLI qualifies when
``DOCKER_BUILDKIT=1 <cli> build --help`` lists ``--secret`` and ``--ssh``. The CLI gets a private
``DOCKER_CONFIG`` holding only the logins of this run, and its output goes through the masker line by line.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any, Sequence

from tagship import log
from tagship.errors import PluginError
from tagship.mask import StreamMasker, mask

from .buildplan import count_steps
from .plan import DOCKER_HUB, Dest
from .secretfiles import write_private

SHA_LINE = re.compile(r"^#\d+ sha256:[0-9a-f]{64}$")
CANDIDATES = ("docker", "/usr/bin/docker", "/usr/local/bin/docker", "/bin/docker")
_probed: dict[str, bool] = {}


def probe(cli: str) -> bool:
    """Does ``cli`` build with BuildKit (secrets and SSH forwarding)?"""
    if cli not in _probed:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DOCKER_BUILDKIT": "1",
               "HOME": os.environ.get("HOME", "/tmp")}
        try:
            res = subprocess.run([cli, "build", "--help"], env=env, capture_output=True, text=True, timeout=20,
                                 stdin=subprocess.DEVNULL)
            text = res.stdout + res.stderr
            _probed[cli] = res.returncode == 0 and "--secret" in text and "--ssh" in text
        except (OSError, subprocess.TimeoutExpired):
            _probed[cli] = False
    return _probed[cli]


def find_cli(explicit: str = "") -> str | None:
    """The first CLI that passes the probe: ``docker_cli`` when set (only that one), else ``docker`` on PATH,
    then the usual install places. Paths are compared resolved, so each binary is probed once."""
    seen: set[str] = set()
    for name in ([explicit] if explicit else CANDIDATES):
        path = shutil.which(name) if "/" not in name else (name if os.access(name, os.X_OK) else None)
        if not path:
            continue
        real = os.path.realpath(path)
        if real in seen:
            continue
        seen.add(real)
        if probe(path):
            return path
    return None


def engine_supports(client: Any) -> bool:
    """BuildKit is in the engine from API 1.39 (18.09) on, Linux engines only."""
    try:
        info = client.version()
        major, minor = (int(x) for x in str(info.get("ApiVersion", "0.0")).split(".")[:2])
        return info.get("Os", "linux") == "linux" and (major, minor) >= (1, 39)
    except Exception:
        return False


def write_config(root: Path, dests: Sequence[Dest]) -> Path:
    """A fresh DOCKER_CONFIG: only ``auths`` for the targets (no credsStore/credHelpers — a helper copied
    from a user's config would hide these logins), 0600 inside a 0700 directory."""
    auths = {}
    for d in dests:
        if d.password is None and not d.username:
            continue
        host = "https://index.docker.io/v1/" if d.host == DOCKER_HUB else d.host
        auths[host] = {"auth": base64.b64encode(f"{d.username}:{d.password or ''}".encode()).decode()}
    cfg = root / "docker-config"
    cfg.mkdir(mode=0o700)
    write_private(cfg / "config.json", json.dumps({"auths": auths}).encode())
    return cfg


def cli_env(config_dir: Path, base_url: str | None, args: dict[str, str]) -> dict[str, str]:
    """The CLI's environment: the build args' values (``--build-arg NAME`` reads them from here), the engine
    address, the private config; nothing else of ours leaks into it."""
    env = {k: v for k, v in os.environ.items()
           if k in ("PATH", "HOME", "DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "TMPDIR", "LANG")}
    env.update(args)
    env.update({"DOCKER_BUILDKIT": "1", "DOCKER_CONFIG": str(config_dir), "BUILDKIT_PROGRESS": "plain"})
    if base_url:
        env["DOCKER_HOST"] = base_url
    env.setdefault("PATH", "/usr/bin:/bin")
    return env


def run_build(cmd: list[str], env: dict[str, str], iidfile: Path, timeout: float) -> tuple[str, int, int]:
    """Run the build; every output line masked and shown. Returns (image id, CACHED steps, steps)."""
    masker, lines, tail = StreamMasker(), [], []
    log.debug("$ " + " ".join(cmd))
    try:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    except OSError as exc:
        raise PluginError(f"cannot run {cmd[0]}: {exc.strerror}") from None
    buf = ""
    fired = threading.Event()

    def stop() -> None:   # build_timeout: the CLI goes, and BuildKit cancels the build
        fired.set()
        proc.terminate()

    timer = threading.Timer(timeout, stop)
    timer.daemon = True
    timer.start()
    try:
        assert proc.stdout is not None
        for raw in iter(lambda: proc.stdout.read1(65536), b""):
            buf += masker.feed(raw.decode("utf-8", "replace"))
            *done, buf = buf.split("\n")
            for line in done:
                _show(line, lines, tail)
        buf += masker.flush()
        for line in buf.split("\n"):
            _show(line, lines, tail)
        proc.wait(timeout=timeout)
    finally:
        timer.cancel()
        if proc.poll() is None:   # SIGTERM: the CLI goes too (and BuildKit cancels the build)
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
    cached, steps = count_steps(lines)
    if fired.is_set() and proc.returncode != 0:
        raise PluginError(f"docker build (BuildKit) did not finish within build_timeout ({timeout:.0f}s)",
                          hint="raise build_timeout, or look at the last step in the log above")
    if proc.returncode != 0:
        errors = [ln for ln in tail if "error" in ln.lower()] or tail
        raise PluginError(f"docker build (BuildKit) failed: {mask(errors[-1] if errors else '(no output)')[:400]}",
                          hint="the build log above shows the failing step")
    image_id = iidfile.read_text().strip() if iidfile.exists() else ""
    if not image_id:
        raise PluginError("docker build (BuildKit) reported success but wrote no image id")
    return image_id, cached, steps


def _show(line: str, lines: list[str], tail: list[str]) -> None:
    line = line.rstrip()
    if not line.strip():
        return
    lines.append(line)
    if SHA_LINE.match(line):
        return   # "#5 sha256:…": the vertex digest BuildKit prints for every step, noise in a CI log
    tail.append(line)
    del tail[:-8]
    log.info("  " + line)
