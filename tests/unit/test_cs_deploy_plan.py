"""cs-deploy pure decisions: variables and their precedence, versions, image references and digest pinning,
the per-service view of a compose file, and the current-vs-desired diff (secrets masked)."""

from __future__ import annotations

import pytest

from cs_deploy import plan
from cs_deploy.backend import ServiceWant

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64


@pytest.mark.parametrize("tag, build, sha, expected", [
    ("v1.4.0", "7", "abcdef12", "1.4.0"),
    ("1.4.0", None, None, "1.4.0"),
    ("version-2", None, None, "version-2"),
    (None, "42", "abcdef1234", "42-abcdef1"),
    (None, None, None, None),
])
def test_default_version_is_the_seeds_tag_without_v(tag, build, sha, expected):
    assert plan.default_version(tag, build, sha) == expected


def test_variables_precedence_and_secret_names():
    environ = {"DRONE_TAG": "v1", "PGCRYPTO_DEFAULT_KEY": "k", "MODE": "env", "HOME": "/root", "VERSION": "9"}
    found, secret, missing = plan.variables({"MODE": "setting"}, ["PGCRYPTO_DEFAULT_KEY", "MODE", "NOPE"],
                                            environ, "1.0")
    assert found["MODE"] == "setting"                  # environment beats env_from
    assert found["PGCRYPTO_DEFAULT_KEY"] == "k" and found["DRONE_TAG"] == "v1"
    assert found["VERSION"] == "1.0" and "HOME" not in found
    assert secret == {"PGCRYPTO_DEFAULT_KEY"} and missing == ["NOPE"]


@pytest.mark.parametrize("image, expected", [
    ("nginx", ("nginx", None, None)),
    ("nginx:1.25", ("nginx", "1.25", None)),
    ("localhost:5443/a/b", ("localhost:5443/a/b", None, None)),
    ("localhost:5443/a/b:2", ("localhost:5443/a/b", "2", None)),
    (f"reg.io/a:2@{D1}", ("reg.io/a", "2", D1)),
])
def test_split_ref(image, expected):
    assert plan.split_ref(image) == expected


@pytest.mark.parametrize("image, floating", [
    ("app", True), ("app:latest", True), ("reg:5000/app", True), ("app:1.2", False),
    (f"app:latest@{D1}", False), (f"app@{D1}", False),
])
def test_floating(image, floating):
    assert plan.is_floating(image) is floating


RESULT = {"status": "success", "image": "reg.io/team/api", "digest": D1,
          "refs": ["reg.io/team/api:1.4.0", "reg.io/team/api:latest"]}


@pytest.mark.parametrize("image, result, expected", [
    ("reg.io/team/api:1.4.0", RESULT, D1),
    ("reg.io/team/api:latest", RESULT, D1),
    ("reg.io/team/api:1.3.9", RESULT, None),           # not a tag this pipeline pushed
    ("reg.io/team/web:1.4.0", RESULT, None),           # another repo
    ("reg.io/team/api:1.4.0", {**RESULT, "status": "failed"}, None),
    ("reg.io/team/api:1.4.0", None, None),
    ("reg.io/team/api:1.4.0", {"registries": [{"image": "x/y", "digest": D2, "refs": ["x/y:1"]}, RESULT]}, D1),
])
def test_digest_from_registry_push_result(image, result, expected):
    assert plan.digest_from_result(image, result) == expected


def test_pinned_keeps_an_explicit_digest():
    assert plan.pinned("a:1", D1) == f"a:1@{D1}"
    assert plan.pinned(f"a:1@{D2}", D1) == f"a:1@{D2}"
    assert plan.pinned("a:1", None) == "a:1"


@pytest.mark.parametrize("ports, expected", [
    (["8080:80"], ["8080:80/tcp"]),
    (["127.0.0.1:8080:80/udp"], ["8080:80/udp"]),
    (["80"], ["80/tcp"]),
    ([{"target": 80, "published": 8080, "mode": "host"}], ["8080:80/tcp"]),
    ([9000, "1:2"], ["1:2/tcp", "9000/tcp"]),
])
def test_ports_normalised(ports, expected):
    assert plan.port_specs(ports) == expected


def test_service_wants_reads_replicas_env_and_global_mode():
    compose = {"services": {
        "web": {"image": "a:1", "environment": ["A=1", "B"], "deploy": {"replicas": 3}},
        "agent": {"image": "b:1", "environment": {"X": True, "Y": None}, "deploy": {"mode": "global"}},
        "one": {"image": "c:1"}}}
    wants = plan.service_wants(compose, {"web": f"a:1@{D1}"})
    assert wants["web"].image == f"a:1@{D1}" and wants["web"].image_ref == "a:1"
    assert wants["web"].env == {"A": "1", "B": ""} and wants["web"].replicas == 3
    assert wants["agent"].replicas is None and wants["agent"].env == {"X": "true", "Y": ""}
    assert wants["one"].replicas == 1


def _w(**kw):
    base = dict(name="web", image="a:1", image_ref="a:1", env={"A": "1", "DB_PASSWORD": "old-pw"}, replicas=2,
                update_config={"order": "start-first"}, ports=["8080:80/tcp"])
    base.update(kw)
    return ServiceWant(**base)


def test_diff_shows_each_change_with_secrets_masked():
    d = plan.diff_service("web", _w(), _w(image="a:2", env={"A": "2", "DB_PASSWORD": "new-pw", "NEW": "x"},
                                          replicas=3, ports=["9090:80/tcp"]), set())
    fields = {c.field: (c.old, c.new) for c in d.changes}
    assert d.action == "update" and fields["image"] == ("a:1", "a:2")
    assert fields["env.A"] == ("1", "2") and fields["env.NEW"] == (None, "x")
    assert fields["env.DB_PASSWORD"] == ("******", "******")
    assert fields["replicas"] == (2, 3) and fields["ports"] == (["8080:80/tcp"], ["9090:80/tcp"])
    text = "\n".join(plan.diff_lines([d]))
    assert "old-pw" not in text and "new-pw" not in text and "a:1 → a:2" in text


def test_diff_masks_names_declared_secret_and_handles_create_unchanged_remove():
    d = plan.diff_service("web", _w(env={"APP_MODE": "a"}), _w(env={"APP_MODE": "b"}), {"APP_MODE"})
    assert [(c.old, c.new) for c in d.changes] == [("******", "******")]
    assert plan.diff_service("web", None, _w(), set()).action == "create"
    assert plan.diff_service("web", _w(), _w(), set()).action == "unchanged"
    assert [d.service for d in plan.removed(["web", "old"], ["web"])] == ["old"]
    assert plan.diff_service("web", _w(update_config={}), _w(), set()).changes[0].field == "update_config.order"
