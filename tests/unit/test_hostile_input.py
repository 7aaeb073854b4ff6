"""Issue 11: the plugin contract under hostile input — each finding of the settings fuzz as a named test:
tracebacks, internal errors that are settings errors, forged log lines, hangs and conflicts (leaks, wrong
credentials, paths and typos: test_hostile_leaks.py). Plugins run in process on a cleaned environment."""

from __future__ import annotations

import io
import time

import pytest

from hostile import (CLOSED, CS, OSS, RP, STAMP, assert_exit2_naming, cs_deploy, lines_with, oss_push, plugin,
                     registry_push, version_bump)
from tagship import deadline, log, mask, proc
from tagship.context import load_context
from tagship.errors import PluginError
from tagship.retry import RetryPolicy, call

__all__ = ["plugin"]  # the fixture, imported


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
