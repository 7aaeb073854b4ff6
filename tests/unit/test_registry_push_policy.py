"""The image-policy rules on gathered facts, and the settings' drone-docker compatibility."""

import io
import tarfile

import pytest

from registry_push import policy
from registry_push.settings import Settings
from tagship.errors import SettingsError
from tagship.settings import load_settings

GOOD_LAYERS = [{"files": ["home/worker/main/entrypoint.sh", "home/worker/main/main",
                          "home/worker/main/conf/app.conf"]}]


def _facts(**kw):
    base = dict(user="worker", entrypoint=["/home/worker/main/entrypoint.sh"], env=["PATH=/bin"], labels={},
                history=["/bin/sh -c #(nop) USER worker"], layers=GOOD_LAYERS, dockerfile="FROM x\n")
    base.update(kw)
    return policy.Facts(**base)


def test_a_clean_seed_image_has_no_findings():
    assert policy.check(_facts(), "seed") == []


@pytest.mark.parametrize("kw,rule", [
    ({"user": ""}, "non-root"),
    ({"user": "0:0"}, "non-root"),
    ({"entrypoint": ["/app/run"]}, "seed-layout"),
    ({"layers": [{"files": ["home/worker/main/main"]}]}, "seed-layout"),
    ({"layers": GOOD_LAYERS + [{"keys": ["root/.ssh/id_rsa"]}]}, "secret-file"),
    ({"layers": GOOD_LAYERS + [{"secrets": [("app/conf", "an AccessKey-like string")]}]}, "secret-value"),
    ({"env": ["DB_PASSWORD=hunter2"]}, "secret-value"),
    ({"env": ["X=LTAI5tAbCdEfGhIjKlMn"]}, "secret-value"),
    ({"labels": {"deploy.token": "abc"}}, "secret-value"),
    ({"history": ["|1 NPM_TOKEN=xyz /bin/sh -c npm ci"]}, "secret-history"),
    ({"dockerfile": "FROM x\nRUN apk add git && \\\n    git clone https://h/r.git /src\n"}, "no-fetch"),
    ({"dockerfile": "FROM golang\nRUN go get -u example.com/x\n"}, "no-fetch"),
])
def test_each_rule(kw, rule):
    rules = {f.rule for f in policy.check(_facts(**kw), "seed")}
    assert rule in rules


def test_layout_is_only_checked_with_seed():
    assert policy.check(_facts(entrypoint=None, layers=[]), "none") == []


def test_whiteouts_remove_files_from_the_final_layout():
    layers = GOOD_LAYERS + [{"whiteouts": ["home/worker/main/conf"]}]
    assert "home/worker/main/conf/app.conf" not in policy.final_files(layers)
    assert "home/worker/main/main" in policy.final_files(layers)


def test_scan_layer_finds_deleted_keys_pems_and_access_keys():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in [("root/.ssh/id_rsa", b"x"), ("app/server.pem", b"-----BEGIN PRIVATE KEY-----\n"),
                           ("app/ca.pem", b"-----BEGIN CERTIFICATE-----\n"), ("app/.wh.old", b""),
                           ("app/config.ini", b"key=LTAI5tAbCdEfGhIjKlMn\n")]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    layer = policy.scan_layer(buf)
    assert sorted(layer["keys"]) == ["app/server.pem", "root/.ssh/id_rsa"]
    assert layer["secrets"] == [("app/config.ini", "an AccessKey-like string")]
    assert layer["whiteouts"] == ["app/old"]


