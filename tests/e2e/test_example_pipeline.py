"""End to end: example (a)'s tag pipeline through the built plugin images, as Drone would run it.

`tagship exec` runs version-bump → oss-push → registry-push → cs-deploy as containers on the real engine,
against the test bed's TLS registry, the swarm, and a local OSS endpoint (tagship oss-server), on a root-owned
workspace like the one Drone's clone step makes. The tests check what an ops engineer would check: the
deployed service answers with the new version, the static files are in OSS under the versioned prefix with
their manifest, no secret appeared in the log — and a release that fails its healthcheck is a red step while
the previous version keeps answering.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.engine, pytest.mark.oss]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
OSS_KEY_ID = "SENTINEL-ak-e2e-3c9b"
OSS_KEY_SECRET = "SENTINEL-sk-e2e-7d1f"


def _testbed() -> dict[str, str]:
    env_file = Path(os.environ.get("TAGSHIP_TESTBED_DIR", ROOT / ".testbed")) / "env"
    assert env_file.is_file(), f"{env_file} is missing: run `make testbed` (scripts/testbed.sh up) first"
    out = {}
    for line in env_file.read_text().splitlines():
        if line.startswith("export ") and "=" in line:
            key, _, value = line[len("export "):].partition("=")
            out[key] = value
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "safe.directory=*", "-c", "user.name=e2e", "-c", "user.email=e2e@example.com",
                    "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def images():
    """The plugin images, built by the project's own script (layer-cached: seconds when nothing changed)."""
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "images.sh"), "version-bump", "oss-push",
                           "registry-push", "cs-deploy"], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


@pytest.fixture(scope="module")
def oss_endpoint(tmp_path_factory):
    """tagship oss-server on a free port, with sentinel credentials; its URL is its first line."""
    env = {**os.environ, "TAGSHIP_OSS_ACCESS_KEY_ID": OSS_KEY_ID, "TAGSHIP_OSS_ACCESS_KEY_SECRET": OSS_KEY_SECRET}
    data = tmp_path_factory.mktemp("oss")
    server = subprocess.Popen([str(BIN / "tagship"), "oss-server", "--port", "0", "--data", str(data),
                               "--bucket", "lyops"], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True)
    url = server.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:"), url
    yield url
    server.terminate()
    server.wait(timeout=10)


def _get(url: str, deadline: float, want: str = "") -> str:
    last = ""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                last = resp.read().decode()
                if want in last:
                    return last
        except OSError as exc:
            last = f"no answer: {exc}"
        time.sleep(0.5)
    return last


class Release:
    """A repository of example (a), deployed to its own stack on a free port."""

    def __init__(self, root: Path, oss_endpoint: str):
        self.tb = _testbed()
        self.repo = root / "live66-gateway"
        self.stack = f"tagship-e2e-{uuid.uuid4().hex[:8]}"
        self.namespace = f"e2e{uuid.uuid4().hex[:8]}"    # a fresh repository: smart floating sees no other run
        self.port = _free_port()
        self.oss_endpoint = oss_endpoint
        shutil.copytree(ROOT / "examples" / "go-service", self.repo)
        _git(self.repo, "init", "-q", "-b", "main")
        _git(self.repo, "add", "-A")
        _git(self.repo, "commit", "-q", "-m", "live66 gateway")
        # root-owned, like the workspace Drone's clone step creates
        self.secrets = root / "secrets.env"
        self.secrets.write_text(f"oss_access_key_id={OSS_KEY_ID}\noss_access_key_secret={OSS_KEY_SECRET}\n"
                                f"docker_password={self.tb['TAGSHIP_REGISTRY_PASSWORD']}\n")
        self.secrets.chmod(0o600)

    def tag_and_run(self, tag: str) -> subprocess.CompletedProcess:
        _git(self.repo, "tag", "-a", tag, "-m", tag)
        tb = self.tb
        return subprocess.run(
            [str(BIN / "tagship"), "exec", ".drone.yml", "--tag", tag, "--secrets-file", str(self.secrets),
             "--env", f"REGISTRY={tb['TAGSHIP_REGISTRY']}", "--env", f"REGISTRY_USER={tb['TAGSHIP_REGISTRY_USER']}",
             "--env", f"REGISTRY_NAMESPACE={self.namespace}",
             "--env", f"OSS_ENDPOINT={self.oss_endpoint}", "--env", "OSS_BUCKET=lyops",
             "--env", f"GATEWAY_PORT={self.port}", "--env", f"STACK={self.stack}",
             "--env", "PUBLISH_MODE=host", "--env", "UPDATE_ORDER=stop-first"],
            cwd=self.repo, capture_output=True, text=True, timeout=600)

    def digest(self, tag: str) -> str:
        """The manifest digest the registry serves for a tag, read with skopeo (neither Docker nor tagship)."""
        tb = self.tb
        auth = self.repo.parent / "skopeo-auth.json"
        auth.write_text(json.dumps({"auths": {tb["TAGSHIP_REGISTRY"]: {"auth": base64.b64encode(
            f"{tb['TAGSHIP_REGISTRY_USER']}:{tb['TAGSHIP_REGISTRY_PASSWORD']}".encode()).decode()}}}))
        ref = f"docker://{tb['TAGSHIP_REGISTRY']}/{self.namespace}/live66_gateway:{tag}"
        out = subprocess.run(["skopeo", "inspect", "--raw", "--authfile", str(auth), "--cert-dir",
                              tb["TAGSHIP_REGISTRY_CERT_DIR"], ref], capture_output=True, timeout=60)
        auth.unlink()
        assert out.returncode == 0, out.stderr.decode()[-500:]
        return "sha256:" + hashlib.sha256(out.stdout).hexdigest()

    def assert_no_secret(self, log: str) -> None:
        for secret in (OSS_KEY_SECRET, OSS_KEY_ID, self.tb["TAGSHIP_REGISTRY_PASSWORD"]):
            assert secret not in log
            for result in (self.repo / ".tagship").glob("*.json"):
                assert secret not in result.read_text()


