"""Request/response plumbing shared by the ``tagship oss-server`` operations: the request and response
records, OSS-style XML and error bodies, body reception with the Content-MD5 check, stored object headers, the request body reader."""
from __future__ import annotations

import base64
import binascii
import mimetypes
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import BinaryIO, Callable, Iterator, Mapping
from xml.etree import ElementTree as ET

from .store import Body, Store, StoreError

ACLS = {"default", "private", "public-read", "public-read-write"}
STORAGE_CLASSES = {"Standard", "IA", "Archive", "ColdArchive", "DeepColdArchive"}
KEPT_HEADERS = ("cache-control", "content-encoding", "content-disposition", "content-language", "expires",
                "x-oss-server-side-encryption", "x-oss-tagging")
OWNER_ID = "1234567890123456"


@dataclass
class Request:
    method: str
    bucket: str
    key: str
    query: list[tuple[str, str]]
    headers: dict[str, str]  # lower-case names
    chunks: Callable[[], Iterator[bytes]]  # the request body, read once
    host: str = ""

    @property
    def params(self) -> dict[str, str]:
        return dict(self.query)


@dataclass
class Response:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    stream: BinaryIO | None = None  # sent after body: `length` bytes from the current position
    length: int = 0


def http_date(t: float) -> str:
    return formatdate(t, usegmt=True)


def iso_date(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(t))  # OSS always writes .000Z


def xml_doc(root: str, build: Callable[[ET.Element], None]) -> bytes:
    el = ET.Element(root)
    build(el)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(el, encoding="utf-8")


def sub(parent: ET.Element, tag: str, text: object = None) -> ET.Element:
    el = ET.SubElement(parent, tag)
    if text is not None:
        el.text = str(text)
    return el


def error_body(code: str, message: str, request_id: str, host_id: str, extra: dict[str, str]) -> bytes:
    def build(el: ET.Element) -> None:
        for tag, text in (("Code", code), ("Message", message), ("RequestId", request_id), ("HostId", host_id)):
            sub(el, tag, text)
        for tag, text in extra.items():
            sub(el, tag, text)
    return xml_doc("Error", build)


def xml_response(root: str, build: Callable[[ET.Element], None], status: int = 200) -> Response:
    return Response(status, {"Content-Type": "application/xml"}, xml_doc(root, build))


def bad(code: str, message: str, status: int = 400, **extra: str) -> StoreError:
    return StoreError(status, code, message, **extra)


def read_all(req: Request, limit: int = 10 << 20) -> bytes:
    data = bytearray()
    for chunk in req.chunks():
        data += chunk
        if len(data) > limit:
            raise bad("EntityTooLarge", "Your proposed upload exceeds the maximum allowed size.")
    return bytes(data)


def parse_xml(data: bytes) -> ET.Element:
    try:
        return ET.fromstring(data)
    except ET.ParseError:
        raise bad("MalformedXML", "The XML you provided was not well-formed or did not validate against our "
                  "published schema.") from None


def receive(store: Store, req: Request) -> Body:
    """Stream the request body into a temp file; check Content-MD5 if sent."""
    sent_md5 = req.headers.get("content-md5")
    if sent_md5 is not None:
        try:
            want = base64.b64decode(sent_md5, validate=True)
        except (binascii.Error, ValueError):
            want = b""
        if len(want) != 16:
            raise bad("InvalidDigest", "The Content-MD5 you specified was invalid.", EC="0017-00000502")
    body = store.new_body(req.bucket)
    try:
        for chunk in req.chunks():
            body.write(chunk)
    except BaseException:
        body.discard()
        raise
    if sent_md5 is not None and body.md5.digest() != want:
        body.discard()
        raise bad("InvalidDigest", "The Content-MD5 you specified was invalid.", EC="0017-00000503")
    return body


def object_meta_from(req: Request) -> dict:
    """Validate the key and the object headers of a write; the metadata to store."""
    raw_key = req.key.encode("utf-8", "surrogatepass")
    if len(raw_key) > 1023 or req.key.startswith(("/", "\\")):
        raise bad("InvalidObjectName", "The specified object is not valid.", ObjectName=req.key)
    h = req.headers
    acl = h.get("x-oss-object-acl", "default")
    if acl not in ACLS:
        raise bad("InvalidArgument", "no such object access control exists", ArgumentName="x-oss-object-acl",
                  ArgumentValue=acl)
    sclass = h.get("x-oss-storage-class", "Standard")
    if sclass not in STORAGE_CLASSES:
        raise bad("InvalidArgument", "Invalid storage class.", ArgumentName="x-oss-storage-class",
                  ArgumentValue=sclass)
    ctype = h.get("content-type") or mimetypes.guess_type(req.key)[0] or "application/octet-stream"
    kept = {k: v for k, v in h.items() if k in KEPT_HEADERS or k.startswith("x-oss-meta-")}
    return {"content_type": ctype, "acl": acl, "storage_class": sclass, "headers": kept}


def object_headers(meta: dict) -> dict[str, str]:
    out = {"Content-Type": meta["content_type"], "ETag": f'"{meta["etag"]}"',
           "Last-Modified": http_date(meta["last_modified"]), "x-oss-object-type": meta["type"],
           "x-oss-storage-class": meta["storage_class"], "x-oss-hash-crc64ecma": meta["crc64"],
           "Accept-Ranges": "bytes"}
    if meta["type"] == "Normal":
        out["Content-MD5"] = base64.b64encode(bytes.fromhex(meta["etag"])).decode()
    for k, v in meta["headers"].items():
        if k == "x-oss-tagging":
            out["x-oss-tagging-count"] = str(len([p for p in v.split("&") if p]))
        else:
            out[k if k.startswith("x-oss-") else k.title()] = v
    return out


def forbid_overwrite(req: Request) -> bool:
    return req.headers.get("x-oss-forbid-overwrite", "").lower() == "true"



def _int_param(p: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = p.get(name) or ""
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if not low <= value <= high:
        raise bad("InvalidArgument", f"Argument {name} must be an integer between {low} to {high}.",
                  ArgumentName=name, ArgumentValue=raw)
    return value


class BodyReader:
    """Reads one request body (Content-Length or chunked) so the connection can be reused afterwards."""

    def __init__(self, rfile, headers: Mapping[str, str]):
        self.rfile, self.nbytes, self.chunked = rfile, 0, "chunked" in headers.get("transfer-encoding", "").lower()
        self.left = 0 if self.chunked else int(headers.get("content-length") or 0)
        self.eof = not self.chunked and self.left == 0
        if self.left < 0:
            raise ValueError("negative Content-Length")

    def read(self, size: int = 1 << 20) -> bytes:
        if self.eof:
            return b""
        if self.chunked and self.left == 0:
            line = self.rfile.readline(1024)
            n = int(line.split(b";")[0].strip() or b"x", 16)
            if n == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                self.eof = True
                return b""
            self.left = n
        data = self.rfile.read(min(size, self.left))
        if not data:
            raise ConnectionError("client closed the connection mid-body")
        self.left -= len(data)
        self.nbytes += len(data)
        if self.left == 0:
            if self.chunked:
                self.rfile.readline(16)
            else:
                self.eof = True
        return data

    def chunks(self):
        while chunk := self.read():
            yield chunk

    def drain(self) -> None:
        for _ in self.chunks():
            pass
