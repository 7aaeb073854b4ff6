"""tagship oss-server driven by the real oss2 SDK: V1, V4 and STS signatures, objects, listing, multipart."""
import base64
import hashlib
import os
from concurrent.futures import ThreadPoolExecutor

import oss2
import pytest
from oss2 import exceptions as ossx

from tagship_ossd.server import start_server
from tagship_ossd.sig import Credential
from tagship_ossd.store import crc64

pytestmark = pytest.mark.oss

AK, SECRET = "LTAItagshipTEST", "tagship-test-secret"
STS_AK, STS_SECRET, STS_TOKEN = "STS.tagship", "sts-secret", "CAIStoken=="
BUCKET, REGION = "tagship-test", "cn-hangzhou"


@pytest.fixture
def server(tmp_path):
    srv = start_server(tmp_path / "data", [(AK, SECRET), Credential(STS_AK, STS_SECRET, STS_TOKEN)], [BUCKET],
                       region=REGION)
    yield srv
    srv.stop()


AUTHS = {
    "v1": lambda: (oss2.Auth(AK, SECRET), {}),
    "v4": lambda: (oss2.AuthV4(AK, SECRET), {"region": REGION}),
    "sts-v1": lambda: (oss2.StsAuth(STS_AK, STS_SECRET, STS_TOKEN), {}),
    "sts-v4": lambda: (oss2.StsAuth(STS_AK, STS_SECRET, STS_TOKEN, auth_version=oss2.AUTH_VERSION_4),
                       {"region": REGION}),
}


def bucket_for(server, kind="v1", name=BUCKET, **kw):
    auth, extra = AUTHS[kind]()
    return oss2.Bucket(auth, server.endpoint, name, **extra, **kw)


@pytest.mark.parametrize("kind", sorted(AUTHS))
def test_put_get_head_delete(server, kind):
    b = bucket_for(server, kind)
    key = "static/1.2.3/css/app 世界+x.css"
    data = b"body { color: red }\n" * 100
    md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
    r = b.put_object(key, data, headers={"Content-MD5": md5, "Cache-Control": "public, max-age=31536000",
                                         "Content-Encoding": "identity", "Content-Disposition": "inline",
                                         "x-oss-meta-md5": md5, "x-oss-object-acl": "public-read",
                                         "x-oss-storage-class": "IA", "Content-Type": "text/css"})
    assert r.status == 200 and r.etag == hashlib.md5(data).hexdigest().upper()
    assert r.crc == crc64(data)  # oss2 has checked it against its own CRC too (enable_crc)
    got = b.get_object(key)
    assert got.read() == data
    h = got.headers
    assert h["Cache-Control"] == "public, max-age=31536000" and h["Content-Type"] == "text/css"
    assert h["Content-Disposition"] == "inline" and h["Content-Encoding"] == "identity"
    assert h["x-oss-meta-md5"] == md5 and h["x-oss-storage-class"] == "IA" and h["x-oss-object-type"] == "Normal"
    assert h["ETag"] == f'"{r.etag}"' and h["x-oss-request-id"] and h["Last-Modified"].endswith("GMT")
    head = b.head_object(key)
    assert head.content_length == len(data) and head.etag == r.etag and head.server_crc == crc64(data)
    meta = b.get_object_meta(key)
    assert meta.content_length == len(data) and meta.etag == r.etag
    assert b.object_exists(key)
    b.delete_object(key)
    assert not b.object_exists(key)
    b.delete_object(key)  # deleting a missing key is fine, as on OSS
    with pytest.raises(ossx.NoSuchKey):
        b.get_object(key)


def test_range_and_streamed_body(server):
    b = bucket_for(server, "v4")
    data = os.urandom(300_000)
    b.put_object("blob.bin", (data[i:i + 65536] for i in range(0, len(data), 65536)))  # chunked upload
    assert b.get_object("blob.bin", byte_range=(10, 19)).read() == data[10:20]
    assert b.get_object("blob.bin", byte_range=(299_990, None)).read() == data[299_990:]
    assert b.get_object("blob.bin").read() == data
    with pytest.raises(ossx.ServerError) as e:
        b.get_object("blob.bin", byte_range=(400_000, 400_010))
    assert e.value.status == 416 and e.value.code == "InvalidRange"


def test_content_md5_mismatch_rejected(server):
    b = bucket_for(server)
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(ossx.InvalidDigest) as e:
        b.put_object("k", b"data", headers={"Content-MD5": wrong})
    assert e.value.status == 400
    with pytest.raises(ossx.InvalidDigest):
        b.put_object("k", b"data", headers={"Content-MD5": "not-base64"})
    assert not b.object_exists("k")


