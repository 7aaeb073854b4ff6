"""Which OSS operation a request is: a table of (method, level, set of sub-resources) -> operation.

``level`` is ``service`` (no bucket), ``bucket`` or ``object``. The sub-resources of a request are the query
parameters OSS treats as naming an operation (``acl``, ``uploads``, ``tagging``, ``symlink``…); the others
(``prefix``, ``max-keys``, ``response-content-type``…) are parameters of the operation. A request whose
(method, level, sub-resources) is not in the table is ``NotImplemented`` — answered 501 with OSS's error XML,
never as another operation (``PUT key?tagging`` must not replace the object's bytes).
"""
from __future__ import annotations

from .proto import Request
from .sig import SUBRESOURCES

# Query parameters that are arguments of an operation, never part of its name.
PARAMETERS = frozenset("""
prefix marker delimiter max-keys encoding-type list-type continuation-token start-after fetch-owner
key-marker upload-id-marker max-uploads part-number-marker max-parts security-token x-oss-traffic-limit
x-oss-request-payer response-content-type response-content-language response-expires response-cache-control
response-content-disposition response-content-encoding
""".split())

# Sub-resources OSS documents beyond the V1 signing list (newer bucket features); any of them makes a request
# an operation of its own, which this server does not implement.
EXTRA_SUBRESOURCES = frozenset("""
publicAccessBlock accessPoint accessPointForObjectProcess archiveDirectRead dataRedundancyTransition
resourcePool resourcePoolInfo resourcePoolBuckets resourcePoolRequester qosRequester accessMonitor
callbackPolicy bucketCallbackPolicy styleList describeRegions overwriteConfig userDefinedLogFieldsConfig
x-oss-write-get-object-response metaQueryStatus bucketStat select x-oss-process
""".split())

KNOWN_SUBRESOURCES = (SUBRESOURCES | EXTRA_SUBRESOURCES) - PARAMETERS

_ = frozenset
TABLE: dict[tuple[str, str, frozenset], str] = {
    ("GET", "service", _()): "ListBuckets",
    ("PUT", "bucket", _()): "PutBucket",
    ("DELETE", "bucket", _()): "DeleteBucket",
    ("GET", "bucket", _()): "ListObjects",  # ListObjectsV2 with list-type=2 (see ``route``)
    ("GET", "bucket", _({"bucketInfo"})): "GetBucketInfo",
    ("GET", "bucket", _({"uploads"})): "ListMultipartUploads",
    ("POST", "bucket", _({"delete"})): "DeleteMultipleObjects",
    ("PUT", "object", _()): "PutObject",  # CopyObject with x-oss-copy-source
    ("GET", "object", _()): "GetObject",
    ("HEAD", "object", _()): "HeadObject",
    ("DELETE", "object", _()): "DeleteObject",
    ("GET", "object", _({"objectMeta"})): "GetObjectMeta",
    ("HEAD", "object", _({"objectMeta"})): "GetObjectMeta",
    ("GET", "object", _({"acl"})): "GetObjectAcl",
    ("PUT", "object", _({"acl"})): "PutObjectAcl",
    ("POST", "object", _({"uploads"})): "InitiateMultipartUpload",
    ("POST", "object", _({"uploads", "sequential"})): "InitiateMultipartUpload",
    ("PUT", "object", _({"partNumber", "uploadId"})): "UploadPart",  # UploadPartCopy with x-oss-copy-source
    ("POST", "object", _({"uploadId"})): "CompleteMultipartUpload",
    ("DELETE", "object", _({"uploadId"})): "AbortMultipartUpload",
    ("GET", "object", _({"uploadId"})): "ListParts",
}

# Operations whose name also depends on a header or a parameter.
_REFINE = {
    "ListObjects": lambda req: "ListObjectsV2" if req.params.get("list-type") == "2" else "ListObjects",
    "PutObject": lambda req: "CopyObject" if "x-oss-copy-source" in req.headers else "PutObject",
    "UploadPart": lambda req: "UploadPartCopy" if "x-oss-copy-source" in req.headers else "UploadPart",
}

OPERATIONS = sorted({op for op in TABLE.values()} | {"ListObjectsV2", "CopyObject", "UploadPartCopy"})


def level(req: Request) -> str:
    return "service" if not req.bucket else ("bucket" if not req.key else "object")


def subresources(req: Request) -> frozenset:
    return frozenset(k for k, _v in req.query if k in KNOWN_SUBRESOURCES)


def route(req: Request) -> str:
    """The operation name for a request (dispatch and the stats counters use it); ``NotImplemented`` if none."""
    op = TABLE.get((req.method, level(req), subresources(req)), "NotImplemented")
    refine = _REFINE.get(op)
    return refine(req) if refine else op
