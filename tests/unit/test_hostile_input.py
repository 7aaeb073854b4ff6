"""Issue 11: the plugin contract under hostile input — each finding of the settings fuzz as a named test.

Plugins run in process (their ``main([])`` on a cleaned environment); remote addresses are closed loopback
ports, so nothing leaves the machine. A "sentinel" is a secret whose every appearance in output is a leak.
"""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from tagship import deadline, log, mask, proc
from tagship.context import load_context
from tagship.errors import PluginError
from tagship.retry import RetryPolicy, call

from cs_deploy.__main__ import main as cs_deploy
from oss_push.__main__ import main as oss_push
from registry_push.__main__ import main as registry_push
from version_bump.__main__ import main as version_bump

CLOSED = "127.0.0.1:9"  # discard port, nothing listens: every connection is refused at once
OSS = {"PLUGIN_ENDPOINT": f"http://{CLOSED}", "PLUGIN_BUCKET": "site", "PLUGIN_ACCESS_KEY_ID": "SENTINELid01",
       "PLUGIN_ACCESS_KEY_SECRET": "SENTINELsk01", "PLUGIN_MAX_RETRIES": "0"}
CS = {"PLUGIN_STACK": "hostile"}
RP = {"PLUGIN_REPO": f"{CLOSED}/hostile/app"}
PEM = "-----BEGIN CERTIFICATE-----\nSENTINELpem01\n-----END CERTIFICATE-----\n"
STAMP = "2026-01-01T00:00:00Z ERROR forged"


@pytest.fixture
def plugin(tmp_path, monkeypatch, capsys):
    """``plugin(main, **env)`` → (exit code, stdout+stderr) in a clean environment, workspace = tmp_path/ws."""
    ws = tmp_path / "ws"
    ws.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))

    def run(main, **env):
        for key in list(os.environ):
            if key.upper().startswith(("PLUGIN_", "DRONE", "CI_", "ALIYUN_", "OSS_", "DOCKER_")) or key == "CI":
                monkeypatch.delenv(key)
        monkeypatch.setenv("DRONE_WORKSPACE", str(ws))
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        mask.MASKER.clear()
        log.configure()
        try:
            code = main([])
        finally:
            deadline.start(None)
            log.configure()
        out = capsys.readouterr()
        return code, out.out + out.err

    run.ws = ws
    run.tmp = tmp_path / "tmp"
    return run


def lines_with(out: str, needle: str) -> list[str]:
    return [line for line in out.splitlines() if needle in line]


def assert_exit2_naming(code: int, out: str, env: str) -> None:
    assert code == 2, out
    assert "Traceback" not in out and "internal error" not in out, out
    assert lines_with(out, env), out


# --- tracebacks --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("created", ["²", "٣٤", "9" * 5000])
def test_build_created_that_isdigit_accepts_is_ignored_not_a_traceback(created):
    assert load_context({"DRONE_BUILD_CREATED": created}).build_created is None
    assert load_context({"DRONE_BUILD_CREATED": "1700000000"}).build_created == 1700000000


@pytest.mark.parametrize("main", [oss_push, cs_deploy, registry_push, version_bump])
def test_build_created_hostile_in_every_plugin_is_no_traceback(plugin, main):
    code, out = plugin(main, DRONE_BUILD_CREATED="²", PLUGIN_VERSION_FILE="../outside")
    assert code in (1, 2) and "Traceback" not in out and "internal error" not in out, out


def test_non_utf8_byte_in_a_secret_is_exit_2_and_masked(plugin):
    sentinel = "S3NTINEL\udcffkey"  # what os.environ holds for the byte 0xff
    code, out = plugin(oss_push, **dict(OSS, PLUGIN_ACCESS_KEY_ID=sentinel))
    assert_exit2_naming(code, out, "PLUGIN_ACCESS_KEY_ID")
    assert "S3NTINEL" not in out


def test_masker_takes_lone_surrogates_and_their_url_form():
    m = mask.Masker()
    m.register("S3NTINEL\udcffkey")
    assert m.mask("a S3NTINEL\udcffkey b") == "a ****** b"
    assert m.mask("q=S3NTINEL%FFkey") == "q=******"