def test_forbid_overwrite(server):
    b = bucket_for(server, "v4")
    b.put_object("once.txt", b"1", headers={"x-oss-forbid-overwrite": "true"})
    with pytest.raises(ossx.ServerError) as e:
        b.put_object("once.txt", b"2", headers={"x-oss-forbid-overwrite": "true"})
    assert (e.value.status, e.value.code) == (409, "FileAlreadyExists")
    assert b.get_object("once.txt").read() == b"1"
    b.put_object("once.txt", b"3")  # without the header it overwrites
    assert b.get_object("once.txt").read() == b"3"


def test_list_v2_paging_over_1000_keys(server):
    b = bucket_for(server, "v4", session=oss2.Session(pool_size=16))
    keys = [f"site/{i // 100:02d}/file-{i:04d}.txt" for i in range(1050)] + ["site/index.html", "top.txt"]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: b.put_object(k, k.encode()), keys))
    listed = [o for o in oss2.ObjectIteratorV2(b, prefix="site/", max_keys=97)]
    assert [o.key for o in listed] == sorted(k for k in keys if k.startswith("site/"))
    assert all(o.size == len(o.key) and o.etag == hashlib.md5(o.key.encode()).hexdigest().upper() for o in listed)
    page = b.list_objects_v2(prefix="site/", delimiter="/", max_keys=5)
    assert page.prefix_list == ["site/00/", "site/01/", "site/02/", "site/03/", "site/04/"] and page.is_truncated
    tops = [o.key if not o.is_prefix() else o.key for o in oss2.ObjectIteratorV2(b, delimiter="/", max_keys=1)]
    assert tops == ["site/", "top.txt"]
    after = b.list_objects_v2(prefix="site/", start_after="site/10/file-1048.txt", fetch_owner=True)
    assert [o.key for o in after.object_list] == ["site/10/file-1049.txt", "site/index.html"]
    assert after.object_list[0].owner.id and not after.is_truncated
    with pytest.raises(ossx.ServerError) as e:
        b.list_objects_v2(max_keys=1001)
    assert e.value.code == "InvalidArgument"
    assert len(list(oss2.ObjectIterator(b, prefix="site/0", max_keys=333))) == 1000  # ListObjects (v1) too


def test_list_url_encoding_of_odd_keys(server):
    b = bucket_for(server)
    odd = ["a&b<c>.txt", "sp ace/+plus", "ctrl\x01char", "中文/文件.js"]
    for k in odd:
        b.put_object(k, b"x")
    assert sorted(o.key for o in oss2.ObjectIteratorV2(b)) == sorted(odd)  # oss2 asks for encoding-type=url
    assert sorted(o.key for o in oss2.ObjectIterator(b)) == sorted(odd)


def test_batch_delete(server):
    b = bucket_for(server, "sts-v4", session=oss2.Session(pool_size=16))
    keys = [f"old/{i:04d}" for i in range(1000)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: b.put_object(k, b"."), keys))
    result = b.batch_delete_objects(keys + [])
    assert sorted(result.deleted_keys) == keys
    assert list(oss2.ObjectIteratorV2(b, prefix="old/")) == []
    b.put_object("one & two", b".")
    assert b.batch_delete_objects(["one & two", "missing"]).deleted_keys == ["one & two", "missing"]


def test_resumable_multipart_upload(server, tmp_path):
    b = bucket_for(server, "v4")
    src = tmp_path / "big.bin"
    data = os.urandom(1_100_000)
    src.write_bytes(data)
    oss2.resumable_upload(b, "big/file.bin", str(src), store=oss2.ResumableStore(root=str(tmp_path)),
                          multipart_threshold=300_000, part_size=250_000, num_threads=3)
    head = b.head_object("big/file.bin")
    part_md5s = b"".join(hashlib.md5(data[i:i + 250_000]).digest() for i in range(0, len(data), 250_000))
    assert head.etag == hashlib.md5(part_md5s).hexdigest().upper() + "-5"
    assert head.object_type == "Multipart" and head.content_length == len(data)
    assert head.server_crc == crc64(data)
    assert b.get_object("big/file.bin").read() == data  # oss2 checks the whole-object CRC on the way


