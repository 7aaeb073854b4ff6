"""On-disk object store behind ``tagship oss-server``.

Layout under the data directory (one sub-directory per bucket)::

    <bucket>/bucket.json                       name, region, creation time
    <bucket>/objects/<hh>/<sha1(key)>.json     the object's metadata (key, size, etag, crc64, headers, data file)
    <bucket>/objects/<hh>/<sha1>.<rand>.data   the object's bytes
    <bucket>/uploads/<uploadId>/upload.json    an open multipart upload; part-<n>.json + part data beside it
    <bucket>/tmp/                              bodies being received (renamed into place when complete)

Every write goes to a temp file and is renamed into place; the metadata file, renamed last, is the commit.
An in-memory index (sorted key list + metadata) answers HEAD/LIST; one lock guards it and every rename.
Object bytes are streamed in and out outside the lock.
"""
from __future__ import annotations

import base64
import bisect
import hashlib
import json
import os
import re
import shutil
import threading
import time
import uuid
from pathlib import Path
from typing import BinaryIO

import crcmod

CRC64_POLY = 0x142F0E1EBA9EA3693  # CRC-64/ECMA-182 as OSS uses it: reflected, init and xor-out all ones
MIN_PART_SIZE = 100 * 1024
MAX_PART_NUMBER = 10000
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")  # OSS naming rule: 3-63 chars


def new_crc64() -> "crcmod.Crc":
    return crcmod.Crc(CRC64_POLY, initCrc=0, rev=True, xorOut=0xFFFFFFFFFFFFFFFF)


def crc64(data: bytes) -> int:
    c = new_crc64()
    c.update(data)
    return c.crcValue


class StoreError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: str):
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message, self.extra = status, code, message, extra


def _write_json(path: Path, obj: dict) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(json.dumps(obj, ensure_ascii=False, sort_keys=True))
    os.replace(tmp, path)


class Body:
    """A body being received into a temp file, hashed (MD5, CRC-64) on the way."""

    def __init__(self, path: Path):
        self.path = path
        self.file: BinaryIO = open(path, "wb")
        self.md5 = hashlib.md5()
        self.crc = new_crc64()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self.file.write(chunk)
        self.md5.update(chunk)
        self.crc.update(chunk)
        self.size += len(chunk)

    def close(self) -> None:
        if not self.file.closed:
            self.file.close()

    def discard(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)


class _Bucket:
    def __init__(self, name: str, root: Path, info: dict):
        self.name, self.root, self.info = name, root, info
        self.index: dict[str, dict] = {}
        self.keys: list[str] = []
        self.uploads: dict[str, dict] = {}