def test_drone_docker_names_and_08_secrets():
    env = {"PLUGIN_REGISTRY": "registry.cn-hangzhou.aliyuncs.com",
           "PLUGIN_REPO": "registry.cn-hangzhou.aliyuncs.com/ly_ops/cmdb_api", "DOCKER_USERNAME": "ops",
           "DOCKER_PASSWORD": "SENTINEL-pw", "PLUGIN_DOCKERFILE": "Dockerfile", "PLUGIN_TAGS": "latest,1.4.0",
           "PLUGIN_PULL_IMAGE": "true", "PLUGIN_DEFAULT_TAGS": "true",
           "PLUGIN_BUILD_ARGS": '{"A":"x,y"}'}
    s, _ = load_settings(Settings, env)
    assert s.username == "ops" and s.password.get_secret_value() == "SENTINEL-pw"
    assert s.tags == ["latest", "1.4.0"] and s.pull and s.auto_tag and s.build_args == {"A": "x,y"}


@pytest.mark.parametrize("env,var", [
    ({}, "PLUGIN_REPO"),
    ({"PLUGIN_PROJECT": "live66"}, "PLUGIN_MODULE"),
    ({"PLUGIN_REGISTRY": "aliyun", "PLUGIN_REPO": "a/b"}, "PLUGIN_REGION"),
    ({"PLUGIN_REPO": "a/b", "PLUGIN_POLICY": "strict"}, "PLUGIN_POLICY"),
])
def test_bad_settings_name_the_variable(env, var):
    with pytest.raises(SettingsError) as err:
        load_settings(Settings, env)
    assert err.value.problems[0].startswith(var)


@pytest.mark.parametrize("value", ['[{"registry":"r","password":"SENTINEL-reg-pw",}]',
                                   '[{"registry":"r","password":"SENTINEL-reg-pw","bogus":1}]'])
def test_a_bad_registries_value_is_not_echoed_with_its_passwords(value):
    with pytest.raises(SettingsError) as err:
        load_settings(Settings, {"PLUGIN_REPO": "a/b", "PLUGIN_REGISTRIES": value})
    assert err.value.problems[0].startswith("PLUGIN_REGISTRIES")
    assert "SENTINEL-reg-pw" not in str(err.value)


@pytest.mark.parametrize("value,args", [
    ('{"A": "x,y", "N": 3}', {"A": "x,y", "N": "3"}),          # tagship's map: commas stay whole
    ("VERSION=1.0,SERVICE_NAME=gateway", {"VERSION": "1.0", "SERVICE_NAME": "gateway"}),  # drone-docker list
    ('["A=1", "B=x=y"]', {"A": "1", "B": "x=y"}),
    ("", {}),
])
def test_build_args_as_a_map_or_drone_dockers_list(value, args):
    s, _ = load_settings(Settings, {"PLUGIN_REPO": "a/b", "PLUGIN_BUILD_ARGS": value})
    assert s.build_args == args


def test_build_args_item_without_equals_names_the_variable():
    with pytest.raises(SettingsError) as err:
        load_settings(Settings, {"PLUGIN_REPO": "a/b", "PLUGIN_BUILD_ARGS": "VERSION"})
    assert err.value.problems[0].startswith("PLUGIN_BUILD_ARGS") and "KEY=VALUE" in err.value.problems[0]


def test_an_aliyun_repository_needs_a_namespace():
    from registry_push.run import dests_of

    s, _ = load_settings(Settings, {"PLUGIN_REGISTRY": "aliyun", "PLUGIN_REGION": "cn-hangzhou",
                                    "PLUGIN_PROJECT": "live66", "PLUGIN_MODULE": "gateway"})
    with pytest.raises(SettingsError) as err:
        dests_of(s)
    assert err.value.problems[0].startswith("PLUGIN_REPO") and "namespace" in err.value.problems[0]
    s, _ = load_settings(Settings, {"PLUGIN_REGISTRY": "aliyun", "PLUGIN_REGION": "cn-hangzhou",
                                    "PLUGIN_PROJECT": "live66", "PLUGIN_MODULE": "gateway",
                                    "PLUGIN_NAMESPACE": "ly_ops", "PLUGIN_NETWORK": "vpc"})
    assert [d.image for d in dests_of(s)] == ["registry-vpc.cn-hangzhou.aliyuncs.com/ly_ops/live66_gateway"]