def test_multipart_by_hand(server):
    b = bucket_for(server)
    key = "parts.bin"
    p1, p2 = os.urandom(102_400), b"tail"
    up = b.init_multipart_upload(key, headers={"Content-Type": "application/x-thing", "x-oss-meta-k": "v"})
    r1 = b.upload_part(key, up.upload_id, 1, p1)
    r2 = b.upload_part(key, up.upload_id, 2, p2)
    assert r1.etag == hashlib.md5(p1).hexdigest().upper() and r1.crc == crc64(p1)
    listed = b.list_parts(key, up.upload_id)
    assert [(p.part_number, p.etag, p.size) for p in listed.parts] == [(1, r1.etag, len(p1)), (2, r2.etag, 4)]
    with pytest.raises(ossx.ServerError) as e:
        b.complete_multipart_upload(key, up.upload_id, [oss2.models.PartInfo(1, "0" * 32)])
    assert e.value.code == "InvalidPart"
    done = b.complete_multipart_upload(key, up.upload_id, [oss2.models.PartInfo(1, r1.etag, size=len(p1),
                                                                                part_crc=r1.crc),
                                                           oss2.models.PartInfo(2, r2.etag, size=4,
                                                                                part_crc=r2.crc)])
    assert done.etag.endswith("-2") and done.crc == crc64(p1 + p2)
    got = b.get_object(key)
    assert got.read() == p1 + p2 and got.headers["x-oss-meta-k"] == "v"
    assert got.headers["Content-Type"] == "application/x-thing"
    with pytest.raises(ossx.NoSuchUpload):
        b.list_parts(key, up.upload_id)
    small = b.init_multipart_upload("small")
    s1 = b.upload_part("small", small.upload_id, 1, b"a")
    s2 = b.upload_part("small", small.upload_id, 2, b"b")
    with pytest.raises(ossx.ServerError) as e:
        b.complete_multipart_upload("small", small.upload_id, [oss2.models.PartInfo(1, s1.etag),
                                                               oss2.models.PartInfo(2, s2.etag)])
    assert e.value.code == "EntityTooSmall"
    b.abort_multipart_upload("small", small.upload_id)
    with pytest.raises(ossx.NoSuchUpload):
        b.upload_part("small", small.upload_id, 3, b"c")


def test_auth_failures_as_oss_reports_them(server):
    for kind in ("v1", "v4"):
        auth, extra = {"v1": (oss2.Auth(AK, "wrong"), {}), "v4": (oss2.AuthV4(AK, "wrong"), {"region": REGION})}[kind]
        with pytest.raises(ossx.SignatureDoesNotMatch) as e:
            oss2.Bucket(auth, server.endpoint, BUCKET, **extra).put_object("k", b"x")
        assert e.value.status == 403 and e.value.request_id and "StringToSign" in e.value.details
    with pytest.raises(ossx.ServerError) as e:
        oss2.Bucket(oss2.Auth("NOBODY", SECRET), server.endpoint, BUCKET).get_object("k")
    assert (e.value.status, e.value.code) == (403, "InvalidAccessKeyId")
    with pytest.raises(ossx.ServerError) as e:  # an STS key without its token
        oss2.Bucket(oss2.Auth(STS_AK, STS_SECRET), server.endpoint, BUCKET).put_object("k", b"x")
    assert (e.value.status, e.value.code) == (403, "InvalidAccessKeyId")
    with pytest.raises(ossx.ServerError) as e:
        oss2.Bucket(oss2.StsAuth(STS_AK, STS_SECRET, "forged"), server.endpoint, BUCKET).put_object("k", b"x")
    assert e.value.code == "InvalidSecurityToken"
    with pytest.raises(ossx.ServerError) as e:
        oss2.Bucket(oss2.AuthV4(AK, SECRET), server.endpoint, BUCKET, region="cn-beijing").put_object("k", b"x")
    assert (e.value.status, e.value.code) == (400, "InvalidArgument")
    with pytest.raises(ossx.NoSuchBucket) as e:
        bucket_for(server, "v4", name="no-such-bucket").put_object("k", b"x")
    assert e.value.status == 404 and e.value.details["HostId"] and e.value.details["BucketName"] == "no-such-bucket"
    with pytest.raises(ossx.NoSuchBucket):  # as on OSS, the bucket is looked up before the signature
        oss2.Bucket(oss2.Auth(AK, "wrong"), server.endpoint, "no-such-bucket").get_object("k")
    assert server.stats()["errors"]["SignatureDoesNotMatch"] == 2


