"""The real aliyun-python-sdk-core client, through tagship.aliyun, against the OpenAPI double that checks ACS
signatures (ROA and RPC) independently of the SDK."""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the doubles package

from doubles.aliyun_openapi import AliyunOpenApiDouble  # noqa: E402
from tagship import aliyun, mask  # noqa: E402
from tagship.errors import PluginError  # noqa: E402
from tagship.retry import RetryPolicy, RetryStats  # noqa: E402

AK, SECRET = "LTAI-test-ak-0001", "SENTINEL-aksecret-5c1e"
CERTS = {"ca": "-----BEGIN CERTIFICATE-----\nCA\n", "cert": "-----BEGIN CERTIFICATE-----\nC\n",
         "key": "-----BEGIN PRIVATE KEY-----\nSENTINEL-key-91a2\n"}
REGION = "cn-hangzhou"
NO_WAIT = RetryPolicy(attempts=4, sleep=lambda s: None)


@pytest.fixture()
def api():
    with AliyunOpenApiDouble(keys={AK: SECRET}, instances={"cri-test"},
                             registry_login=("cr_temp_user", "SENTINEL-crtoken-77d0")) as double:
        double.add_cluster("c-test", "https://master.example:20001", CERTS)
        yield double


def client(secret: str = SECRET, ak: str = AK):
    return aliyun.openapi_client(ak, secret, REGION)


def test_good_signature_gets_master_and_certs(api: AliyunOpenApiDouble) -> None:
    master, certs = aliyun.cluster_master(client(), "c-test", region=REGION, api_endpoint=api.url)
    assert master == "https://master.example:20001"
    assert certs == CERTS
    seen = [(r["style"], r["path"], r["headers"]["x-acs-version"]) for r in api.requests]
    assert seen == [("roa", "/clusters/c-test", "2015-12-15"), ("roa", "/clusters/c-test/certs", "2015-12-15")]
    assert all(r["headers"]["authorization"].startswith(f"acs {AK}:") for r in api.requests)
    assert mask.mask(f"key={certs['key']}") == "key=******"   # the fetched private key is masked from now on


def test_wrong_secret_fails_clearly_and_never_shows_it(api: AliyunOpenApiDouble, capfd) -> None:
    wrong = "SENTINEL-wrongsecret-3b9f"
    with pytest.raises(PluginError) as err:
        aliyun.cluster_master(client(wrong), "c-test", region=REGION, api_endpoint=api.url, policy=NO_WAIT)
    assert "secret does not match" in err.value.message
    assert "PLUGIN_ACCESS_KEY_SECRET" in err.value.hint
    assert len(api.requests) == 1  # an auth error is not retried
    out = capfd.readouterr()
    for text in (out.out, out.err, err.value.message, err.value.hint):
        assert wrong not in text and SECRET not in text


def test_unknown_access_key_and_missing_permission_and_cluster(api: AliyunOpenApiDouble) -> None:
    with pytest.raises(PluginError, match="does not know this AccessKey ID") as err:
        aliyun.cluster_master(client(ak="LTAI-nobody"), "c-test", region=REGION, api_endpoint=api.url)
    assert "PLUGIN_ACCESS_KEY_ID" in err.value.hint
    with pytest.raises(PluginError, match="no such cluster") as err:
        aliyun.cluster_master(client(), "c-missing", region=REGION, api_endpoint=api.url)
    assert "PLUGIN_CLUSTER_ID" in err.value.hint
    api.denied.add("DescribeClusterCerts")
    with pytest.raises(PluginError, match="not allowed") as err:
        aliyun.cluster_master(client(), "c-test", region=REGION, api_endpoint=api.url)
    assert "RAM" in err.value.hint


def test_transient_errors_are_retried_through_the_kit(api: AliyunOpenApiDouble) -> None:
    api.fail_next.extend([503, 429])
    stats = RetryStats()
    master = aliyun.roa(client(), "GET", "/clusters/c-test", aliyun.CS_VERSION, endpoint=api.url,
                        policy=NO_WAIT, stats=stats)["master_url"]
    assert master == "https://master.example:20001"
    assert stats.retries == 2
    api.fail_next.extend([503] * 4)
    with pytest.raises(PluginError, match="kept failing"):
        aliyun.cluster_master(client(), "c-test", region=REGION, api_endpoint=api.url, policy=NO_WAIT)


