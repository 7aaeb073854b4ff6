"""Issue 11, continued: leaks (result files, maps, TLS files, the rendered compose, short secrets), the
step's own Aliyun credentials and TLS, paths confined to the workspace, and the did-you-mean of a typo."""

from __future__ import annotations

import io
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from hostile import (CLOSED, CS, OSS, PEM, RP, assert_exit2_naming, cs_deploy, lines_with, oss_push, plugin,
                     registry_push, version_bump)
from tagship import log, mask
from tagship.context import load_context
from tagship.errors import PluginError

__all__ = ["plugin"]  # the fixture, imported


# --- leaks -------------------------------------------------------------------------------------------------

def test_a_secret_with_a_newline_never_reaches_the_result_file(tmp_path, capsys):
    from pydantic import SecretStr

    from tagship.runtime import run_plugin
    from tagship.settings import PluginSettings, setting

    class Toy(PluginSettings):
        password: SecretStr = setting(help="A password.")

    secret = "SENTINEL\nline-2"

    def main(settings, run):
        inner = json.dumps({"detail": f"auth {secret} refused"})   # JSON inside JSON inside the result
        raise PluginError(json.dumps({"server": inner}))

    mask.MASKER.clear()
    code = run_plugin("toy", "toy", Toy, main, argv=[],
                      environ={"PLUGIN_PASSWORD": secret, "DRONE_WORKSPACE": str(tmp_path)})
    out = capsys.readouterr()
    text = (tmp_path / ".tagship" / "toy.json").read_text()
    assert code == 1
    assert "SENTINEL" not in text and "SENTINEL" not in out.out + out.err
    assert "line-2" not in text


@pytest.mark.parametrize("form", [
    lambda s: s, lambda s: json.dumps(s), lambda s: json.dumps(json.dumps(s)), repr,
    lambda s: json.dumps(json.dumps(json.dumps(s))), lambda s: __import__("urllib.parse").parse.quote(s),
])
def test_masker_knows_every_form_of_a_secret(form):
    m = mask.Masker()
    secret = 'SENTINEL\n"q"\\é\t'
    m.register(secret)
    assert "SENTINEL" not in m.mask(f"x {form(secret)} y")


def test_v4_credential_never_carries_a_newline_key_id(plugin):
    code, out = plugin(oss_push, **dict(OSS, PLUGIN_ACCESS_KEY_ID="SENTINELid\nX", PLUGIN_REGION="cn-hangzhou",
                                        PLUGIN_SIGNATURE="v4"))
    assert_exit2_naming(code, out, "PLUGIN_ACCESS_KEY_ID")
    assert "SENTINEL" not in out and "Credential=" not in out


def test_cs_deploy_tls_files_are_removed_when_the_engine_is_unreachable(plugin):
    (plugin.ws / "docker-compose.yml").write_text("services:\n  web:\n    image: reg.example/api:1.0.0\n")
    code, out = plugin(cs_deploy, **dict(CS, PLUGIN_DOCKER_HOST=f"tcp://{CLOSED}", PLUGIN_TLS_CA=PEM,
                                         PLUGIN_TLS_CERT=PEM.replace("pem01", "pem02"),
                                         PLUGIN_TLS_KEY=PEM.replace("pem01", "pem03")))
    assert code == 1 and "cannot reach the Docker engine" in out, out
    assert not list(plugin.tmp.glob("cs-deploy-tls-*")), list(plugin.tmp.iterdir())
    assert "SENTINELpem" not in out


def test_cs_deploy_tls_files_are_removed_after_connecting(tmp_path, monkeypatch):
    """The unit under the test above: _connect wrote the files, info() failed → nothing left."""
    from cs_deploy import swarm

    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    s = SimpleNamespace(docker_host=f"tcp://{CLOSED}", tls_ca=_secret(PEM), tls_cert=_secret(PEM),
                        tls_key=_secret(PEM))
    with pytest.raises(PluginError, match="cannot reach"):
        swarm.SwarmBackend(s, SimpleNamespace())
    assert not list(tmp_path.glob("cs-deploy-tls-*"))


def _secret(text):
    from pydantic import SecretStr

    return SecretStr(text)