def test_buckets_service_and_restart(server, tmp_path):
    svc = oss2.Service(oss2.Auth(AK, SECRET), server.endpoint)
    oss2.Bucket(oss2.Auth(AK, SECRET), server.endpoint, "second-bucket").create_bucket()
    assert [x.name for x in svc.list_buckets().buckets] == ["second-bucket", BUCKET]
    info = bucket_for(server).get_bucket_info()
    assert info.name == BUCKET and info.location == f"oss-{REGION}"
    bucket_for(server).put_object("kept.txt", b"still here")
    server.stop()
    with start_server(tmp_path / "data", {AK: SECRET}) as again:
        assert oss2.Bucket(oss2.Auth(AK, SECRET), again.endpoint, BUCKET).get_object("kept.txt").read() == \
            b"still here"


def test_copy_acl_and_names(server):
    b = bucket_for(server, "v4")
    b.put_object("src.txt", b"copy me", headers={"Cache-Control": "no-cache", "x-oss-meta-a": "1"})
    b.copy_object(BUCKET, "src.txt", "dst 副本.txt")
    got = b.get_object("dst 副本.txt")
    assert got.read() == b"copy me" and got.headers["x-oss-meta-a"] == "1"
    assert got.headers["Cache-Control"] == "no-cache"
    b.update_object_meta("dst 副本.txt", {"Cache-Control": "max-age=60", "Content-Type": "text/plain"})
    head = b.head_object("dst 副本.txt")
    assert head.headers["Cache-Control"] == "max-age=60" and "x-oss-meta-a" not in head.headers
    assert b.get_object_acl("src.txt").acl == "default"
    b.put_object_acl("src.txt", oss2.OBJECT_ACL_PUBLIC_READ)
    assert b.get_object_acl("src.txt").acl == "public-read"
    with pytest.raises(ossx.ServerError) as e:
        b.put_object("x" * 1024, b"too long a name")
    assert e.value.code == "InvalidObjectName"
    with pytest.raises(ossx.ServerError) as e:
        b.put_object("k", b"x", headers={"x-oss-storage-class": "Glacier"})
    assert e.value.code == "InvalidArgument"


def test_response_overrides_and_complete_all(server):
    b = bucket_for(server)
    b.put_object("page.html", b"<p>", headers={"Cache-Control": "no-cache", "Content-Type": "text/html"})
    got = b.get_object("page.html", params={"response-cache-control": "max-age=5",
                                            "response-content-type": "text/plain"})
    assert got.headers["Cache-Control"] == "max-age=5" and got.headers["Content-Type"] == "text/plain"
    etag = f'"{got.etag}"'
    with pytest.raises(ossx.NotModified):
        b.get_object("page.html", headers={"If-None-Match": etag})
    with pytest.raises(ossx.PreconditionFailed):
        b.get_object("page.html", headers={"If-Match": '"0123"'})
    assert b.get_object("page.html", headers={"If-Match": etag, "If-None-Match": '"other"'}).read() == b"<p>"
    assert b.get_object("page.html", headers={"If-Modified-Since": "Thu, 01 Jan 1970 00:00:01 GMT"}).read()
    up = b.init_multipart_upload("all.bin")
    b.upload_part("all.bin", up.upload_id, 1, b"z" * 102_400)
    b.upload_part("all.bin", up.upload_id, 2, b"end")
    done = b.complete_multipart_upload("all.bin", up.upload_id, None, headers={"x-oss-complete-all": "yes"})
    assert done.etag.endswith("-2") and b.get_object("all.bin").read() == b"z" * 102_400 + b"end"


ODD_KEYS = ["a?b#c%d+e f~g*h'i!j(k)l=m&n;o:p@q,r$s[t]u", "emoji/😀.txt", "%2F%20literal", "tab\there",
            "sl/ash//double", "x" * 1023, "`^{}|\\\"<>"]


@pytest.mark.parametrize("kind", ["v1", "v4"])
def test_odd_keys_and_prefixes_sign_and_list(server, kind):
    """Keys and query values oss2 must encode: both signatures must agree with the server's canonical forms."""
    b = bucket_for(server, kind)
    for key in ODD_KEYS:
        b.put_object(key, key.encode())
        assert b.get_object(key).read() == key.encode()
        prefix = key[:12]
        assert key in [o.key for o in oss2.ObjectIteratorV2(b, prefix=prefix)]
        assert key in [o.key for o in oss2.ObjectIterator(b, prefix=prefix)]
        list(oss2.ObjectIteratorV2(b, prefix=prefix, delimiter="/", start_after=prefix))
    assert sorted(b.batch_delete_objects(ODD_KEYS).deleted_keys) == sorted(ODD_KEYS)
