"""registry-push with BuildKit on the real engine and registry: a build secret and a private git repository
over SSH (sshd + git-shell on loopback, a key made here), and proof that neither the secret nor any line of
the key is in what was pushed; a leaked secret stops the push; the builder choice.

The cold-engine cache test is in test_registry_push_cache.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tarfile
import time
import uuid
from pathlib import Path

import pytest

import test_registry_push as rp

pytestmark = pytest.mark.engine
_bed = rp._bed
cleanup_images = rp.cleanup_images
SENTINEL = "SENTINEL-buildsecret-5e0b"
STATIC_CLI = "/usr/local/bin/docker"   # the 28.x static CLI: no buildx, refuses DOCKER_BUILDKIT=1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(pred, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def gitssh_image(python_base_image):
    """python-base plus the host's git and ssh client (the same Debian release; the libraries ldd names)."""
    tag = f"tagship-test/gitssh:{uuid.uuid4().hex[:8]}"
    ctx = Path(os.environ.get("TMPDIR", "/tmp")) / f"tsi15-gitssh-{uuid.uuid4().hex[:6]}"
    libs: set[str] = set()
    for binary in ("/usr/bin/git", "/usr/bin/ssh"):
        out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
        libs |= {p for line in out.splitlines() for p in line.split() if p.startswith("/")}
        dest = ctx / "gitssh" / "bin" / Path(binary).name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(binary, dest)
    for lib in libs:   # the image's own libc and loader stay; the rest come along in a directory of their own
        if not Path(lib).name.startswith(("libc.so", "ld-linux", "libm.so", "libpthread", "libdl")):
            (ctx / "gitssh" / "lib").mkdir(parents=True, exist_ok=True)
            shutil.copy2(os.path.realpath(lib), ctx / "gitssh" / "lib" / Path(lib).name)
    for name in ("git", "ssh"):
        (ctx / name).write_text(f'#!/bin/sh\nLD_LIBRARY_PATH=/opt/gitssh/lib exec /opt/gitssh/bin/{name} "$@"\n')
        (ctx / name).chmod(0o755)
    (ctx / "Dockerfile").write_text(f"FROM {python_base_image}\nCOPY gitssh /opt/gitssh\n"
                                    "COPY git ssh /usr/local/bin/\n"
                                    "RUN mkdir -p /usr/lib/git-core && ln -sf /usr/local/bin/git /usr/lib/git-core/git "
                                    "&& git --version && ssh -V\n")
    res = subprocess.run(["/usr/bin/docker", "build", "-q", "-t", tag, str(ctx)], capture_output=True, text=True,
                         timeout=300, env={**os.environ, "DOCKER_BUILDKIT": "0"})
    shutil.rmtree(ctx, ignore_errors=True)
    assert res.returncode == 0, res.stderr[-800:]
    yield tag
    subprocess.run(["docker", "image", "rm", "-f", tag], capture_output=True, timeout=60)


@pytest.fixture
def git_over_ssh(tmp_path):
    """sshd on 127.0.0.1 (its own config, host key and authorized key, git-shell forced), a bare repository
    with one private file; yields (url, private key text, the file's content)."""
    d = tmp_path / "sshd"
    d.mkdir()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "host_key")], check=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "tsi15", "-f", str(d / "client")],
                   check=True)
    pub = (d / "client.pub").read_text().strip()
    (d / "authorized_keys").write_text(
        f'command="git-shell -c \\"$SSH_ORIGINAL_COMMAND\\"",no-port-forwarding,no-pty,no-agent-forwarding {pub}\n')
    content = f"private-module-{uuid.uuid4().hex}"
    work, bare = tmp_path / "src", tmp_path / "auth.git"
    work.mkdir()
    (work / "module.txt").write_text(content + "\n")
    git = ["git", "-C", str(work), "-c", "user.email=ci@example.invalid", "-c", "user.name=ci"]
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    subprocess.run(git + ["add", "."], check=True)
    subprocess.run(git + ["commit", "-qm", "private module"], check=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
    port = _free_port()
    (d / "sshd_config").write_text(f"""Port {port}
ListenAddress 127.0.0.1
HostKey {d}/host_key
PidFile {d}/sshd.pid
AuthorizedKeysFile {d}/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers root
""")
    Path("/run/sshd").mkdir(exist_ok=True)   # sshd's privilege-separation directory
    proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(d / "sshd_config")], stdout=subprocess.DEVNULL,
                            stderr=open(d / "sshd.log", "wb"), stdin=subprocess.DEVNULL)

    def listening() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            assert proc.poll() is None, (d / "sshd.log").read_text()
            return False

    _wait(listening, 30, "sshd")
    try:
        yield f"ssh://root@127.0.0.1:{port}{bare}", (d / "client").read_text(), content
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def _needles(key: str) -> list[str]:
    return [SENTINEL] + [ln.strip() for ln in key.splitlines() if len(ln.strip()) >= 16 and "-----" not in ln]