@pytest.fixture(scope="module")
def release(images, oss_endpoint, tmp_path_factory):
    """v1.0.0 of example (a) through its tag pipeline (the log is kept for the tests)."""
    r = Release(tmp_path_factory.mktemp("e2e"), oss_endpoint)
    started = time.monotonic()
    r.first = r.tag_and_run("v1.0.0")
    r.seconds = time.monotonic() - started
    yield r
    subprocess.run(["docker", "stack", "rm", r.stack], capture_output=True)


def test_tag_pipeline_deploys_the_new_version_and_publishes_static_files(release):
    proc, repo, stack, port = release.first, release.repo, release.stack, release.port
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    summary = log[log.index("tagship exec: success"):]
    for step in ("version", "static", "image", "deploy"):
        assert f"   {step}" in summary
    assert "not run" not in summary and "FAILED" not in summary

    # the deployed service answers with the new version
    body = _get(f"http://127.0.0.1:{port}/", time.monotonic() + 60, want="1.0.0")
    assert body.strip() == "live66_gateway 1.0.0"
    spec = subprocess.run(["docker", "service", "inspect", f"{stack}_gateway", "--format",
                           "{{.Spec.TaskTemplate.ContainerSpec.Image}}"], capture_output=True, text=True)
    pushed = json.loads((repo / ".tagship" / "registry-push.json").read_text())
    assert "@sha256:" in spec.stdout and json.dumps(pushed).find(spec.stdout.strip().split("@")[1]) >= 0, \
        "the service does not run the digest registry-push recorded"

    # latest (and 1, 1.0) moved to 1.0.0 only after its healthy deploy (defer_floating), by cs-deploy
    digest = pushed["digest"]
    assert pushed["builder"] == "buildkit"     # the plugin image's own CLI, through the mounted socket
    assert pushed["tags"] == ["1.0.0"] and sorted(pushed["deferred"]["tags"]) == ["1", "1.0", "latest"]
    deployed = json.loads((repo / ".tagship" / "cs-deploy.json").read_text())
    assert len(deployed["promoted"]) == 3
    assert {release.digest(t) for t in ("1.0.0", "1.0", "1", "latest")} == {digest}

    # the static files are in OSS under the versioned prefix, with their manifest
    import oss2

    bucket = oss2.Bucket(oss2.Auth(OSS_KEY_ID, OSS_KEY_SECRET), release.oss_endpoint, "lyops")
    prefix = "live66-gateway/static/1.0.0/"
    keys = {o.key for o in oss2.ObjectIteratorV2(bucket, prefix=prefix)}
    assert keys == {prefix + k for k in ("css/app.css", "js/app.js", "index.html", ".tagship-manifest.json")}
    manifest = json.loads(bucket.get_object(prefix + ".tagship-manifest.json").read())
    assert manifest["version"].removeprefix("v") == "1.0.0" and manifest["count"] == 3
    assert set(manifest["files"]) == {prefix + k for k in ("css/app.css", "js/app.js", "index.html")}
    assert bucket.get_object(prefix + "css/app.css").read() == (repo / "static/css/app.css").read_bytes()

    # the hand-offs between steps, and no secret anywhere in the log
    assert (repo / ".version").read_text().strip() == "1.0.0"
    release.assert_no_secret(log)
    print(f"pipeline took {release.seconds:.1f}s")


def test_a_release_that_fails_its_healthcheck_is_red_and_the_previous_version_keeps_answering(release):
    assert release.first.returncode == 0, "v1.0.0 did not deploy (see the first test)"
    conf = release.repo / "conf" / "app.conf"
    conf.write_text(conf.read_text().replace("APP_HEALTHY=${APP_HEALTHY:-yes}", "APP_HEALTHY=${APP_HEALTHY:-no}"))
    _git(release.repo, "commit", "-q", "-am", "break the healthcheck")
    proc = release.tag_and_run("v1.0.1")
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0, log[-4000:]
    summary = log[log.index("tagship exec: failure"):]
    rows = {line.split()[0]: " ".join(line.split()[1:]) for line in summary.splitlines()[1:] if line.strip()}
    assert rows["image"].startswith("ok") and rows["deploy"].startswith("FAILED"), summary
    body = _get(f"http://127.0.0.1:{release.port}/", time.monotonic() + 60, want="1.0.0")
    assert body.strip() == "live66_gateway 1.0.0"
    image = subprocess.run(["docker", "service", "inspect", f"{release.stack}_gateway", "--format",
                            "{{.Spec.TaskTemplate.ContainerSpec.Image}}"], capture_output=True, text=True).stdout
    assert ":1.0.0@sha256:" in image
    # the broken release was pushed under its version only; latest still is 1.0.0 for anyone pulling it
    good = release.digest("1.0.0")
    assert release.digest("1.0.1") != good
    assert release.digest("latest") == good and release.digest("1") == good and release.digest("1.0") == good
    assert f"latest stays on {good}" in log
    release.assert_no_secret(log)
