"""registry-push against the real parts: dockerd, the two htpasswd+TLS registries, skopeo, a fault proxy.

Every run goes through the console script with an explicit env, as a Drone step would run it; digests are
read back with skopeo, independently of both Docker and the plugin.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from doubles.fault_proxy import FaultProxy  # noqa: E402

pytestmark = pytest.mark.engine
PLUGIN = str(ROOT / ".venv" / "bin" / "registry-push")
SENTINEL_PW = "SENTINEL-pw-7d1f"
SENTINEL_ARG = "SENTINEL-arg-41c9"


# filled from the shared `testbed` fixture before each test (tests/conftest.py: it fails, never skips, when
# the bed is down)
TB: dict[str, str] = {}
REG_A = REG_B = USER = PW_A = PW_B = BUSYBOX = ""


BUILDER = {"name": ""}   # every test here runs under both builders (PLUGIN_BUILDER), set by _builder


@pytest.fixture(autouse=True, params=["buildkit", "classic"])
def _builder(request):
    BUILDER["name"] = request.param
    yield request.param
    BUILDER["name"] = ""


@pytest.fixture(autouse=True)
def _bed(testbed, busybox_image):
    global REG_A, REG_B, USER, PW_A, PW_B, BUSYBOX
    TB.update(testbed.env)
    REG_A, REG_B, USER = testbed.registry, testbed.registry2, testbed.user
    PW_A, PW_B, BUSYBOX = testbed.password, testbed.password2, busybox_image


def seed_dockerfile() -> str:
    return f"""FROM {BUSYBOX}
ARG VERSION
ARG SERVICE_NAME
ARG API_TOKEN
ARG RUN_ID
RUN mkdir -p /home/worker/main/conf && echo "$SERVICE_NAME $VERSION" > /home/worker/main/main \\
 && echo "token length ${{#API_TOKEN}} [$API_TOKEN]"