def _agents_under(path: Path) -> list[str]:
    """ssh-agent processes whose socket lies under ``path`` (the run's own TMPDIR)."""
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "ssh-agent" in cmd and str(path) in cmd:
            out.append(f"{pid}: {cmd}")
    return out


def _dockerfile(base: str, url: str) -> str:
    return f"""FROM {base}
ARG GIT_SSH_COMMAND="ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
RUN --mount=type=secret,id=api_token sha256sum /run/secrets/api_token | cut -c1-64 > /token.sha256
RUN --mount=type=ssh git clone -q {url} /opt/auth && rm -rf /opt/auth/.git
RUN --mount=type=cache,target=/var/cache/tsi15 echo warm > /var/cache/tsi15/x
USER worker
"""


def test_secret_and_private_repo_over_ssh_build_and_neither_is_in_the_image(tmp_path, cleanup_images,
                                                                             gitssh_image, git_over_ssh):
    url, key, content = git_over_ssh
    repo = f"{rp._uid()}/private-dep"
    ws = rp._workspace(tmp_path, _dockerfile(gitssh_image, url))
    tmpdir = tmp_path / "run-tmp"
    tmpdir.mkdir()
    ref = f"{rp.REG_A}/{repo}:1.0.0"
    cleanup_images += [f"tagship-build/{repo.replace('/', '_')}:latest", ref]
    code, out, res = rp.run_plugin(ws, registry=rp.REG_A, repo=repo, username=rp.USER, password=rp.PW_A,
                                   tags=["1.0.0"], secrets=["id=api_token,env=API_TOKEN"], API_TOKEN=SENTINEL,
                                   ssh_agent_key=key, build_network="host", policy="warn", TMPDIR=str(tmpdir))
    assert code == 0, out
    assert res["builder"] == "buildkit" and res["steps"] == 3 and res["refs"] == [ref]
    assert res["secrets_checked"] >= 2 and not [f for f in res["policy"] if f["rule"] == "build-secret"]
    for needle in _needles(key):
        assert needle not in out and needle not in json.dumps(res)
    # the agent and the secret files are gone (the run's TMPDIR holds nothing of ours)
    assert not _agents_under(tmpdir) and not [p.name for p in tmpdir.iterdir()]
    # what was pushed: the build used the secret and the private module, and holds neither secret nor key
    cfg = tmp_path / "docker-config"
    cfg.mkdir()
    auth = base64.b64encode(f"{rp.USER}:{rp.PW_A}".encode()).decode()
    (cfg / "config.json").write_text(json.dumps({"auths": {rp.REG_A: {"auth": auth}}}))
    pulled = subprocess.run(["docker", "--config", str(cfg), "pull", "-q", ref], capture_output=True, text=True,
                            timeout=120)
    assert pulled.returncode == 0, pulled.stderr
    show = subprocess.run(["docker", "run", "--rm", "--entrypoint", "cat", ref, "/token.sha256",
                           "/opt/auth/module.txt"], capture_output=True, text=True, timeout=60)
    assert show.stdout.split() == [hashlib.sha256(SENTINEL.encode()).hexdigest(), content], show.stderr
    saved = tmp_path / "image.tar"
    subprocess.run(["docker", "save", "-o", str(saved), ref], check=True, timeout=120)
    history = subprocess.run(["docker", "history", "--no-trunc", ref], capture_output=True, text=True).stdout
    inspect = subprocess.run(["docker", "image", "inspect", ref], capture_output=True, text=True).stdout
    seen_content = False
    with tarfile.open(saved) as tar:    # every member by content: layer tars hold the file bytes verbatim
        for m in tar:
            if m.isfile():
                data = tar.extractfile(m).read()
                seen_content = seen_content or content.encode() in data
                for needle in _needles(key):
                    assert needle.encode() not in data, m.name
    assert seen_content                 # the search sees file contents at all
    for needle in _needles(key):
        assert needle not in history and needle not in inspect


