"""Multipart upload operations of ``tagship oss-server``: InitiateMultipartUpload, UploadPart,
UploadPartCopy, CompleteMultipartUpload (ETag = MD5 of the parts' binary MD5s + "-N"), AbortMultipartUpload, ListParts."""
from __future__ import annotations

import re
from urllib.parse import quote, unquote
from xml.etree import ElementTree as ET

from .proto import (Request, Response, _int_param, bad, base64, forbid_overwrite, iso_date, object_meta_from,
                        parse_xml, read_all, receive, sub, xml_response)
from .store import Store


def initiate_upload(store: Store, req: Request) -> Response:
    meta = object_meta_from(req)
    if forbid_overwrite(req):
        meta["forbid_overwrite"] = True
        if req.key in store.bucket(req.bucket).index:
            raise bad("FileAlreadyExists", "The object you specified already exists and can not be overwritten.",
                      status=409)
    read_all(req)
    upload_id = store.init_upload(req.bucket, req.key, meta)
    url = req.params.get("encoding-type") == "url"

    def build(el: ET.Element) -> None:
        sub(el, "Bucket", req.bucket)
        sub(el, "Key", quote(req.key, safe="") if url else req.key)
        sub(el, "UploadId", upload_id)
        if url:
            sub(el, "EncodingType", "url")
    return xml_response("InitiateMultipartUploadResult", build)


def upload_part(store: Store, req: Request) -> Response:
    p = req.params
    try:
        number = int(p["partNumber"])
    except ValueError:
        number = 0
    store.upload(req.bucket, req.key, p["uploadId"])
    body = receive(store, req)
    part = store.put_part(req.bucket, req.key, p["uploadId"], number, body)
    return Response(200, {"ETag": f'"{part["etag"]}"', "x-oss-hash-crc64ecma": part["crc64"],
                          "Content-MD5": base64.b64encode(bytes.fromhex(part["md5"])).decode()})


def upload_part_copy(store: Store, req: Request) -> Response:
    """UploadPartCopy: the part's bytes come from ``x-oss-copy-source`` (``/bucket/key``, URL-encoded key),
    optionally only ``x-oss-copy-source-range: bytes=a-b``."""
    p = req.params
    try:
        number = int(p["partNumber"])
    except ValueError:
        number = 0
    read_all(req)
    store.upload(req.bucket, req.key, p["uploadId"])
    src_bucket, _, src_key = unquote(req.headers["x-oss-copy-source"]).lstrip("/").partition("/")
    meta, f = store.open(src_bucket, src_key)
    with f:
        start, length = 0, meta["size"]
        rng = req.headers.get("x-oss-copy-source-range")
        if rng:
            m = re.fullmatch(r"bytes=(\d+)-(\d*)", rng.strip())
            first, last = (int(m.group(1)), int(m.group(2) or meta["size"] - 1)) if m else (0, -1)
            if not m or first > last or last >= meta["size"]:
                raise bad("InvalidArgument", "The range specified is invalid.", ArgumentName="x-oss-copy-source-range",
                          ArgumentValue=rng)
            start, length = first, last - first + 1
        f.seek(start)
        body = store.new_body(req.bucket)
        while length > 0 and (chunk := f.read(min(length, 1 << 20))):
            body.write(chunk)
            length -= len(chunk)
    part = store.put_part(req.bucket, req.key, p["uploadId"], number, body)

    def build(el: ET.Element) -> None:
        sub(el, "LastModified", iso_date(part["last_modified"]))
        sub(el, "ETag", f'"{part["etag"]}"')
    resp = xml_response("CopyPartResult", build)
    resp.headers.update({"ETag": f'"{part["etag"]}"', "x-oss-hash-crc64ecma": part["crc64"]})
    return resp


def complete_upload(store: Store, req: Request) -> Response:
    upload_id = req.params["uploadId"]
    up = store.upload(req.bucket, req.key, upload_id)
    data = read_all(req)
    if req.headers.get("x-oss-complete-all", "").lower() == "yes":
        wanted = [(n, part["etag"]) for n, part in sorted(up["parts"].items())]
    else:
        root = parse_xml(data)
        try:
            wanted = [(int(e.findtext("PartNumber") or ""), e.findtext("ETag") or "") for e in root.iter("Part")]
        except ValueError:
            raise bad("MalformedXML", "The XML you provided was not well-formed.") from None
    forbid = forbid_overwrite(req) or up["meta"].get("forbid_overwrite", False)
    meta = store.complete(req.bucket, req.key, upload_id, wanted, forbid)
    url = req.params.get("encoding-type") == "url"

    def build(el: ET.Element) -> None:
        if url:
            sub(el, "EncodingType", "url")
        sub(el, "Location", f"http://{req.host}/{req.bucket}/{quote(req.key)}")
        sub(el, "Bucket", req.bucket)
        sub(el, "Key", quote(req.key, safe="") if url else req.key)
        sub(el, "ETag", f'"{meta["etag"]}"')
    resp = xml_response("CompleteMultipartUploadResult", build)
    resp.headers.update({"ETag": f'"{meta["etag"]}"', "x-oss-hash-crc64ecma": meta["crc64"]})
    return resp


def abort_upload(store: Store, req: Request) -> Response:
    store.abort(req.bucket, req.key, req.params["uploadId"])
    return Response(204)


def list_parts(store: Store, req: Request) -> Response:
    p = req.params
    up = store.upload(req.bucket, req.key, p["uploadId"])
    max_parts = _int_param(p, "max-parts", 1000, 1, 1000)
    marker = _int_param(p, "part-number-marker", 0, 0, 10000)
    numbers = [n for n in sorted(up["parts"]) if n > marker]
    page, truncated = numbers[:max_parts], len(numbers) > max_parts

    def build(el: ET.Element) -> None:
        sub(el, "Bucket", req.bucket)
        sub(el, "Key", req.key)
        sub(el, "UploadId", p["uploadId"])
        sub(el, "PartNumberMarker", marker)
        sub(el, "NextPartNumberMarker", page[-1] if page else marker)
        sub(el, "MaxParts", max_parts)
        sub(el, "IsTruncated", "true" if truncated else "false")
        for n in page:
            part, e = up["parts"][n], sub(el, "Part")
            sub(e, "PartNumber", n)
            sub(e, "LastModified", iso_date(part["last_modified"]))
            sub(e, "ETag", f'"{part["etag"]}"')
            sub(e, "HashCrc64ecma", part["crc64"])
            sub(e, "Size", part["size"])
    return xml_response("ListPartsResult", build)