COPY entrypoint.sh /home/worker/main/entrypoint.sh
COPY app.conf /home/worker/main/conf/app.conf
RUN chown -R worker:worker /home/worker/main && chmod +x /home/worker/main/entrypoint.sh
USER worker
ENTRYPOINT ["/home/worker/main/entrypoint.sh"]
"""


def _uid() -> str:
    return "rp" + uuid.uuid4().hex[:8]


def _workspace(tmp_path: Path, dockerfile: str | None = None, files: dict[str, str] | None = None) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "Dockerfile").write_text(dockerfile or seed_dockerfile())
    (ws / "entrypoint.sh").write_text("#!/bin/sh\nexec /home/worker/main/main \"$@\"\n")
    (ws / "app.conf").write_text(f"run = {uuid.uuid4().hex}\n")   # new content: a layer no registry has
    for name, text in (files or {}).items():
        (ws / name).parent.mkdir(parents=True, exist_ok=True)
        (ws / name).write_text(text)
    return ws


def run_plugin(ws: Path, **settings: object) -> tuple[int, str, dict]:
    env = {"PATH": os.environ["PATH"], "HOME": str(ws), "DRONE_WORKSPACE": str(ws), "DRONE": "true",
           "PLUGIN_CA_CERT": TB["TAGSHIP_REGISTRY_CA"]}
    if BUILDER["name"]:
        env["PLUGIN_BUILDER"] = BUILDER["name"]
    for key, value in settings.items():
        if isinstance(value, (list, dict)) and key.lower() in ("registries", "build_args", "labels"):
            value = json.dumps(value)
        elif isinstance(value, list):
            value = ",".join(value)
        elif isinstance(value, bool):
            value = str(value).lower()
        env[key if key.isupper() else f"PLUGIN_{key.upper()}"] = str(value)
    proc = subprocess.run([PLUGIN], env=env, cwd=ws, capture_output=True, text=True, timeout=300)
    result_file = ws / ".tagship" / "registry-push.json"
    result = json.loads(result_file.read_text()) if result_file.exists() else {}
    return proc.returncode, proc.stdout + proc.stderr, result


def skopeo_digest(ref: str, tmp_path: Path) -> str:
    host = ref.split("/", 1)[0]
    pw = PW_B if host == REG_B else PW_A
    auth = tmp_path / "skopeo-auth.json"
    auth.write_text(json.dumps({"auths": {host: {"auth": base64.b64encode(f"{USER}:{pw}".encode()).decode()}}}))
    out = subprocess.run(["skopeo", "inspect", "--raw", "--authfile", str(auth), "--cert-dir",
                          TB["TAGSHIP_REGISTRY_CERT_DIR"], f"docker://{ref}"], capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr.decode()[-500:]
    import hashlib

    return "sha256:" + hashlib.sha256(out.stdout).hexdigest()


@pytest.fixture
def cleanup_images():
    names: list[str] = []
    yield names
    for name in names:
        subprocess.run(["docker", "image", "rm", "-f", name], capture_output=True, timeout=60)


def test_build_once_push_tags_to_both_registries_and_repush_pushes_no_layer(tmp_path, cleanup_images):
    ns = _uid()
    ws = _workspace(tmp_path)
    (ws / ".version").write_text("1.4.0\n")
    git = ["git", "-C", str(ws), "-c", "user.email=ci@example.invalid", "-c", "user.name=ci"]
    subprocess.run(git[:3] + ["init", "-q"], check=True)
    subprocess.run(git + ["add", "."], check=True)
    subprocess.run(git + ["commit", "-qm", "release"], check=True)   # created = the commit's time
    cleanup_images.append(f"tagship-build/{ns}_live66_gateway:latest")
    settings = dict(registry=REG_A, namespace=ns, project="live66", module="gateway", username=USER,
                    password=PW_A, tags=["1.4.0", "1.4", "latest"], layout="seed", policy="warn",
                    build_args={"API_TOKEN": SENTINEL_ARG, "RUN_ID": ns},   # RUN_ID: no cache from other runs
                    # B's password the way a Drone user gives it: environment: {REG_B_PASSWORD: {from_secret: …}}
                    registries=[{"registry": REG_B, "username": USER, "password_env": "REG_B_PASSWORD"}],
                    REG_B_PASSWORD=PW_B)
    code, out, res = run_plugin(ws, **settings)
    assert code == 0, out
    image_a, image_b = f"{REG_A}/{ns}/live66_gateway", f"{REG_B}/{ns}/live66_gateway"
    assert res["image"] == image_a
    assert sorted(res["refs"]) == sorted(f"{i}:{t}" for i in (image_a, image_b) for t in ("1.4.0", "1.4", "latest"))
    # one digest everywhere, as skopeo reads it from each registry
    assert {skopeo_digest(ref, tmp_path) for ref in res["refs"]} == {res["digest"]}
    assert res["layers_pushed"] > 0
    # the seed layout is met; the one finding is the secret build arg the classic builder keeps in history
    assert [f["rule"] for f in res["policy"]] == ["secret-history"] and "API_TOKEN" in res["policy"][0]["message"]
    # the secret-looking build arg reached the build but never the log; the user is told why
    assert "token length 17 [******]" in out and "API_TOKEN looks secret" in out
    assert SENTINEL_ARG not in out
    assert PW_A not in out and PW_B not in out

    labels = json.loads(subprocess.run(["docker", "image", "inspect", "-f", "{{json .Config.Labels}}",
                                        res["image_id"]], capture_output=True, text=True).stdout)
    assert labels["org.opencontainers.image.version"] == "1.4.0"
    assert labels["org.opencontainers.image.title"] == "live66_gateway"

    code, out, again = run_plugin(ws, **settings)
    assert code == 0, out
    assert again["layers_pushed"] == 0
    assert again["digest"] == res["digest"]          # same commit, same image: the labels are reproducible
    assert again["layers_existing"] == res["layers_pushed"] + res["layers_existing"]


@pytest.mark.parametrize("_builder", ["buildkit"], indirect=True)   # a push test: one builder is enough
def test_registry_failing_a_fifth_of_blob_uploads_still_gets_the_image(tmp_path, cleanup_images):
    tls = Path(TB["TAGSHIP_TESTBED_DIR"]) / "tls"
    proxy = FaultProxy(REG_A, ca=str(tls / "ca.crt"), cert=str(tls / "server.crt"), key=str(tls / "server.key"),
                       blob_fail_rate=0.2, fail_manifest_puts=1).start()
    try:
        repo = f"{_uid()}/flaky"
        ws = _workspace(tmp_path)
        cleanup_images.append(f"tagship-build/{repo.replace('/', '_')}:latest")
        code, out, res = run_plugin(ws, registry=proxy.address, repo=repo, username=USER, password=PW_A,
                                    tags=["2.0.0", "latest"])
        assert code == 0, out
        # exactly a fifth of the blob commits failed (the engine retried those), and the manifest 503 was
        # retried by the plugin
        assert proxy.stats["blob_faults"] >= 1 and res["retries"] >= 1
        assert proxy.stats["blob_faults"] == -(-proxy.stats["blob_uploads"] // 5)
        assert "503" in out
        # straight from the registry, not through the proxy
        assert skopeo_digest(f"{REG_A}/{repo}:2.0.0", tmp_path) == res["digest"]
        assert skopeo_digest(f"{REG_A}/{repo}:latest", tmp_path) == res["digest"]
    finally:
        proxy.stop()


def bad_dockerfile() -> str:
    return f"""FROM {BUSYBOX}