def test_a_secret_copied_into_a_layer_is_caught_and_nothing_is_pushed(tmp_path, cleanup_images, busybox_image):
    repo = f"{rp._uid()}/leaky"
    ws = rp._workspace(tmp_path, f"FROM {busybox_image}\n"
                                 "RUN --mount=type=secret,id=tok cp /run/secrets/tok /etc/leak\n"
                                 "RUN rm /etc/leak\nUSER worker\n")
    cleanup_images.append(f"tagship-build/{repo.replace('/', '_')}:latest")
    (ws / "conf").mkdir()
    (ws / "conf" / "token").write_text(SENTINEL + "\n")
    code, out, res = rp.run_plugin(ws, registry=rp.REG_A, repo=repo, username=rp.USER, password=rp.PW_A,
                                   tags=["1.0.0"], secrets_from_file=["tok=conf/token"], policy="off")
    assert code == 1, out
    assert "a build secret is in the image (layer " in out and "nothing was pushed" in out
    assert SENTINEL not in out and SENTINEL not in json.dumps(res)
    assert res["refs"] == [] and res["status"] == "failed"
    tags = rp.subprocess.run(["skopeo", "list-tags", "--creds", f"{rp.USER}:{rp.PW_A}", "--cert-dir",
                              rp.TB["TAGSHIP_REGISTRY_CERT_DIR"], f"docker://{rp.REG_A}/{repo}"],
                             capture_output=True, text=True, timeout=60)
    assert tags.returncode != 0 or json.loads(tags.stdout)["Tags"] == []


def test_the_builder_is_chosen_deliberately(tmp_path, cleanup_images, busybox_image):
    """With only the static 28.x CLI: auto falls back to classic with a notice; builder: buildkit and a
    Dockerfile with RUN --mount fail before building; classic with a build secret is a settings error."""
    repo = f"{rp._uid()}/choice"
    cleanup_images.append(f"tagship-build/{repo.replace('/', '_')}:latest")
    for d in "abcd":
        (tmp_path / d).mkdir()
    common = dict(registry=rp.REG_A, repo=repo, username=rp.USER, password=rp.PW_A, dry_run=True,
                  docker_cli=STATIC_CLI)
    code, out, res = rp.run_plugin(rp._workspace(tmp_path / "a"), **common)
    assert code == 0, out
    assert "falls back to the classic builder" in out and res["builder"] == "classic"
    code, out, res = rp.run_plugin(rp._workspace(tmp_path / "b"), builder="buildkit", **common)
    assert code == 1 and "BuildKit is needed (builder: buildkit)" in out and "image_id" not in res
    mount = f"FROM {busybox_image}\nRUN --mount=type=cache,target=/c true\n"
    code, out, res = rp.run_plugin(rp._workspace(tmp_path / "c", mount), **common)
    assert code == 1 and "RUN --mount" in out and "image_id" not in res
    code, out, _ = rp.run_plugin(rp._workspace(tmp_path / "d"), builder="classic", secrets=["id=a,env=A"],
                                 A="x", **{k: v for k, v in common.items() if k != "docker_cli"})
    assert code == 2 and "PLUGIN_BUILDER" in out and len(out.strip().splitlines()) == 1


