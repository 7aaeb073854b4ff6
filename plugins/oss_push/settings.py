"""oss-push settings: the model, also the schema for --help, docs and lint.

The seed's step works unchanged: ``access_key_id``, ``access_key_secret``, ``endpoint``, ``bucket``,
``target`` (the LOCAL directory; read as ``source`` with a notice) and ``dest`` (the remote prefix).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ByteSize, ConfigDict, field_validator, model_validator

from tagship.settings import Duration, JsonList, Kind, PluginSettings, StrList, StrMap, setting
from tagship.validators import AccessKey, BaseUrl, Region, normalise_url

Size = Annotated[ByteSize, Kind("size")]

MANIFEST_NAME = ".tagship-manifest.json"


class HeaderRule(BaseModel):
    """One entry of ``headers``: the first rule whose glob matches a file's path (relative to ``source``)
    gives its headers; a field left out falls through to the built-in defaults."""

    model_config = ConfigDict(extra="forbid")

    glob: str
    cache_control: str | None = None
    content_type: str | None = None
    content_encoding: str | None = None
    content_disposition: str | None = None
    meta: StrMap = {}

    @field_validator("meta")
    @classmethod
    def _meta_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not re.fullmatch(r"[A-Za-z0-9-]+", name):
                raise ValueError(f"meta name {name!r} must be letters, digits and '-' (sent as x-oss-meta-<name>)")
        return {k.lower(): v for k, v in value.items()}


class Settings(PluginSettings):
    endpoint: str = setting(help="OSS endpoint, e.g. oss-cn-shanghai.aliyuncs.com (https:// is assumed when "
                                 "no scheme is given) or http://127.0.0.1:9000 for a local endpoint.",
                            aliases=["OSS_ENDPOINT"])
    bucket: str = setting(help="The OSS bucket.", aliases=["OSS_BUCKET"])
    access_key_id: AccessKey = setting(help="AccessKey ID (or an STS temporary one).",
                                       aliases=["ALIYUN_ACCESS_KEY_ID", "OSS_ACCESS_KEY_ID"])
    access_key_secret: AccessKey = setting(help="AccessKey secret.",
                                           aliases=["ALIYUN_ACCESS_KEY_SECRET", "OSS_ACCESS_KEY_SECRET"])
    security_token: AccessKey | None = setting(None, help="STS security token, with temporary credentials.",
                                               aliases=["ALIYUN_SECURITY_TOKEN", "OSS_SECURITY_TOKEN",
                                                        "OSS_SESSION_TOKEN"])
    region: Region | None = setting(None, help="Region such as cn-shanghai, the scope of V4 signatures. Unset: read "
                                            "from an Aliyun endpoint (oss-cn-shanghai.aliyuncs.com → cn-shanghai).",
                                 aliases=["OSS_REGION"])
    signature: Literal["auto", "v1", "v4"] = setting(
        "auto", help="Request signing. auto: V4 (which Aliyun recommends) when region is set or the endpoint names "
                     "it, V1 otherwise (e.g. a local endpoint); v4 needs a region, set or from the endpoint; v1 "
                     "for endpoints that only know V1.")
    source: str = setting(".", help="Local directory to publish, relative to the workspace. The seed's "
                                    "`target` is read as this.", aliases=["PLUGIN_TARGET"])
    dest: str = setting("", help="Remote prefix (no leading /), e.g. cmdb-api/static/1.2.3. Empty = bucket "
                                 "root (delete is refused there).")
    include: StrList = setting([], help="Globs (with **) of files to publish, relative to source; empty = all.")
    exclude: StrList = setting([], help="Globs (with **) of files to leave out; .git/** and .tagship/** always are.")
    acl: Literal["default", "private", "public-read", "public-read-write"] | None = setting(
        None, help="Object ACL (x-oss-object-acl); unset = the bucket's.")
    storage_class: Literal["Standard", "IA", "Archive", "ColdArchive", "DeepColdArchive"] | None = setting(
        None, help="Storage class (x-oss-storage-class); unset = the bucket's.")
    headers: JsonList(HeaderRule) = setting(  # type: ignore[valid-type]
        [], help="Ordered list of {glob, cache_control, content_type, content_encoding, content_disposition, "
                 "meta}; the first match wins. Defaults after yours: hashed names (app.3f9a1c2b.js) get "
                 "'public, max-age=31536000, immutable', *.html 'no-cache'.")
    default_headers: bool = setting(True, help="Apply the built-in header defaults after `headers`.")
    gzip: StrList = setting([], help="Globs of files stored gzip-compressed with Content-Encoding: gzip "
                                     "(when that is smaller), e.g. **/*.js,**/*.css,**/*.svg.")
    concurrency: int = setting(16, help="Parallel requests (thread pool and HTTP connection pool), 1..64.",
                               ge=1, le=64)
    multipart_threshold: Size = setting("64MiB", help="Files this big or bigger go up in resumable multipart "
                                                      "(checkpoints in .tagship/oss-checkpoints/).")
    part_size: Size = setting("8MiB", help="Multipart part size (100KiB..5GiB).")
    max_retries: int = setting(5, help="Retries per request on transient errors (connection, timeout, 5xx, "
                                       "throttling, CRC mismatch); 4xx are never retried.", ge=0, le=20)
    max_qps: float = setting(0, help="Cap on requests per second across all threads (0 = no cap, else at "
                                     "least 0.1).", ge=0)
    timeout: Duration = setting("60s", help="Connect timeout per request (90s, 2m or seconds).", gt=0)
    overwrite: bool = setting(False, help="Replace existing objects whose content differs. When false, such "
                                          "an object is an error and uploads use x-oss-forbid-overwrite.")
    delete: bool = setting(False, help="Delete objects under dest that are not in source, after every upload "
                                       "is verified.")
    delete_max: str = setting("50%", help="Refuse to delete more than this many objects: a count (100) or a "
                                          "percentage of the objects under dest (50%).")
    verify: bool = setting(True, help="Re-list dest after uploading and check sizes and ETags; an answer without "
                                      "the CRC-64 header (x-oss-hash-crc64ecma) is then an error (false: a warning, "
                                      "and Content-MD5 is the only check).")
    abort_stale_uploads: bool = setting(True, help="After a publish that changed dest, abort multipart uploads under "
                                                   "dest that no checkpoint in this workspace can resume, that were "
                                                   "not active since this run started and are idle for "
                                                   "stale_upload_age (a killed run's parts are billed forever).")
    stale_upload_age: Duration = setting("1h", help="How long a multipart upload under dest must have been idle "
                                                    "before abort_stale_uploads aborts it (0 = any idle since "
                                                    "before this run started).", ge=0)
    cdn_refresh: Literal["off", "files", "directory"] = setting(
        "off", help="After publishing, refresh Aliyun CDN caches: the changed files' URLs, or dest as a directory.")
    cdn_url: BaseUrl | None = setting(None, help="CDN base URL that maps to the bucket root, e.g. "
                                             "https://static.example.com (needed for cdn_refresh).")
    cdn_endpoint: str = setting("cdn.aliyuncs.com", help="Aliyun CDN OpenAPI endpoint (host or URL).")

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("an OSS endpoint such as oss-cn-shanghai.aliyuncs.com")
        return normalise_url(value)

    @field_validator("cdn_endpoint")
    @classmethod
    def _cdn_endpoint(cls, value: str) -> str:
        return normalise_url(value)

    @field_validator("max_qps")
    @classmethod
    def _max_qps(cls, value: float) -> float:
        if 0 < value < 0.1:  # a tiny cap would sleep for days between requests
            raise ValueError("0 (no cap) or at least 0.1 requests per second")
        return value

    @field_validator("bucket")
    @classmethod
    def _bucket(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]", value.strip()):
            raise ValueError("a bucket name (3-63 lower-case letters, digits and '-')")
        return value.strip()

    @field_validator("dest")
    @classmethod
    def _dest(cls, value: str) -> str:
        text = value.strip().replace("\\", "/").strip("/")
        parts = [p for p in text.split("/") if p]
        if any(p in ("..", ".") for p in parts):
            raise ValueError("a prefix without '.' or '..' segments")
        return "/".join(parts)

    @field_validator("delete_max")
    @classmethod
    def _delete_max(cls, value: str) -> str:
        if not re.fullmatch(r"\d+(\.\d+)?%|\d+", value.strip()):
            raise ValueError("a count (100) or a percentage (50%)")
        return value.strip()

    @model_validator(mode="after")
    def _cross(self) -> "Settings":
        if self.delete and not self.dest:
            raise ValueError("PLUGIN_DEST: must not be empty or / when PLUGIN_DELETE is true "
                             "(that would sync the whole bucket)")
        if not (100 * 1024 <= self.part_size <= 5 * 1024 ** 3):
            raise ValueError("PLUGIN_PART_SIZE: must be between 100KiB and 5GiB")
        if self.multipart_threshold < self.part_size:
            raise ValueError("PLUGIN_MULTIPART_THRESHOLD: must be at least PLUGIN_PART_SIZE")
        if self.cdn_refresh != "off" and not self.cdn_url:
            raise ValueError("PLUGIN_CDN_URL: required when PLUGIN_CDN_REFRESH is set (the CDN URL of the "
                             "bucket root, e.g. https://static.example.com)")
        return self

    @property
    def manifest_key(self) -> str:
        return f"{self.dest}/{MANIFEST_NAME}" if self.dest else MANIFEST_NAME
