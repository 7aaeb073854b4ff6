"""The OSS signature code of tagship oss-server against Aliyun's documented examples.

V1: the PUT /oss-example/nelson example of "Include a V1 signature in the header" (在Header中包含V1签名):
AccessKeyId 44CF9590006BF252F707, secret OtxrzxIsfpFjA7SwPzILwy8Bw21TLhquhboDYROV -> 26NBxoKdsyly4EDv6inkoDft/yA=.
V4: the PUT /examplebucket/exampleobject example of "Include a V4 signature in the header" (在Header中包含V4签名):
the documented canonical request hashes to c46d9639...; the signature for the placeholder secret
``yourAccessKeySecret`` is d3694c2d... (the page prints a value for a redacted secret; this is the value for the
literal placeholder, as every independent implementation computes it).
"""
from datetime import datetime, timezone

import hashlib

import pytest

from tagship_ossd import sig as s

V1_SECRET = "OtxrzxIsfpFjA7SwPzILwy8Bw21TLhquhboDYROV"
V1_HEADERS = {"Content-MD5": "ODBGOERFMDMzQTczRUY3NUE3NzA5QzdFNUYzMDQxNEM=", "Content-Type": "text/html",
              "Date": "Thu, 17 Nov 2005 18:49:58 GMT", "X-OSS-Meta-Author": "foo@bar.com",
              "X-OSS-Magic": "abracadabra"}
V4_HEADERS = {"content-disposition": "attachment", "content-length": "3", "content-md5": "ICy5YqxZB1uWSwcVLSNLcA==",
              "content-type": "text/plain", "x-oss-content-sha256": "UNSIGNED-PAYLOAD",
              "x-oss-date": "20250411T064124Z"}
V4_CANONICAL = ("PUT\n/examplebucket/exampleobject\n\n"
                "content-disposition:attachment\ncontent-length:3\ncontent-md5:ICy5YqxZB1uWSwcVLSNLcA==\n"
                "content-type:text/plain\nx-oss-content-sha256:UNSIGNED-PAYLOAD\nx-oss-date:20250411T064124Z\n\n"
                "content-disposition;content-length\nUNSIGNED-PAYLOAD")


def test_v1_documented_example():
    sts = s.v1_string_to_sign("PUT", V1_HEADERS, "oss-example", "nelson", [])
    assert sts == ("PUT\nODBGOERFMDMzQTczRUY3NUE3NzA5QzdFNUYzMDQxNEM=\ntext/html\nThu, 17 Nov 2005 18:49:58 GMT\n"
                   "x-oss-magic:abracadabra\nx-oss-meta-author:foo@bar.com\n/oss-example/nelson")
    assert s.v1_signature(V1_SECRET, sts) == "26NBxoKdsyly4EDv6inkoDft/yA="


@pytest.mark.parametrize("bucket,key,query,expected", [
    ("", "", [], "/"),
    ("b", "", [("list-type", "2"), ("continuation-token", ""), ("max-keys", "100")], "/b/?continuation-token"),
    ("b", "k", [("uploadId", "U1"), ("partNumber", "3")], "/b/k?partNumber=3&uploadId=U1"),
    ("b", "dir/世界 a+b", [("uploads", "")], "/b/dir/世界 a+b?uploads"),
    ("b", "", [("delete", ""), ("encoding-type", "url")], "/b/?delete"),
    ("b", "k", [("acl", ""), ("response-content-type", "text/plain")], "/b/k?acl&response-content-type=text/plain"),
])
def test_v1_canonical_resource(bucket, key, query, expected):
    assert s.canonical_resource(bucket, key, query) == expected


def test_v1_oss_headers_sorted_lowercase_trimmed():
    h = {"X-OSS-Meta-B": " 2 ", "x-oss-meta-a": "1", "Content-Type": "x", "x-oss-security-token": "T"}
    assert s.canonical_oss_headers(h) == "x-oss-meta-a:1\nx-oss-meta-b:2\nx-oss-security-token:T\n"


def test_v4_documented_example():
    canonical = s.v4_canonical_request("PUT", "examplebucket", "exampleobject", [], V4_HEADERS,
                                       ["content-length", "content-disposition"])
    assert canonical == V4_CANONICAL
    assert hashlib.sha256(canonical.encode()).hexdigest() == \
        "c46d96390bdbc2d739ac9363293ae9d710b14e48081fcb22cd8ad54b63136eca"
    sts = s.v4_string_to_sign("20250411T064124Z", s.v4_scope("20250411", "cn-hangzhou"), canonical)
    assert sts.splitlines()[:3] == ["OSS4-HMAC-SHA256", "20250411T064124Z", "20250411/cn-hangzhou/oss/aliyun_v4_request"]
    assert s.v4_signature("yourAccessKeySecret", "20250411", "cn-hangzhou", sts) == \
        "d3694c2dfc5371ee6acd35e88c4871ac95a7ba01d3a2f476768fe61218590097"


