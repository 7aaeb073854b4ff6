"""oss-push's pure decisions, table-tested: globs, keys, headers, the diff, the delete guard, CDN batches."""

import pytest

from oss_push import plan
from oss_push.plan import LocalFile, remote_object
from oss_push.settings import HeaderRule, Settings

BASE = {"endpoint": "http://127.0.0.1:1", "bucket": "site", "access_key_id": "AK", "access_key_secret": "SK"}


@pytest.mark.parametrize("pattern, path, hit", [
    ("*.html", "index.html", True),
    ("*.html", "a/b/index.html", True),          # no '/' in the glob: any depth, as .gitignore
    ("*.html", "index.htm", False),
    ("css/*.css", "css/app.css", True),
    ("css/*.css", "x/css/app.css", False),       # a '/' anchors the glob at source
    ("css/*.css", "css/sub/app.css", False),     # '*' stays inside one segment
    ("css/**/*.css", "css/app.css", True),       # '**/' matches zero directories
    ("css/**/*.css", "css/a/b/app.css", True),
    ("**/*.map", "js/app.js.map", True),
    ("admin/**", "admin/js/x.js", True),
    ("admin/**", "administrator/x.js", False),
    ("file?.txt", "file1.txt", True),
    ("file?.txt", "file10.txt", False),
    ("[!a]*.txt", "b.txt", True),
    ("[!a]*.txt", "a.txt", False),
    ("*.c++", "x.c++", True),                    # regex characters are literal
])
def test_glob(pattern, path, hit):
    assert bool(plan.glob_regex(pattern).match(path)) is hit


@pytest.mark.parametrize("rel, include, exclude, chosen", [
    ("a.js", [], [], True),
    (".git/config", [], [], False),              # always left out
    (".tagship/oss-checkpoints/x.json", [], [], False),
    (".tagship-manifest.json", [], [], False),   # our manifest name is reserved
    ("a.js", ["*.css"], [], False),
    ("a.css", ["*.css"], ["a.*"], False),        # exclude wins
    ("x/a.css", ["*.css"], [], True),
])
def test_selected(rel, include, exclude, chosen):
    assert plan.selected(rel, plan.Globs(include), plan.Globs(exclude)) is chosen


@pytest.mark.parametrize("dest, rel, key", [
    ("cmdb-api/static/1.2.3", "css/app.css", "cmdb-api/static/1.2.3/css/app.css"),
    ("", "index.html", "index.html"),
    ("v1", "文件 ü.txt", "v1/文件 ü.txt"),
])
def test_object_key(dest, rel, key):
    assert plan.object_key(dest, rel) == key


@pytest.mark.parametrize("rel", ["../etc/passwd", "a/../b", "a//b", "./a", "a\x01b", "x" * 1100,
                                 "bad\udcff.txt"])
def test_object_key_rejects(rel):
    with pytest.raises(ValueError):
        plan.object_key("dest", rel)


@pytest.mark.parametrize("value, dest", [("/cmdb-api/static/1.2.3/", "cmdb-api/static/1.2.3"),
                                         ("a//b", "a/b"), ("/", ""), ("", "")])
def test_dest_normalised(value, dest):
    assert Settings.model_validate({**BASE, "dest": value}).dest == dest


@pytest.mark.parametrize("rel, hashed", [
    ("app.3f9a1c2b.js", True), ("css/base.3f9a1c2b4d5e.css", True), ("chunk-0a1b2c3d.js", True),
    ("app.js", False), ("deadbeef.js", False), ("app.defaced1.js.map", True), ("app.abcdefab.js", False),
])
def test_is_hashed(rel, hashed):
    assert plan.is_hashed(rel) is hashed


def test_headers_defaults_and_first_match_wins():
    rules = [HeaderRule(glob="admin/**", cache_control="private, max-age=60", meta={"Team": "ops"}),
             HeaderRule(glob="*.js", cache_control="max-age=600", content_disposition="inline"),
             HeaderRule(glob="*.html", content_type="text/html; charset=gbk")]
    h = plan.headers_for("admin/app.3f9a1c2b.js", rules, acl="public-read", storage_class="IA")
    assert h["Cache-Control"] == "private, max-age=60"          # first rule wins over the later one
    assert h["Content-Disposition"] == "inline"                 # …a later rule still fills other headers
    assert h["x-oss-meta-team"] == "ops"
    assert h["Content-Type"] == "application/javascript; charset=utf-8"
    assert h["x-oss-object-acl"] == "public-read" and h["x-oss-storage-class"] == "IA"
    assert plan.headers_for("static/app.3f9a1c2b.js", [])["Cache-Control"] == plan.IMMUTABLE
    page = plan.headers_for("docs/index.html", rules)
    assert page["Cache-Control"] == "no-cache" and page["Content-Type"] == "text/html; charset=gbk"
    assert "Cache-Control" not in plan.headers_for("img/logo.png", [])
    assert "Cache-Control" not in plan.headers_for("index.html", [], defaults=False)
    assert plan.headers_for("a.css", [], gzipped=True)["Content-Encoding"] == "gzip"
    assert plan.headers_for("f.woff2", [])["Content-Type"] == "font/woff2"


