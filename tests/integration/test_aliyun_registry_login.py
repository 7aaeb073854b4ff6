"""registry-push's Aliyun preset login (plugins/registry_push/aliyun_login.py) against the OpenAPI double,
with registry-push's own settings model: the AccessKey becomes the temporary CR login, and mistakes are exit-1
messages naming the setting, with no secret shown."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the doubles package

from doubles.aliyun_openapi import AliyunOpenApiDouble  # noqa: E402
from registry_push.aliyun_login import exchange  # noqa: E402
from registry_push.settings import Settings  # noqa: E402
from tagship.errors import PluginError  # noqa: E402
from tagship.settings import load_settings  # noqa: E402

AK, SECRET = "LTAI-rp-test-04", "SENTINEL-rp-secret-6f0a"


@pytest.fixture()
def api():
    with AliyunOpenApiDouble(keys={AK: SECRET}, instances={"cri-live66"},
                             registry_login=("cr_temp_user", "SENTINEL-rp-token-2b8c")) as double:
        yield double


def settings(api: AliyunOpenApiDouble, **extra: str) -> Settings:
    env = {"PLUGIN_REGISTRY": "aliyun", "PLUGIN_REGION": "cn-hangzhou", "PLUGIN_REPO": "ly_ops/cmdb_api",
           "ALIYUN_ACCESS_KEY_ID": AK, "ALIYUN_ACCESS_KEY_SECRET": SECRET, "PLUGIN_ALIYUN_API_ENDPOINT": api.url,
           **extra}
    return load_settings(Settings, env)[0]


def test_personal_and_enterprise_logins(api: AliyunOpenApiDouble) -> None:
    assert exchange(settings(api)) == ("cr_temp_user", "SENTINEL-rp-token-2b8c")
    assert api.requests[-1]["path"] == "/tokens"
    assert exchange(settings(api, PLUGIN_INSTANCE_ID="cri-live66")) == ("cr_temp_user", "SENTINEL-rp-token-2b8c")
    assert api.requests[-1]["query"]["InstanceId"] == "cri-live66"


def test_wrong_secret_names_the_setting_and_hides_the_secret(api: AliyunOpenApiDouble, capfd) -> None:
    with pytest.raises(PluginError) as err:
        exchange(settings(api, ALIYUN_ACCESS_KEY_SECRET="SENTINEL-rp-wrong-0000"))
    assert "PLUGIN_ACCESS_KEY_SECRET" in err.value.hint
    out = capfd.readouterr()
    assert "SENTINEL-rp-wrong-0000" not in out.out + out.err + err.value.message


def test_missing_ram_permission_is_explained(api: AliyunOpenApiDouble) -> None:
    api.denied.add("GetAuthorizationToken")
    with pytest.raises(PluginError, match="not allowed") as err:
        exchange(settings(api))
    assert "AliyunContainerRegistry" in err.value.hint
