"""Pure decisions of oss-push: globs, keys, headers, the diff of local files against the remote listing,
the delete guard and the manifest. No I/O here; table-tested in tests/unit/test_oss_push_plan.py.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import posixpath
import re
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

from .settings import MANIFEST_NAME, HeaderRule

ALWAYS_EXCLUDED = (".git/**", ".tagship/**", MANIFEST_NAME)
IMMUTABLE = "public, max-age=31536000, immutable"
DELETE_BATCH = 1000  # DeleteMultipleObjects takes at most 1000 keys
MAX_KEY_BYTES = 1023


# ── globs ────────────────────────────────────────────────────────────────────────────────────────────

def glob_regex(pattern: str) -> re.Pattern[str]:
    """A glob as a regex over a '/'-separated relative path: ``*`` and ``?`` stay inside one segment,
    ``**`` spans segments (``a/**/b`` matches ``a/b``), ``[...]`` is a class. A pattern without ``/``
    matches the file name at any depth (``*.html`` matches ``a/b/index.html``), as .gitignore does."""
    pat = pattern.strip().lstrip("/")
    if "/" not in pat:
        pat = "**/" + pat
    out, i = [], 0
    while i < len(pat):
        c = pat[i]
        if pat.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pat.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            end = pat.find("]", i + 2 if pat[i + 1:i + 2] in ("!", "^") else i + 1)
            if end < 0:
                out.append(re.escape(c))
                i += 1
            else:
                body = pat[i + 1:end]
                if body[:1] in ("!", "^"):
                    body = "^" + body[1:]
                out.append(f"[{body.replace(chr(92), chr(92) * 2)}]")
                i = end + 1
        else:
            out.append(re.escape(c))
            i += 1
    return re.compile("".join(out) + r"\Z")


class Globs:
    """A list of globs; ``match(rel)`` is true when any matches."""

    def __init__(self, patterns: Iterable[str]):
        self.patterns = [p for p in patterns if p.strip()]
        self._res = [glob_regex(p) for p in self.patterns]

    def match(self, rel: str) -> bool:
        return any(r.match(rel) for r in self._res)

    def __bool__(self) -> bool:
        return bool(self._res)


def selected(rel: str, include: Globs, exclude: Globs) -> bool:
    if Globs(ALWAYS_EXCLUDED).match(rel) or exclude.match(rel):
        return False
    return not include or include.match(rel)


# ── keys ─────────────────────────────────────────────────────────────────────────────────────────────

def object_key(dest: str, rel: str) -> str:
    """The OSS key of a file: ``dest/rel`` with '/' separators, no leading '/', no '.'/'..' segments."""
    parts = rel.replace("\\", "/").split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"{rel!r}: a path with empty, '.' or '..' segments cannot be an object key")
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{rel.encode('utf-8', 'surrogateescape')!r}: the file name is not valid UTF-8") from None
    if any(ord(ch) < 32 for ch in rel):
        raise ValueError(f"{rel!r}: control characters cannot be in an object key")
    key = f"{dest}/{rel}" if dest else rel
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise ValueError(f"{key[:60]!r}…: an object key is at most {MAX_KEY_BYTES} bytes")
    return key


def relative(dest: str, key: str) -> str:
    return key[len(dest) + 1:] if dest else key


# ── headers ──────────────────────────────────────────────────────────────────────────────────────────

_HASHED = re.compile(r"^.+[.-](?=[0-9a-f]*[0-9])[0-9a-f]{8,64}(?:\.[A-Za-z0-9]+)+\Z")
_TYPES = mimetypes.MimeTypes()  # the built-in table only: the same answer on every machine
for _ext, _type in ((".js", "application/javascript"), (".mjs", "application/javascript"),
                    (".map", "application/json"), (".woff2", "font/woff2"), (".woff", "font/woff"),
                    (".webp", "image/webp"), (".wasm", "application/wasm"), (".avif", "image/avif"),
                    (".webmanifest", "application/manifest+json"), (".ico", "image/x-icon")):
    _TYPES.add_type(_type, _ext)
_CHARSET = ("text/", "application/javascript", "application/json", "application/manifest+json")


def is_hashed(rel: str) -> bool:
    """``app.3f9a1c2b.js``, Django's ``base.3f9a1c2b4d5e.css``, ``chunk-0a1b2c3d.js``: content-hashed names."""
    return bool(_HASHED.match(posixpath.basename(rel)))


