"""The OSS operations of ``tagship oss-server``: request in, (status, headers, body) out.

Shapes follow Aliyun's API reference (PutObject, GetObject, HeadObject, GetObjectMeta, DeleteObject,
CopyObject, Get/PutObjectAcl, DeleteMultipleObjects, ListObjects, ListObjectsV2, InitiateMultipartUpload, UploadPart,
CompleteMultipartUpload, AbortMultipartUpload, ListParts, PutBucket, GetBucketInfo, ListBuckets).
"""
from __future__ import annotations

import base64
import hashlib
from email.utils import parsedate_to_datetime
from typing import Callable
from urllib.parse import quote, unquote
from xml.etree import ElementTree as ET

from . import multipart as mp
from .proto import (OWNER_ID, Request, Response, _int_param, bad, binascii, forbid_overwrite, http_date, iso_date,
                        object_headers, object_meta_from, parse_xml, read_all, receive, sub, xml_response)
from .store import Store, decode_token, encode_token


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
    etag = f'"{meta["etag"]}"'
    tags = lambda v: [t.strip() for t in v.split(",")]  # noqa: E731
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
    root = parse_xml(data)
    keys = [k.text or "" for k in root.iterfind("Object/Key")]
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



# ---------------------------------------------------------------- listing
def _list_common(el: ET.Element, objects: list[dict], prefixes: list[str], enc: Callable[[str], str],
                 owner: bool) -> None:
    for meta in objects:
        c = sub(el, "Contents")
        sub(c, "Key", enc(meta["key"]))
        sub(c, "LastModified", iso_date(meta["last_modified"]))
        sub(c, "ETag", f'"{meta["etag"]}"')
        sub(c, "Type", meta["type"])
        sub(c, "Size", meta["size"])
        sub(c, "StorageClass", meta["storage_class"])
        if owner:
            o = sub(c, "Owner")
            sub(o, "ID", OWNER_ID)
            sub(o, "DisplayName", OWNER_ID)
    for prefix in prefixes:
        sub(sub(el, "CommonPrefixes"), "Prefix", enc(prefix))


def list_objects(store: Store, req: Request) -> Response:
    p = req.params
    v2 = p.get("list-type") == "2"
    if "list-type" in p and not v2:
        raise bad("InvalidArgument", "list-type must be 2.", ArgumentName="list-type")
    if p.get("encoding-type") not in (None, "", "url"):
        raise bad("InvalidArgument", "The encoding type must be url.", ArgumentName="encoding-type")
    url = p.get("encoding-type") == "url"
    enc = (lambda s: quote(s, safe="")) if url else (lambda s: s)
    prefix, delimiter = p.get("prefix", ""), p.get("delimiter", "")
    max_keys = _int_param(p, "max-keys", 100, 0, 1000)
    token = p.get("continuation-token", "") if v2 else ""
    after = p.get("start-after", "") if v2 else p.get("marker", "")
    skip = not v2 and bool(delimiter) and after.endswith(delimiter)  # a V1 marker may be a common prefix
    if token:
        try:
            after, skip = decode_token(token)
        except (ValueError, UnicodeDecodeError, binascii.Error):
            raise bad("InvalidArgument", "The continuation token provided is incorrect.",
                      ArgumentName="continuation-token") from None
    objects, prefixes, nxt = store.list_page(req.bucket, prefix, delimiter, after, max_keys, skip)

    def build(el: ET.Element) -> None:
        sub(el, "Name", req.bucket)
        sub(el, "Prefix", enc(prefix))
        if v2:
            if "start-after" in p:
                sub(el, "StartAfter", enc(p["start-after"]))
            if token:
                sub(el, "ContinuationToken", token)
        else:
            sub(el, "Marker", enc(p.get("marker", "")))
        sub(el, "MaxKeys", max_keys)
        sub(el, "Delimiter", enc(delimiter))
        if url:
            sub(el, "EncodingType", "url")
        sub(el, "IsTruncated", "true" if nxt else "false")
        if nxt and v2:
            sub(el, "NextContinuationToken", encode_token(nxt, bool(prefixes) and nxt == prefixes[-1]))
        elif nxt:
            sub(el, "NextMarker", enc(nxt))
        if v2:
            sub(el, "KeyCount", len(objects) + len(prefixes))
        _list_common(el, objects, prefixes, enc, owner=not v2 or p.get("fetch-owner") == "true")
    return xml_response("ListBucketResult", build)


