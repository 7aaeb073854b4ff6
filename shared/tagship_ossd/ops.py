"""The OSS operations of ``tagship oss-server``: request in, (status, headers, body) out.

Shapes follow Aliyun's API reference (PutObject, GetObject, HeadObject, GetObjectMeta, DeleteObject,
CopyObject, Get/PutObjectAcl, DeleteMultipleObjects); listings and buckets are in ``listing``, multipart
uploads in ``multipart``; ``router`` names the operation, ``dispatch`` here runs it.
"""
from __future__ import annotations

import base64
import hashlib
import re
from email.utils import parsedate_to_datetime
from typing import Callable
from urllib.parse import quote, unquote
from xml.etree import ElementTree as ET

from . import listing, multipart as mp
from .proto import (OWNER_ID, Request, Response, bad, forbid_overwrite, http_date, iso_date, object_headers,
                    object_meta_from, parse_xml, read_all, receive, sub, xml_response)
from .store import Store


_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_PARK = 0xF0000
_UNPARK = {_PARK + c: c for c in range(32)}


# ---------------------------------------------------------------- object operations
def put_object(store: Store, req: Request) -> Response:
    if "x-oss-copy-source" in req.headers:
        return copy_object(store, req)
    meta = object_meta_from(req)
    store.bucket(req.bucket)
    body = receive(store, req)
    meta = store.commit(req.bucket, req.key, body, meta, forbid_overwrite(req))
    return Response(200, {"ETag": f'"{meta["etag"]}"', "x-oss-hash-crc64ecma": meta["crc64"],
                          "Content-MD5": base64.b64encode(bytes.fromhex(meta["etag"])).decode()})


def copy_object(store: Store, req: Request) -> Response:
    """CopyObject: ``x-oss-copy-source: /bucket/key`` (URL-encoded key); metadata COPY (default) or REPLACE."""
    src_bucket, _, src_key = unquote(req.headers["x-oss-copy-source"]).lstrip("/").partition("/")
    directive = req.headers.get("x-oss-metadata-directive", "COPY").upper()
    if directive not in ("COPY", "REPLACE"):
        raise bad("InvalidArgument", "x-oss-metadata-directive must be COPY or REPLACE.",
                  ArgumentName="x-oss-metadata-directive", ArgumentValue=directive)
    read_all(req)
    store.bucket(req.bucket)
    src, f = store.open(src_bucket, src_key)
    meta = object_meta_from(req) if directive == "REPLACE" else {
        k: src[k] for k in ("content_type", "acl", "storage_class", "headers")}
    if "x-oss-object-acl" in req.headers:
        meta["acl"] = object_meta_from(req)["acl"]
    body = store.new_body(req.bucket)
    with f:
        while chunk := f.read(1 << 20):
            body.write(chunk)
    meta = store.commit(req.bucket, req.key, body, dict(meta, etag=src["etag"], type=src["type"]),
                        forbid_overwrite(req))

    def build(el: ET.Element) -> None:
        sub(el, "ETag", f'"{meta["etag"]}"')
        sub(el, "LastModified", iso_date(meta["last_modified"]))
    resp = xml_response("CopyObjectResult", build)
    resp.headers["x-oss-hash-crc64ecma"] = meta["crc64"]
    return resp


def object_acl(store: Store, req: Request) -> Response:
    """GetObjectAcl / PutObjectAcl (``?acl``)."""
    if req.method == "PUT":
        read_all(req)
        acl = object_meta_from(req)["acl"]
        store.update(req.bucket, req.key, acl=acl)
        return Response(200)
    meta = store.head(req.bucket, req.key)

    def build(el: ET.Element) -> None:
        o = sub(el, "Owner")
        sub(o, "ID", OWNER_ID)
        sub(o, "DisplayName", OWNER_ID)
        sub(sub(el, "AccessControlList"), "Grant", meta["acl"])
    return xml_response("AccessControlPolicy", build)


def parse_range(value: str, size: int) -> tuple[int, int] | None:
    """``bytes=a-b`` -> (start, end) inclusive; None = ignore (OSS returns the whole object)."""
    if not value.startswith("bytes=") or "," in value:
        return None
    first, _, last = value[6:].strip().partition("-")
    try:
        if first == "":
            n = int(last)
            return (max(0, size - n), size - 1) if n > 0 and size > 0 else None
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start >= size:
        raise bad("InvalidRange", "The requested range cannot be satisfied", status=416,
                  RangeRequested=value, ActualObjectSize=str(size))
    if end < start:
        return None
    return start, min(end, size - 1)