def default_rules() -> list[HeaderRule]:
    return [HeaderRule(glob="*.html", cache_control="no-cache"), HeaderRule(glob="*.htm", cache_control="no-cache")]


def content_type(rel: str) -> str:
    kind = _TYPES.guess_type(rel, strict=False)[0] or "application/octet-stream"
    return f"{kind}; charset=utf-8" if kind.startswith(_CHARSET) else kind


def headers_for(rel: str, rules: Sequence[HeaderRule], *, defaults: bool = True, gzipped: bool = False,
                acl: str | None = None, storage_class: str | None = None) -> dict[str, str]:
    """The headers an object is stored with. For each header the first rule that matches and sets it wins
    (user rules first, then the defaults); Content-Type falls back to the file extension."""
    chosen: dict[str, str] = {}
    meta: dict[str, str] = {}
    ordered = list(rules) + (default_rules() if defaults else [])
    names = (("cache_control", "Cache-Control"), ("content_type", "Content-Type"),
             ("content_encoding", "Content-Encoding"), ("content_disposition", "Content-Disposition"))
    for rule in ordered:
        if not glob_regex(rule.glob).match(rel):
            continue
        for attr, header in names:
            value = getattr(rule, attr)
            if value is not None and header not in chosen:
                chosen[header] = value
        for k, v in rule.meta.items():
            meta.setdefault(k, v)
    if defaults and "Cache-Control" not in chosen and is_hashed(rel):
        chosen["Cache-Control"] = IMMUTABLE
    chosen.setdefault("Content-Type", content_type(rel))
    if gzipped:
        chosen["Content-Encoding"] = "gzip"
    out = {h: chosen[h] for _, h in names if chosen.get(h)}
    out.update({f"x-oss-meta-{k}": v for k, v in sorted(meta.items())})
    if acl:
        out["x-oss-object-acl"] = acl
    if storage_class:
        out["x-oss-storage-class"] = storage_class
    return out


def headers_digest(headers: dict[str, str]) -> str:
    text = json.dumps(sorted((k.lower(), v) for k, v in headers.items()), ensure_ascii=False)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


# ── signing ──────────────────────────────────────────────────────────────────────────────────────────

# oss-cn-shanghai.aliyuncs.com, oss-cn-shanghai-internal.aliyuncs.com, <bucket>.oss-…; the dual-stack
# cn-shanghai.oss.aliyuncs.com. A region is letters, '-', then more (cn-shanghai-finance-1, rg-china-mainland);
# the global acceleration endpoints (oss-accelerate[-overseas]) name none.
_OSS_HOSTS = (re.compile(r"(?:[a-z0-9-]+\.)?oss-(?P<region>[a-z]{2,}-[a-z0-9-]+?)(?:-internal)?\.aliyuncs\.com"),
              re.compile(r"(?:[a-z0-9-]+\.)?(?P<region>[a-z]{2,}-[a-z0-9-]+?)\.oss\.aliyuncs\.com"))


def endpoint_region(endpoint: str) -> str | None:
    """The region an Aliyun OSS endpoint names (``https://oss-cn-shanghai.aliyuncs.com`` → ``cn-shanghai``);
    None for other hosts (a local endpoint, a CNAME, the acceleration endpoints)."""
    from urllib.parse import urlsplit

    try:
        host = urlsplit(endpoint if "://" in endpoint else "https://" + endpoint).hostname or ""
    except ValueError:
        return None
    host = host.lower().rstrip(".")
    for pattern in _OSS_HOSTS:
        m = pattern.fullmatch(host)
        if m and not m["region"].startswith("accelerate"):
            return m["region"]
    return None


