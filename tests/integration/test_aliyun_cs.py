"""The aliyun-cs backend against both doubles: the OpenAPI (signature-checked) for the master URL and certs,
and the mTLS CS master with the documented projects API and timed states."""

from __future__ import annotations

import stat
import sys
import time
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the doubles package

from cs_deploy.aliyun_cs import AliyunCSBackend  # noqa: E402
from cs_deploy.backend import ApplyError, Desired  # noqa: E402
from cs_deploy.plan import service_wants  # noqa: E402
from cs_deploy.settings import Settings  # noqa: E402
from doubles.aliyun_openapi import AliyunOpenApiDouble  # noqa: E402
from doubles.cs_master import UNCONFIRMED, CsMasterDouble  # noqa: E402
from tagship.context import load_context  # noqa: E402
from tagship.errors import PluginError  # noqa: E402
from tagship.retry import RetryPolicy  # noqa: E402
from tagship.runtime import Run  # noqa: E402
from tagship.settings import load_settings  # noqa: E402

AK, SECRET = "LTAI-cs-test-0002", "SENTINEL-cs-secret-e41b"
TEMPLATE = """version: '3.8'
services:
  web:
    image: registry.example/live66_gateway:{version}
    environment:
      PGCRYPTO_DEFAULT_KEY: ${{PGCRYPTO_DEFAULT_KEY}}
  worker:
    image: registry.example/live66_worker:{version}
"""


@pytest.fixture()
def cloud():
    with CsMasterDouble(delay=0.25) as master, AliyunOpenApiDouble(keys={AK: SECRET}) as api:
        api.add_cluster("c-cs", master.url, master.certs)
        yield api, master


def backend(api: AliyunOpenApiDouble, stack: str = "live66", **extra: str) -> AliyunCSBackend:
    env = {"PLUGIN_BACKEND": "aliyun-cs", "PROJECT_NAME": stack, "ALIYUN_ACCESS_KEY_ID": AK,
           "ALIYUN_ACCESS_KEY_SECRET": SECRET, "REGION": "cn-hangzhou", "CLUSTER_ID": "c-cs",
           "PLUGIN_API_ENDPOINT": api.url, "PLUGIN_POLL_INTERVAL": "0.05", "PLUGIN_MONITOR": "0.2",
           "PLUGIN_TIMEOUT": "10s", **extra}
    settings, _ = load_settings(Settings, env)
    run = Run(plugin="cs-deploy", ctx=load_context({}), settings=settings)
    return AliyunCSBackend(settings, run, policy=RetryPolicy(attempts=3, sleep=lambda s: None))


def desired(version: str, image_version: str | None = None, stack: str = "live66", **env: str) -> Desired:
    text = TEMPLATE.format(version=image_version or version)
    compose = yaml.safe_load(text)
    return Desired(stack=stack, template=text, compose=compose, services=service_wants(compose, {}),
                   environment={"VERSION": version, "PGCRYPTO_DEFAULT_KEY": "SENTINEL-app-key", "DRONE_BUILD_NUMBER": "9",
                                **env}, version=version, secret_names={"PGCRYPTO_DEFAULT_KEY"})


def deploy(b: AliyunCSBackend, want: Desired):
    """What the core does with a backend (backend.py's contract), returning (outcome, rollback outcome)."""
    plan = b.plan(want)
    try:
        applied = b.apply(plan)
    except ApplyError as exc:
        return None, b.rollback(exc.applied, time.monotonic() + 10)
    outcome = b.wait(applied, time.monotonic() + b.settings.timeout)
    if outcome.ok:
        b.finish(applied)
        return outcome, None
    return outcome, b.rollback(applied, time.monotonic() + 10)


def project(master: CsMasterDouble, name: str = "live66") -> dict:
    return master._view(master.projects[name])


def test_create_then_update_waits_for_running_on_the_new_version(cloud) -> None:
    api, master = cloud
    b = backend(api)
    plan = b.plan(desired("1.0.0"))
    assert [d.action for d in plan.diffs] == ["create", "create"]
    outcome, _ = deploy(b, desired("1.0.0"))
    assert outcome.state == "converged"
    p = project(master)
    assert p["current_state"] == "running" and p["version"] == "1.0.0"
    assert p["environment"]["VERSION"] == "1.0.0" and "DRONE_BUILD_NUMBER" not in p["environment"]
    posts = [r for r in master.requests if r[0] == "POST"]
    assert posts[0][1] == "/projects/" and posts[0][2]["template"] == desired("1.0.0").template

    plan = b.plan(desired("1.1.0"))
    assert {d.service: [c.field for c in d.changes] for d in plan.diffs} == {"web": ["image"], "worker": ["image"]}
    started = time.monotonic()
    outcome, _ = deploy(b, desired("1.1.0"))
    assert outcome.state == "converged"
    assert time.monotonic() - started >= 0.25 + 0.2   # really polled past "updating" and the monitor window
    p = project(master)
    assert p["version"] == "1.1.0" and {s["version"] for s in p["services"]} == {"1.1.0"}
    assert "live66_worker:1.1.0" in p["template"]
    b.close()


