"""After a successful publish: abort the stale multipart uploads under dest that nothing can finish.

A killed run leaves its upload's parts on the bucket (billed as storage) with the checkpoint in a workspace
that Drone usually throws away. An upload under dest is aborted only when all of these hold:
- no checkpoint in this workspace names it (a rerun here would resume it), and this run did not start it;
- it was not active since this run started (initiated, or a part uploaded): a concurrent run's upload is safe;
- it has been idle for ``stale_upload_age`` or longer.
Times are the server's (``Initiated``, parts' ``LastModified`` and the answer's ``Date``), so a skewed local
clock cannot make a live upload look old.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Iterable

import oss2

from tagship import log

from . import multipart


@dataclass(frozen=True)
class Upload:
    key: str
    upload_id: str
    last_active: float   # server time: the latest of Initiated and every part's LastModified


def stale(uploads: Iterable[Upload], protected: set[str], run_started: float, now: float, age: float) -> list[Upload]:
    """The uploads to abort (pure): not protected, idle since before the run started, idle ``age`` or longer."""
    return [u for u in uploads
            if u.upload_id not in protected and u.last_active < run_started and now - u.last_active >= age]


def _server_now(result: Any) -> float:
    try:
        return parsedate_to_datetime(result.headers["date"]).timestamp()
    except (KeyError, TypeError, ValueError):
        return time.time()


def abort_stale(rem: Any, workspace: Path, prefix: str, own: set[str], elapsed: float, age: float) -> int:
    """List this prefix's multipart uploads, abort the stale ones; returns how many were aborted. A failure here
    (say, a RAM policy without ListMultipartUploads) is a warning: the publish itself has succeeded."""
    try:
        return _abort_stale(rem, workspace, prefix, own, elapsed, age)
    except oss2.exceptions.OssError as exc:
        log.warn(f"stale multipart uploads under {prefix or '/'} were not cleaned up: {exc.__class__.__name__} "
                 f"{getattr(exc, 'code', '')} (set abort_stale_uploads: false to skip this step)")
        return 0


def _abort_stale(rem: Any, workspace: Path, prefix: str, own: set[str], elapsed: float, age: float) -> int:
    s = rem.settings
    found: list[tuple[str, str, float]] = []
    key_marker = id_marker = ""
    now = None
    while True:
        page = rem.request("ListMultipartUploads", f"list multipart uploads under {prefix or '/'}",
                           rem.bucket.list_multipart_uploads, prefix=prefix, key_marker=key_marker,
                           upload_id_marker=id_marker, max_uploads=1000)
        now = now if now is not None else _server_now(page)
        found += [(u.key, u.upload_id, float(u.initiation_date)) for u in page.upload_list]
        if not page.is_truncated:
            break
        key_marker, id_marker = page.next_key_marker, page.next_upload_id_marker
    run_started = now - elapsed - 1   # the Date header has one-second resolution
    protected = own | multipart.checkpointed_uploads(workspace, s.bucket)
    candidates = [(k, u, t) for k, u, t in found if u not in protected and t < run_started and now - t >= age]
    uploads = []
    for key, upload_id, initiated in candidates:   # parts are listed only for uploads that may be aborted
        parts = multipart.list_parts(rem, key, upload_id)
        last = max([initiated] + [float(p.last_modified) for p in parts if p.last_modified])
        uploads.append(Upload(key, upload_id, last))
    aborted = 0
    for u in stale(uploads, protected, run_started, now, age):
        try:
            rem.request("AbortMultipartUpload", f"abort stale upload of {u.key}", rem.bucket.abort_multipart_upload,
                        u.key, u.upload_id)
            aborted += 1
            log.info(f"aborted a stale multipart upload of {u.key} (idle {now - u.last_active:.0f}s, "
                     f"no checkpoint here resumes it)")
        except oss2.exceptions.OssError as exc:   # already gone, or not ours to abort: the publish stands
            log.warn(f"{u.key}: could not abort stale multipart upload {u.upload_id}: {exc.__class__.__name__}")
    kept = len(found) - aborted
    if found:
        log.info(f"multipart uploads under {prefix or '/'}: {aborted} stale aborted, {kept} kept")
    return aborted