def lf(rel, md5="a" * 32, size=10, headers=None):
    return LocalFile(rel=rel, key=f"d/{rel}", path=f"/src/{rel}", size=size, md5=md5,
                     headers=headers or {"Content-Type": "text/plain"})


def remote(rel, md5="a" * 32, size=10, etag=None):
    return remote_object(f"d/{rel}", size, etag or f'"{md5.upper()}"')


@pytest.mark.parametrize("case, local, remotes, overwrite, delete, want", [
    ("fresh", [lf("a")], [], False, False, {"upload": ["d/a"]}),
    ("identical", [lf("a")], [remote("a")], False, False, {"skip": ["d/a"]}),
    ("changed, overwrite", [lf("a", "b" * 32)], [remote("a")], True, False, {"replace": ["d/a"]}),
    ("changed, no overwrite", [lf("a", "b" * 32)], [remote("a")], False, False, {"conflict": ["d/a"]}),
    ("same md5, other size", [lf("a", size=11)], [remote("a")], True, False, {"replace": ["d/a"]}),
    ("extra remote kept", [lf("a")], [remote("a"), remote("old")], False, False, {"skip": ["d/a"], "keep": ["d/old"]}),
    ("extra remote deleted", [lf("a")], [remote("a"), remote("old")], False, True, {"skip": ["d/a"], "delete": ["d/old"]}),
    ("multipart, md5 unknown", [lf("big")], [remote("big", etag='"0123-3"')], True, False, {"replace": ["d/big"]}),
])
def test_diff(case, local, remotes, overwrite, delete, want):
    p = plan.diff(local, {r.key: r for r in remotes}, overwrite=overwrite, delete=delete, manifest_key="d/.m")
    got = {"upload": [f.key for f in p.upload], "replace": [f.key for f in p.replace],
           "skip": [f.key for f in p.skip], "conflict": [f.key for f, _ in p.conflict],
           "delete": p.delete, "keep": p.keep}
    assert {k: v for k, v in got.items() if v} == want, case


def test_manifest_is_never_deleted_and_resolves_multipart_md5():
    big = lf("big", "c" * 32, size=100)
    remotes = {"d/big": remote("big", size=100, etag='"ABCD-3"'), "d/.m": remote(".m")}
    old = {"d/big": {"size": 100, "md5": "c" * 32, "etag": "ABCD-3", "h": big.digest}}
    assert plan.needs_head([big], remotes, old) == []          # the previous manifest tells the MD5: no HEAD
    p = plan.diff([big], remotes, manifest_files=old, delete=True, manifest_key="d/.m")
    assert [f.key for f in p.skip] == ["d/big"] and p.delete == []
    stale = {"d/big": dict(old["d/big"], etag="OTHER-3")}      # the object changed since: ask the server
    remotes["d/big"].md5 = None
    assert plan.needs_head([big], remotes, stale) == ["d/big"]


def test_header_change_is_a_replace_only_with_overwrite():
    f = lf("a", headers={"Cache-Control": "no-cache"})
    old = {"d/a": {"md5": "a" * 32, "etag": "A" * 32, "h": "something-else"}}
    p = plan.diff([f], {"d/a": remote("a")}, manifest_files=old, overwrite=True)
    assert [x.key for x in p.replace] == ["d/a"]
    p = plan.diff([f], {"d/a": remote("a")}, manifest_files=old, overwrite=False)
    assert [x.key for x in p.skip] == ["d/a"] and [x.key for x in p.stale_headers] == ["d/a"]


@pytest.mark.parametrize("spec, count, limit", [("50%", 10, 5), ("100", 10, 100), ("0", 10, 0), ("10%", 5, 0),
                                                 ("100%", 7, 7)])
def test_delete_limit(spec, count, limit):
    assert plan.delete_limit(spec, count) == limit


def test_batches_of_1000():
    keys = [f"k{i}" for i in range(2501)]
    assert [len(b) for b in plan.batches(keys)] == [1000, 1000, 501]


def test_cdn_batches():
    from oss_push import cdn

    s = Settings.model_validate({**BASE, "dest": "app/1.0", "cdn_refresh": "files",
                                 "cdn_url": "https://cdn.example.com/"})
    calls = cdn.refresh_batches(s, [f"app/1.0/f{i}.js" for i in range(1500)] + ["app/1.0/文件.css"])
    assert [c["ObjectType"] for c in calls] == ["File", "File"]
    urls = calls[0]["ObjectPath"].split("\n") + calls[1]["ObjectPath"].split("\n")
    assert len(urls) == 1501 and "https://cdn.example.com/app/1.0/%E6%96%87%E4%BB%B6.css" in urls
    s = s.model_copy(update={"cdn_refresh": "directory"})
    assert cdn.refresh_batches(s, ["x"]) == [{"ObjectPath": "https://cdn.example.com/app/1.0/",
                                              "ObjectType": "Directory"}]
    req = cdn.build_request(s.model_copy(update={"cdn_endpoint": "http://127.0.0.1:9"}), calls[0])
    assert (req.get_domain(), req.get_protocol_type(), req.get_action_name(), req.get_version()) == \
        ("127.0.0.1:9", "http", "RefreshObjectCaches", "2018-05-10")


