"""The foundation's "done when": the real engine logs in to the TLS + htpasswd registry, builds FROM the local
busybox base, pushes, and skopeo (independent of Docker) reads back the digest the push reported."""
from __future__ import annotations

import io
import json
import subprocess
import uuid

import pytest

pytestmark = pytest.mark.engine


def _push(client, repo: str, tag: str, auth: dict[str, str]) -> str:
    """Push through the engine; fail on any errorDetail; return the digest the push reported."""
    digest = None
    for line in client.images.push(repo, tag=tag, auth_config=auth, stream=True, decode=True):
        if "errorDetail" in line or "error" in line:
            pytest.fail(f"push of {repo}:{tag} failed: {line.get('errorDetail') or line.get('error')}")
        aux = line.get("aux") or {}
        if aux.get("Digest"):
            digest = aux["Digest"]
    assert digest and digest.startswith("sha256:"), f"the push of {repo}:{tag} reported no digest"
    return digest


def _skopeo_inspect(ref: str, cert_dir: str, creds: str) -> subprocess.CompletedProcess:
    # credentials through an auth file would keep them off the command line; --creds is what the bed
    # documents and this is a throwaway loopback registry
    return subprocess.run(["skopeo", "inspect", "--cert-dir", cert_dir, "--creds", creds, f"docker://{ref}"],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def built_image(docker_client, busybox_image, testbed):
    repo = f"{testbed.registry}/testbed-{uuid.uuid4().hex[:8]}/hello"
    marker = uuid.uuid4().hex
    dockerfile = (f"FROM {busybox_image}\n"
                  f"RUN echo {marker} > /hello && id worker\n"
                  "USER worker\n"
                  'CMD ["cat", "/hello"]\n')
    image, _ = docker_client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=f"{repo}:1.0.0",
                                          rm=True, forcerm=True)
    yield repo, image, marker
    docker_client.images.remove(f"{repo}:1.0.0", force=True)


def test_login_build_push_and_skopeo_reads_the_same_digest(docker_client, testbed, built_image):
    repo, image, marker = built_image
    # the image runs and is what we built
    out = docker_client.containers.run(image.id, remove=True)
    assert out.decode().strip() == marker

    login = docker_client.login(username=testbed.user, password=testbed.password, registry=testbed.registry,
                                reauth=True)
    assert "Login Succeeded" in json.dumps(login)

    digest = _push(docker_client, repo, "1.0.0", testbed.auth())

    proc = _skopeo_inspect(f"{repo}:1.0.0", testbed.cert_dir, f"{testbed.user}:{testbed.password}")
    assert proc.returncode == 0, proc.stderr[-1000:]
    info = json.loads(proc.stdout)
    assert info["Digest"] == digest
    assert info["Name"] == repo
    # the engine's own view agrees: the pushed image's RepoDigests carry the same digest
    assert f"{repo}@{digest}" in docker_client.images.get(image.id).attrs["RepoDigests"]


def test_second_registry_takes_its_own_password(docker_client, testbed, built_image):
    repo, image, _ = built_image
    repo2 = repo.replace(testbed.registry, testbed.registry2, 1)
    image.tag(repo2, "1.0.0")
    try:
        digest = _push(docker_client, repo2, "1.0.0", testbed.auth(second=True))
        proc = _skopeo_inspect(f"{repo2}:1.0.0", testbed.cert_dir, f"{testbed.user2}:{testbed.password2}")
        assert proc.returncode == 0, proc.stderr[-1000:]
        assert json.loads(proc.stdout)["Digest"] == digest
    finally:
        docker_client.images.remove(f"{repo2}:1.0.0", force=True)


def test_wrong_password_is_refused(docker_client, testbed):
    import docker.errors

    with pytest.raises(docker.errors.APIError) as err:
        docker_client.login(username=testbed.user, password="not-the-password", registry=testbed.registry,
                            reauth=True)
    assert "401" in str(err.value) or "unauthorized" in str(err.value).lower()
    # registry A's password does not open registry B
    if testbed.password != testbed.password2:
        with pytest.raises(docker.errors.APIError):
            docker_client.login(username=testbed.user, password=testbed.password, registry=testbed.registry2,
                                reauth=True)
    # and skopeo, outside Docker, is refused too
    proc = _skopeo_inspect(f"{testbed.registry}/nothing/here:latest", testbed.cert_dir,
                           f"{testbed.user}:not-the-password")
    assert proc.returncode != 0
    assert "unauthorized" in proc.stderr.lower() or "401" in proc.stderr


def test_registry_refuses_anonymous_and_untrusted_tls(testbed):
    import ssl
    import urllib.error
    import urllib.request

    ctx = ssl.create_default_context(cafile=testbed.ca)
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"https://{testbed.registry}/v2/", context=ctx, timeout=10)
    assert err.value.code == 401
    # without the test bed's CA the certificate is not trusted (TLS is real, not skipped)
    with pytest.raises(urllib.error.URLError) as err2:
        urllib.request.urlopen(f"https://{testbed.registry}/v2/", context=ssl.create_default_context(), timeout=10)
    assert isinstance(err2.value.reason, ssl.SSLCertVerificationError)


def test_swarm_and_python_base(docker_client, swarm, python_base_image):
    assert swarm["LocalNodeState"] == "active"
    out = docker_client.containers.run(python_base_image, ["python3", "-c", "import venv, ssl; print('ok')"],
                                       remove=True, user="worker")
    assert out.decode().strip() == "ok"


def test_script_is_idempotent_fast_and_never_prints_the_passwords(testbed):
    import time
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "scripts" / "testbed.sh"
    t0 = time.monotonic()
    up = subprocess.run(["bash", str(script), "up"], capture_output=True, text=True, timeout=300)
    took = time.monotonic() - t0
    assert up.returncode == 0, up.stderr[-1000:]
    assert took < 15, f"`testbed.sh up` on a bed that is up took {took:.1f}s"
    status = subprocess.run(["bash", str(script), "status"], capture_output=True, text=True, timeout=60)
    assert status.returncode == 0, status.stdout
    env = subprocess.run(["bash", str(script), "env"], capture_output=True, text=True, timeout=60)
    assert env.returncode == 0 and "TAGSHIP_REGISTRY_PASSWORD=******" in env.stdout
    for out in (up.stdout + up.stderr, status.stdout + status.stderr, env.stdout + env.stderr):
        assert testbed.password not in out and testbed.password2 not in out
