"""Resumable multipart upload for big files, with its checkpoint in the workspace.

A checkpoint (``.tagship/oss-checkpoints/<hash>.json``) records the upload id and every part that finished
(number, ETag, CRC64, size). A retried Drone step finds it, asks the server which parts it holds
(ListParts), and sends only the rest. Parts are independent tasks, so they share the run's thread pool
with the small files.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import oss2

from tagship import log
from tagship.paths import state_dir

from .plan import LocalFile
from .remote import Remote

CHECKPOINT_DIR = Path(".tagship") / "oss-checkpoints"
MAX_PARTS = 10_000


@dataclass
class Job:
    file: LocalFile
    bucket: str
    upload_id: str
    part_size: int
    checkpoint: Path
    headers: dict[str, str]
    parts: dict[int, dict] = field(default_factory=dict)   # number -> {etag, crc, size}
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    resumed: int = 0
    completing: bool = False

    @property
    def count(self) -> int:
        return max(1, -(-self.file.size // self.part_size))

    def claim_completion(self) -> bool:
        """True once, for the caller that should complete the upload (all parts sent)."""
        with self.lock:
            if self.completing or self.missing():
                return False
            self.completing = True
            return True

    def missing(self) -> list[int]:
        return [n for n in range(1, self.count + 1) if n not in self.parts]

    def span(self, number: int) -> tuple[int, int]:
        start = (number - 1) * self.part_size
        return start, min(self.part_size, self.file.size - start)

    def save(self) -> None:
        data = {"bucket": self.bucket, "key": self.file.key, "md5": self.file.md5,
                "size": self.file.size, "part_size": self.part_size, "upload_id": self.upload_id,
                "digest": self.file.digest, "parts": {str(n): p for n, p in sorted(self.parts.items())}}
        tmp = self.checkpoint.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self.checkpoint)


def checkpoint_path(workspace: Path, bucket: str, key: str) -> Path:
    name = hashlib.sha1(f"{bucket}\n{key}".encode()).hexdigest()
    return state_dir(workspace, create=False) / CHECKPOINT_DIR.name / f"{name}.json"


def _load(remote: Remote, path: Path, f: LocalFile, part_size: int) -> dict | None:
    """The checkpoint of this very file; one for other content is dropped and its upload aborted."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    same = (data.get("bucket"), data.get("key"), data.get("md5"), data.get("size"), data.get("part_size"),
            data.get("digest")) == (remote.settings.bucket, f.key, f.md5, f.size, part_size, f.digest)
    if same:
        return data
    log.note(f"{f.key}: the file changed since the interrupted upload; starting again")
    try:
        remote.request("AbortMultipartUpload", f"abort old upload of {f.key}", remote.bucket.abort_multipart_upload,
                       f.key, data.get("upload_id", ""))
    except oss2.exceptions.OssError:
        pass  # already gone, or the bucket's lifecycle rule will clean it up
    return None