def test_unchanged_version_is_explained_not_posted_and_a_rerun_is_a_noop(cloud) -> None:
    api, master = cloud
    b = backend(api)
    deploy(b, desired("2.0.0"))
    outcome, _ = deploy(b, desired("2.0.0"))          # the same pipeline re-run: nothing to do, success
    assert outcome.state == "skipped"
    posts_before = sum(1 for r in master.requests if r[0] == "POST")
    with pytest.raises(PluginError) as err:          # a new image but the same version: CS would answer 409
        b.apply(b.plan(desired("2.0.0", image_version="2.0.1")))
    assert "409" in err.value.message and "unchanged version" in err.value.message
    assert "PLUGIN_VERSION" in err.value.hint
    assert sum(1 for r in master.requests if r[0] == "POST") == posts_before
    b.close()


def test_a_409_from_the_server_is_explained_too(cloud) -> None:
    api, master = cloud
    b = backend(api)
    deploy(b, desired("3.0.0"))
    plan = b.plan(desired("3.0.1"))
    master.projects["live66"]["version"] = "3.0.1"   # another deploy got there between plan and apply
    with pytest.raises(ApplyError) as err:
        b.apply(plan)
    assert "refused the update" in err.value.message and "PLUGIN_VERSION" in err.value.hint
    b.close()


def test_failed_rolling_update_is_rolled_back_to_the_previous_template(cloud) -> None:
    api, master = cloud
    b = backend(api)
    deploy(b, desired("4.0.0"))
    outcome, back = deploy(b, desired("4.1.0", image_version="4.1.0-broken"))
    assert outcome.state == "failed" and "failed" in outcome.message
    assert back.state == "rolled-back"
    p = project(master)
    assert p["current_state"] == "running"
    assert p["version"] == "4.0.0-rollback.1"
    assert "live66_gateway:4.0.0\n" in p["template"] and "broken" not in p["template"]
    assert {s["version"] for s in p["services"]} == {"4.0.0-rollback.1"}
    # and the next good deploy works from there
    assert deploy(b, desired("4.2.0"))[0].state == "converged"
    b.close()


def test_master_hiccups_while_polling_are_retried(cloud) -> None:
    api, master = cloud
    b = backend(api)
    deploy(b, desired("4.5.0"))
    plan = b.plan(desired("4.6.0"))
    applied = b.apply(plan)
    master.fail_next.extend([503, 502])               # the master stumbles twice during the wait
    outcome = b.wait(applied, time.monotonic() + 10)
    assert outcome.state == "converged" and not master.fail_next
    master.fail_next.extend([503] * 5)                # and a master that stays down is a clear failure
    with pytest.raises(PluginError, match="kept failing"):
        b.plan(desired("4.7.0"))
    b.close()


def test_timeout_is_reported_and_rolled_back(cloud) -> None:
    api, master = cloud
    deploy(backend(api), desired("5.0.0"))
    b = backend(api, PLUGIN_TIMEOUT="0.3s")
    master.delay = 2.0                                # far longer than the 0.3 s budget, even on a busy machine
    outcome, back = deploy(b, desired("5.1.0"))
    assert outcome.state == "timeout" and "not converged" in outcome.message
    assert back.state == "rolled-back" and project(master)["version"] == "5.0.0-rollback.1"
    b.close()


def test_blue_green_is_confirmed_after_the_new_release_runs(cloud) -> None:
    api, master = cloud
    b = backend(api, PLUGIN_UPDATE_METHOD="blue-green")
    deploy(b, desired("6.0.0"))
    outcome, back = deploy(b, desired("6.1.0"))
    assert outcome.state == "converged" and back is None
    assert [r[1] for r in master.requests if r[0] == "POST"][-1] == "/projects/live66/confirm-update"
    p = project(master)
    assert {s["version"] for s in p["services"]} == {"6.1.0"}      # the old release is gone once confirmed
    assert master.projects["live66"]["_unconfirmed"] is None
    b.close()