@pytest.mark.parametrize("main,env", [
    (cs_deploy, dict(CS, PLUGIN_ENVIRONMENT="PGCRYPTO_DEFAULT_KEY=SENTINELpg01,X=1")),
    (registry_push, dict(RP, PLUGIN_BUILD_ARGS='{"NPM_TOKEN":"SENTINELnpm01",}')),
    (oss_push, dict(OSS, PLUGIN_HEADERS='[{"glob":"*","meta":{"token":"SENTINELmeta"}},]')),
])
def test_a_map_setting_value_is_never_echoed(plugin, main, env):
    code, out = plugin(main, **env)
    assert code == 2, out
    assert "SENTINEL" not in out


def test_cs_deploy_multi_line_secret_value_is_masked_in_the_rendered_compose(tmp_path):
    from cs_deploy.deploy import prepare
    from cs_deploy.settings import Settings
    from tagship.settings import load_settings

    (tmp_path / "docker-compose.yml").write_text(
        "services:\n  web:\n    image: reg.example/api:1.0.0\n    environment:\n"
        "      TLS_PRIVATE_KEY: ${TLS_PRIVATE_KEY}\n      LIST_FORM: x\n  job:\n    image: reg.example/job:1.0.0\n"
        "    environment: [\"API_TOKEN=${TLS_PRIVATE_KEY}\", \"MODE=prod\"]\n")
    environ = {"DRONE_WORKSPACE": str(tmp_path), "PLUGIN_STACK": "s", "PLUGIN_ENV_FROM": "TLS_PRIVATE_KEY",
               "TLS_PRIVATE_KEY": "SENTINEL line one\nSENTINEL line two\n"}
    settings, _ = load_settings(Settings, environ)
    out = io.StringIO()
    mask.MASKER.clear()
    log.configure(stream=out)
    try:
        run = SimpleNamespace(ctx=load_context(environ), workspace=tmp_path, result={},
                              secret=lambda v: mask.register(v))
        prepare(settings, run, environ)
    finally:
        log.configure()
    printed = out.getvalue()
    assert "SENTINEL" not in printed and "TLS_PRIVATE_KEY: ******" in printed and "API_TOKEN=******" in printed
    assert "MODE=prod" in printed


def test_a_secret_of_1_to_3_characters_is_refused(plugin):
    code, out = plugin(registry_push, **dict(RP, PLUGIN_USERNAME="u1", PLUGIN_PASSWORD="a"))
    assert_exit2_naming(code, out, "PLUGIN_PASSWORD")
    assert "at least 4 characters" in out
    assert "******" not in out.replace("PLUGIN_PASSWORD", "")  # no mask soup


def test_a_short_value_is_never_masked_into_soup():
    m = mask.Masker()
    m.register("a")
    assert m.mask("a setting") == "a setting"


# --- wrong credentials -------------------------------------------------------------------------------------

def test_aliyun_clients_sign_with_the_steps_key_and_sts_token_not_the_environment(monkeypatch):
    from oss_push import cdn
    from oss_push.settings import Settings
    from tagship.settings import load_settings

    monkeypatch.setenv("ALIYUN_ACCESS_KEY_ID", "ENV-ID-should-lose")
    monkeypatch.setenv("ALIYUN_ACCESS_KEY_SECRET", "ENV-SECRET-should-lose")
    s, _ = load_settings(Settings, dict(OSS, PLUGIN_SECURITY_TOKEN="STEP-STS-TOKEN"))
    signer = cdn.client(s)._signer
    cred = signer._credential
    assert (cred.sts_access_key_id, cred.sts_access_key_secret, cred.sts_token) == \
        ("SENTINELid01", "SENTINELsk01", "STEP-STS-TOKEN")