def prepare(remote: Remote, workspace: Path, f: LocalFile, forbid: bool) -> Job:
    """Resume the upload a checkpoint records (keeping only the parts the server still holds), or start one."""
    s = remote.settings
    path = checkpoint_path(workspace, s.bucket, f.key)
    path.parent.mkdir(parents=True, exist_ok=True)
    headers = dict(f.headers)
    headers["x-oss-meta-md5"] = f.md5
    if forbid:
        headers["x-oss-forbid-overwrite"] = "true"
    part_size = max(int(s.part_size), -(-f.size // MAX_PARTS))   # OSS takes at most 10,000 parts
    saved = _load(remote, path, f, part_size)
    if saved:
        try:
            listed = _list_parts(remote, f.key, saved["upload_id"])
            job = Job(f, s.bucket, saved["upload_id"], part_size, path, headers)
            for n, p in saved["parts"].items():
                if listed.get(int(n)) == p["etag"]:
                    job.parts[int(n)] = p
            job.resumed = len(job.parts)
            log.info(f"{f.key}: resuming multipart upload, {job.resumed}/{job.count} parts already sent")
            job.save()
            return job
        except oss2.exceptions.NoSuchUpload:
            log.note(f"{f.key}: the recorded multipart upload is gone; starting again")
    init_headers = {k: v for k, v in headers.items() if k != "Content-MD5"}
    result = remote.request("InitiateMultipartUpload", f"start multipart {f.key}",
                            remote.bucket.init_multipart_upload, f.key, headers=init_headers)
    job = Job(f, s.bucket, result.upload_id, part_size, path, headers)
    job.save()
    return job


def _list_parts(remote: Remote, key: str, upload_id: str) -> dict[int, str]:
    return {p.part_number: p.etag.strip('"').upper() for p in list_parts(remote, key, upload_id)}


def list_parts(remote: Remote, key: str, upload_id: str) -> list[Any]:
    """Every part the server holds for an upload (ListParts pages of 1000): oss2 PartInfo objects."""
    out: list[Any] = []
    marker = ""
    while True:
        page = remote.request("ListParts", f"list parts {key}", remote.bucket.list_parts, key, upload_id,
                              marker=marker, max_parts=1000)
        out.extend(page.parts)
        if not page.is_truncated:
            return out
        marker = page.next_marker


def checkpointed_uploads(workspace: Path, bucket: str) -> set[str]:
    """The upload IDs the checkpoints in this workspace can resume."""
    ids = set()
    for path in (workspace / CHECKPOINT_DIR).glob("*.json"):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("bucket") == bucket and data.get("upload_id"):
            ids.add(str(data["upload_id"]))
    return ids


def upload_part(remote: Remote, job: Job, number: int) -> int:
    """Send one part with Content-MD5; record it in the checkpoint. Returns the bytes sent."""
    start, length = job.span(number)
    with open(job.file.path, "rb") as fh:
        fh.seek(start)
        data = fh.read(length)
    md5 = hashlib.md5(data)
    headers = {"Content-MD5": base64.b64encode(md5.digest()).decode()}
    what = f"PUT {job.file.key} part {number}/{job.count}"

    def once() -> Any:
        result = remote.bucket.upload_part(job.file.key, job.upload_id, number, data, headers=headers)
        remote.check_crc(result, what)
        return result

    result = remote.request("UploadPart", what, once)
    etag = result.etag.strip('"').upper()
    with job.lock:
        job.parts[number] = {"etag": etag, "crc": result.crc, "size": length}
        job.save()
    return length


def complete(remote: Remote, job: Job) -> str:
    """Complete the upload (CRC64 of the whole object checked against the parts'); returns the ETag."""
    parts = [oss2.models.PartInfo(n, p["etag"], size=p["size"], part_crc=p.get("crc"))
             for n, p in sorted(job.parts.items())]
    headers = {"x-oss-forbid-overwrite": "true"} if job.headers.get("x-oss-forbid-overwrite") else {}
    tries = [0]
    what = f"complete multipart {job.file.key}"

    def once() -> Any:
        tries[0] += 1
        try:
            result = remote.bucket.complete_multipart_upload(job.file.key, job.upload_id, parts, headers=headers)
        except oss2.exceptions.NoSuchUpload:
            # an earlier try completed it and its answer was lost: fine if the object is ours
            if tries[0] > 1 and remote.head_md5(job.file.key) == job.file.md5:
                return None
            raise
        remote.check_crc(result, what)
        return result

    result = remote.request("CompleteMultipartUpload", what, once)
    job.checkpoint.unlink(missing_ok=True)
    if result is None or not result.etag:
        return ""
    return result.etag.strip('"').upper()


def left_for_resume(job: Job) -> None:
    """Nothing is aborted on failure, on purpose: the checkpoint lets the next run resume."""
    log.note(f"{job.file.key}: {len(job.parts)}/{job.count} parts sent; a rerun resumes from "
             f"{CHECKPOINT_DIR / job.checkpoint.name}")
