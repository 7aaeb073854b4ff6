"""Listing and bucket operations of ``tagship oss-server``: ListObjects (V1/V2), ListMultipartUploads,
PutBucket, GetBucketInfo, DeleteBucket, ListBuckets (prefix, marker, max-keys)."""
from __future__ import annotations

from typing import Callable
from urllib.parse import quote
from xml.etree import ElementTree as ET

from .proto import OWNER_ID, Request, Response, _int_param, bad, binascii, iso_date, read_all, sub, xml_response
from .store import Store, decode_token, encode_token


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
    p = req.params
    prefix, marker = p.get("prefix", ""), p.get("marker", "")
    max_keys = _int_param(p, "max-keys", 100, 1, 1000)
    names = [n for n in store.bucket_names() if n.startswith(prefix) and n > marker]
    page, truncated = names[:max_keys], len(names) > max_keys

    def build(el: ET.Element) -> None:
        o = sub(el, "Owner")
        sub(o, "ID", OWNER_ID)
        sub(o, "DisplayName", OWNER_ID)
        if "prefix" in p or "marker" in p or "max-keys" in p:
            sub(el, "Prefix", prefix)
            sub(el, "Marker", marker)
            sub(el, "MaxKeys", max_keys)
            sub(el, "IsTruncated", "true" if truncated else "false")
            if truncated:
                sub(el, "NextMarker", page[-1])
        bs = sub(el, "Buckets")
        for name in page:
            info, b = store.bucket(name).info, sub(bs, "Bucket")
            sub(b, "CreationDate", iso_date(info["created"]))
            sub(b, "ExtranetEndpoint", req.host)
            sub(b, "IntranetEndpoint", req.host)
            sub(b, "Location", f"oss-{info.get('region') or region}")
            sub(b, "Name", name)
            sub(b, "Region", info.get("region") or region)
            sub(b, "StorageClass", info.get("storage_class", "Standard"))
    return xml_response("ListAllMyBucketsResult", build)


def delete_bucket(store: Store, req: Request) -> Response:
    read_all(req)
    store.delete_bucket(req.bucket)
    return Response(204)


def list_multipart_uploads(store: Store, req: Request) -> Response:
    """ListMultipartUploads: uploads sorted by key, then upload ID; prefix, delimiter, key-marker,
    upload-id-marker, max-uploads (1..1000), encoding-type=url."""
    p = req.params
    url = p.get("encoding-type") == "url"
    enc = (lambda s: quote(s, safe="")) if url else (lambda s: s)
    prefix, delimiter = p.get("prefix", ""), p.get("delimiter", "")
    key_marker, id_marker = p.get("key-marker", ""), p.get("upload-id-marker", "")
    max_uploads = _int_param(p, "max-uploads", 1000, 1, 1000)
    with store.lock:
        ups = sorted((u["key"], u["upload_id"], u["initiated"]) for u in store.bucket(req.bucket).uploads.values())
    rows: list[tuple[str, str, float, str]] = []  # (kind, key or prefix, initiated, upload id)
    seen_prefixes = set()
    for key, upload_id, initiated in ups:  # by key, then upload ID (as OSS orders them)
        if not key.startswith(prefix) or (key, upload_id) <= (key_marker, id_marker or "\U0010ffff"):
            continue
        cut = key.find(delimiter, len(prefix)) if delimiter else -1
        if cut >= 0:
            cp = key[:cut + len(delimiter)]
            if cp in seen_prefixes or (key_marker and cp <= key_marker):
                continue
            seen_prefixes.add(cp)
            rows.append(("prefix", cp, 0.0, ""))
        else:
            rows.append(("upload", key, initiated, upload_id))
    page, truncated = rows[:max_uploads], len(rows) > max_uploads
    last = page[-1] if page else None

    def build(el: ET.Element) -> None:
        sub(el, "Bucket", req.bucket)
        if url:
            sub(el, "EncodingType", "url")
        sub(el, "KeyMarker", enc(key_marker))
        sub(el, "UploadIdMarker", id_marker)
        sub(el, "NextKeyMarker", enc(last[1]) if truncated and last else "")
        sub(el, "NextUploadIdMarker", last[3] if truncated and last else "")
        sub(el, "Delimiter", enc(delimiter))
        sub(el, "Prefix", enc(prefix))
        sub(el, "MaxUploads", max_uploads)
        sub(el, "IsTruncated", "true" if truncated else "false")
        for kind, key, initiated, upload_id in page:
            if kind == "upload":
                u = sub(el, "Upload")
                sub(u, "Key", enc(key))
                sub(u, "UploadId", upload_id)
                sub(u, "StorageClass", "Standard")
                sub(u, "Initiated", iso_date(initiated))
        for kind, cp, _t, _u in page:
            if kind == "prefix":
                sub(sub(el, "CommonPrefixes"), "Prefix", enc(cp))
    return xml_response("ListMultipartUploadsResult", build)