def test_blue_green_failure_rolls_the_update_back(cloud) -> None:
    api, master = cloud
    b = backend(api, PLUGIN_UPDATE_METHOD="blue-green")
    deploy(b, desired("7.0.0"))
    outcome, back = deploy(b, desired("7.1.0", image_version="broken"))
    assert outcome.state == "failed" and back.state == "rolled-back"
    assert "/projects/live66/rollback-update" in [r[1] for r in master.requests if r[0] == "POST"]
    p = project(master)
    assert p["version"] == "7.0.0" and {s["version"] for s in p["services"]} == {"7.0.0"}
    assert master.projects["live66"]["_unconfirmed"] is None
    b.close()


def test_a_dangling_unconfirmed_release_is_cleared_first(cloud) -> None:
    api, master = cloud
    b = backend(api, PLUGIN_UPDATE_METHOD="blue-green")
    deploy(b, desired("8.0.0"))
    b.apply(b.plan(desired("8.1.0")))                 # an earlier run died before confirming
    time.sleep(0.3)
    outcome, back = deploy(b, desired("8.2.0"))
    assert outcome.state == "converged" and back is None
    answers = [r[1] for r in master.requests if r[0] == "POST"]
    assert answers[-4:] == ["/projects/live66/update", "/projects/live66/rollback-update",
                            "/projects/live66/update", "/projects/live66/confirm-update"]
    p = project(master)
    assert p["version"] == "8.2.0" and {s["version"] for s in p["services"]} == {"8.2.0"}
    b.close()


def test_after_clearing_a_dangling_release_a_failure_goes_back_to_the_confirmed_one(cloud) -> None:
    api, master = cloud
    deploy(backend(api), desired("8.5.0"))
    bg = backend(api, PLUGIN_UPDATE_METHOD="blue-green")
    bg.apply(bg.plan(desired("8.6.0")))               # left unconfirmed
    time.sleep(0.3)
    rolling = backend(api)
    outcome, back = deploy(rolling, desired("8.7.0", image_version="broken"))
    assert outcome.state == "failed" and back.state == "rolled-back"
    p = project(master)
    assert p["version"] == "8.5.0-rollback.1" and "live66_gateway:8.5.0\n" in p["template"]
    for b in (bg, rolling):
        b.close()


def test_a_failed_project_at_the_same_version_is_not_reported_up_to_date(cloud) -> None:
    api, master = cloud
    b = backend(api, PLUGIN_ROLLBACK="off")
    deploy(b, desired("8.8.0"))
    master.projects["live66"]["current_state"] = "failed"   # e.g. a node died and the project failed later
    plan = b.plan(desired("8.8.0"))
    assert plan.changed                               # so the core applies, and apply explains
    with pytest.raises(PluginError, match="failed at version 8.8.0") as err:
        b.apply(plan)
    assert "PLUGIN_VERSION" in err.value.hint
    b.close()


def test_a_failed_first_deploy_deletes_the_project_it_created(cloud) -> None:
    api, master = cloud
    b = backend(api)
    outcome, back = deploy(b, desired("9.0.0", image_version="broken"))
    assert outcome.state == "failed" and back.state == "rolled-back"
    assert "live66" not in master.projects
    b.close()


def test_certs_are_private_while_used_and_gone_after(cloud) -> None:
    api, master = cloud
    b = backend(api)
    directory = b.cert_dir
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert sorted(p.name for p in directory.iterdir()) == ["ca.pem", "cert.pem", "key.pem"]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in directory.iterdir())
    b.plan(desired("1.0.0"))                          # the certs work: mTLS verified against the cluster CA
    b.close()
    assert not directory.exists()


def test_master_refuses_a_client_without_the_cluster_certificate(cloud) -> None:
    import requests

    api, master = cloud
    ca = Path(master._tmp.name) / "ca.pem"
    ca.write_text(master.pki["ca"])
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(master.url + "/projects/", verify=str(ca), timeout=5)
    assert master.tls_failures >= 1
    assert not master.requests


def test_master_with_an_unknown_ca_fails_with_a_hint(cloud) -> None:
    api, master = cloud
    other = CsMasterDouble()                          # another cluster's certificates for this master
    api.clusters["c-cs"].certs = other.certs
    b = backend(api)
    with pytest.raises(PluginError) as err:
        b.plan(desired("1.0.0"))
    assert "TLS with the cluster master" in err.value.message and "certificates" in err.value.hint
    b.close()


def test_a_dangling_unconfirmed_conflict_text_matches_the_documented_one() -> None:
    assert UNCONFIRMED == "Conflicts with unconfirmed updates for operation"