class Store:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self.buckets: dict[str, _Bucket] = {}
        for info_file in sorted(self.root.glob("*/bucket.json")):
            self._load_bucket(info_file.parent, json.loads(info_file.read_text()))

    # ------------------------------------------------------------ buckets
    def _load_bucket(self, path: Path, info: dict) -> None:
        b = _Bucket(info["name"], path, info)
        shutil.rmtree(path / "tmp", ignore_errors=True)
        (path / "tmp").mkdir(exist_ok=True)
        for meta_file in (path / "objects").glob("*/*.json"):
            meta = json.loads(meta_file.read_text())
            b.index[meta["key"]] = meta
        b.keys = sorted(b.index)
        for up_file in (path / "uploads").glob("*/upload.json"):
            up = json.loads(up_file.read_text())
            up["parts"] = {int(p["number"]): p for p in
                           (json.loads(f.read_text()) for f in up_file.parent.glob("part-*.json"))}
            b.uploads[up["upload_id"]] = up
        self.buckets[b.name] = b

    def create_bucket(self, name: str, region: str = "", acl: str = "private",
                      storage_class: str = "Standard") -> bool:
        if not BUCKET_NAME.fullmatch(name):
            raise StoreError(400, "InvalidBucketName", "The specified bucket is not valid.", BucketName=name)
        with self.lock:
            if name in self.buckets:
                return False
            path = self.root / name
            for sub in ("objects", "uploads", "tmp"):
                (path / sub).mkdir(parents=True, exist_ok=True)
            info = {"name": name, "region": region, "created": time.time(), "acl": acl,
                    "storage_class": storage_class}
            _write_json(path / "bucket.json", info)
            self._load_bucket(path, info)
            return True

    def delete_bucket(self, name: str) -> None:
        with self.lock:
            b = self.bucket(name)
            if b.index or b.uploads:
                raise StoreError(409, "BucketNotEmpty", "The bucket you tried to delete is not empty.", BucketName=name)
            del self.buckets[name]
            gone = b.root.with_name(f".deleted-{name}-{uuid.uuid4().hex[:8]}")
            os.replace(b.root, gone)
        shutil.rmtree(gone, ignore_errors=True)

    def bucket(self, name: str) -> _Bucket:
        b = self.buckets.get(name)
        if b is None:
            raise StoreError(404, "NoSuchBucket", "The specified bucket does not exist.", BucketName=name)
        return b

    def bucket_names(self) -> list[str]:
        with self.lock:
            return sorted(self.buckets)

    # ------------------------------------------------------------ objects
    def new_body(self, bucket: str) -> Body:
        return Body(self.bucket(bucket).root / "tmp" / uuid.uuid4().hex)

    def _paths(self, b: _Bucket, key: str) -> tuple[Path, str]:
        h = hashlib.sha1(key.encode("utf-8", "surrogatepass")).hexdigest()
        d = b.root / "objects" / h[:2]
        d.mkdir(exist_ok=True)
        return d / f"{h}.json", h

    def commit(self, bucket: str, key: str, body: Body, meta: dict, forbid_overwrite: bool = False) -> dict:
        """Make ``body`` the object ``key`` with ``meta`` (headers etc.); size, etag, crc64 are filled in."""
        body.close()
        b = self.bucket(bucket)
        meta = dict(meta, key=key, size=body.size, crc64=str(body.crc.crcValue),
                    last_modified=time.time())
        meta.setdefault("etag", body.md5.hexdigest().upper())
        meta.setdefault("type", "Normal")
        old = None
        try:
            with self.lock:
                if forbid_overwrite and key in b.index:
                    raise StoreError(409, "FileAlreadyExists", "The object you specified already exists and can "
                                     "not be overwritten.")
                meta_path, h = self._paths(b, key)
                meta["data"] = f"{h}.{uuid.uuid4().hex[:12]}.data"
                os.replace(body.path, meta_path.parent / meta["data"])
                _write_json(meta_path, meta)
                old = b.index.get(key)
                if old is None:
                    bisect.insort(b.keys, key)
                b.index[key] = meta
        finally:
            body.discard()
        if old is not None:
            (meta_path.parent / old["data"]).unlink(missing_ok=True)
        return meta

    def head(self, bucket: str, key: str) -> dict:
        with self.lock:
            meta = self.bucket(bucket).index.get(key)
        if meta is None:
            raise StoreError(404, "NoSuchKey", "The specified key does not exist.", Key=key)
        return meta

    def open(self, bucket: str, key: str) -> tuple[dict, BinaryIO]:
        with self.lock:
            b = self.bucket(bucket)
            meta = self.head(bucket, key)
            return meta, open(self._paths(b, key)[0].parent / meta["data"], "rb")

    def update(self, bucket: str, key: str, **changes) -> dict:
        """Change stored metadata (e.g. ``acl``) without touching the bytes."""
        with self.lock:
            b = self.bucket(bucket)
            meta = dict(self.head(bucket, key), **changes)
            _write_json(self._paths(b, key)[0], meta)
            b.index[key] = meta
            return meta

    def delete(self, bucket: str, key: str) -> bool:
        with self.lock:
            b = self.bucket(bucket)
            meta = b.index.pop(key, None)
            if meta is None:
                return False
            del b.keys[bisect.bisect_left(b.keys, key)]
            meta_path, _ = self._paths(b, key)
            meta_path.unlink(missing_ok=True)
        (meta_path.parent / meta["data"]).unlink(missing_ok=True)
        return True

    def list_page(self, bucket: str, prefix: str = "", delimiter: str = "", after: str = "",
                  max_keys: int = 100, skip_prefix: bool = False) -> tuple[list[dict], list[str], str]:
        """One page of a listing: (objects, common prefixes, next marker or '' when not truncated).

        ``after`` excludes itself and everything before; with ``skip_prefix`` (continuing after a common
        prefix) every key under ``after`` is skipped too.
        """
        with self.lock:
            b = self.bucket(bucket)
            keys, index = b.keys, b.index
            start = max(prefix, after)
            i = bisect.bisect_right(keys, start) if after and after >= prefix else bisect.bisect_left(keys, start)
            if skip_prefix and after:
                i = bisect.bisect_left(keys, after + "\U0010ffff", lo=i)
            objects: list[dict] = []
            prefixes: list[str] = []
            last = ""
            while i < len(keys) and keys[i].startswith(prefix):
                if len(objects) + len(prefixes) >= max_keys:
                    return objects, prefixes, last
                key = keys[i]
                cut = key.find(delimiter, len(prefix)) if delimiter else -1
                if cut >= 0:
                    cp = key[:cut + len(delimiter)]
                    prefixes.append(cp)
                    last = cp
                    i = bisect.bisect_left(keys, cp + "\U0010ffff", lo=i)
                else:
                    objects.append(index[key])
                    last = key
                    i += 1
            return objects, prefixes, ""

    # ------------------------------------------------------------ multipart
    def init_upload(self, bucket: str, key: str, meta: dict) -> str:
        b = self.bucket(bucket)
        upload_id = uuid.uuid4().hex.upper()
        d = b.root / "uploads" / upload_id
        d.mkdir(parents=True)
        up = {"upload_id": upload_id, "key": key, "meta": meta, "initiated": time.time()}
        _write_json(d / "upload.json", up)
        with self.lock:
            b.uploads[upload_id] = dict(up, parts={})
        return upload_id

    def upload(self, bucket: str, key: str, upload_id: str) -> dict:
        with self.lock:
            up = self.bucket(bucket).uploads.get(upload_id)
        if up is None or up["key"] != key:
            raise StoreError(404, "NoSuchUpload", "The specified upload does not exist. The upload ID may be "
                             "invalid, or the upload may have been aborted or completed.", UploadId=upload_id)
        return up

    def put_part(self, bucket: str, key: str, upload_id: str, number: int, body: Body) -> dict:
        body.close()
        try:
            if not 1 <= number <= MAX_PART_NUMBER:
                raise StoreError(400, "InvalidArgument", "Part number must be an integer between 1 and 10000, "
                                 "inclusive.", ArgumentName="partNumber", ArgumentValue=str(number))
            b = self.bucket(bucket)
            with self.lock:
                up = self.upload(bucket, key, upload_id)
                d = b.root / "uploads" / upload_id
                part = {"number": number, "size": body.size, "etag": body.md5.hexdigest().upper(),
                        "md5": body.md5.hexdigest(), "crc64": str(body.crc.crcValue),
                        "last_modified": time.time(), "data": f"part-{number:05d}.{uuid.uuid4().hex[:8]}.data"}
                os.replace(body.path, d / part["data"])
                _write_json(d / f"part-{number:05d}.json", part)
                old = up["parts"].get(number)
                up["parts"][number] = part
        finally:
            body.discard()
        if old is not None:
            (d / old["data"]).unlink(missing_ok=True)
        return part

    def complete(self, bucket: str, key: str, upload_id: str, wanted: list[tuple[int, str]],
                 forbid_overwrite: bool = False) -> dict:
        """Join the listed parts ((number, etag) in order) into the object; the upload then disappears."""
        b = self.bucket(bucket)
        up = self.upload(bucket, key, upload_id)
        if not wanted:
            raise StoreError(400, "MalformedXML", "The XML you provided was not well-formed or did not validate "
                             "against our published schema.")
        numbers = [n for n, _ in wanted]
        if numbers != sorted(numbers) or len(set(numbers)) != len(numbers):
            raise StoreError(400, "InvalidPartOrder", "The list of parts was not in ascending order. The parts "
                             "list must be specified in order by part number.")
        parts = []
        for pos, (number, etag) in enumerate(wanted):
            part = up["parts"].get(number)
            if part is None or part["etag"] != etag.strip('"').upper():
                raise StoreError(400, "InvalidPart", "One or more of the specified parts could not be found or the "
                                 "specified entity tag might not have matched the part's entity tag.",
                                 PartNumber=str(number), ETag=etag)
            if pos < len(wanted) - 1 and part["size"] < MIN_PART_SIZE:
                raise StoreError(400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed "
                                 "size.", PartNumber=str(number), MinSizeAllowed=str(MIN_PART_SIZE))
            parts.append(part)
        d = b.root / "uploads" / upload_id
        body = self.new_body(bucket)
        for part in parts:
            with open(d / part["data"], "rb") as f:
                while chunk := f.read(1 << 20):
                    body.write(chunk)
        joined = hashlib.md5(b"".join(bytes.fromhex(p["md5"]) for p in parts)).hexdigest().upper()
        meta = dict(up["meta"], etag=f"{joined}-{len(parts)}", type="Multipart")
        result = self.commit(bucket, key, body, meta, forbid_overwrite)
        self.abort(bucket, key, upload_id)
        return result

    def abort(self, bucket: str, key: str, upload_id: str) -> None:
        b = self.bucket(bucket)
        with self.lock:
            self.upload(bucket, key, upload_id)
            del b.uploads[upload_id]
        shutil.rmtree(b.root / "uploads" / upload_id, ignore_errors=True)


def encode_token(marker: str, is_prefix: bool) -> str:
    raw = ("p" if is_prefix else "k") + marker
    return base64.urlsafe_b64encode(raw.encode("utf-8", "surrogatepass")).decode().rstrip("=")


def decode_token(token: str) -> tuple[str, bool]:
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("utf-8", "surrogatepass")
    if not raw or raw[0] not in "pk":
        raise ValueError(token)
    return raw[1:], raw[0] == "p"