# ---------------------------------------------------------------- buckets
def put_bucket(store: Store, req: Request, region: str) -> Response:
    read_all(req)
    acl = req.headers.get("x-oss-acl", "private")
    if not store.create_bucket(req.bucket, region, acl):
        raise bad("BucketAlreadyExists", "The requested bucket name is not available.", status=409)
    return Response(200, {"Location": f"/{req.bucket}"})


def get_bucket_info(store: Store, req: Request, region: str) -> Response:
    info = store.bucket(req.bucket).info

    def build(el: ET.Element) -> None:
        b = sub(el, "Bucket")
        sub(b, "CreationDate", iso_date(info["created"]))
        sub(b, "ExtranetEndpoint", req.host)
        sub(b, "IntranetEndpoint", req.host)
        sub(b, "Location", f"oss-{info.get('region') or region}")
        sub(b, "Name", req.bucket)
        sub(b, "StorageClass", info.get("storage_class", "Standard"))
        o = sub(b, "Owner")
        sub(o, "DisplayName", OWNER_ID)
        sub(o, "ID", OWNER_ID)
        sub(sub(b, "AccessControlList"), "Grant", info.get("acl", "private"))
    return xml_response("BucketInfo", build)


def list_buckets(store: Store, req: Request, region: str) -> Response:
    def build(el: ET.Element) -> None:
        o = sub(el, "Owner")
        sub(o, "ID", OWNER_ID)
        sub(o, "DisplayName", OWNER_ID)
        bs = sub(el, "Buckets")
        for name in store.bucket_names():
            info, b = store.bucket(name).info, sub(bs, "Bucket")
            sub(b, "CreationDate", iso_date(info["created"]))
            sub(b, "ExtranetEndpoint", req.host)
            sub(b, "IntranetEndpoint", req.host)
            sub(b, "Location", f"oss-{info.get('region') or region}")
            sub(b, "Name", name)
            sub(b, "Region", info.get("region") or region)
            sub(b, "StorageClass", info.get("storage_class", "Standard"))
    return xml_response("ListAllMyBucketsResult", build)


def route(req: Request) -> str:
    """The operation name for a request (used for dispatch and for the stats counters)."""
    p, m = req.params, req.method
    if not req.bucket:
        return "ListBuckets" if m == "GET" else "NotImplemented"
    if not req.key:
        if m == "GET":
            return "GetBucketInfo" if "bucketInfo" in p else ("ListObjectsV2" if p.get("list-type") == "2"
                                                              else "ListObjects")
        return {"POST": "DeleteMultipleObjects" if "delete" in p else "NotImplemented",
                "PUT": "PutBucket"}.get(m, "NotImplemented")
    if "acl" in p and m in ("GET", "PUT"):
        return m.title() + "ObjectAcl"
    if m == "PUT":
        return "UploadPart" if "uploadId" in p and "partNumber" in p else (
            "CopyObject" if "x-oss-copy-source" in req.headers else "PutObject")
    if m == "GET":
        return "ListParts" if "uploadId" in p else ("GetObjectMeta" if "objectMeta" in p else "GetObject")
    if m == "HEAD":
        return "GetObjectMeta" if "objectMeta" in p else "HeadObject"
    if m == "DELETE":
        return "AbortMultipartUpload" if "uploadId" in p else "DeleteObject"
    if m == "POST":
        return "InitiateMultipartUpload" if "uploads" in p else (
            "CompleteMultipartUpload" if "uploadId" in p else "NotImplemented")
    return "NotImplemented"


def dispatch(op: str, store: Store, req: Request, region: str) -> Response:
    simple = {"PutObject": put_object, "CopyObject": copy_object, "GetObjectAcl": object_acl,
              "PutObjectAcl": object_acl, "HeadObject": lambda s, r: get_object(s, r, head=True),
              "GetObject": get_object, "GetObjectMeta": get_object_meta, "DeleteObject": delete_object,
              "DeleteMultipleObjects": delete_multiple, "ListObjects": list_objects, "ListObjectsV2": list_objects,
              "InitiateMultipartUpload": mp.initiate_upload, "UploadPart": mp.upload_part,
              "CompleteMultipartUpload": mp.complete_upload, "AbortMultipartUpload": mp.abort_upload,
              "ListParts": mp.list_parts}
    if op in simple:
        return simple[op](store, req)
    regional = {"PutBucket": put_bucket, "GetBucketInfo": get_bucket_info, "ListBuckets": list_buckets}
    if op in regional:
        return regional[op](store, req, region)
    raise bad("NotImplemented", "This operation is not implemented by tagship oss-server.", status=501)
