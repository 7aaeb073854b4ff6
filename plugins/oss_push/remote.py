"""The OSS side: one oss2 Bucket on a Session sized to the thread pool, every request through the kit's
retry policy and a token bucket, and counted. oss2 is imported here, lazily (this module is imported only
when a run starts).
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import socket
import threading
import time
from typing import Any, Callable, TypeVar

import oss2
import requests

from tagship import deadline, log
from tagship.errors import PluginError
from tagship.retry import RetryPolicy, RetryStats, call

from .plan import RemoteObject, Signing, remote_object, signing
from .settings import Settings

T = TypeVar("T")

for _name in ("oss2", "urllib3"):  # their log records carry request headers; never let them reach stderr
    logging.getLogger(_name).addHandler(logging.NullHandler())
    logging.getLogger(_name).propagate = False


class CrcMissing(Exception):
    """The server sent no x-oss-hash-crc64ecma (oss2 would skip the check silently)."""


class TokenBucket:
    """At most ``rate`` requests per second across threads, with a burst of one second's worth."""

    def __init__(self, rate: float):
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self.stamp = time.monotonic()
        self.lock = threading.Lock()

    def acquire(self) -> None:
        if self.rate <= 0:
            return
        while True:
            with self.lock:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
                self.stamp = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                wait = (1 - self.tokens) / self.rate
            deadline.sleep(wait, "waiting for the max_qps rate limit")


def is_transient(exc: BaseException) -> bool:
    """Worth another try: connection errors, timeouts, 5xx and throttling, a CRC mismatch. Never 4xx."""
    if isinstance(exc, (oss2.exceptions.RequestError, oss2.exceptions.InconsistentError)):
        return True
    if isinstance(exc, oss2.exceptions.OssError):
        return exc.status >= 500 or exc.status == 429 or \
            exc.code in ("TotalQpsLimitExceeded", "SlowDown", "RequestTimeout")
    import urllib3

    return isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                            requests.exceptions.ChunkedEncodingError, http.client.IncompleteRead,
                            urllib3.exceptions.HTTPError, ConnectionError, socket.timeout, TimeoutError))


def describe(exc: BaseException) -> str:
    """One line for a failed request, without request headers."""
    if isinstance(exc, oss2.exceptions.RequestError):
        return f"connection error: {getattr(exc, 'exception', None) or exc.body}"
    if isinstance(exc, oss2.exceptions.InconsistentError):
        return "CRC64 mismatch between what was sent and what the server stored"
    if isinstance(exc, oss2.exceptions.OssError):
        details = exc.details if isinstance(exc.details, dict) else {}
        code = exc.code or details.get("Code") or type(exc).__name__
        msg = details.get("Message") or ""
        return f"HTTP {exc.status} {code}" + (f": {msg}" if msg else "") + \
            (f" (request id {exc.request_id})" if exc.request_id else "")
    return f"{type(exc).__name__}: {exc}"


def _hint(exc: BaseException) -> str | None:
    code = getattr(exc, "code", "")
    status = getattr(exc, "status", 0)
    if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch") or status == 403:
        return ("check access_key_id/access_key_secret (and security_token for STS), and that the key may "
                "write to this bucket; V4 signatures are scoped to the region (PLUGIN_REGION, or the endpoint's)")
    details = getattr(exc, "details", None)
    message = str(details.get("Message", "")) if isinstance(details, dict) else ""
    if code == "InvalidArgument" and "region" in message.lower():
        return ("V4 signatures are scoped to a region, and this one is not the bucket's: set PLUGIN_REGION to the "
                "bucket's region (it overrides the one read from the endpoint), or signature: v1")
    if code == "NoSuchBucket":
        return "check the bucket name and the endpoint's region"
    if status == -2:
        return "check the endpoint and the network; the request was retried"
    return None


def fail(what: str, exc: BaseException) -> PluginError:
    return PluginError(f"{what} failed: {describe(exc)}", hint=_hint(exc))


def make_auth(s: Settings, sign: Signing) -> Any:
    ak, sk = s.access_key_id.get_secret_value(), s.access_key_secret.get_secret_value()
    token = s.security_token.get_secret_value() if s.security_token else None
    if sign.version == "v4":
        if token:
            from oss2.credentials import StaticCredentialsProvider

            return oss2.ProviderAuthV4(StaticCredentialsProvider(ak, sk, token))
        return oss2.AuthV4(ak, sk)
    return oss2.StsAuth(ak, sk, token) if token else oss2.Auth(ak, sk)


