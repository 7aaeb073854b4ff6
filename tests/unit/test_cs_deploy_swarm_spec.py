"""cs-deploy compose → swarm ServiceSpec: stack labels and names like `docker stack deploy`, durations in ns,
ports, healthcheck, content-named configs/secrets, and a spec hash that only moves when the spec does."""

from __future__ import annotations

import pytest

from cs_deploy import plan, swarm_objects, swarm_spec
from cs_deploy.swarm_spec import HASH_LABEL, IMAGE_LABEL, NAMESPACE

D1 = "sha256:" + "1" * 64


def spec_for(svc, name="web", stack="shop", image=None):
    want = plan.service_wants({"services": {name: svc}}, {name: image or svc["image"]})[name]
    objs = swarm_objects.table({"networks": {"back": None}}, stack)
    return swarm_spec.service_spec(stack, want, objs,
                                   {"conf": ("", "shop_conf_abcd1234")}, {"key": ("", "shop_key_ffff0000")})


def test_names_labels_and_image_like_docker_stack_deploy():
    spec = spec_for({"image": "reg/app:1", "labels": {"team": "a"}, "deploy": {"labels": {"tier": "web"}}},
                    image=f"reg/app:1@{D1}")
    assert spec["Name"] == "shop_web"
    assert spec["Labels"][NAMESPACE] == "shop" and spec["Labels"][IMAGE_LABEL] == "reg/app:1"
    assert spec["Labels"]["tier"] == "web"
    c = spec["TaskTemplate"]["ContainerSpec"]
    assert c["Image"] == f"reg/app:1@{D1}" and c["Labels"] == {"team": "a", NAMESPACE: "shop"}
    assert spec["TaskTemplate"]["Networks"] == [{"Target": "shop_default", "Aliases": ["web"]}]
    assert spec["Mode"] == {"Replicated": {"Replicas": 1}}


def test_deploy_healthcheck_and_ports_convert():
    spec = spec_for({"image": "a:1", "command": "httpd -f", "entrypoint": ["/bin/sh", "-c"],
                     "environment": {"B": "2", "A": "1"}, "stop_grace_period": "1s",
                     "ports": ["8080:80", {"target": 53, "published": 5353, "protocol": "udp", "mode": "host"}],
                     "healthcheck": {"test": "wget -q localhost", "interval": "1s", "retries": 2},
                     "networks": ["back"],
                     "deploy": {"replicas": 3, "update_config": {"order": "start-first", "monitor": "500ms",
                                                                 "failure_action": "rollback"},
                                "restart_policy": {"condition": "on-failure", "delay": "2s"},
                                "resources": {"limits": {"cpus": "0.5", "memory": "64M"}}}})
    c = spec["TaskTemplate"]["ContainerSpec"]
    assert c["Args"] == ["httpd", "-f"] and c["Command"] == ["/bin/sh", "-c"] and c["Env"] == ["A=1", "B=2"]
    assert c["StopGracePeriod"] == 1_000_000_000
    assert c["Healthcheck"] == {"Test": ["CMD-SHELL", "wget -q localhost"], "Interval": 1_000_000_000, "Retries": 2}
    assert spec["UpdateConfig"] == {"Parallelism": 1, "Order": "start-first", "Monitor": 500_000_000,
                                    "FailureAction": "rollback"}
    assert spec["TaskTemplate"]["RestartPolicy"] == {"Condition": "on-failure", "Delay": 2_000_000_000}
    assert spec["TaskTemplate"]["Resources"] == {"Limits": {"NanoCPUs": 500_000_000, "MemoryBytes": 64 * 1024 ** 2}}
    assert spec["TaskTemplate"]["Networks"][0]["Target"] == "shop_back"
    assert spec["EndpointSpec"]["Ports"] == [
        {"Protocol": "udp", "TargetPort": 53, "PublishedPort": 5353, "PublishMode": "host"},
        {"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 8080, "PublishMode": "ingress"}]
    assert spec["Mode"]["Replicated"]["Replicas"] == 3


def test_configs_and_secrets_reference_content_named_objects():
    spec = spec_for({"image": "a:1", "configs": [{"source": "conf", "target": "/etc/app.conf"}], "secrets": ["key"]})
    c = spec["TaskTemplate"]["ContainerSpec"]
    assert c["Configs"][0]["ConfigName"] == "shop_conf_abcd1234" and c["Configs"][0]["File"]["Name"] == "/etc/app.conf"
    assert c["Secrets"][0]["SecretName"] == "shop_key_ffff0000" and c["Secrets"][0]["File"]["Name"] == "key"
    with pytest.raises(ValueError, match="not defined"):
        spec_for({"image": "a:1", "secrets": ["nope"]})


def test_content_names_change_with_content_only():
    a = swarm_spec.content_name("shop", "conf", b"x=1")
    assert a == swarm_spec.content_name("shop", "conf", b"x=1") != swarm_spec.content_name("shop", "conf", b"x=2")
    assert a.startswith("shop_conf_") and len(a) == len("shop_conf_") + 8


def test_spec_hash_moves_with_the_spec_not_with_ids():
    one = spec_for({"image": "a:1", "secrets": ["key"]})
    same = spec_for({"image": "a:1", "secrets": ["key"]})
    same["TaskTemplate"]["ContainerSpec"]["Secrets"][0]["SecretID"] = "filled-in-later"
    assert one["Labels"][HASH_LABEL] == swarm_spec.spec_hash(same)
    assert one["Labels"][HASH_LABEL] != spec_for({"image": "a:1", "secrets": ["key"], "command": "x"})["Labels"][HASH_LABEL]


def test_current_view_round_trips_what_we_submit():
    svc = {"image": "a:1", "environment": {"A": "1"}, "ports": ["8080:80"],
           "deploy": {"replicas": 2, "update_config": {"order": "start-first", "delay": "2s"}}}
    want = plan.service_wants({"services": {"web": svc}}, {})["web"]
    spec = swarm_spec.service_spec("shop", want, swarm_objects.table({}, "shop"), {}, {})
    spec["UpdateConfig"]["MaxFailureRatio"] = 0     # the engine fills it in
    view = swarm_spec.current_view("web", spec)
    assert view.update_config == swarm_spec.want_update_view(want)
    assert plan.diff_service("web", view, type(want)(**{**want.__dict__,
                                                        "update_config": swarm_spec.want_update_view(want)}),
                             set()).action == "unchanged"


@pytest.mark.parametrize("image, registry", [
    ("nginx:1", "docker.io"), ("team/app:1", "docker.io"), ("localhost:5443/a/b:1", "localhost:5443"),
    ("registry.cn-hangzhou.aliyuncs.com/ly_ops/cmdb_api:1", "registry.cn-hangzhou.aliyuncs.com"),
    ("localhost/app:1", "localhost"),
])
def test_registry_of(image, registry):
    assert swarm_spec.registry_of(image) == registry