def test_sigterm_during_the_build_stops_the_agent_and_removes_the_secrets(tmp_path, busybox_image, cleanup_images):
    repo = f"{rp._uid()}/term"
    cleanup_images.append(f"tagship-build/{repo.replace('/', '_')}:latest")
    ws = rp._workspace(tmp_path, f"FROM {busybox_image}\nRUN --mount=type=ssh --mount=type=secret,id=t "
                                 f"echo started-{repo.split('/')[0]} && sleep 60\n")
    key = subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "k")], check=True)
    tmpdir = tmp_path / "run-tmp"
    tmpdir.mkdir()
    env = {"PATH": os.environ["PATH"], "HOME": str(ws), "DRONE_WORKSPACE": str(ws), "DRONE": "true",
           "TMPDIR": str(tmpdir), "PLUGIN_REGISTRY": rp.REG_A, "PLUGIN_REPO": repo, "PLUGIN_DRY_RUN": "true",
           "PLUGIN_SECRETS": "id=t,env=TOK", "TOK": SENTINEL, "PLUGIN_SSH_AGENT_KEY": (tmp_path / "k").read_text()}
    log = tmp_path / "out.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen([rp.PLUGIN], env=env, cwd=ws, stdout=fh, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    try:
        _wait(lambda: f"started-{repo.split('/')[0]}".encode() in log.read_bytes() or proc.poll() is not None, 120, "the build step")
        assert proc.poll() is None, log.read_text()
        assert _agents_under(tmpdir)                      # the agent runs while the build does
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    _wait(lambda: not _agents_under(tmpdir), 30, "the ssh-agent to exit")
    assert not list(tmpdir.iterdir()), list(tmpdir.iterdir())
    assert SENTINEL not in log.read_text()
    del key


def test_the_go_service_example_builds_its_private_dependency_over_ssh(tmp_path, cleanup_images, gitssh_image,
                                                                        git_over_ssh, busybox_image):
    """examples/go-service/Dockerfile.private: live66/auth cloned at a pinned revision through ssh_agent_key,
    with the pipeline's own settings (layout: seed, policy: enforce)."""
    url, key, content = git_over_ssh
    ws = tmp_path / "ws"
    shutil.copytree(rp.ROOT / "examples" / "go-service", ws)
    bare = url.split("127.0.0.1:", 1)[1].split("/", 1)[1]
    rev = subprocess.run(["git", "--git-dir", f"/{bare}", "rev-parse", "HEAD"], capture_output=True, text=True,
                         check=True).stdout.strip()
    ns = rp._uid()
    repo = f"{ns}/live66_gateway"
    cleanup_images += [f"tagship-build/{repo.replace('/', '_')}:latest", f"{rp.REG_A}/{repo}:1.0.0"]
    code, out, res = rp.run_plugin(ws, registry=rp.REG_A, namespace=ns, project="live66", module="gateway",
                                   username=rp.USER, password=rp.PW_A, tags=["1.0.0"], layout="seed",
                                   policy="enforce", dockerfile="Dockerfile.private", ssh_agent_key=key,
                                   build_network="host",
                                   build_args={"VERSION": "1.0.0", "AUTH_REPO": url, "AUTH_REV": rev,
                                               "GIT_IMAGE": gitssh_image, "BASE_IMAGE": busybox_image,
                                               "GIT_SSH_COMMAND": "ssh -o StrictHostKeyChecking=no "
                                                                  "-o UserKnownHostsFile=/dev/null"})
    assert code == 0, out
    assert res["policy"] == [] and res["builder"] == "buildkit" and res["secrets_checked"] >= 1
    image = subprocess.run(["docker", "image", "inspect", "-f", "{{.Id}}", res["image_id"]], capture_output=True,
                           text=True, timeout=60)
    assert image.returncode == 0
    show = subprocess.run(["docker", "run", "--rm", "--entrypoint", "cat", res["image_id"],
                           "/home/worker/main/vendor/live66/auth/module.txt",
                           "/home/worker/main/vendor/live66/auth/REVISION"], capture_output=True, text=True,
                          timeout=60)
    assert show.stdout.split() == [content, rev], show.stderr


def test_a_build_over_build_timeout_is_stopped_with_a_clear_error(tmp_path, busybox_image, cleanup_images):
    repo = f"{rp._uid()}/slow"
    cleanup_images.append(f"tagship-build/{repo.replace('/', '_')}:latest")
    ws = rp._workspace(tmp_path, f"FROM {busybox_image}\nRUN echo {repo.split('/')[0]} && sleep 120\n")
    t0 = time.monotonic()
    code, out, res = rp.run_plugin(ws, registry=rp.REG_A, repo=repo, dry_run=True, build_timeout="3s")
    assert code == 1, out
    assert "did not finish within build_timeout (3s)" in out and time.monotonic() - t0 < 100