class Remote:
    """The bucket, with counted, retried, rate-limited requests."""

    def __init__(self, settings: Settings, stats: RetryStats | None = None,
                 policy: RetryPolicy | None = None):
        self.settings = settings
        self.signing = signing(settings.signature, settings.region, settings.endpoint)  # push checked it first
        self.session = oss2.Session(pool_size=settings.concurrency)
        self.bucket = oss2.Bucket(make_auth(settings, self.signing), settings.endpoint, settings.bucket,
                                  session=self.session, connect_timeout=settings.timeout, enable_crc=True,
                                  region=self.signing.region,
                                  app_name="tagship-oss-push")
        self.stats = stats or RetryStats()
        self.policy = policy or RetryPolicy(attempts=settings.max_retries + 1, deadline=600, base=0.25, cap=10)
        self.limiter = TokenBucket(settings.max_qps)
        self.lock = threading.Lock()
        self.requests = 0
        self.by_op: dict[str, int] = {}
        self.crc_warned = False

    def request(self, op: str, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """One OSS request with retries; raises the last error (callers turn it into a PluginError)."""
        def attempt() -> T:
            self.limiter.acquire()
            with self.lock:
                self.requests += 1
                self.by_op[op] = self.by_op.get(op, 0) + 1
            return fn(*args, **kwargs)

        return call(attempt, is_transient=is_transient, policy=self.policy, what=what, stats=self.stats,
                    describe=describe)

    def check_crc(self, result: Any, what: str, attr: str = "crc") -> None:
        """oss2 checks CRC-64 only when the answer carries it. Without: an error with verify, else one warning."""
        if getattr(result, attr, None) is not None:
            return
        if self.settings.verify:
            raise CrcMissing(f"{what}: the server sent no x-oss-hash-crc64ecma, so the transfer cannot be checked "
                             f"end to end (a proxy or an OSS-compatible server that drops the header?)")
        with self.lock:
            warned, self.crc_warned = self.crc_warned, True
        if not warned:
            log.warn(f"{what}: the server sent no x-oss-hash-crc64ecma; accepted as verify is false (uploads are "
                     f"still checked by Content-MD5); further answers without it are not reported")

    # ── reads ──
    def list(self, prefix: str) -> dict[str, RemoteObject]:
        """Every object under ``prefix``: ListObjectsV2 pages of 1000, no HEAD per object."""
        out: dict[str, RemoteObject] = {}
        token = ""
        while True:
            page = self.request("ListObjectsV2", f"list {prefix or '/'}", self.bucket.list_objects_v2,
                                prefix=prefix, continuation_token=token, max_keys=1000)
            for o in page.object_list:
                out[o.key] = remote_object(o.key, o.size, o.etag)
            if not page.is_truncated:
                return out
            token = page.next_continuation_token

    def head_md5(self, key: str) -> str | None:
        """The stored MD5 of an object: x-oss-meta-md5 (written by every tagship upload) or a simple ETag."""
        meta = self.request("HeadObject", f"HEAD {key}", self.bucket.head_object, key)
        md5 = meta.headers.get("x-oss-meta-md5")
        etag = (meta.etag or "").strip('"')
        return md5.lower() if md5 else (etag.lower() if etag and "-" not in etag else None)

    def get_json(self, key: str) -> Any:
        def get() -> bytes:
            result = self.bucket.get_object(key)
            self.check_crc(result, f"GET {key}", "server_crc")
            return result.read()

        try:
            data = self.request("GetObject", f"GET {key}", get)
            return json.loads(data)
        except oss2.exceptions.NoSuchKey:
            return None
        except ValueError:
            log.warn(f"{key}: not valid JSON; it will be rewritten")
            return None

    # ── writes ──
    def put(self, key: str, body: Callable[[], Any], md5_hex: str, headers: dict[str, str], forbid: bool) -> str:
        """PUT one object with Content-MD5 and x-oss-meta-md5; returns the ETag. A 409 on a retry (the first
        try landed but its answer was lost) is success when the stored MD5 is ours."""
        h = dict(headers)
        h["Content-MD5"] = base64.b64encode(bytes.fromhex(md5_hex)).decode()
        h["x-oss-meta-md5"] = md5_hex
        if forbid:
            h["x-oss-forbid-overwrite"] = "true"
        tries = [0]

        def put_once() -> Any:
            tries[0] += 1
            data = body()
            try:
                result = self.bucket.put_object(key, data, headers=h)
            except oss2.exceptions.ServerError as exc:
                if exc.status == 409 and exc.code == "FileAlreadyExists" and tries[0] > 1 and \
                        self.head_md5(key) == md5_hex:
                    return None
                raise
            finally:
                close = getattr(data, "close", None)
                if close:
                    close()
            self.check_crc(result, f"PUT {key}")
            return result

        result = self.request("PutObject", f"PUT {key}", put_once)
        return (result.etag.strip('"').upper() if result is not None and result.etag else md5_hex.upper())

    def delete_keys(self, keys: list[str]) -> list[str]:
        result = self.request("DeleteMultipleObjects", f"delete {len(keys)} objects",
                              self.bucket.batch_delete_objects, keys)
        return list(result.deleted_keys)

    def delete_key(self, key: str) -> None:
        self.request("DeleteObject", f"DELETE {key}", self.bucket.delete_object, key)