@dataclass(frozen=True)
class Signing:
    version: str            # "v1" or "v4"
    region: str | None      # the V4 scope (None with V1)
    note: str               # said after "signing V4 " in the log
    warning: str = ""       # a set region the endpoint contradicts

    @property
    def line(self) -> str:
        return f"signing {self.version.upper()} ({self.note})"


def signing(signature: str, region: str | None, endpoint: str) -> Signing:
    """How requests are signed. ``auto``: V4 when ``region`` is set or the endpoint names one, else V1;
    ``v4`` without either raises ValueError naming PLUGIN_REGION; ``v1`` always V1."""
    named = endpoint_region(endpoint)
    warning = (f"region {region} is set but the endpoint is in {named}; signing for {region}"
               if region and named and region != named else "")
    if signature == "v1":
        return Signing("v1", None, "signature: v1")
    if region:
        return Signing("v4", region, f"region {region}", warning)
    if named:
        return Signing("v4", named, f"region {named} from the endpoint")
    if signature == "v4":
        raise ValueError(f"PLUGIN_REGION: required with PLUGIN_SIGNATURE=v4, as the endpoint {endpoint} names no "
                         f"region (V4 signatures are scoped to one, e.g. cn-hangzhou)")
    return Signing("v1", None, "set region for V4, which Aliyun recommends")


# ── the diff ─────────────────────────────────────────────────────────────────────────────────────────

@dataclass
class LocalFile:
    rel: str                  # path relative to source, '/'-separated
    key: str                  # object key
    path: str                 # absolute local path
    size: int                 # bytes stored (compressed size when gzipped)
    md5: str                  # hex md5 of the bytes stored ("" until hashed)
    headers: dict[str, str]
    gzipped: bool = False
    multipart: bool = False
    source_md5: str = ""      # gzipped: MD5 of the uncompressed file (another zlib may compress differently)

    @property
    def digest(self) -> str:
        return headers_digest(self.headers)


@dataclass
class RemoteObject:
    key: str
    size: int
    etag: str                 # as listed, without quotes, upper-case
    md5: str | None = None    # hex md5 when known (simple upload: the ETag; multipart: x-oss-meta-md5)

    @property
    def multipart(self) -> bool:
        return "-" in self.etag


def remote_object(key: str, size: int, etag: str) -> RemoteObject:
    etag = etag.strip('"').upper()
    return RemoteObject(key, size, etag, None if "-" in etag else etag.lower())


@dataclass
class Plan:
    upload: list[LocalFile] = field(default_factory=list)      # new keys
    replace: list[LocalFile] = field(default_factory=list)     # existing keys with other content/headers
    skip: list[LocalFile] = field(default_factory=list)        # identical
    conflict: list[tuple[LocalFile, str]] = field(default_factory=list)  # overwrite=false and different
    stale_headers: list[LocalFile] = field(default_factory=list)  # same bytes, other headers, overwrite=false
    delete: list[str] = field(default_factory=list)            # remote keys not in source (delete=true)
    keep: list[str] = field(default_factory=list)              # remote keys not in source (delete=false)

    @property
    def transfers(self) -> list[LocalFile]:
        return self.upload + self.replace

    @property
    def changes(self) -> bool:
        return bool(self.upload or self.replace or self.delete)

    @property
    def bytes(self) -> int:
        return sum(f.size for f in self.transfers)


def manifest_entry(remote: RemoteObject, manifest_files: dict) -> dict | None:
    """The previous manifest's record for an object, if it still describes the object as listed."""
    entry = manifest_files.get(remote.key)
    if isinstance(entry, dict) and str(entry.get("etag", "")).upper() == remote.etag:
        return entry
    return None


