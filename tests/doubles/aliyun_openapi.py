"""A local double of Aliyun's OpenAPI gateway: checks ACS signatures the way Aliyun documents them, then serves
the few calls tagship makes.

Signatures are implemented from Aliyun's documentation, not from the SDK:

* **ROA** (CS ``2015-12-15``, CR personal ``2016-06-07``): ``Authorization: acs <AccessKeyId>:<Signature>``;
  ``Signature = base64(HMAC-SHA1(AccessKeySecret, StringToSign))``, where ``StringToSign`` is
  ``VERB\\nAccept\\nContent-MD5\\nContent-Type\\nDate\\n`` + the ``x-acs-*`` headers (lower-cased names, sorted,
  ``name:value\\n``) + the canonical resource (the path, then ``?`` and the query parameters sorted by name,
  ``k=v`` joined by ``&``, not URL-encoded; a parameter without a value is just ``k``).
  help.aliyun.com/document_detail/206855.htm, alibabacloud.com/help/doc-detail/108552.html.
* **RPC** (CR enterprise ``GetAuthorizationToken`` ``2018-12-01``): the ``Signature`` query parameter;
  ``StringToSign = VERB + "&" + percentEncode("/") + "&" + percentEncode(CanonicalizedQueryString)`` with the
  parameters (all but ``Signature``) sorted by name and RFC 3986-encoded (space as ``%20``, ``~`` kept), and
  the key ``AccessKeySecret + "&"``. help.aliyun.com/en/document_detail/171741.html, doc-detail/50286.

Errors use the gateway's documented codes and JSON (``Code``/``Message``/``RequestId``/``HostId``):
``InvalidAccessKeyId.NotFound`` (404), ``SignatureDoesNotMatch`` (400, with the server's string to sign),
``SignatureNonceUsed`` (400), ``InvalidTimeStamp.Expired`` (400), ``Forbidden.RAM`` (403), ``Throttling`` /
``ServiceUnavailable`` for injected faults. CS-level errors use CS's lower-case shape
(``{"code","message","requestId","status"}``).
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import json
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CS_VERSION = "2015-12-15"
CR_PERSONAL_VERSION = "2016-06-07"
CR_ENTERPRISE_VERSION = "2018-12-01"


def percent_encode(value: str) -> str:
    """RFC 3986 percent-encoding as the RPC signature documents it (space → %20, * → %2A, ~ kept)."""
    return urllib.parse.quote(str(value), safe="-_.~")


def rpc_string_to_sign(method: str, params: dict[str, str]) -> str:
    canonical = "&".join(f"{percent_encode(k)}={percent_encode(v)}"
                         for k, v in sorted(params.items()) if k != "Signature")
    return f"{method.upper()}&{percent_encode('/')}&{percent_encode(canonical)}"


def roa_string_to_sign(method: str, path: str, query: list[tuple[str, str | None]],
                       headers: dict[str, str]) -> str:
    lower = {k.lower(): v for k, v in headers.items()}
    lines = [method.upper()] + [lower.get(h, "") for h in ("accept", "content-md5", "content-type", "date")]
    acs = sorted((k, v.translate(_BLANKS).strip()) for k, v in lower.items() if k.startswith("x-acs-"))
    canonical_headers = "".join(f"{k}:{v}\n" for k, v in acs)
    resource = path
    if query:
        resource += "?" + "&".join(k if v is None else f"{k}={v}" for k, v in sorted(query, key=lambda kv: kv[0]))
    return "\n".join(lines) + "\n" + canonical_headers + resource


_BLANKS = str.maketrans({c: " " for c in "\t\n\r\f"})


def hmac_sha1(key: str, text: str) -> str:
    return base64.b64encode(hmac.new(key.encode(), text.encode(), hashlib.sha1).digest()).decode()


@dataclass
class Cluster:
    cluster_id: str
    master_url: str
    certs: dict[str, str]
    name: str = "tagship-test"
    region_id: str = "cn-hangzhou"


@dataclass
class AliyunOpenApiDouble:
    """``keys``: AccessKeyId → secret. ``registry_login``: what CR hands out (set it to the real local
    registry's htpasswd user/password for an end-to-end push). ``fail_next``: statuses to answer before serving
    (transient faults: 500, 503, or 429 for throttling). ``denied``: actions (e.g. ``DescribeClusterCerts``)
    answered with ``Forbidden.RAM``."""

    keys: dict[str, str] = field(default_factory=dict)
    security_tokens: dict[str, str] = field(default_factory=dict)  # AccessKeyId → required STS token
    clusters: dict[str, Cluster] = field(default_factory=dict)
    registry_login: tuple[str, str] = ("cr_temp_user", "cr-token-" + uuid.uuid4().hex)
    instances: set[str] = field(default_factory=set)
    denied: set[str] = field(default_factory=set)
    fail_next: list[int] = field(default_factory=list)
    skew: float = 900.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    _nonces: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    # --- lifecycle -------------------------------------------------------------------------------------------
    def start(self) -> "AliyunOpenApiDouble":
        double = self

        class Handler(_Handler):
            api = double

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True, name="aliyun-openapi").start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "AliyunOpenApiDouble":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server, "start() the double first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def add_cluster(self, cluster_id: str, master_url: str, certs: dict[str, str], **kw: Any) -> Cluster:
        self.clusters[cluster_id] = Cluster(cluster_id, master_url, certs, **kw)
        return self.clusters[cluster_id]

    # --- request handling ------------------------------------------------------------------------------------
    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict]:
        parsed = urllib.parse.urlsplit(raw_path)
        query = urllib.parse.parse_qsl(parsed.query, keep_blank_values=True)
        path = urllib.parse.unquote(parsed.path)
        lower = {k.lower(): v for k, v in headers.items()}
        entry = {"method": method, "path": path, "query": dict(query), "headers": lower}
        with self._lock:
            self.requests.append(entry)
        if lower.get("authorization", "").startswith("acs "):
            entry["style"] = "roa"
            denied = self._check_roa(method, path, query, lower, body)
        else:
            entry["style"] = "rpc"
            params = dict(query)
            if method == "POST" and body:
                params.update(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
            entry["query"] = params
            denied = self._check_rpc(method, params)
        if denied:
            return denied
        with self._lock:
            status = self.fail_next.pop(0) if self.fail_next else None
        if status:
            code = "Throttling" if status == 429 else "ServiceUnavailable"
            return _gw(status, code, "The request has failed due to a temporary failure of the server.")
        if entry["style"] == "roa":
            return self._route_roa(method, path, lower)
        return self._route_rpc(entry["query"])

    def _check_key(self, ak: str, token: str | None) -> tuple[int, dict] | None:
        if ak not in self.keys:
            return _gw(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        want = self.security_tokens.get(ak)
        if want is not None and token != want:
            return _gw(400, "InvalidSecurityToken.Mismatch", "Specified SecurityToken mismatch with the AccessKey.")
        return None

    def _nonce(self, nonce: str) -> tuple[int, dict] | None:
        with self._lock:
            if nonce in self._nonces:
                return _gw(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
            self._nonces.add(nonce)
        return None

    def _check_roa(self, method: str, path: str, query: list[tuple[str, str]], h: dict[str, str],
                   body: bytes) -> tuple[int, dict] | None:
        ak, _, signature = h["authorization"][4:].partition(":")
        denied = self._check_key(ak.strip(), h.get("x-acs-security-token"))
        if denied:
            return denied
        if h.get("x-acs-signature-method", "HMAC-SHA1") != "HMAC-SHA1":
            return _gw(400, "InvalidSignatureMethod", "Specified signature method is not supported.")
        date = h.get("date")
        try:
            sent = email.utils.parsedate_to_datetime(date).timestamp() if date else None
        except (TypeError, ValueError):
            sent = None
        if sent is None:
            return _gw(400, "MissingDate", "Date is mandatory for this action.")
        if abs(time.time() - sent) > self.skew:
            return _gw(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
        if body and h.get("content-md5") and h["content-md5"] != base64.b64encode(hashlib.md5(body).digest()).decode():
            return _gw(400, "InvalidContentMD5", "The Content-MD5 you specified is not valid.")
        if not h.get("x-acs-version"):
            return _gw(400, "MissingVersion", "Version is mandatory for this action.")
        string_to_sign = roa_string_to_sign(method, path, [(k, v if v != "" else None) for k, v in query], h)
        if not hmac.compare_digest(signature.strip(), hmac_sha1(self.keys[ak.strip()], string_to_sign)):
            return _gw(400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation. "
                       f"server string to sign is:{string_to_sign}")
        nonce = h.get("x-acs-signature-nonce")
        return self._nonce(nonce) if nonce else None

    def _check_rpc(self, method: str, params: dict[str, str]) -> tuple[int, dict] | None:
        for name in ("AccessKeyId", "Signature", "SignatureMethod", "SignatureNonce", "Timestamp", "Version",
                     "Action"):
            if not params.get(name):
                return _gw(400, f"Missing{name}", f"{name} is mandatory for this action.")
        denied = self._check_key(params["AccessKeyId"], params.get("SecurityToken"))
        if denied:
            return denied
        if params["SignatureMethod"] != "HMAC-SHA1" or params.get("SignatureVersion", "1.0") != "1.0":
            return _gw(400, "InvalidSignatureMethod", "Specified signature method is not supported.")
        try:
            sent = datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        except ValueError:
            return _gw(400, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.")
        if abs(time.time() - sent.timestamp()) > self.skew:
            return _gw(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
        string_to_sign = rpc_string_to_sign(method, params)
        expected = hmac_sha1(self.keys[params["AccessKeyId"]] + "&", string_to_sign)
        if not hmac.compare_digest(params["Signature"], expected):
            return _gw(400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation. "
                       f"server string to sign is:{string_to_sign}")
        return self._nonce(params["SignatureNonce"])

    def _route_roa(self, method: str, path: str, h: dict[str, str]) -> tuple[int, dict]:
        version = h.get("x-acs-version")
        parts = [p for p in path.split("/") if p]
        if method == "GET" and parts[:1] == ["clusters"] and len(parts) in (2, 3):
            if version != CS_VERSION:
                return _gw(400, "InvalidVersion", "Specified parameter Version is not valid.")
            action = "DescribeClusterDetail" if len(parts) == 2 else "DescribeClusterCerts"
            if len(parts) == 3 and parts[2] != "certs":
                return _gw(404, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.")
            if action in self.denied:
                return _forbidden()
            cluster = self.clusters.get(parts[1])
            if cluster is None:
                return 404, {"code": "ErrorClusterNotFound", "message": f"cluster {parts[1]} not found",
                             "requestId": str(uuid.uuid4()).upper(), "status": 404}
            if action == "DescribeClusterCerts":
                return 200, dict(cluster.certs)
            return 200, {"cluster_id": cluster.cluster_id, "name": cluster.name, "region_id": cluster.region_id,
                         "state": "running", "cluster_type": "aliyun", "master_url": cluster.master_url,
                         "docker_version": "17.06.2-ce", "size": 1}
        if method == "GET" and parts == ["tokens"]:
            if version != CR_PERSONAL_VERSION:
                return _gw(400, "InvalidVersion", "Specified parameter Version is not valid.")
            if "GetAuthorizationToken" in self.denied:
                return _forbidden()
            user, token = self.registry_login
            return 200, {"data": {"authorizationToken": token, "tempUserName": user,
                                  "expireDate": int((time.time() + 3600) * 1000)}}
        return _gw(404, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.")

    def _route_rpc(self, params: dict[str, str]) -> tuple[int, dict]:
        if params["Action"] != "GetAuthorizationToken":
            return _gw(404, "InvalidAction.NotFound", f"Specified api is not found, please check your url and method.")
        if params["Version"] != CR_ENTERPRISE_VERSION:
            return _gw(400, "InvalidVersion", "Specified parameter Version is not valid.")
        if "GetAuthorizationToken" in self.denied:
            return _forbidden()
        request_id = str(uuid.uuid4()).upper()
        if params.get("InstanceId") not in self.instances:
            return 200, {"Code": "INSTANCE_NOT_EXIST", "IsSuccess": False, "RequestId": request_id}
        user, token = self.registry_login
        return 200, {"AuthorizationToken": token, "TempUsername": user, "ExpireTime": int((time.time() + 3600) * 1000),
                     "IsSuccess": True, "Code": "success", "RequestId": request_id}


def _gw(status: int, code: str, message: str) -> tuple[int, dict]:
    return status, {"RequestId": str(uuid.uuid4()).upper(), "HostId": "127.0.0.1", "Code": code,
                    "Message": message, "Recommend": "https://api.aliyun.com/troubleshoot?q=" + code}


def _forbidden() -> tuple[int, dict]:
    return _gw(403, "Forbidden.RAM", "User not authorized to operate on the specified resource, "
               "or this API doesn't support RAM.")


class _Handler(BaseHTTPRequestHandler):
    api: AliyunOpenApiDouble
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, data = self.api.handle(self.command, self.path, dict(self.headers.items()), body)
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read .requests instead
        pass