@pytest.mark.parametrize("main,env,var", [
    (oss_push, dict(OSS, PLUGIN_HEADERS="[" * 3000), "PLUGIN_HEADERS"),
    (cs_deploy, dict(CS, PLUGIN_ENVIRONMENT='{"a":' * 3000), "PLUGIN_ENVIRONMENT"),
    (registry_push, dict(RP, PLUGIN_REGISTRIES="[" * 3000), "PLUGIN_REGISTRIES"),
    (version_bump, {"PLUGIN_FILES": "[" * 3000}, "PLUGIN_FILES"),
    (oss_push, dict(OSS, PLUGIN_INCLUDE="[" * 3000), "PLUGIN_INCLUDE"),
])
def test_deeply_nested_json_is_exit_2_naming_the_variable(plugin, main, env, var):
    code, out = plugin(main, **env)
    assert_exit2_naming(code, out, var)


def test_json_nested_32_levels_is_fine_33_is_not():
    from tagship.validators import load_json

    assert load_json("[" * 32 + "]" * 32) is not None
    with pytest.raises(ValueError, match="nested at most 32"):
        load_json("[" * 33 + "]" * 33)


# --- internal errors that are settings errors --------------------------------------------------------------

@pytest.mark.parametrize("env,var", [
    ({"PLUGIN_ACCESS_KEY_ID": "SENTINELключ"}, "PLUGIN_ACCESS_KEY_ID"),
    ({"PLUGIN_ACCESS_KEY_SECRET": "SENTINEL sk"}, "PLUGIN_ACCESS_KEY_SECRET"),
    ({"PLUGIN_ENDPOINT": "http://127.0.0.1:99999"}, "PLUGIN_ENDPOINT"),
    ({"PLUGIN_ENDPOINT": None, "OSS_ENDPOINT": "://"}, "OSS_ENDPOINT"),
    ({"PLUGIN_ENDPOINT": "oss-" + "x" * 100_000 + ".aliyuncs.com"}, "PLUGIN_ENDPOINT"),
    ({"PLUGIN_CDN_ENDPOINT": "cdn.aliyuncs.com:0"}, "PLUGIN_CDN_ENDPOINT"),
    ({"PLUGIN_REGION": "cn shanghai"}, "PLUGIN_REGION"),
])
def test_oss_push_values_an_sdk_would_choke_on_are_exit_2(plugin, env, var):
    merged = {k: v for k, v in {**OSS, **env}.items() if v is not None}
    code, out = plugin(oss_push, **merged)
    assert_exit2_naming(code, out, var)
    assert "SENTINEL" not in out
    assert len(out.splitlines()) < 10  # a 100 KB value is not printed back


@pytest.mark.parametrize("value", ["not a pem and no such file", "-----BEGIN CERT-----\nх\n-----END CERT-----"])
def test_tls_ca_that_is_neither_pem_nor_a_path_is_exit_2(plugin, value):
    code, out = plugin(cs_deploy, **dict(CS, PLUGIN_TLS_CA=value, PLUGIN_DOCKER_HOST=f"tcp://{CLOSED}"))
    assert_exit2_naming(code, out, "PLUGIN_TLS_CA")


@pytest.mark.parametrize("host", ["tcp://127.0.0.1:99999", "tcp://", "ftp://x", "unix://relative"])
def test_docker_host_that_is_no_address_is_exit_2(plugin, host):
    code, out = plugin(cs_deploy, **dict(CS, PLUGIN_DOCKER_HOST=host))
    assert_exit2_naming(code, out, "PLUGIN_DOCKER_HOST")


def test_upper_case_url_scheme_is_normalised():
    from oss_push.settings import Settings
    from tagship.aliyun import endpoint_parts
    from tagship.settings import load_settings

    s, _ = load_settings(Settings, dict(OSS, PLUGIN_ENDPOINT="HTTP://127.0.0.1:9"))
    assert s.endpoint == "http://127.0.0.1:9"
    assert endpoint_parts("HTTPS://cs.cn-x.aliyuncs.com") == ("https", "cs.cn-x.aliyuncs.com")


