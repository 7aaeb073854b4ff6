"""The disk store of tagship oss-server: CRC-64, listing semantics, atomic commits, reload from disk."""
import pytest

from tagship_ossd.store import Store, StoreError, crc64, decode_token, encode_token


def put(store, bucket, key, data=b"x"):
    body = store.new_body(bucket)
    body.write(data)
    return store.commit(bucket, key, body, {"content_type": "text/plain", "acl": "default",
                                            "storage_class": "Standard", "headers": {}})


def test_crc64_is_crc64_ecma_as_oss_uses_it():
    assert crc64(b"123456789") == 0x995DC9BBDF1939FA  # CRC-64/XZ check value (ECMA-182 poly, reflected)
    assert crc64(b"") == 0


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path)
    s.create_bucket("bkt", "cn-hangzhou")
    for key in ["a", "b/1", "b/2", "b/c/3", "c", "d/", "d/x", "e"]:
        put(s, "bkt", key)
    return s


def keys(objs):
    return [o["key"] for o in objs]


def test_list_flat_paging(store):
    objs, prefixes, nxt = store.list_page("bkt", max_keys=3)
    assert (keys(objs), prefixes, nxt) == (["a", "b/1", "b/2"], [], "b/2")
    objs, _, nxt = store.list_page("bkt", after=nxt, max_keys=100)
    assert keys(objs) == ["b/c/3", "c", "d/", "d/x", "e"] and nxt == ""


def test_list_delimiter_rolls_up_and_pages_past_prefixes(store):
    objs, prefixes, nxt = store.list_page("bkt", delimiter="/", max_keys=2)
    assert (keys(objs), prefixes, nxt) == (["a"], ["b/"], "b/")
    objs, prefixes, nxt = store.list_page("bkt", delimiter="/", after="b/", max_keys=2, skip_prefix=True)
    assert (keys(objs), prefixes, nxt) == (["c"], ["d/"], "d/")
    objs, prefixes, nxt = store.list_page("bkt", delimiter="/", after="d/", max_keys=2, skip_prefix=True)
    assert (keys(objs), prefixes, nxt) == (["e"], [], "")


def test_list_prefix_and_start_after(store):
    objs, prefixes, _ = store.list_page("bkt", prefix="b/", delimiter="/")
    assert (keys(objs), prefixes) == (["b/1", "b/2"], ["b/c/"])
    objs, _, _ = store.list_page("bkt", prefix="b/", after="b/1")
    assert keys(objs) == ["b/2", "b/c/3"]
    objs, _, nxt = store.list_page("bkt", max_keys=0)
    assert objs == [] and nxt == ""


def test_token_round_trip():
    for marker, is_prefix in [("", False), ("b/", True), ("世界/ a+b=", False)]:
        assert decode_token(encode_token(marker, is_prefix)) == (marker, is_prefix)


def test_forbid_overwrite_and_reload(tmp_path, store):
    meta = put(store, "bkt", "a", b"new")
    assert meta["etag"] == "22AF645D1859CB5CA6DA0C484F1F37EA" and meta["size"] == 3
    with pytest.raises(StoreError) as e:
        body = store.new_body("bkt")
        body.write(b"again")
        store.commit("bkt", "a", body, {"headers": {}}, forbid_overwrite=True)
    assert (e.value.status, e.value.code) == (409, "FileAlreadyExists")
    assert store.delete("bkt", "c") and not store.delete("bkt", "c")
    again = Store(tmp_path)
    assert keys(again.list_page("bkt", max_keys=1000)[0]) == ["a", "b/1", "b/2", "b/c/3", "d/", "d/x", "e"]
    meta, f = again.open("bkt", "a")
    with f:
        assert f.read() == b"new"
    leftovers = [p.name for p in (tmp_path / "bkt" / "tmp").iterdir()]
    assert leftovers == []
    data_files = list((tmp_path / "bkt" / "objects").glob("*/*.data"))
    assert len(data_files) == 7  # replaced and deleted objects leave no bytes behind


def test_bucket_names_follow_the_oss_rule(store):
    for bad_name in ("Bad_Name", "ab", "-abc", "abc-", "a" * 64):
        with pytest.raises(StoreError) as e:
            store.create_bucket(bad_name)
        assert e.value.code == "InvalidBucketName"
    assert store.create_bucket("ok-1") and not store.create_bucket("ok-1")


def test_missing_bucket_and_key(store):
    with pytest.raises(StoreError) as e:
        store.head("nope", "a")
    assert e.value.code == "NoSuchBucket"
    with pytest.raises(StoreError) as e:
        store.head("bkt", "zzz")
    assert (e.value.status, e.value.code) == (404, "NoSuchKey")


def test_multipart_rules(store):
    up = store.init_upload("bkt", "mp", {"content_type": "x", "acl": "default", "storage_class": "Standard",
                                         "headers": {}})
    parts = []
    for n, data in [(1, b"a" * 102_400), (2, b"b" * 10)]:
        body = store.new_body("bkt")
        body.write(data)
        parts.append((n, store.put_part("bkt", "mp", up, n, body)["etag"]))
    for wanted, code in [(parts[::-1], "InvalidPartOrder"), ([(1, "00")], "InvalidPart"), ([], "MalformedXML")]:
        with pytest.raises(StoreError) as e:
            store.complete("bkt", "mp", up, wanted)
        assert e.value.code == code
    with pytest.raises(StoreError) as e:
        store.upload("bkt", "other-key", up)
    assert e.value.code == "NoSuchUpload"
    meta = store.complete("bkt", "mp", up, parts)
    assert meta["size"] == 102_410 and meta["etag"].endswith("-2") and meta["type"] == "Multipart"
    assert not (store.root / "bkt" / "uploads" / up).exists()
