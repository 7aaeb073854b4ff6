"""Aliyun for every plugin: an OpenAPI client from an AccessKey, ROA and RPC calls with the kit's retry and
errors, the Container Service cluster's master URL and certificates, and Container Registry login tokens.

aliyun-python-sdk-core is imported lazily. Its own retry is off (the kit's ``retry`` decides what is transient)
and its logger is silenced (it would print server errors unmasked to stderr).

``api_endpoint`` (a setting in cs-deploy and registry-push) overrides the address the SDK talks to:
``https://cs-vpc.cn-beijing.aliyuncs.com``, ``cs.cn-beijing.aliyuncs.com`` (https is implied) or, for the
local doubles, ``http://127.0.0.1:PORT``. The SDK is pointed at it with ``CommonRequest(domain="host:port")``
and ``set_protocol_type(protocol_type(scheme))`` (the SDK's own constant); nothing else changes (signatures do not cover the host).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import tempfile
import urllib.parse
from pathlib import Path
from typing import Any, Iterator

from . import mask
from .errors import PluginError
from .retry import RetryPolicy, RetryStats, call

CS_VERSION = "2015-12-15"             # Container Service (swarm edition) OpenAPI, ROA
CR_PERSONAL_VERSION = "2016-06-07"    # Container Registry personal edition: ROA GET /tokens
CR_ENTERPRISE_VERSION = "2018-12-01"  # Container Registry enterprise edition: RPC GetAuthorizationToken

_ID = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
_TRANSIENT_CODES = {"Throttling", "Throttling.User", "Throttling.Api", "ServiceUnavailable", "InternalError",
                    "UnknownError", "SDK.HttpError", "SDK.ServerUnreachable"}


def openapi_client(access_key_id: Any, access_key_secret: Any, region: str, *, security_token: Any = None,
                   timeout: float = 15, connect_timeout: float = 5) -> Any:
    """An ``AcsClient`` for the AccessKey (str or SecretStr); the secret (and token) are registered for
    masking. With ``security_token`` it signs as an STS session.

    The signer is set from these values explicitly: given only ``credential=``, the SDK prefers
    ``ALIYUN_ACCESS_KEY_ID``/``_SECRET`` from the environment (and drops the STS token); the step's
    settings always win."""
    from aliyunsdkcore.auth.credentials import AccessKeyCredential, StsTokenCredential
    from aliyunsdkcore.auth.signers.access_key_signer import AccessKeySigner
    from aliyunsdkcore.auth.signers.sts_token_signer import StsTokenSigner
    from aliyunsdkcore.client import AcsClient

    ak, secret, token = (_plain(v) for v in (access_key_id, access_key_secret, security_token))
    for value in (secret, token):
        mask.register(value)
    _quiet_sdk()
    client = AcsClient(ak, secret, region, auto_retry=False, timeout=timeout, connect_timeout=connect_timeout)
    client._signer = StsTokenSigner(StsTokenCredential(ak, secret, token)) if token \
        else AccessKeySigner(AccessKeyCredential(ak, secret))
    return client


def protocol_type(scheme: str) -> str:
    """The SDK's own protocol constant: it turns TLS on only when ``protocol is PT.HTTPS`` (identity, so
    an equal string from ``urlsplit`` would mean plain HTTP)."""
    from aliyunsdkcore.http import protocol_type as PT

    return PT.HTTPS if scheme.lower() == "https" else PT.HTTP


def endpoint_parts(endpoint: str) -> tuple[str, str]:
    """``https://cs.cn-x.aliyuncs.com`` / ``cs.cn-x.aliyuncs.com`` / ``http://127.0.0.1:8080`` →
    (protocol, host[:port])."""
    text = endpoint.strip()
    if "://" not in text:
        text = "https://" + text
    scheme, _, rest = text.partition("://")
    try:
        parts = urllib.parse.urlsplit(f"{scheme.lower()}://{rest}")
        parts.port
    except ValueError:
        parts = urllib.parse.urlsplit("")
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise PluginError(f"api endpoint {endpoint!r} is not an address such as https://cs.cn-hangzhou.aliyuncs.com",
                          hint="set PLUGIN_API_ENDPOINT to a scheme and host (and port), no path")
    return parts.scheme, parts.netloc


def cs_endpoint(region: str, api_endpoint: str | None = None) -> str:
    return api_endpoint or f"https://cs.{region}.aliyuncs.com"


def cr_endpoint(region: str, api_endpoint: str | None = None) -> str:
    return api_endpoint or f"https://cr.{region}.aliyuncs.com"


def roa(client: Any, method: str, path: str, version: str, *, endpoint: str, query: dict[str, str] | None = None,
        body: Any = None, what: str | None = None, policy: RetryPolicy | None = None,
        stats: RetryStats | None = None) -> dict:
    """One ROA call (``path`` already filled in, e.g. ``/clusters/c123/certs``) → the JSON body as a dict."""
    from aliyunsdkcore.request import CommonRequest

    def once() -> dict:
        scheme, domain = endpoint_parts(endpoint)
        req = CommonRequest(domain=domain, version=version, uri_pattern=path)
        req.set_method(method.upper())
        req.set_protocol_type(protocol_type(scheme))
        req.set_accept_format("JSON")
        for k, v in (query or {}).items():
            req.add_query_param(k, v)
        if body is not None:
            req.set_content_type("application/json")
            req.set_content(json.dumps(body).encode())
        return _json(client.do_action_with_exception(req))

    return _call(once, what or f"{method.upper()} {path}", policy, stats)


def rpc(client: Any, action: str, version: str, *, endpoint: str, params: dict[str, str] | None = None,
        method: str = "GET", what: str | None = None, policy: RetryPolicy | None = None,
        stats: RetryStats | None = None) -> dict:
    """One RPC call (``Action`` + ``Version``, signed query) → the JSON body as a dict."""
    from aliyunsdkcore.request import CommonRequest

    def once() -> dict:
        scheme, domain = endpoint_parts(endpoint)
        req = CommonRequest(domain=domain, version=version, action_name=action)
        req.set_method(method.upper())
        req.set_protocol_type(protocol_type(scheme))
        req.set_accept_format("JSON")
        for k, v in (params or {}).items():
            req.add_query_param(k, v)
        return _json(client.do_action_with_exception(req))

    return _call(once, what or action, policy, stats)


def cluster_master(client: Any, cluster_id: str, *, region: str, api_endpoint: str | None = None,
                   policy: RetryPolicy | None = None) -> tuple[str, dict[str, str]]:
    """(master_url, {"ca","cert","key"}) of a Container Service (swarm edition) cluster. The key is
    registered for masking."""
    if not _ID.match(cluster_id or ""):
        raise PluginError(f"cluster id {cluster_id!r} is not an Aliyun ID", hint="check PLUGIN_CLUSTER_ID")
    endpoint = cs_endpoint(region, api_endpoint)
    detail = roa(client, "GET", f"/clusters/{cluster_id}", CS_VERSION, endpoint=endpoint,
                 what=f"DescribeClusterDetail {cluster_id}", policy=policy)
    master_url = detail.get("master_url")
    if not master_url:
        raise PluginError(f"cluster {cluster_id} has no master_url (state {detail.get('state')!r}, type "
                          f"{detail.get('cluster_type')!r})",
                          hint="the aliyun-cs backend needs a Container Service swarm-edition cluster")
    certs = roa(client, "GET", f"/clusters/{cluster_id}/certs", CS_VERSION, endpoint=endpoint,
                what=f"DescribeClusterCerts {cluster_id}", policy=policy)
    missing = [k for k in ("ca", "cert", "key") if not certs.get(k)]
    if missing:
        raise PluginError(f"cluster {cluster_id}: the certificates answer lacks {', '.join(missing)}",
                          hint="download the certificates once in the Container Service console, then retry")
    mask.register(certs["key"])
    return master_url, {k: certs[k] for k in ("ca", "cert", "key")}


def cr_login(client: Any, *, region: str, instance_id: str | None = None, api_endpoint: str | None = None,
             policy: RetryPolicy | None = None) -> tuple[str, str]:
    """A temporary Container Registry login (username, password) for the AccessKey: personal edition through
    ROA ``GET /tokens`` (2016-06-07), enterprise edition (``instance_id``) through RPC
    ``GetAuthorizationToken`` (2018-12-01). The password is registered for masking (with its basic-auth form)."""
    endpoint = cr_endpoint(region, api_endpoint)
    if instance_id:
        data = rpc(client, "GetAuthorizationToken", CR_ENTERPRISE_VERSION, endpoint=endpoint,
                   params={"InstanceId": instance_id, "RegionId": region}, policy=policy)
        if not data.get("IsSuccess", True) or not data.get("AuthorizationToken"):
            raise PluginError(f"Container Registry gave no login for instance {instance_id} "
                              f"({data.get('Code', 'no code')})",
                              hint=f"check PLUGIN_INSTANCE_ID: it must be an Enterprise instance in {region}")
        user, token = data.get("TempUsername") or "cr_temp_user", data["AuthorizationToken"]
    else:
        data = roa(client, "GET", "/tokens", CR_PERSONAL_VERSION, endpoint=endpoint, what="GetAuthorizationToken",
                   policy=policy).get("data") or {}
        if not data.get("authorizationToken"):
            raise PluginError("Container Registry gave no login token",
                              hint="is Container Registry (personal edition) activated in this region?")
        user, token = data.get("tempUserName") or "cr_temp_user", data["authorizationToken"]
    mask.MASKER.register_basic_auth(user, token)
    return user, token


@contextlib.contextmanager
def cert_dir(certs: dict[str, str], prefix: str = "tagship-certs-") -> Iterator[Path]:
    """``ca.pem``, ``cert.pem``, ``key.pem`` in a fresh 0700 directory, each file 0600; removed on exit
    (also on an error or SIGTERM unwinding the stack)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))  # mkdtemp makes it 0700
    try:
        for name in ("ca", "cert", "key"):
            if certs.get(name):
                fd = os.open(path / f"{name}.pem", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as fh:
                    fh.write(certs[name])
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# --- errors ---------------------------------------------------------------------------------------------------

def is_transient(exc: BaseException) -> bool:
    from aliyunsdkcore.acs_exception.exceptions import ClientException, ServerException

    if isinstance(exc, ServerException):
        status = exc.get_http_status() or 0
        code = _error_fields(exc)[0]
        return status >= 500 or status == 429 or code in _TRANSIENT_CODES
    if isinstance(exc, ClientException):
        return exc.get_error_code() in _TRANSIENT_CODES
    return False


def _call(fn: Any, what: str, policy: RetryPolicy | None, stats: RetryStats | None) -> dict:
    from aliyunsdkcore.acs_exception.exceptions import ClientException, ServerException

    try:
        return call(fn, is_transient=is_transient, policy=policy, what=what, stats=stats)
    except (ServerException, ClientException) as exc:
        raise explain(exc, what) from None


def explain(exc: Any, what: str) -> PluginError:
    """An SDK exception → a PluginError whose message says what to do."""
    from aliyunsdkcore.acs_exception.exceptions import ServerException

    code, message = _error_fields(exc)
    if not isinstance(exc, ServerException):
        return PluginError(f"{what}: cannot reach the Aliyun API ({code}: {mask.mask(message)})",
                           hint="check PLUGIN_REGION / PLUGIN_API_ENDPOINT and the network")
    status = exc.get_http_status()
    request_id = exc.get_request_id() or ""
    tail = f" (HTTP {status}, {code}" + (f", request {request_id}" if request_id else "") + ")"
    if code.startswith("InvalidAccessKeyId"):
        return PluginError(f"{what}: Aliyun does not know this AccessKey ID{tail}",
                           hint="check PLUGIN_ACCESS_KEY_ID (ALIYUN_ACCESS_KEY_ID); disabled or deleted keys fail so")
    if code in ("SignatureDoesNotMatch", "InvalidAccessKeySecret", "IncompleteSignature"):
        return PluginError(f"{what}: the AccessKey secret does not match the AccessKey ID{tail}",
                           hint="check PLUGIN_ACCESS_KEY_SECRET (ALIYUN_ACCESS_KEY_SECRET)")
    if code.startswith("InvalidSecurityToken"):
        return PluginError(f"{what}: the STS security token is invalid or expired{tail}",
                           hint="fetch a fresh STS token for the step")
    if code.startswith("InvalidTimeStamp") or code == "SignatureNonceUsed":
        return PluginError(f"{what}: the request was refused as stale or replayed{tail}",
                           hint="check the runner's clock (it must be within 15 minutes of real time)")
    if status == 403 or code.startswith("Forbidden") or code == "NoPermission":
        return PluginError(f"{what}: the AccessKey is not allowed to do this{tail}",
                           hint="grant the RAM user the permission (e.g. AliyunCSReadOnlyAccess for the cluster, "
                                "AliyunContainerRegistryReadOnlyAccess for registry tokens)")
    if code in ("ErrorClusterNotFound",) or (status == 404 and "cluster" in message.lower()):
        return PluginError(f"{what}: no such cluster in this account and region{tail}",
                           hint="check PLUGIN_CLUSTER_ID and PLUGIN_REGION")
    if status and (status >= 500 or status == 429):
        return PluginError(f"{what}: the Aliyun API kept failing{tail}: {mask.mask(message)}",
                           hint="Aliyun is having trouble or throttling; re-run the step later")
    return PluginError(f"{what}: {mask.mask(message)}{tail}")


def _error_fields(exc: Any) -> tuple[str, str]:
    """(code, message), also from CS's lower-case error JSON that the SDK does not parse."""
    code, message = exc.get_error_code(), exc.get_error_msg() or ""
    if message.startswith("ServerResponseBody:"):
        with contextlib.suppress(ValueError, AttributeError):
            body = json.loads(message.split(":", 1)[1])
            code = body.get("code") or body.get("Code") or code
            message = body.get("message") or body.get("Message") or message
    if code == "SignatureDoesNotMatch":
        message = "the signature does not match"  # the server's string to sign is noise here
    return str(code), str(message)


def _json(body: bytes | str) -> dict:
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        raise PluginError("the Aliyun API answered with something that is not JSON") from None
    return data if isinstance(data, dict) else {"data": data}


def _plain(value: Any) -> str | None:
    if value is None:
        return None
    return value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)


def _quiet_sdk() -> None:
    sdk = logging.getLogger("aliyunsdkcore")
    sdk.propagate = False
    sdk.setLevel(logging.CRITICAL + 1)
    if not sdk.handlers:
        sdk.addHandler(logging.NullHandler())
