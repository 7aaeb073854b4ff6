"""The OSS behaviours oss2's suite found missing, each checked directly with oss2 (seconds, not minutes)."""
from __future__ import annotations

import oss2
import pytest

from tagship_ossd.server import start_server

pytestmark = pytest.mark.oss
AK, SK, BUCKET, REGION = "AKIDfidelity", "fidelity-secret", "fidelity-bucket", "cn-hangzhou"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    with start_server(tmp_path_factory.mktemp("oss"), {AK: SK}, [BUCKET], region=REGION) as server:
        yield server


@pytest.fixture(params=["v1", "v4"])
def bucket(srv, request):
    auth = oss2.Auth(AK, SK) if request.param == "v1" else oss2.AuthV4(AK, SK)
    return oss2.Bucket(auth, srv.endpoint, BUCKET, region=REGION)


def test_head_errors_tell_no_such_bucket_from_no_such_key(srv, bucket):
    with pytest.raises(oss2.exceptions.NoSuchKey) as key:
        bucket.head_object("missing")
    assert key.value.ec == "0026-00000001"
    other = oss2.Bucket(bucket.auth, srv.endpoint, "no-such-bucket", region=REGION)
    with pytest.raises(oss2.exceptions.NoSuchBucket):
        other.head_object("missing")


def test_utf8_meta_values_sign_and_round_trip(bucket):
    # http.client sends str headers as latin-1, so a UTF-8 value goes as bytes (signed as those bytes)
    bucket.put_object("meta.txt", b"x", headers={"x-oss-meta-note": "中文 ünï".encode()})
    got = bucket.head_object("meta.txt").headers["x-oss-meta-note"]
    assert got.encode("latin-1").decode("utf-8") == "中文 ünï"   # requests hands the bytes back as latin-1


def test_if_match_with_a_bare_etag(bucket):
    etag = bucket.put_object("cond.txt", b"conditional").etag          # oss2 gives it without quotes
    assert bucket.get_object("cond.txt", headers={"If-Match": etag}).read() == b"conditional"
    with pytest.raises(oss2.exceptions.NotModified):
        bucket.get_object("cond.txt", headers={"If-None-Match": etag})
    with pytest.raises(oss2.exceptions.PreconditionFailed):
        bucket.get_object("cond.txt", headers={"If-Match": "0" * 32})


def test_batch_delete_of_a_key_with_a_control_character(bucket):
    bucket.put_object("ctl\x0ckey", b"x")
    assert bucket.batch_delete_objects(["ctl\x0ckey"]).deleted_keys == ["ctl\x0ckey"]
    assert not bucket.object_exists("ctl\x0ckey")


def test_gzip_for_text_when_accepted(bucket):
    body = b"line of text\n" * 200
    bucket.put_object("page.txt", body)
    got = bucket.get_object("page.txt", headers={"Accept-Encoding": "gzip"})
    assert got.headers["Content-Encoding"] == "gzip" and got.read() == body


def test_upload_part_copy_copies_the_range(bucket):
    src = bytes(range(256)) * 1024                                       # 256 KiB
    bucket.put_object("src.bin", src)
    up = bucket.init_multipart_upload("dst.bin").upload_id
    part = bucket.upload_part_copy(BUCKET, "src.bin", (1000, 200_999), "dst.bin", up, 1)
    bucket.complete_multipart_upload("dst.bin", up, [oss2.models.PartInfo(1, part.etag)])
    assert bucket.get_object("dst.bin").read() == src[1000:201_000]


def test_list_multipart_uploads_and_delete_bucket(srv, bucket):
    name = f"gone-{bucket.auth.__class__.__name__.lower()}"
    other = oss2.Bucket(bucket.auth, srv.endpoint, name, region=REGION)
    other.create_bucket()
    up = other.init_multipart_upload("a/b.bin").upload_id
    listed = other.list_multipart_uploads(prefix="a/")
    assert [(u.key, u.upload_id) for u in listed.upload_list] == [("a/b.bin", up)]
    with pytest.raises(oss2.exceptions.BucketNotEmpty):
        other.delete_bucket()
    other.abort_multipart_upload("a/b.bin", up)
    service = oss2.Service(bucket.auth, srv.endpoint, region=REGION)
    assert [b.name for b in service.list_buckets(prefix="gone-").buckets] == [name]
    other.delete_bucket()
    assert [b.name for b in service.list_buckets(prefix="gone-").buckets] == []