def check_conditions(headers: dict[str, str], meta: dict) -> None:
    """If-Match / If-None-Match (ETag) and If-Modified-Since / If-Unmodified-Since, as GetObject documents."""
    etag = meta["etag"].upper()
    tags = lambda v: [t.strip().strip('"').upper() for t in v.split(",")]  # noqa: E731 (quoted or bare)
    since = lambda v: parsedate_to_datetime(v).timestamp()  # noqa: E731
    try:
        if "if-match" in headers and etag not in tags(headers["if-match"]) and headers["if-match"] != "*":
            raise bad("PreconditionFailed", "At least one of the pre-conditions you specified did not hold.",
                      status=412, Condition="If-Match")
        if "if-unmodified-since" in headers and int(meta["last_modified"]) > since(headers["if-unmodified-since"]):
            raise bad("PreconditionFailed", "At least one of the pre-conditions you specified did not hold.",
                      status=412, Condition="If-Unmodified-Since")
        if "if-none-match" in headers and (etag in tags(headers["if-none-match"]) or headers["if-none-match"] == "*"):
            raise bad("NotModified", "Not Modified", status=304)
        if "if-modified-since" in headers and int(meta["last_modified"]) <= since(headers["if-modified-since"]):
            raise bad("NotModified", "Not Modified", status=304)
    except (TypeError, ValueError):
        pass  # an unparsable date is ignored, as HTTP says


def get_object(store: Store, req: Request, head: bool = False) -> Response:
    if head:
        meta, f = store.head(req.bucket, req.key), None
    else:
        meta, f = store.open(req.bucket, req.key)
    headers = object_headers(meta)
    p = req.params
    for name in ("content-type", "content-language", "expires", "cache-control", "content-disposition",
                 "content-encoding"):
        if f"response-{name}" in p:
            headers[name.title()] = p[f"response-{name}"]
    size = meta["size"]
    try:
        check_conditions(req.headers, meta)
        rng = parse_range(req.headers["range"], size) if "range" in req.headers else None
    except Exception:
        if f is not None:
            f.close()
        raise
    if rng is None:
        return Response(200, headers, stream=f, length=size)
    start, end = rng
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    if f is not None:
        f.seek(start)
    return Response(206, headers, stream=f, length=end - start + 1)


def get_object_meta(store: Store, req: Request) -> Response:
    meta = store.head(req.bucket, req.key)
    return Response(200, {"ETag": f'"{meta["etag"]}"', "Last-Modified": http_date(meta["last_modified"]),
                          "x-oss-hash-crc64ecma": meta["crc64"], "x-oss-object-size": str(meta["size"])},
                    length=meta["size"])


def delete_object(store: Store, req: Request) -> Response:
    store.bucket(req.bucket)
    store.delete(req.bucket, req.key)
    return Response(204)


def delete_multiple(store: Store, req: Request) -> Response:
    data = read_all(req)
    if "content-md5" in req.headers:
        if base64.b64encode(hashlib.md5(data).digest()).decode() != req.headers["content-md5"]:
            raise bad("InvalidDigest", "The Content-MD5 you specified was invalid.", EC="0017-00000503")
    # OSS accepts a key with a control character, which XML 1.0 cannot carry: park them in private-use code points
    root = parse_xml(_CONTROL.sub(lambda m: chr(_PARK + m.group()[0]).encode(), data))
    keys = [(k.text or "").translate(_UNPARK) for k in root.iterfind("Object/Key")]
    if root.tag != "Delete" or not keys:
        raise bad("MalformedXML", "The XML you provided was not well-formed or did not validate against our "
                  "published schema.")
    if len(keys) > 1000:
        raise bad("MalformedXML", "The number of objects to delete exceeds the limit of 1000.")
    quiet = (root.findtext("Quiet") or "false").strip().lower() == "true"
    url = req.params.get("encoding-type") == "url"
    store.bucket(req.bucket)
    for key in keys:
        store.delete(req.bucket, key)

    def build(el: ET.Element) -> None:
        if url:
            sub(el, "EncodingType", "url")
        if not quiet:
            for key in keys:
                sub(sub(el, "Deleted"), "Key", quote(key, safe="") if url else key)
    return xml_response("DeleteResult", build)



HANDLERS: dict[str, Callable[[Store, Request], Response]] = {
    "PutObject": put_object, "CopyObject": copy_object, "GetObjectAcl": object_acl, "PutObjectAcl": object_acl,
    "HeadObject": lambda s, r: get_object(s, r, head=True), "GetObject": get_object,
    "GetObjectMeta": get_object_meta, "DeleteObject": delete_object, "DeleteMultipleObjects": delete_multiple,
    "ListObjects": listing.list_objects, "ListObjectsV2": listing.list_objects,
    "ListMultipartUploads": listing.list_multipart_uploads, "DeleteBucket": listing.delete_bucket,
    "InitiateMultipartUpload": mp.initiate_upload, "UploadPart": mp.upload_part,
    "UploadPartCopy": mp.upload_part_copy, "CompleteMultipartUpload": mp.complete_upload,
    "AbortMultipartUpload": mp.abort_upload, "ListParts": mp.list_parts,
}
REGIONAL = {"PutBucket": listing.put_bucket, "GetBucketInfo": listing.get_bucket_info,
            "ListBuckets": listing.list_buckets}


def dispatch(op: str, store: Store, req: Request, region: str) -> Response:
    """Run operation ``op`` (a name from ``router.route``); anything else is 501 NotImplemented."""
    if op in HANDLERS:
        return HANDLERS[op](store, req)
    if op in REGIONAL:
        return REGIONAL[op](store, req, region)
    raise bad("NotImplemented", "A header or a sub-resource you provided implies functionality that is not "
              "implemented.", status=501)
