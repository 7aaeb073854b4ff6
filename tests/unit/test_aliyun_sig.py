"""The doubles' ACS signatures against Aliyun's documented examples and rules, and the pure parts of the
Aliyun kit and the aliyun-cs backend (endpoint parsing, rollback versions, the wait verdict)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the doubles package

from cs_deploy.aliyun_cs import _settled, project_env, rollback_version  # noqa: E402
from doubles.aliyun_openapi import hmac_sha1, percent_encode, roa_string_to_sign, rpc_string_to_sign  # noqa: E402
from tagship.aliyun import endpoint_parts  # noqa: E402
from tagship.errors import PluginError  # noqa: E402

DOC_PARAMS = {"Format": "XML", "AccessKeyId": "testid", "Action": "DescribeRegions", "SignatureMethod": "HMAC-SHA1",
              "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf", "Version": "2014-05-26",
              "SignatureVersion": "1.0"}


@pytest.mark.parametrize("stamp_name, signature", [
    # developer.aliyun.com/ask/210168 (the 2016 "API 签名机制（示例）" page, parameter spelled TimeStamp)
    ("TimeStamp", "CT9X0VtwR86fNWSnsc6v8YGOjuE="),
    # the current RPC signature page (doc-detail/50286 family, parameter spelled Timestamp)
    ("Timestamp", "OLeaidS1JvxuMvnyHOwuJ+uX5qY="),
])
def test_rpc_signature_matches_aliyun_documented_example(stamp_name: str, signature: str) -> None:
    params = dict(DOC_PARAMS, **{stamp_name: "2016-02-23T12:46:24Z"})
    string_to_sign = rpc_string_to_sign("GET", params)
    assert string_to_sign.startswith("GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26")
    assert "12%253A46%253A24Z" in string_to_sign  # the value is encoded twice, as documented
    assert hmac_sha1("testsecret&", string_to_sign) == signature


def test_rpc_signature_ignores_the_signature_parameter_itself() -> None:
    params = dict(DOC_PARAMS, Timestamp="2016-02-23T12:46:24Z")
    assert rpc_string_to_sign("GET", dict(params, Signature="x")) == rpc_string_to_sign("GET", params)


@pytest.mark.parametrize("raw, encoded", [("a b", "a%20b"), ("a*b", "a%2Ab"), ("a~b", "a~b"), ("中", "%E4%B8%AD"),
                                          ("a+b", "a%2Bb"), ("/", "%2F")])
def test_percent_encoding_is_rfc3986_as_documented(raw: str, encoded: str) -> None:
    assert percent_encode(raw) == encoded


def test_roa_string_to_sign_follows_the_documented_layout() -> None:
    headers = {"Accept": "application/json", "Content-MD5": "", "Content-Type": "application/json",
               "Date": "Wed, 26 Aug 2015 17:01:00 GMT", "X-ACS-Version": "2015-12-15",
               "x-acs-signature-method": "HMAC-SHA1", "x-acs-region-id": " cn-hangzhou ", "Host": "ignored"}
    got = roa_string_to_sign("GET", "/clusters/c1/certs", [("b", "2"), ("RegionId", "cn-hangzhou"), ("flag", None)],
                             headers)
    assert got == ("GET\napplication/json\n\napplication/json\nWed, 26 Aug 2015 17:01:00 GMT\n"
                   "x-acs-region-id:cn-hangzhou\nx-acs-signature-method:HMAC-SHA1\nx-acs-version:2015-12-15\n"
                   "/clusters/c1/certs?RegionId=cn-hangzhou&b=2&flag")


@pytest.mark.parametrize("endpoint, parts", [
    ("http://127.0.0.1:8080", ("http", "127.0.0.1:8080")),
    ("cs.cn-beijing.aliyuncs.com", ("https", "cs.cn-beijing.aliyuncs.com")),
    ("https://cs-vpc.cn-beijing.aliyuncs.com/", ("https", "cs-vpc.cn-beijing.aliyuncs.com")),
])
def test_api_endpoint_forms(endpoint: str, parts: tuple[str, str]) -> None:
    assert endpoint_parts(endpoint) == parts


@pytest.mark.parametrize("endpoint", ["ftp://x", "https://host/path", "http://"])
def test_api_endpoint_rejects_what_the_sdk_cannot_use(endpoint: str) -> None:
    with pytest.raises(PluginError, match="PLUGIN_API_ENDPOINT|not an address"):
        endpoint_parts(endpoint)


@pytest.mark.parametrize("previous, current, posted", [
    ("1.3.0", "1.4.0", "1.3.0-rollback.1"),
    ("1.3.0", "1.3.0-rollback.1", "1.3.0-rollback.2"),      # a second rollback in a row never repeats a version
    ("1.3.0-rollback.2", "1.4.0", "1.3.0-rollback.1"),
    ("1.3.0-rollback.2", "1.3.0-rollback.2", "1.3.0-rollback.3"),
])
def test_rollback_version_always_differs_from_the_current_one(previous: str, current: str, posted: str) -> None:
    assert rollback_version(previous, current) == posted
    assert posted != current


def test_project_env_drops_drone_and_server_injected_variables() -> None:
    env = {"VERSION": "1.4.0", "DRONE_BUILD_NUMBER": "7", "CI_COMMIT_SHA": "abc", "COMPOSE_PROJECT_NAME": "x",
           "ACS_PROJECT_VERSION": "1", "PGCRYPTO_DEFAULT_KEY": "k"}
    assert project_env(env) == {"VERSION": "1.4.0", "PGCRYPTO_DEFAULT_KEY": "k"}


def _svc(name: str, version: str, state: str = "running") -> dict:
    return {"name": name, "version": version, "current_state": state}


@pytest.mark.parametrize("project, rolling, verdict", [
    ({"current_state": "running", "version": "2", "services": [_svc("web", "2"), _svc("db", "2")]}, True, "ok"),
    # a 202 alone is not success: still updating
    ({"current_state": "updating", "version": "2", "services": [_svc("web", "2"), _svc("db", "2")]}, True, "wait"),
    # running, but one service still on the old version
    ({"current_state": "running", "version": "2", "services": [_svc("web", "2"), _svc("db", "1")]}, True, "wait"),
    # blue-green: old services stay until confirm; the new ones are what counts
    ({"current_state": "running", "version": "2", "services": [_svc("web", "1"), _svc("db", "1"),
                                                                _svc("web", "2"), _svc("db", "2")]}, False, "ok"),
    # a service of the template that is not there yet
    ({"current_state": "running", "version": "2", "services": [_svc("web", "2")]}, True, "wait"),
    ({"current_state": "failed", "version": "2", "services": [_svc("web", "2", "failed")]}, True, "failed"),
    # someone else's version is not ours
    ({"current_state": "running", "version": "3", "services": [_svc("web", "3"), _svc("db", "3")]}, True, "wait"),
])
def test_wait_verdict(project: dict, rolling: bool, verdict: str) -> None:
    assert _settled(project, "2", rolling=rolling, names=["web", "db"])[0] == verdict