# --- messages ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("main,env,var", [
    (oss_push, dict(OSS, PLUGIN_BUCKET=f"x\n{STAMP}"), "PLUGIN_BUCKET"),
    (cs_deploy, dict(CS, PLUGIN_BACKEND=f"swarm\r\n{STAMP}\x1b[2K"), "PLUGIN_BACKEND"),
    (version_bump, {"PLUGIN_VERSION": f"1.0\n{STAMP}"}, "PLUGIN_VERSION"),
])
def test_a_newline_in_a_value_cannot_forge_a_log_line(plugin, main, env, var):
    code, out = plugin(main, **env)
    assert_exit2_naming(code, out, var)
    forged = lines_with(out, "forged")
    assert len(forged) == 1 and var in forged[0], out
    assert not any(line.startswith(STAMP) for line in out.splitlines())
    assert "\x1b" not in out and "\r" not in out


def test_log_escapes_control_characters_but_keeps_message_lines():
    out = io.StringIO()
    log.configure(stream=out)
    try:
        log.error("bad \x1b[31mred\x1b[0m \x07 \udcff")
    finally:
        log.configure()
    assert out.getvalue().count("\n") == 1 and "\\x1b[31mred" in out.getvalue() and "\\udcff" in out.getvalue()


# --- hang --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("qps", ["0.000001", "0.05", "nan", "-1"])
def test_tiny_max_qps_is_exit_2_not_a_sleep_of_days(plugin, qps):
    started = time.monotonic()
    code, out = plugin(oss_push, **dict(OSS, PLUGIN_MAX_QPS=qps))
    assert_exit2_naming(code, out, "PLUGIN_MAX_QPS")
    assert time.monotonic() - started < 30


@pytest.mark.parametrize("value", ["inf", "1e400", "nan", "0", "999999999h"])
def test_deadline_and_durations_are_finite(plugin, value):
    code, out = plugin(oss_push, **dict(OSS, PLUGIN_DEADLINE=value))
    assert_exit2_naming(code, out, "PLUGIN_DEADLINE")


def test_rate_limit_wait_past_the_deadline_fails_at_once():
    from oss_push.remote import TokenBucket

    deadline.start(2)
    try:
        bucket = TokenBucket(0.1)   # one request now, the next in 10 s: past the deadline
        bucket.acquire()
        started = time.monotonic()
        with pytest.raises(PluginError, match="PLUGIN_DEADLINE"):
            bucket.acquire()
        assert time.monotonic() - started < 1.5
    finally:
        deadline.start(None)


def test_retries_stop_at_the_run_deadline():
    tries = []

    def flaky():
        tries.append(time.monotonic())
        raise ConnectionError("refused")

    deadline.start(1.0)
    try:
        started = time.monotonic()
        with pytest.raises((ConnectionError, PluginError)):
            call(flaky, is_transient=lambda e: True, policy=RetryPolicy(attempts=50, deadline=300, base=0.2, cap=0.4))
        assert time.monotonic() - started < 3
    finally:
        deadline.start(None)


def test_a_subprocess_is_bounded_by_the_deadline():
    deadline.start(1.0)
    try:
        started = time.monotonic()
        with pytest.raises(PluginError, match="did not finish"):
            proc.run(["sleep", "30"])
        assert time.monotonic() - started < 5
    finally:
        deadline.start(None)


def test_two_spellings_of_one_setting_with_different_values_are_a_conflict(plugin):
    code, out = plugin(oss_push, **dict(OSS, PLUGIN_MAX_QPS="1", plugin_max_qps="2"))
    assert code == 2
    conflict = lines_with(out, "two spellings")
    assert len(conflict) == 1 and "PLUGIN_MAX_QPS" in conflict[0] and "plugin_max_qps" in conflict[0], out


def test_two_spellings_with_the_same_value_are_fine():
    from oss_push.settings import Settings
    from tagship.settings import load_settings

    s, _ = load_settings(Settings, dict(OSS, PLUGIN_MAX_QPS="1", plugin_max_qps="1"))
    assert s.max_qps == 1


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