def test_cr_login_personal_and_enterprise(api: AliyunOpenApiDouble) -> None:
    assert aliyun.cr_login(client(), region=REGION, api_endpoint=api.url) == ("cr_temp_user", "SENTINEL-crtoken-77d0")
    assert api.requests[-1]["style"] == "roa" and api.requests[-1]["path"] == "/tokens"
    user, token = aliyun.cr_login(client(), region=REGION, instance_id="cri-test", api_endpoint=api.url)
    assert (user, token) == ("cr_temp_user", "SENTINEL-crtoken-77d0")
    rpc = api.requests[-1]
    assert rpc["style"] == "rpc"
    assert rpc["query"]["Action"] == "GetAuthorizationToken" and rpc["query"]["Version"] == "2018-12-01"
    assert rpc["query"]["InstanceId"] == "cri-test"
    assert mask.mask("login SENTINEL-crtoken-77d0") == "login ******"
    with pytest.raises(PluginError, match="no login for instance cri-nope") as err:
        aliyun.cr_login(client(), region=REGION, instance_id="cri-nope", api_endpoint=api.url)
    assert "PLUGIN_INSTANCE_ID" in err.value.hint


def test_rpc_wrong_secret_is_refused_by_the_double(api: AliyunOpenApiDouble) -> None:
    with pytest.raises(PluginError, match="secret does not match"):
        aliyun.cr_login(client("SENTINEL-wrongsecret-3b9f"), region=REGION, instance_id="cri-test",
                        api_endpoint=api.url)


def test_double_refuses_a_replayed_nonce_and_a_stale_clock(api: AliyunOpenApiDouble) -> None:
    aliyun.cr_login(client(), region=REGION, instance_id="cri-test", api_endpoint=api.url)
    signed = api.requests[-1]["query"]
    url = api.url + "/?" + "&".join(f"{k}={urllib.request.quote(v, safe='')}" for k, v in signed.items())
    with pytest.raises(urllib.error.HTTPError) as replay:
        urllib.request.urlopen(url, timeout=5)
    assert replay.value.code == 400 and b"SignatureNonceUsed" in replay.value.read()
    api.skew = -1  # every request now looks too old: the runner's clock is the hint
    with pytest.raises(PluginError, match="stale or replayed") as err:
        aliyun.cluster_master(client(), "c-test", region=REGION, api_endpoint=api.url)
    assert "clock" in err.value.hint


def test_sts_token_is_sent_and_checked(api: AliyunOpenApiDouble) -> None:
    api.security_tokens[AK] = "SENTINEL-sts-0c4d"
    sts = aliyun.openapi_client(AK, SECRET, REGION, security_token="SENTINEL-sts-0c4d")
    assert aliyun.cluster_master(sts, "c-test", region=REGION, api_endpoint=api.url)[0]
    with pytest.raises(PluginError, match="security token"):
        aliyun.cluster_master(client(), "c-test", region=REGION, api_endpoint=api.url)


@pytest.mark.engine
def test_cr_login_handed_out_by_the_double_logs_in_to_the_real_registry(api: AliyunOpenApiDouble,
                                                                          testbed) -> None:
    """What registry-push's Aliyun preset does end to end: AccessKey → CR token → the real registry accepts it."""
    import requests

    api.registry_login = (testbed.user, testbed.password)
    user, password = aliyun.cr_login(client(), region=REGION, api_endpoint=api.url)
    registry = f"https://{testbed.registry}/v2/"
    assert requests.get(registry, auth=(user, password), verify=str(testbed.ca), timeout=10).status_code == 200
    assert requests.get(registry, auth=(user, "not-it"), verify=str(testbed.ca), timeout=10).status_code == 401
    assert mask.mask(password) == "******"