@pytest.mark.parametrize("query,expected", [
    ([], ""),
    ([("uploads", "")], "uploads"),
    ([("prefix", "a b/c+d"), ("list-type", "2"), ("continuation-token", "")],
     "continuation-token&list-type=2&prefix=a%20b%2Fc%2Bd"),
    ([("x", "世")], "x=%E4%B8%96"),
])
def test_v4_canonical_query(query, expected):
    assert s.v4_canonical_query(query) == expected


def test_v4_uri_keeps_slash_encodes_rest():
    c = s.v4_canonical_request("GET", "b", "a dir/世界~x*", [], {}, [])
    assert c.splitlines()[1] == "/b/a%20dir/%E4%B8%96%E7%95%8C~x%2A"


def test_parse_v4_authorization_with_and_without_spaces():
    a = "OSS4-HMAC-SHA256 Credential=AK/20250411/cn-hangzhou/oss/aliyun_v4_request, Signature=ab, AdditionalHeaders=host"
    assert s.parse_v4_authorization(a) == {"Credential": "AK/20250411/cn-hangzhou/oss/aliyun_v4_request",
                                           "Signature": "ab", "AdditionalHeaders": "host"}
    b = "OSS4-HMAC-SHA256 Credential=AK/d/r/oss/aliyun_v4_request,Signature=cd"
    assert s.parse_v4_authorization(b)["Signature"] == "cd"
    with pytest.raises(s.AuthError):
        s.parse_v4_authorization("OSS4-HMAC-SHA256 Signature=18")


def _v1_request(secret, date="Thu, 17 Nov 2005 18:49:58 GMT", ak="44CF9590006BF252F707"):
    h = {k.lower(): v for k, v in V1_HEADERS.items()}
    h["date"] = date
    h["authorization"] = f"OSS {ak}:" + s.v1_signature(secret, s.v1_string_to_sign("PUT", h, "oss-example",
                                                                                    "nelson", []))
    return h


NOW = datetime(2005, 11, 17, 18, 50, tzinfo=timezone.utc)
CREDS = {"44CF9590006BF252F707": s.Credential("44CF9590006BF252F707", V1_SECRET)}


def test_verify_v1_accepts_and_rejects():
    assert s.verify("PUT", _v1_request(V1_SECRET), "oss-example", "nelson", [], CREDS, "cn-hangzhou", NOW)
    with pytest.raises(s.AuthError) as e:
        s.verify("PUT", _v1_request("wrong"), "oss-example", "nelson", [], CREDS, "cn-hangzhou", NOW)
    assert (e.value.status, e.value.code) == (403, "SignatureDoesNotMatch")
    assert e.value.extra["StringToSign"].endswith("/oss-example/nelson")
    with pytest.raises(s.AuthError) as e:
        s.verify("PUT", _v1_request(V1_SECRET, ak="NOPE"), "oss-example", "nelson", [], CREDS, "cn-hangzhou", NOW)
    assert e.value.code == "InvalidAccessKeyId"
    with pytest.raises(s.AuthError) as e:
        s.verify("PUT", _v1_request(V1_SECRET, date="Thu, 17 Nov 2005 19:49:58 GMT"), "oss-example", "nelson", [],
                 CREDS, "cn-hangzhou", NOW)
    assert e.value.code == "RequestTimeTooSkewed"


def test_verify_v4_region_and_sts_token():
    h = dict(V4_HEADERS)
    sts = s.v4_string_to_sign("20250411T064124Z", s.v4_scope("20250411", "cn-hangzhou"), V4_CANONICAL)
    h["authorization"] = ("OSS4-HMAC-SHA256 Credential=AK/20250411/cn-hangzhou/oss/aliyun_v4_request,"
                          "AdditionalHeaders=content-disposition;content-length,Signature="
                          + s.v4_signature("yourAccessKeySecret", "20250411", "cn-hangzhou", sts))
    now = datetime(2025, 4, 11, 6, 45, tzinfo=timezone.utc)
    creds = {"AK": s.Credential("AK", "yourAccessKeySecret")}
    assert s.verify("PUT", h, "examplebucket", "exampleobject", [], creds, "cn-hangzhou", now)
    with pytest.raises(s.AuthError) as e:
        s.verify("PUT", h, "examplebucket", "exampleobject", [], creds, "cn-beijing", now)
    assert e.value.code == "InvalidArgument"
    unsigned = {k: v for k, v in h.items() if k != "x-oss-content-sha256"}
    with pytest.raises(s.AuthError) as e:
        s.verify("PUT", unsigned, "examplebucket", "exampleobject", [], creds, "cn-hangzhou", now)
    assert "x-oss-content-sha256" in e.value.message
    sts_creds = {"AK": s.Credential("AK", "yourAccessKeySecret", "TOKEN")}
    with pytest.raises(s.AuthError) as e:  # the token header is missing
        s.verify("PUT", h, "examplebucket", "exampleobject", [], sts_creds, "cn-hangzhou", now)
    assert e.value.code == "InvalidAccessKeyId"
    assert "yourAccessKeySecret" not in repr(sts_creds["AK"]) and "TOKEN" not in repr(sts_creds["AK"])
