"""What ``tagship oss-server`` puts on the wire besides the operation's answer: error responses with OSS's
``x-oss-ec`` code (and ``x-oss-err`` on HEAD, whose answer has no body), UTF-8 header values, gzip.

EC codes cited from OSS answers and oss2's own tests; an error without a known code gets ``0000-00000000``
(a placeholder: the header is always there, as on OSS).
"""
from __future__ import annotations

import base64
import zlib
from typing import Mapping

from . import proto

EC_UNKNOWN = "0000-00000000"
EC = {
    "NoSuchKey": "0026-00000001",
}
GZIP_MIN_SIZE = 1024
GZIP_TYPES = ("text/", "application/json", "application/xml", "application/javascript", "application/x-javascript")


def error_response(method: str, status: int, code: str, message: str, request_id: str, host_id: str,
                   extra: Mapping[str, str]) -> proto.Response:
    extra = dict(extra)
    ec = extra.pop("EC", None) or EC.get(code, EC_UNKNOWN)
    body = proto.error_body(code, message, request_id, host_id, dict(extra, EC=ec))
    headers = {"Content-Type": "application/xml", "x-oss-ec": ec}
    if method == "HEAD":  # no body on a HEAD answer: OSS sends the error document base64-encoded in a header
        headers["x-oss-err"] = base64.b64encode(body).decode()
    return proto.Response(status, headers, body)


def decode_header(value: str) -> str:
    """http.server decodes header bytes as latin-1; OSS (and its signatures) read them as UTF-8."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def encode_header(value: str) -> str:
    """The inverse of ``decode_header``, for ``send_header`` (which encodes latin-1)."""
    try:
        value.encode("latin-1")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-8").decode("latin-1")


def wants_gzip(method: str, headers: Mapping[str, str], resp: proto.Response) -> bool:
    """OSS compresses a whole-object GET of a text type of 1 KB or more when the client accepts gzip."""
    if method != "GET" or resp.status != 200 or resp.stream is None or resp.length < GZIP_MIN_SIZE:
        return False
    if "gzip" not in headers.get("accept-encoding", "").lower() or "Content-Encoding" in resp.headers:
        return False
    return resp.headers.get("Content-Type", "").lower().startswith(GZIP_TYPES)


def gzip_chunks(stream, length: int, size: int = 1 << 16):
    """The stream's next ``length`` bytes, gzip-compressed, as chunks."""
    z = zlib.compressobj(6, zlib.DEFLATED, 31)
    with stream as f:
        while length > 0 and (data := f.read(min(size, length))):
            length -= len(data)
            if out := z.compress(data):
                yield out
    yield z.flush()
