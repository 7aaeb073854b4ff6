"""Optional Aliyun CDN refresh after publishing (RefreshObjectCaches, CDN API 2018-05-10), through
aliyun-python-sdk-core's CommonRequest (RPC style, signed by the SDK). The endpoint is a setting, so a
local double can stand in for cdn.aliyuncs.com.
"""

from __future__ import annotations

from typing import Any

from tagship import log
from tagship.errors import PluginError
from tagship.retry import RetryPolicy, call

from . import plan
from .settings import Settings

VERSION = "2018-05-10"
MAX_FILES = 1000   # URLs per RefreshObjectCaches call with ObjectType=File


def refresh_batches(settings: Settings, changed_keys: list[str]) -> list[dict[str, str]]:
    """The parameters of each RefreshObjectCaches call (pure; unit-tested)."""
    assert settings.cdn_url
    if settings.cdn_refresh == "directory":
        path = plan.cdn_paths(settings.cdn_url, [settings.dest])[0] + "/" if settings.dest \
            else settings.cdn_url.rstrip("/") + "/"
        return [{"ObjectPath": path, "ObjectType": "Directory"}]
    urls = plan.cdn_paths(settings.cdn_url, sorted(set(changed_keys)))
    return [{"ObjectPath": "\n".join(urls[i:i + MAX_FILES]), "ObjectType": "File"}
            for i in range(0, len(urls), MAX_FILES)]


def build_request(settings: Settings, params: dict[str, str]) -> Any:
    from aliyunsdkcore.request import CommonRequest

    from tagship.aliyun import endpoint_parts, protocol_type

    scheme, host = endpoint_parts(settings.cdn_endpoint)
    req = CommonRequest(domain=host, version=VERSION, action_name="RefreshObjectCaches")
    req.set_method("POST")
    req.set_protocol_type(protocol_type(scheme))
    for k, v in params.items():
        req.add_query_param(k, v)
    return req


def client(settings: Settings) -> Any:
    from tagship.aliyun import openapi_client  # the step's own key and STS token, never the environment's

    return openapi_client(settings.access_key_id, settings.access_key_secret, settings.region or "cn-hangzhou",
                          security_token=settings.security_token, timeout=30, connect_timeout=10)


def _transient(exc: BaseException) -> bool:
    from aliyunsdkcore.acs_exception.exceptions import ClientException, ServerException

    if isinstance(exc, ServerException):
        return (exc.get_http_status() or 0) >= 500 or exc.get_error_code().startswith(("Throttling",
                                                                                         "ServiceUnavailable"))
    return isinstance(exc, ClientException) and exc.get_error_code() in ("SDK.HttpError", "SDK.ServerUnreachable")


def refresh(settings: Settings, changed_keys: list[str]) -> dict[str, Any]:
    """Submit the refresh tasks; a failure is an error (the files are published, the caches are stale)."""
    import json

    from aliyunsdkcore.acs_exception.exceptions import ClientException, ServerException

    acs = client(settings)
    tasks = []
    batches = refresh_batches(settings, changed_keys)
    for params in batches:
        try:
            body = call(acs.do_action_with_exception, build_request(settings, params), is_transient=_transient,
                        policy=RetryPolicy(attempts=settings.max_retries + 1, base=0.5, cap=10),
                        what="CDN RefreshObjectCaches")
        except (ClientException, ServerException) as exc:
            raise PluginError(f"CDN refresh failed: {exc.get_error_code()}: {exc.get_error_msg()}",
                              hint="the files are published; refresh the CDN by hand or rerun the step") from None
        tasks.append(json.loads(body).get("RefreshTaskId"))
    log.ok(f"CDN refresh submitted ({settings.cdn_refresh}): {len(batches)} request(s), tasks {', '.join(map(str, tasks))}")
    return {"refresh": settings.cdn_refresh, "requests": len(batches), "tasks": tasks}