def test_gzipped_file_from_another_zlib_is_still_a_skip():
    f = LocalFile(rel="a.js", key="d/a.js", path="/src/a.js", size=90, md5="b" * 32, headers={}, gzipped=True,
                  source_md5="c" * 32)
    stored = remote("a.js", md5="e" * 32, size=95)                     # compressed elsewhere: other bytes
    old = {"d/a.js": {"md5": "e" * 32, "etag": "E" * 32, "src": "c" * 32, "h": f.digest}}
    assert [x.key for x in plan.diff([f], {"d/a.js": stored}, manifest_files=old).skip] == ["d/a.js"]
    other = {"d/a.js": dict(old["d/a.js"], src="f" * 32)}               # the source changed: a real conflict
    assert [x.key for x, _ in plan.diff([f], {"d/a.js": stored}, manifest_files=other).conflict] == ["d/a.js"]



def test_delete_never_touches_what_include_exclude_leave_out():
    remotes = {r.key: r for r in (remote("a.js"), remote("old.js"), remote("img/logo.png"), remote(".git/HEAD"))}
    scope = lambda rel: plan.selected(rel, plan.Globs(["*.js"]), plan.Globs([]))  # noqa: E731
    p = plan.diff([lf("a.js")], remotes, delete=True, dest="d", in_scope=scope)
    assert p.delete == ["d/old.js"] and p.keep == ["d/.git/HEAD", "d/img/logo.png"]


@pytest.mark.parametrize("endpoint, region", [
    ("https://oss-cn-shanghai.aliyuncs.com", "cn-shanghai"),            # the seed's endpoint, as the model stores it
    ("oss-cn-shanghai.aliyuncs.com", "cn-shanghai"),
    ("https://oss-cn-shanghai-internal.aliyuncs.com", "cn-shanghai"),   # the VPC endpoint
    ("http://oss-ap-southeast-1.aliyuncs.com:80", "ap-southeast-1"),
    ("https://lyops.oss-cn-hangzhou.aliyuncs.com", "cn-hangzhou"),      # <bucket>.oss-…
    ("https://oss-cn-shanghai-finance-1-internal.aliyuncs.com", "cn-shanghai-finance-1"),
    ("https://oss-rg-china-mainland.aliyuncs.com", "rg-china-mainland"),
    ("https://cn-beijing.oss.aliyuncs.com", "cn-beijing"),              # dual-stack
    ("https://OSS-CN-Beijing.aliyuncs.com.", "cn-beijing"),
    ("https://oss-accelerate.aliyuncs.com", None),                      # global acceleration names no region
    ("https://oss-accelerate-overseas.aliyuncs.com", None),
    ("http://127.0.0.1:9000", None),                                    # the local endpoint
    ("https://static.example.com", None),                               # a CNAME
    ("https://oss-cn-shanghai.aliyuncs.com.evil.example", None),
    ("https://oss.aliyuncs.com", None),
])
def test_endpoint_region(endpoint, region):
    assert plan.endpoint_region(endpoint) == region


SH, LOCAL = "https://oss-cn-shanghai.aliyuncs.com", "http://127.0.0.1:9000"


@pytest.mark.parametrize("signature, region, endpoint, version, scope, line", [
    ("auto", None, SH, "v4", "cn-shanghai", "signing V4 (region cn-shanghai from the endpoint)"),
    ("auto", "cn-hangzhou", LOCAL, "v4", "cn-hangzhou", "signing V4 (region cn-hangzhou)"),
    ("auto", None, LOCAL, "v1", None, "signing V1 (set region for V4, which Aliyun recommends)"),
    ("v4", None, SH, "v4", "cn-shanghai", "signing V4 (region cn-shanghai from the endpoint)"),
    ("v4", "cn-hangzhou", LOCAL, "v4", "cn-hangzhou", "signing V4 (region cn-hangzhou)"),
    ("v1", None, SH, "v1", None, "signing V1 (signature: v1)"),
    ("v1", "cn-hangzhou", LOCAL, "v1", None, "signing V1 (signature: v1)"),
])
def test_signing(signature, region, endpoint, version, scope, line):
    s = plan.signing(signature, region, endpoint)
    assert (s.version, s.region, s.line, s.warning) == (version, scope, line, "")


def test_signing_v4_needs_a_region_and_a_contradicted_region_is_warned():
    with pytest.raises(ValueError, match=r"^PLUGIN_REGION: required with PLUGIN_SIGNATURE=v4"):
        plan.signing("v4", None, LOCAL)
    s = plan.signing("auto", "cn-hangzhou", SH)   # the set region wins, with a warning
    assert (s.version, s.region) == ("v4", "cn-hangzhou") and "endpoint is in cn-shanghai" in s.warning