ARG NPM_TOKEN
COPY id_rsa /root/.ssh/id_rsa
RUN rm /root/.ssh/id_rsa && echo "using $NPM_TOKEN"
COPY dot.env /app/.env
COPY server.pem /app/server.pem
COPY settings.ini /app/settings.ini
ENV DB_PASSWORD=hunter2
LABEL deploy.token=abc123
RUN true || git clone https://example.invalid/repo.git /src
"""


def test_policy_catches_each_rule_on_a_bad_image_and_pushes_nothing(tmp_path, cleanup_images):
    repo = f"{_uid()}/bad"
    ws = _workspace(tmp_path, bad_dockerfile(), {
        "id_rsa": "-----BEGIN OPENSSH PRIVATE KEY-----\nxx\n", "dot.env": "A=1\n",
        "server.pem": "-----BEGIN RSA PRIVATE KEY-----\nxx\n", "settings.ini": "key = LTAI5tQw3rTy7UiOp9AsDf\n"})
    cleanup_images.append(f"tagship-build/{repo.replace('/', '_')}:latest")
    code, out, res = run_plugin(ws, registry=REG_A, repo=repo, username=USER, password=PW_A, tags=["1.0.0"],
                                policy="enforce", layout="seed", build_args={"NPM_TOKEN": SENTINEL_ARG})
    assert code == 1, out
    found = {(f["rule"], f["message"].split(" ")[0]) for f in res["policy"]}
    messages = " | ".join(f["message"] for f in res["policy"])
    rules = {rule for rule, _ in found}
    assert rules == {"non-root", "seed-layout", "secret-file", "secret-value", "secret-history", "no-fetch"}
    for needle in ("/root/.ssh/id_rsa", "/app/.env", "/app/server.pem", "/app/settings.ini", "DB_PASSWORD",
                   "deploy.token", "NPM_TOKEN", "git clone", "ENTRYPOINT", "missing /home/worker/main"):
        assert needle in messages, needle
    assert res["layers"] >= 2 and "nothing was pushed" in out and SENTINEL_ARG not in out
    assert "refs" not in res or res["refs"] == []
    # and the registry indeed has nothing
    probe = subprocess.run(["skopeo", "inspect", "--raw", "--cert-dir", TB["TAGSHIP_REGISTRY_CERT_DIR"],
                            "--creds", f"{USER}:{PW_A}", f"docker://{REG_A}/{repo}:1.0.0"],
                           capture_output=True, timeout=60)
    assert probe.returncode != 0


def test_seed_step_settings_work_unchanged(tmp_path, cleanup_images):
    """The seed's plugins/docker step: registry, repo with the host, username/password from 0.8 secrets,
    dockerfile, tags latest + the version."""
    repo = f"{REG_A}/{_uid()}/cmdb_api"
    ws = _workspace(tmp_path, f"FROM {BUSYBOX}\nCOPY app.conf /etc/app.conf\nUSER worker\n")
    cleanup_images.append(f"tagship-build/{repo.split('/', 1)[1].replace('/', '_')}:latest")
    code, out, res = run_plugin(ws, registry=REG_A, repo=repo, dockerfile="Dockerfile", DOCKER_USERNAME=USER,
                                DOCKER_PASSWORD=PW_A, PLUGIN_TAG="latest,1.4.0", DRONE_TAG="v1.4.0", policy="enforce",
                                DRONE_COMMIT_REF="refs/tags/v1.4.0", DRONE_BUILD_EVENT="tag")
    assert code == 0, out
    assert sorted(res["refs"]) == [f"{repo}:1.4.0", f"{repo}:latest"]
    assert res["tags"] == ["1.4.0", "latest"]          # the version goes first, latest moves last


def test_smart_floating_tags_do_not_move_latest_back(tmp_path, cleanup_images):
    repo = f"{_uid()}/svc"
    ws = _workspace(tmp_path, f"FROM {BUSYBOX}\nARG VERSION\nRUN echo $VERSION > /v\nUSER worker\n")
    cleanup_images.append(f"tagship-build/{repo.replace('/', '_')}:latest")
    base = dict(registry=REG_A, repo=repo, username=USER, password=PW_A, auto_tag=True)
    code, out, first = run_plugin(ws, DRONE_TAG="v1.3.0", **base)
    assert code == 0, out
    assert sorted(first["tags"]) == ["1", "1.3", "1.3.0"]
    code, out, hotfix = run_plugin(ws, DRONE_TAG="v1.2.5", **base)
    assert code == 0, out
    assert hotfix["tags"] == ["1.2.5", "1.2"] and hotfix["held_back"] == ["1"]
    assert skopeo_digest(f"{REG_A}/{repo}:1", tmp_path) == first["digest"] != hotfix["digest"]


def test_dry_run_and_feature_branch_push_nothing(tmp_path, cleanup_images):
    repo = f"{_uid()}/dry"
    ws = _workspace(tmp_path, f"FROM {BUSYBOX}\nUSER worker\n")
    cleanup_images.append(f"tagship-build/{repo.replace('/', '_')}:latest")
    code, out, res = run_plugin(ws, registry=REG_A, repo=repo, username=USER, password=PW_A, dry_run=True)
    assert code == 0, out
    assert res["would_push"] == [f"{REG_A}/{repo}:latest"] and "not pushing (dry run)" in out
    code, out, res = run_plugin(ws, registry=REG_A, repo=repo, username=USER, password=PW_A, auto_tag=True,
                                DRONE_COMMIT_REF="refs/heads/feat/x", DRONE_BRANCH="feat/x")
    assert code == 0, out and "building without pushing" in out
    probe = subprocess.run(["skopeo", "inspect", "--raw", "--cert-dir", TB["TAGSHIP_REGISTRY_CERT_DIR"],
                            "--creds", f"{USER}:{PW_A}", f"docker://{REG_A}/{repo}:latest"],
                           capture_output=True, timeout=60)
    assert probe.returncode != 0


def test_aliyun_access_key_becomes_a_temporary_registry_login(tmp_path, cleanup_images):
    """The Aliyun preset's login path end to end: the AccessKey is exchanged at the (signature-checking)
    OpenAPI double for a temporary CR login, which the real registry accepts; no secret is printed."""
    from doubles.aliyun_openapi import AliyunOpenApiDouble

    ak, secret = "LTAI-rp-e2e-01", "SENTINEL-ak-secret-9e2a"
    repo = f"{_uid()}/cmdb_api"
    ws = _workspace(tmp_path, f"FROM {BUSYBOX}\nUSER worker\n")
    cleanup_images.append(f"tagship-build/{repo.replace('/', '_')}:latest")
    with AliyunOpenApiDouble(keys={ak: secret}, registry_login=(USER, PW_A)) as api:
        code, out, res = run_plugin(ws, registry=REG_A, repo=repo, region="cn-hangzhou", api_endpoint=api.url,
                                    ALIYUN_ACCESS_KEY_ID=ak, ALIYUN_ACCESS_KEY_SECRET=secret, tags=["1.0.0"])
        assert [r["path"] for r in api.requests] == ["/tokens"]
    assert code == 0, out
    assert "temporary, from the AccessKey" in out
    assert secret not in out and PW_A not in out
    assert skopeo_digest(f"{REG_A}/{repo}:1.0.0", tmp_path) == res["digest"]



def test_purge_leaves_one_image_per_repository_on_the_host(tmp_path, cleanup_images, docker_client):
    """Registry-qualified tags are removed after the push, and a rebuild replaces the previous image instead of
    leaving it behind (drone-docker's purge runs nothing)."""
    repo = f"{_uid()}/svc"
    ws = _workspace(tmp_path, f"FROM {BUSYBOX}\nCOPY app.conf /app.conf\nUSER worker\n")
    cleanup_images.append(f"tagship-build/{repo.replace('/', '_')}:latest")
    base = dict(registry=REG_A, repo=repo, username=USER, password=PW_A, tags=["1.0.0"])
    code, out, first = run_plugin(ws, **base)
    assert code == 0, out
    (ws / "app.conf").write_text(f"run = {uuid.uuid4().hex}\n")
    code, out, second = run_plugin(ws, **base)
    assert code == 0, out
    import docker.errors

    with pytest.raises(docker.errors.ImageNotFound):
        docker_client.images.get(first["image_id"])           # the previous build is gone
    image = docker_client.images.get(second["image_id"])
    assert image.tags == [f"tagship-build/{repo.replace('/', '_')}:latest"]   # no registry-qualified tags
