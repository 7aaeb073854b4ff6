"""cs-deploy as a pipeline step (the console script in a subprocess) with backend aliyun-cs against the doubles:
the seed's deploy step ported unchanged, a failed release rolled back with exit 1, bad credentials, an unchanged
version — exit codes, output and .tagship/cs-deploy.json, and no secret in any output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the doubles package

from doubles.aliyun_openapi import AliyunOpenApiDouble  # noqa: E402
from doubles.cs_master import CsMasterDouble  # noqa: E402

BIN = Path(sys.executable).parent / "cs-deploy"
AK, SECRET = "LTAI-plugin-test-03", "SENTINEL-plugin-secret-a7c2"
APP_KEY = "SENTINEL-pgcrypto-4e19"
COMPOSE = """services:
  web:
    image: registry.example/cmdb-api:${VERSION}
    environment:
      PGCRYPTO_DEFAULT_KEY: ${PGCRYPTO_DEFAULT_KEY}
    deploy:
      replicas: 2
"""


@pytest.fixture()
def cloud():
    with CsMasterDouble(delay=0.2) as master, AliyunOpenApiDouble(keys={AK: SECRET}) as api:
        api.add_cluster("c-seed", master.url, master.certs)
        yield api, master


def step(api: AliyunOpenApiDouble, workspace: Path, version: str, compose: str = COMPOSE, **extra: str):
    """The seed's deploy step: its variable names, plus the backend and the doubles' address."""
    (workspace / "docker-compose.yml").write_text(compose)
    env = {"PATH": os.environ["PATH"], "HOME": str(workspace), "DRONE_WORKSPACE": str(workspace),
           "DRONE_TAG": f"v{version}", "DRONE_BUILD_EVENT": "tag", "DRONE_COMMIT_SHA": "0" * 40,
           "ALIYUN_ACCESS_KEY_ID": AK, "ALIYUN_ACCESS_KEY_SECRET": SECRET, "REGION": "cn-beijing",
           "CLUSTER_ID": "c-seed", "PROJECT_NAME": "cmdb", "VERSION": version, "PGCRYPTO_DEFAULT_KEY": APP_KEY,
           "PLUGIN_BACKEND": "aliyun-cs", "PLUGIN_ENV_FROM": "PGCRYPTO_DEFAULT_KEY", "PLUGIN_API_ENDPOINT": api.url,
           "PLUGIN_POLL_INTERVAL": "0.05", "PLUGIN_MONITOR": "0.1", "PLUGIN_TIMEOUT": "20s", **extra}
    proc = subprocess.run([str(BIN)], env=env, capture_output=True, text=True, timeout=120)
    output = proc.stdout + proc.stderr
    for secret in (SECRET, APP_KEY, "BEGIN PRIVATE KEY"):
        assert secret not in output, f"{secret[:12]}… printed"
    result = json.loads((workspace / ".tagship" / "cs-deploy.json").read_text())
    assert SECRET not in json.dumps(result) and APP_KEY not in json.dumps(result)
    return proc.returncode, output, result


def test_seed_step_deploys_and_waits_then_updates(cloud, tmp_path: Path) -> None:
    api, master = cloud
    code, output, result = step(api, tmp_path, "1.0.0")
    assert code == 0, output
    assert result["outcome"] == "deployed"
    project = master.projects["cmdb"]
    assert project["version"] == "1.0.0" and project["current_state"] == "running"
    assert project["environment"] == {"PGCRYPTO_DEFAULT_KEY": APP_KEY, "VERSION": "1.0.0"}
    code, output, result = step(api, tmp_path, "1.1.0")
    assert code == 0, output
    assert master.projects["cmdb"]["version"] == "1.1.0"
    assert "cmdb-api:1.1.0" in master.projects["cmdb"]["template"]
    assert "1.0.0 → 1.1.0" in output


def test_failed_release_is_rolled_back_and_the_step_is_red(cloud, tmp_path: Path) -> None:
    api, master = cloud
    assert step(api, tmp_path, "2.0.0")[0] == 0
    master.fail_versions.add("2.1.0")
    code, output, result = step(api, tmp_path, "2.1.0")
    assert code == 1, output
    assert result["outcome"] == "failed, rolled-back"
    assert "deploy of cmdb failed" in output
    project = master.projects["cmdb"]
    assert project["current_state"] == "running" and project["version"] == "2.0.0-rollback.1"
    assert "cmdb-api:2.0.0" in project["template"]


def test_wrong_secret_is_exit_1_with_a_clear_message(cloud, tmp_path: Path) -> None:
    api, master = cloud
    code, output, _ = step(api, tmp_path, "3.0.0", ALIYUN_ACCESS_KEY_SECRET="SENTINEL-wrong-secret-19d3")
    assert code == 1
    assert "secret does not match" in output and "PLUGIN_ACCESS_KEY_SECRET" in output
    assert "SENTINEL-wrong-secret-19d3" not in output
    assert "Traceback" not in output
    assert not master.requests   # never reached the cluster


def test_same_version_with_a_changed_file_explains_the_409(cloud, tmp_path: Path) -> None:
    api, master = cloud
    assert step(api, tmp_path, "4.0.0")[0] == 0
    code, output, _ = step(api, tmp_path, "4.0.0", compose=COMPOSE.replace("replicas: 2", "replicas: 3"))
    assert code == 1
    assert "unchanged version (HTTP 409)" in output and "PLUGIN_VERSION" in output
    rerun_code, rerun, _ = step(api, tmp_path, "4.0.0")   # the very same step again: nothing to do, green
    assert rerun_code == 0, rerun


def test_dry_run_shows_the_diff_and_changes_nothing(cloud, tmp_path: Path) -> None:
    api, master = cloud
    assert step(api, tmp_path, "5.0.0")[0] == 0
    posts = [r for r in master.requests if r[0] != "GET"]
    code, output, result = step(api, tmp_path, "5.1.0", PLUGIN_DRY_RUN="true")
    assert code == 0, output
    assert "cmdb-api:5.0.0 → registry.example/cmdb-api:5.1.0" in output and "5.0.0 → 5.1.0" in output
    assert [r for r in master.requests if r[0] != "GET"] == posts
    assert master.projects["cmdb"]["version"] == "5.0.0"
    code, output, _ = step(api, tmp_path, "5.1.0", PLUGIN_DRY_RUN="true", PLUGIN_FAIL_ON_DIFF="true")
    assert code == 1


def test_the_cluster_ca_is_used_even_when_the_runner_sets_requests_ca_bundle(cloud, tmp_path: Path) -> None:
    api, master = cloud
    # requests lets REQUESTS_CA_BUNDLE override a Session's verify; the backend must pass the CA per request
    code, output, _ = step(api, tmp_path, "6.0.0", REQUESTS_CA_BUNDLE="/etc/ssl/certs/ca-certificates.crt",
                           CURL_CA_BUNDLE="/etc/ssl/certs/ca-certificates.crt")
    assert code == 0, output


def test_sigterm_mid_rollout_leaves_no_certificate_on_disk(cloud, tmp_path: Path) -> None:
    import signal
    import time

    api, master = cloud
    assert step(api, tmp_path, "7.0.0")[0] == 0
    master.delay = 60                                  # the rollout will not end by itself
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "DRONE_WORKSPACE": str(tmp_path), "TMPDIR": str(tmpdir),
           "ALIYUN_ACCESS_KEY_ID": AK, "ALIYUN_ACCESS_KEY_SECRET": SECRET, "REGION": "cn-beijing",
           "CLUSTER_ID": "c-seed", "PROJECT_NAME": "cmdb", "VERSION": "7.1.0", "PGCRYPTO_DEFAULT_KEY": APP_KEY,
           "PLUGIN_BACKEND": "aliyun-cs", "PLUGIN_ENV_FROM": "PGCRYPTO_DEFAULT_KEY", "PLUGIN_API_ENDPOINT": api.url,
           "PLUGIN_POLL_INTERVAL": "0.05"}
    proc = subprocess.Popen([str(BIN)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        end = time.monotonic() + 60
        while not any(r[1] == "/projects/cmdb/update" for r in master.requests) and time.monotonic() < end:
            time.sleep(0.05)
        certs = list(tmpdir.glob("tagship-cs-*/key.pem"))
        assert certs, "the key should be on disk while the step talks to the master"
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 143, output
    assert not list(tmpdir.iterdir()), "certificates left behind"
    assert "left undone" in output and SECRET not in output and APP_KEY not in output
