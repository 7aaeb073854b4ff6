"""Every known sub-resource with every method, to an object and to a bucket: nothing stored changes, and what
the server does not implement is 501 NotImplemented with OSS's error XML (in ``x-oss-err`` for HEAD)."""
from __future__ import annotations

import base64
import hashlib
import http.client
from email.utils import formatdate
from urllib.parse import quote
from xml.etree import ElementTree as ET

import oss2
import pytest

from tagship_ossd import router, sig
from tagship_ossd.proto import Request
from tagship_ossd.server import start_server

pytestmark = pytest.mark.oss
AK, SK, BUCKET = "AKIDrouter", "router-secret", "router-bucket"
METHODS = ("GET", "PUT", "POST", "DELETE", "HEAD")


def snapshot(endpoint: str) -> dict:
    """What a user would see: every object's bytes and headers, every bucket."""
    bucket = oss2.Bucket(oss2.Auth(AK, SK), endpoint, BUCKET)
    out = {"buckets": [b.name for b in oss2.Service(oss2.Auth(AK, SK), endpoint).list_buckets().buckets]}
    for obj in oss2.ObjectIterator(bucket):
        got = bucket.get_object(obj.key)
        headers = {k.lower(): v for k, v in got.headers.items()
                   if k.lower() not in ("date", "x-oss-request-id", "connection")}
        out[obj.key] = (hashlib.sha256(got.read()).hexdigest(), headers,
                        bucket.get_object_acl(obj.key).acl)
    return out


def signed(method: str, key: str, query: list[tuple[str, str]], body: bytes) -> tuple[str, dict]:
    headers = {"date": formatdate(usegmt=True), "content-type": "application/octet-stream",
               "content-length": str(len(body))}
    text = sig.v1_string_to_sign(method, headers, BUCKET, key, query)
    headers["authorization"] = f"OSS {AK}:{sig.v1_signature(SK, text)}"
    qs = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" if v else quote(k, safe='') for k, v in query)
    return f"/{BUCKET}/{quote(key)}?{qs}", headers


def test_every_sub_resource_and_method_changes_nothing_stored(tmp_path):
    with start_server(tmp_path, {AK: SK}, [BUCKET]) as srv:
        bucket = oss2.Bucket(oss2.Auth(AK, SK), srv.endpoint, BUCKET)
        bucket.put_object("keep/a.txt", b"the bytes that must survive", headers={"x-oss-meta-note": "kept"})
        bucket.put_object("keep/b.bin", b"\x00" * 4096)
        before = snapshot(srv.endpoint)
        conn = http.client.HTTPConnection(srv.host, srv.port, timeout=30)
        implemented = set()
        for sub in sorted(router.KNOWN_SUBRESOURCES):
            for key in ("keep/a.txt", ""):
                for method in METHODS:
                    query = [(sub, "1" if sub in ("uploadId", "partNumber", "versionId") else "")]
                    body = b"" if method in ("GET", "HEAD", "DELETE") else b"<Destroy>replacement bytes</Destroy>"
                    path, headers = signed(method, key, query, body)
                    conn.request(method, path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                    op = router.route(Request(method, BUCKET, key, query, {}, lambda: iter(()), ""))
                    if op != "NotImplemented":
                        implemented.add((method, "object" if key else "bucket", sub))
                        continue
                    where = f"{method} /{BUCKET}/{key}?{sub}"
                    assert resp.status == 501, where
                    doc = data if method != "HEAD" else base64.b64decode(resp.getheader("x-oss-err", ""))
                    root = ET.fromstring(doc)
                    assert (root.tag, root.findtext("Code")) == ("Error", "NotImplemented"), where
                    assert resp.getheader("x-oss-ec"), where
        conn.close()
        # only the table's one-sub-resource rows were answered as an operation; every other request was 501
        assert implemented == {(m, level, next(iter(subs))) for (m, level, subs) in router.TABLE if len(subs) == 1}
        assert snapshot(srv.endpoint) == before


@pytest.mark.parametrize("method,key,query,op", [
    ("PUT", "k", [("tagging", "")], "NotImplemented"),
    ("DELETE", "k", [("tagging", "")], "NotImplemented"),
    ("PUT", "k", [("symlink", "")], "NotImplemented"),
    ("GET", "", [("acl", "")], "NotImplemented"),
    ("GET", "k", [("x-oss-process", "image/resize,w_10")], "NotImplemented"),
    ("POST", "k", [("append", ""), ("position", "0")], "NotImplemented"),
    ("GET", "", [("uploads", ""), ("prefix", "a/")], "ListMultipartUploads"),
    ("GET", "", [("list-type", "2"), ("prefix", "a")], "ListObjectsV2"),
    ("GET", "k", [("response-content-type", "text/plain")], "GetObject"),
    ("DELETE", "", [], "DeleteBucket"),
])
def test_route_table(method, key, query, op):
    assert router.route(Request(method, "b", key, query, {}, lambda: iter(()), "")) == op


def test_the_fidelity_table_in_the_docs_names_every_operation():
    from pathlib import Path
    doc = (Path(__file__).resolve().parents[2] / "docs" / "oss-server.md").read_text()
    table = doc[doc.index("## Operations: the fidelity table"):doc.index("## oss2's own test suite")]
    assert [op for op in router.OPERATIONS if op not in table] == []
