"""Aliyun OSS request signatures, V1 and V4, written from Aliyun's documentation.

Sources (Aliyun help centre, "Include a V1 signature in the header" / 在Header中包含V1签名 and
"Include a V4 signature in the header (recommended)" / 在Header中包含V4签名):

V1::

    Authorization = "OSS " + AccessKeyId + ":" + Signature
    Signature = base64(hmac-sha1(AccessKeySecret, VERB + "\\n" + Content-MD5 + "\\n" + Content-Type + "\\n"
                                 + Date + "\\n" + CanonicalizedOSSHeaders + CanonicalizedResource))

  CanonicalizedOSSHeaders: every ``x-oss-*`` header, name lower-cased, sorted, ``name:value\\n`` (spaces around
  the value trimmed). Date is the ``x-oss-date`` header when sent, else ``Date``. CanonicalizedResource: ``/bucket/key`` with the raw (not URL-encoded) key, or ``/bucket/``
  or ``/``, then the *signed sub-resources* present in the query, sorted, ``?a&b=v`` (a value only if non-empty).

V4::

    Authorization: OSS4-HMAC-SHA256 Credential=<AK>/<yyyymmdd>/<region>/oss/aliyun_v4_request,
                   AdditionalHeaders=<h1;h2>,Signature=<hex>
    CanonicalRequest = VERB \\n CanonicalURI \\n CanonicalQueryString \\n CanonicalHeaders \\n
                       AdditionalHeaders \\n HashedPayload
    StringToSign = "OSS4-HMAC-SHA256" \\n x-oss-date \\n <yyyymmdd>/<region>/oss/aliyun_v4_request \\n
                   hex(sha256(CanonicalRequest))
    SigningKey = HMAC(HMAC(HMAC(HMAC("aliyun_v4" + secret, yyyymmdd), region), "oss"), "aliyun_v4_request")
    Signature = hex(HMAC-SHA256(SigningKey, StringToSign))

  CanonicalURI is ``/bucket/key`` URI-encoded except ``/``; the query string takes *all* parameters, names and
  values URI-encoded (RFC 3986 unreserved kept), sorted, ``k=v`` or ``k`` when the value is empty. Canonical
  headers are ``content-type``, ``content-md5``, every ``x-oss-*`` header and the AdditionalHeaders, lower-case,
  sorted, ``name:value\\n``. HashedPayload is the ``x-oss-content-sha256`` value (``UNSIGNED-PAYLOAD``).

Nothing here is taken from an SDK; the tests check both against the documented examples and against oss2.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Iterable, Mapping, Sequence
from urllib.parse import quote

V4_ALGORITHM = "OSS4-HMAC-SHA256"
V4_TERMINATOR = "aliyun_v4_request"
MAX_SKEW_SECONDS = 15 * 60

# The signed sub-resources listed in the V1 document (CanonicalizedResource section).
SUBRESOURCES = frozenset("""
acl uploads location cors logging website referer lifecycle delete append tagging objectMeta uploadId
partNumber security-token position img style styleName replication replicationProgress replicationLocation
cname bucketInfo comp qos live status vod startTime endTime symlink x-oss-process response-content-type
x-oss-traffic-limit response-content-language response-expires response-cache-control
response-content-disposition response-content-encoding udf udfName udfImage udfId udfImageDesc
udfApplication udfApplicationLog restore callback callback-var qosInfo policy stat encryption versions
versioning versionId requestPayment x-oss-request-payer sequential inventory inventoryId continuation-token
asyncFetch worm wormId wormExtend withHashContext x-oss-enable-md5 x-oss-enable-sha1 x-oss-enable-sha256
x-oss-hash-ctx x-oss-md5-ctx transferAcceleration regionList cloudboxes x-oss-ac-source-ip
x-oss-ac-subnet-mask x-oss-ac-vpc-id x-oss-ac-forward-allow metaQuery resourceGroup rtc
x-oss-async-process responseHeader objectInfo group link httpsConfig
""".split())

Query = Sequence[tuple[str, str]]


@dataclass(frozen=True)
class Credential:
    access_key_id: str
    secret: str = ""
    security_token: str | None = None  # set: requests must carry x-oss-security-token with this value

    def __repr__(self) -> str:  # never show the secret or the token
        return f"Credential(access_key_id={self.access_key_id!r}, secret='******', sts={self.security_token is not None})"


class AuthError(Exception):
    """An authentication failure, as OSS reports it (HTTP status, error Code, Message, extra XML fields)."""

    def __init__(self, status: int, code: str, message: str, **extra: str):
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message, self.extra = status, code, message, extra


# ---------------------------------------------------------------- V1
def canonical_oss_headers(headers: Mapping[str, str]) -> str:
    items = sorted((k.lower().strip(), v.strip()) for k, v in headers.items() if k.lower().startswith("x-oss-"))
    return "".join(f"{k}:{v}\n" for k, v in items)


def canonical_resource(bucket: str, key: str, query: Query) -> str:
    path = f"/{bucket}/{key}" if bucket else "/"
    subs = sorted((k, v) for k, v in query if k in SUBRESOURCES)
    if subs:
        path += "?" + "&".join(f"{k}={v}" if v else k for k, v in subs)
    return path


def v1_string_to_sign(method: str, headers: Mapping[str, str], bucket: str, key: str, query: Query) -> str:
    h = {k.lower(): v for k, v in headers.items()}
    date = h.get("x-oss-date") or h.get("date", "")  # "when both are present, x-oss-date wins" (V1 document)
    return (f"{method}\n{h.get('content-md5', '')}\n{h.get('content-type', '')}\n{date}\n"
            + canonical_oss_headers(h) + canonical_resource(bucket, key, query))


def v1_signature(secret: str, string_to_sign: str) -> str:
    digest = hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


# ---------------------------------------------------------------- V4
def uri_encode(text: str, keep_slash: bool) -> str:
    return quote(text, safe="/~" if keep_slash else "~")


def v4_canonical_query(query: Query) -> str:
    pairs = sorted((uri_encode(k, False), uri_encode(v, False)) for k, v in query)
    return "&".join(f"{k}={v}" if v else k for k, v in pairs)


def v4_canonical_request(method: str, bucket: str, key: str, query: Query, headers: Mapping[str, str],
                         additional: Iterable[str]) -> str:
    extra = sorted({a.lower() for a in additional})
    uri = uri_encode(f"/{bucket}/{key}" if bucket else "/", True)
    signed = {}
    for k, v in headers.items():
        lk = k.lower().strip()
        if lk.startswith("x-oss-") or lk in ("content-type", "content-md5") or lk in extra:
            signed[lk] = v.strip()
    canon_headers = "".join(f"{k}:{signed[k]}\n" for k in sorted(signed))
    payload = signed.get("x-oss-content-sha256", "UNSIGNED-PAYLOAD")
    return "\n".join([method, uri, v4_canonical_query(query), canon_headers, ";".join(extra), payload])


def v4_scope(date: str, region: str, product: str = "oss") -> str:
    return f"{date}/{region}/{product}/{V4_TERMINATOR}"


def v4_string_to_sign(timestamp: str, scope: str, canonical_request: str) -> str:
    return "\n".join([V4_ALGORITHM, timestamp, scope, hashlib.sha256(canonical_request.encode()).hexdigest()])


def v4_signing_key(secret: str, date: str, region: str, product: str = "oss") -> bytes:
    key = ("aliyun_v4" + secret).encode()
    for part in (date, region, product, V4_TERMINATOR):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def v4_signature(secret: str, date: str, region: str, string_to_sign: str, product: str = "oss") -> str:
    return hmac.new(v4_signing_key(secret, date, region, product), string_to_sign.encode(), hashlib.sha256).hexdigest()


_V4_FIELD = re.compile(r"\s*([A-Za-z]+)\s*=\s*([^,]*)")


def parse_v4_authorization(value: str) -> dict[str, str]:
    """``OSS4-HMAC-SHA256 Credential=..,AdditionalHeaders=..,Signature=..`` -> dict (spaces after commas allowed)."""
    rest = value[len(V4_ALGORITHM):]
    if not rest[:1].isspace():
        raise AuthError(400, "InvalidArgument", "Authorization header is invalid.")
    fields = {}
    for part in rest.split(","):
        m = _V4_FIELD.fullmatch(part.strip()) if part.strip() else None
        if not m:
            raise AuthError(400, "InvalidArgument", "Authorization header is invalid.")
        fields[m.group(1)] = m.group(2).strip()
    if "Credential" not in fields or "Signature" not in fields:
        raise AuthError(400, "InvalidArgument", "Authorization header is invalid.")
    return fields


# ---------------------------------------------------------------- verification
def _check_skew(when: datetime, now: datetime) -> None:
    if abs((now - when).total_seconds()) > MAX_SKEW_SECONDS:
        raise AuthError(403, "RequestTimeTooSkewed",
                        "The difference between the request time and the current time is too large.",
                        RequestTime=when.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                        ServerTime=now.strftime("%Y-%m-%dT%H:%M:%S.000Z"))


def _lookup(credentials: Mapping[str, Credential], ak: str, headers: Mapping[str, str]) -> Credential:
    cred = credentials.get(ak)
    if cred is None:
        raise AuthError(403, "InvalidAccessKeyId", "The OSS Access Key Id you provided does not exist in our records.",
                        OSSAccessKeyId=ak)
    if cred.security_token is not None:
        token = headers.get("x-oss-security-token")
        if not token:
            raise AuthError(403, "InvalidAccessKeyId", "The security token you provided is invalid or missing.",
                            OSSAccessKeyId=ak)
        if not hmac.compare_digest(token, cred.security_token):
            raise AuthError(403, "InvalidSecurityToken", "The security token you provided is invalid.")
    return cred


def verify(method: str, headers: Mapping[str, str], bucket: str, key: str, query: Query,
           credentials: Mapping[str, Credential], region: str, now: datetime | None = None) -> Credential:
    """Check the Authorization header of one request; return the credential used or raise AuthError.

    ``headers`` must have lower-case names; ``key`` is the decoded object key; ``query`` the decoded pairs.
    """
    now = now or datetime.now(timezone.utc)
    auth = headers.get("authorization", "")
    if not auth:
        raise AuthError(403, "AccessDenied", "You have no right to access this object because of bucket acl.")
    if auth.startswith("OSS "):
        ak, sep, provided = auth[4:].strip().rpartition(":")
        if not sep or not ak:
            raise AuthError(400, "InvalidArgument", "Authorization header is invalid.")
        cred = _lookup(credentials, ak, headers)
        try:
            when = parsedate_to_datetime(headers.get("x-oss-date") or headers.get("date", ""))  # x-oss-date wins
        except (TypeError, ValueError):
            raise AuthError(403, "AccessDenied", "OSS authentication requires a valid Date.") from None
        _check_skew(when if when.tzinfo else when.replace(tzinfo=timezone.utc), now)
        sts = v1_string_to_sign(method, headers, bucket, key, query)
        if not hmac.compare_digest(v1_signature(cred.secret, sts), provided):
            raise AuthError(403, "SignatureDoesNotMatch",
                            "The request signature we calculated does not match the signature you provided. "
                            "Check your key and signing method.",
                            StringToSign=sts, SignatureProvided=provided, OSSAccessKeyId=ak)
        return cred
    if auth.startswith(V4_ALGORITHM):
        fields = parse_v4_authorization(auth)
        parts = fields["Credential"].split("/")
        if len(parts) != 5 or parts[3] != "oss" or parts[4] != V4_TERMINATOR:
            raise AuthError(400, "InvalidArgument", "Invalid credential in Authorization header.")
        ak, date, sign_region = parts[0], parts[1], parts[2]
        cred = _lookup(credentials, ak, headers)
        stamp = headers.get("x-oss-date", "")
        try:
            when = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
        except ValueError:
            raise AuthError(403, "AccessDenied", "x-oss-date is missing or invalid for V4 signature.") from None
        if stamp[:8] != date:
            raise AuthError(400, "InvalidArgument", "Invalid signing date in Authorization header.")
        if sign_region != region:
            raise AuthError(400, "InvalidArgument", "Invalid signing region in Authorization header.",
                            EC="0002-00000226")
        _check_skew(when, now)
        if "x-oss-content-sha256" not in headers:
            raise AuthError(400, "InvalidArgument", "x-oss-content-sha256 is required for V4 signature.")
        additional = [h for h in fields.get("AdditionalHeaders", "").split(";") if h]
        missing = [h for h in additional if h.lower() not in headers]
        if missing:
            raise AuthError(400, "InvalidArgument", f"AdditionalHeaders lists a header that is not sent: {missing[0]}")
        canonical = v4_canonical_request(method, bucket, key, query, headers, additional)
        sts = v4_string_to_sign(stamp, v4_scope(date, sign_region), canonical)
        if not hmac.compare_digest(v4_signature(cred.secret, date, sign_region, sts), fields["Signature"]):
            raise AuthError(403, "SignatureDoesNotMatch",
                            "The request signature we calculated does not match the signature you provided. "
                            "Check your key and signing method.",
                            CanonicalRequest=canonical, StringToSign=sts, SignatureProvided=fields["Signature"],
                            OSSAccessKeyId=ak)
        return cred
    raise AuthError(400, "InvalidArgument", "Authorization header is invalid.")