def test_aliyun_requests_use_tls_as_the_sdk_decides_it():
    import urllib.parse

    from aliyunsdkcore.http.http_response import HttpResponse
    from aliyunsdkcore.request import CommonRequest

    from tagship.aliyun import endpoint_parts, protocol_type

    for endpoint in ("https://cs.cn-x.aliyuncs.com", "HTTPS://cs.cn-x.aliyuncs.com", "cs.cn-x.aliyuncs.com"):
        scheme, host = endpoint_parts(endpoint)
        req = CommonRequest(domain=host, version="2015-12-15", uri_pattern="/x")
        req.set_protocol_type(protocol_type(scheme))
        assert HttpResponse(host, "/x", protocol=req.get_protocol_type()).get_ssl_enabled(), endpoint
    # the trap: an equal string that is not the SDK's object means plain HTTP
    scheme = urllib.parse.urlsplit("https://x").scheme
    assert not HttpResponse("x", "/", protocol=scheme).get_ssl_enabled() or scheme is protocol_type("https")
    assert not HttpResponse("x", "/", protocol=protocol_type("http")).get_ssl_enabled()


# --- paths -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("main,env,var", [
    (version_bump, {"PLUGIN_VERSION_FILE": "../x"}, "PLUGIN_VERSION_FILE"),
    (version_bump, {"PLUGIN_TAGS_FILE": "/tmp/tagship-hostile-tags"}, "PLUGIN_TAGS_FILE"),
    (oss_push, dict(OSS, PLUGIN_SOURCE="../"), "PLUGIN_SOURCE"),
    (oss_push, dict(OSS, PLUGIN_SOURCE="/etc"), "PLUGIN_SOURCE"),
    (cs_deploy, dict(CS, PLUGIN_COMPOSE_FILE="/etc/hostname"), "PLUGIN_COMPOSE_FILE"),
    (registry_push, dict(RP, PLUGIN_DOCKERFILE="../Dockerfile"), "PLUGIN_DOCKERFILE"),
    (registry_push, dict(RP, PLUGIN_CONTEXT="/"), "PLUGIN_CONTEXT"),
    (registry_push, dict(RP, PLUGIN_TAGS_FILE="/etc/hostname"), "PLUGIN_TAGS_FILE"),
])
def test_a_path_setting_outside_the_workspace_is_exit_2(plugin, main, env, var):
    code, out = plugin(main, **env)
    assert_exit2_naming(code, out, var)
    assert "outside the workspace" in lines_with(out, var)[0]
    assert not Path("/tmp/tagship-hostile-tags").exists()


def test_a_symlink_out_of_the_workspace_counts_as_outside(plugin, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (plugin.ws / "static").symlink_to(outside)
    code, out = plugin(oss_push, **dict(OSS, PLUGIN_SOURCE="static"))
    assert_exit2_naming(code, out, "PLUGIN_SOURCE")


def test_allow_outside_workspace_lifts_the_confinement(tmp_path):
    from tagship.paths import confine

    assert confine(tmp_path / "ws", "../x", "PLUGIN_X", allow=True) == tmp_path / "ws" / "../x"


def test_a_tagship_symlink_out_of_the_workspace_is_refused(plugin, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (plugin.ws / ".tagship").symlink_to(outside)
    code, out = plugin(version_bump, PLUGIN_VERSION="1.2.3", PLUGIN_FETCH_TAGS="false",
                       PLUGIN_REQUIRE_INCREASE="off")
    assert code == 1 and "Traceback" not in out, out
    assert ".tagship is a symlink or not a directory" in out
    assert not list(outside.iterdir())


# --- typos -------------------------------------------------------------------------------------------------

def test_a_mistyped_required_setting_gets_a_did_you_mean(plugin):
    env = dict(OSS)
    env.pop("PLUGIN_BUCKET")
    code, out = plugin(oss_push, **env, PLUGIN_BUCKT="site")
    assert code == 2
    line = lines_with(out, "PLUGIN_BUCKET: required")
    assert line and "PLUGIN_BUCKT is set: a typo?" in line[0], out


def test_version_bump_files_honour_allow_outside_workspace(tmp_path):
    from version_bump.files import plan_edits

    (tmp_path / "ws").mkdir()
    (tmp_path / "VERSION").write_text("1.2.0\n")
    with pytest.raises(PluginError, match="outside the workspace"):
        plan_edits(tmp_path / "ws", ["../VERSION"], "1.2.0", "1.3.0")
    edits = plan_edits(tmp_path / "ws", ["../VERSION"], "1.2.0", "1.3.0", allow_outside=True)
    assert edits[0].new_text == "1.3.0\n"
