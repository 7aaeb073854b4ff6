"""The Docker engine: connect (host socket / DOCKER_HOST, or a dockerd started here for ``daemon: dind``),
build once through the SDK's low-level API with the stream masked, tag, purge.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from tagship import log
from tagship.errors import PluginError
from tagship.mask import StreamMasker, mask

PRIVILEGED_HINT = ("dockerd needs a privileged container: set `privileged: true` on the step and list the "
                   "image in DRONE_RUNNER_PRIVILEGED_IMAGES (or use daemon: host with the socket mounted)")


def api_client(base_url: str | None = None, timeout: int = 600) -> Any:
    import docker

    if base_url:
        return docker.APIClient(base_url=base_url, timeout=timeout, version="auto")
    env = docker.utils.kwargs_from_env()
    return docker.APIClient(timeout=timeout, version="auto", **env)


def connect(settings: Any) -> tuple[Any, str | None, Any]:
    """(client, base_url, dind process or None). Fails with an actionable message when nothing answers."""
    if settings.daemon == "dind":
        proc, base = start_dind(settings)
        return api_client(base), base, proc
    base = settings.docker_host or None
    try:
        client = api_client(base)
        client.ping()
    except Exception as exc:  # docker raises DockerException / requests errors
        where = base or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        raise PluginError(f"cannot reach the Docker engine at {where}: {mask(str(exc)).splitlines()[0]}",
                          hint="mount /var/run/docker.sock into the step, set docker_host, or use daemon: dind "
                               "with privileged: true") from None
    return client, base, None


def start_dind(settings: Any) -> tuple[subprocess.Popen, str]:
    """Start dockerd with its own socket, data root and pid file; wait for it or fail fast with its log."""
    _check_own_network(settings.dockerd_args)
    root = Path(tempfile.mkdtemp(prefix="tagship-dind-"))
    sock = settings.docker_host or f"unix://{root}/docker.sock"
    data_root = settings.storage_path or f"{root}/data"   # a volume in a real dind step (overlay on overlay fails)
    cmd = [settings.dockerd_path, f"--host={sock}", f"--data-root={data_root}", f"--exec-root={root}/exec",
           f"--pidfile={root}/docker.pid"]
    if settings.storage_driver:
        cmd.append(f"--storage-driver={settings.storage_driver}")
    if settings.mirror:
        cmd.append(f"--registry-mirror={settings.mirror}")
    mtu = settings.mtu or default_route_mtu()
    if settings.mtu or (mtu.isdigit() and int(mtu) < 1500):
        cmd.append(f"--mtu={mtu}")   # a 1500 bridge inside a 1400 overlay hangs `apk add` (drone-docker#276)
    if settings.insecure and settings.registry:
        cmd.append(f"--insecure-registry={settings.registry}")
    for t in settings.registries:
        if t.insecure and t.registry:
            cmd.append(f"--insecure-registry={t.registry}")
    cmd += list(settings.dockerd_args)
    logfile = root / "dockerd.log"
    log.info("starting dockerd: " + " ".join(cmd))
    try:
        proc = subprocess.Popen(cmd, stdout=open(logfile, "wb"), stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    except OSError as exc:
        raise PluginError(f"cannot start {settings.dockerd_path}: {exc.strerror}", hint=PRIVILEGED_HINT) from None
    proc.tagship_root = root  # type: ignore[attr-defined]  # removed by stop_dind
    deadline = time.monotonic() + settings.daemon_timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            api_client(sock, timeout=5).ping()
            log.ok(f"dockerd answers on {sock}")
            return proc, sock
        except Exception:
            time.sleep(0.3)
    alive = proc.poll() is None
    lines = mask(logfile.read_text(errors="replace")).strip().splitlines()
    stop_dind(proc)
    important = [ln for ln in lines if "level=error" in ln or "level=fatal" in ln or not ln.startswith("time=")]
    tail = (important or lines)[-6:]
    for line in tail:
        log.info(f"  dockerd: {line}")
    state = f"exited with {proc.returncode}" if not alive else f"did not answer within {settings.daemon_timeout:.0f}s"
    last = tail[-1] if tail else "(no log output)"
    raise PluginError(f"dockerd {state}: {last[:300]}", hint=PRIVILEGED_HINT)


def default_route_mtu(proc_route: str = "/proc/net/route", sys_net: str = "/sys/class/net") -> str:
    """The MTU of the interface carrying the default route ('' when unknown)."""
    try:
        with open(proc_route) as fh:
            for line in fh.readlines()[1:]:
                fields = line.split()
                if len(fields) > 2 and fields[1] == "00000000":
                    with open(os.path.join(sys_net, fields[0], "mtu")) as m:
                        return m.read().strip()
    except OSError:
        pass
    return ""


def _check_own_network(args: list[str]) -> None:
    """A dind dockerd must have its network namespace to itself: where another engine's ``docker0`` is
    present, a second dockerd would share that bridge (and its iptables rules), and with ``--bridge=none``
    it would even delete it. Only an explicit bridge of its own (``--bridge=<name>``) is allowed then."""
    bridge = next((a.split("=", 1)[1] for a in args if a.startswith(("--bridge=", "-b="))), "docker0")
    if os.path.exists("/sys/class/net/docker0") and bridge in ("docker0", "none"):
        raise PluginError("daemon: dind, but another Docker engine already runs in this network namespace "
                          "(docker0 exists); a second dockerd would take over its bridge",
                          hint="run the step as its own privileged container (not network_mode: host), or use "
                               "daemon: host with /var/run/docker.sock mounted")


def stop_dind(proc: subprocess.Popen | None) -> None:
    """Stop the dockerd we started and remove its data root (a dind step leaves nothing behind)."""
    if proc is None:
        return
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    root = getattr(proc, "tagship_root", None)
    if root is not None:
        import shutil

        # dockerd bind-mounts its data root (and overlay mounts below it); a dead dockerd can leave them
        with open("/proc/self/mounts") as fh:
            mounts = [line.split()[1] for line in fh if line.split()[1].startswith(str(root))]
        for mount in sorted(mounts, reverse=True):
            subprocess.run(["umount", "-l", mount], capture_output=True, timeout=30)
        shutil.rmtree(root, ignore_errors=True)


def _lines(masker: StreamMasker, text: str, buf: list[str]) -> None:
    buf.append(masker.feed(text))
    joined = "".join(buf)
    *done, rest = joined.split("\n")
    buf[:] = [rest]
    for line in done:
        if line.strip():
            log.info("  " + line.rstrip())


def label_line(labels: dict[str, str]) -> str:
    """``LABEL "k"="v" …`` with Dockerfile quoting (JSON escapes; ``$`` escaped so nothing is expanded)."""
    return "LABEL " + " ".join(f"{json.dumps(k, ensure_ascii=False)}={json.dumps(v, ensure_ascii=False)}".replace("$", "\\$") for k, v in labels.items())


def build(client: Any, *, context: Path, dockerfile: Path, tag: str, buildargs: dict[str, str],
          labels: dict[str, str], target: str, cache_from: list[str], pull: bool, nocache: bool,
          extra_hosts: dict[str, str]) -> str:
    """Build once; every line of the stream masked; returns the image id. Errors in the stream fail."""
    for image in cache_from:
        try:
            repo, _, tagname = image.rpartition(":") if ":" in image.rsplit("/", 1)[-1] else (image, "", "latest")
            client.pull(repo, tag=tagname or "latest")
        except Exception as exc:
            log.note(f"cache_from {image}: not pulled ({mask(str(exc)).splitlines()[0][:120]}); building without it")
    masker, buf, image_id, error = StreamMasker(), [""], None, None
    text = dockerfile.read_text()
    tmpdir = None
    if labels and not target and not re.search(r"^#\s*escape\s*=", text, re.MULTILINE | re.IGNORECASE):
        # one LABEL line appended to the Dockerfile: the API's `labels` adds one build step (one container
        # commit) per label, which costs the classic builder a quarter second each
        tmpdir = tempfile.mkdtemp(prefix="tagship-df-")
        dockerfile = Path(tmpdir) / "Dockerfile"
        dockerfile.write_text(text.rstrip("\n") + "\n" + label_line(labels) + "\n")
        labels = {}
    try:
        stream = client.build(path=str(context), dockerfile=str(dockerfile), tag=tag, buildargs=buildargs,
                              labels=labels or None, target=target or None, cache_from=cache_from or None,
                              pull=pull, nocache=nocache, rm=True, forcerm=True, decode=True,
                              extra_hosts=extra_hosts or None)
        for item in stream:
            if "stream" in item:
                _lines(masker, item["stream"], buf)
            elif "status" in item:
                _lines(masker, f"{item['status']} {item.get('progress', '')}\n", buf)
            if "aux" in item and isinstance(item["aux"], dict) and "ID" in item["aux"]:
                image_id = item["aux"]["ID"]
            if "errorDetail" in item or "error" in item:
                error = (item.get("errorDetail") or {}).get("message") or item.get("error")
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
    finally:
        if tmpdir:
            import shutil

            shutil.rmtree(tmpdir, ignore_errors=True)
    _lines(masker, masker.flush() + "\n", buf)
    if error:
        raise PluginError(f"docker build failed: {mask(error).strip()}",
                          hint="the build log above shows the failing step")
    if not image_id:
        image_id = client.inspect_image(tag)["Id"]
    return image_id


def image_id(client: Any, ref: str) -> str | None:
    try:
        return client.inspect_image(ref)["Id"]
    except Exception:
        return None


def purge(client: Any, refs: list[str], prune: bool = False) -> list[str]:
    """Remove the given local tags or images, never forced (an image stays while another tag, a container or a
    child image holds it); ``prune`` also removes its build-cache parents no other image uses."""
    removed = []
    for ref in refs:
        try:
            client.remove_image(ref, noprune=not prune)
            removed.append(ref)
        except Exception as exc:
            log.debug(f"purge {ref}: {mask(str(exc))}")
    return removed