def needs_head(local: Iterable[LocalFile], remote: dict[str, RemoteObject], manifest_files: dict) -> list[str]:
    """Multipart objects whose MD5 neither the listing nor the previous manifest tells: one HEAD each."""
    out = []
    for f in local:
        r = remote.get(f.key)
        if r is not None and r.md5 is None and r.size == f.size:
            entry = manifest_entry(r, manifest_files)
            if entry and entry.get("md5"):
                r.md5 = str(entry["md5"]).lower()
            else:
                out.append(f.key)
    return out


def diff(local: Sequence[LocalFile], remote: dict[str, RemoteObject], *, manifest_files: dict | None = None,
         overwrite: bool = False, delete: bool = False, manifest_key: str = "", dest: str = "",
         in_scope: Callable[[str], bool] = lambda rel: True) -> Plan:
    """Sort every file into upload/replace/skip/conflict. Remote keys not in source are deleted (``delete``)
    only when ``in_scope`` (include/exclude) would have published them: an excluded path is never deleted."""
    manifest_files = manifest_files or {}
    plan = Plan()
    seen = set()
    for f in sorted(local, key=lambda f: f.key):
        seen.add(f.key)
        r = remote.get(f.key)
        if r is None:
            plan.upload.append(f)
            continue
        same_bytes = r.size == f.size and r.md5 is not None and r.md5 == f.md5
        entry = manifest_entry(r, manifest_files)
        if not same_bytes and f.gzipped and entry and entry.get("src") == f.source_md5:
            same_bytes = True   # the same file, gzipped by another zlib: what is stored is still right
        same_headers = entry is None or entry.get("h") in (None, f.digest)
        if same_bytes and same_headers:
            plan.skip.append(f)
        elif same_bytes and not overwrite:
            plan.stale_headers.append(f)
            plan.skip.append(f)
        elif overwrite:
            plan.replace.append(f)
        else:
            why = f"size {r.size} vs {f.size}" if r.size != f.size else "content differs (MD5)"
            plan.conflict.append((f, why))
    extra = sorted(k for k in remote if k not in seen and k != manifest_key)
    if delete:
        plan.delete = [k for k in extra if in_scope(relative(dest, k))]
        plan.keep = [k for k in extra if not in_scope(relative(dest, k))]
    else:
        plan.keep = extra
    return plan


def delete_limit(delete_max: str, remote_count: int) -> int:
    """How many deletions ``delete_max`` allows: a count, or a percentage of the objects under dest."""
    text = delete_max.strip()
    if text.endswith("%"):
        return int(remote_count * float(text[:-1]) / 100)
    return int(text)


def batches(items: Sequence[str], size: int = DELETE_BATCH) -> list[list[str]]:
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


def manifest_files(local: Iterable[LocalFile], etags: dict[str, str]) -> dict[str, dict]:
    out = {}
    for f in sorted(local, key=lambda f: f.key):
        out[f.key] = {"size": f.size, "md5": f.md5, "etag": etags.get(f.key, f.md5.upper()), "h": f.digest}
        if f.source_md5:
            out[f.key]["src"] = f.source_md5
    return out


def manifest_up_to_date(old: dict | None, files: dict[str, dict]) -> bool:
    return isinstance(old, dict) and old.get("files") == files


def build_manifest(*, bucket: str, dest: str, files: dict[str, dict], version: str | None, commit: str | None,
                   build: str | None, repo: str | None, time: str) -> dict:
    return {"tool": "tagship oss-push", "bucket": bucket, "dest": dest, "version": version, "commit": commit,
            "build": build, "repo": repo, "time": time, "count": len(files),
            "bytes": sum(f["size"] for f in files.values()), "files": files}


def cdn_paths(base_url: str, keys: Iterable[str]) -> list[str]:
    from urllib.parse import quote

    base = base_url.rstrip("/")
    return [f"{base}/{quote(k, safe='/-_.~')}" for k in keys]
