"""oss-push, end to end: scan → list → plan → (dry run stops) → upload → verify → delete → manifest → CDN."""

from __future__ import annotations

import json
import time
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from tagship import log
from tagship.errors import PluginError, SettingsError
from tagship.paths import confine
from tagship.retry import RetryStats

from . import local, multipart, plan
from .settings import Settings

SHOWN = 20  # plan lines per category outside a dry run / debug
CRC_HINT = ("Aliyun OSS sends it: check for a proxy between you and the endpoint; set verify: false to accept "
            "answers without it (uploads are then checked by Content-MD5 only)")


def _source(settings: Settings, workspace: Path) -> Path:
    root = confine(workspace, settings.source, "PLUGIN_SOURCE", allow=settings.allow_outside_workspace).resolve()
    if not root.is_dir():
        raise SettingsError(f"PLUGIN_SOURCE: {settings.source!r} is not a directory (under {workspace})")
    return root


def _print_plan(p: plan.Plan, full: bool) -> None:
    rows: list[tuple[str, object]] = [
        ("upload (new)", f"{len(p.upload)} files, {sum(f.size for f in p.upload):,} bytes"),
        ("replace", f"{len(p.replace)} files, {sum(f.size for f in p.replace):,} bytes"),
        ("skip (identical)", len(p.skip)), ("delete", len(p.delete)), ("keep (not in source)", len(p.keep))]
    if p.conflict:
        rows.append(("conflict", len(p.conflict)))
    log.table("plan", rows)
    for label, keys in (("upload", [f.key for f in p.upload]), ("replace", [f.key for f in p.replace]),
                        ("delete", p.delete)):
        limit = len(keys) if full else SHOWN
        for key in keys[:limit]:
            log.info(f"  {label:7} {key}")
        if len(keys) > limit:
            log.info(f"  {label:7} … and {len(keys) - limit} more (PLUGIN_DRY_RUN or PLUGIN_DEBUG lists all)")
    for f in p.stale_headers[:SHOWN]:
        log.warn(f"{f.key}: same content but other headers; kept (set overwrite: true to update headers)")


def push(settings: Settings, run: Any) -> dict[str, Any]:
    started = time.monotonic()
    try:   # not in the model: plan imports settings; checked before oss2 loads, like the model's checks
        sign = plan.signing(settings.signature, settings.region, settings.endpoint)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    from . import remote as remote_mod  # oss2 loads here, not at --help

    root = _source(settings, run.workspace)
    payloads: dict[str, bytes] = {}
    files = local.scan(settings, root, payloads)
    if not files:
        raise PluginError(f"no files to publish under {settings.source!r}",
                          hint="check PLUGIN_SOURCE (the seed calls it target) and PLUGIN_INCLUDE/PLUGIN_EXCLUDE")
    log.info(f"{len(files)} local files, {sum(f.size for f in files):,} bytes in {settings.source}; "
             f"{sign.line}")
    if sign.warning:
        log.warn(sign.warning)

    stats = RetryStats()
    rem = remote_mod.Remote(settings, stats)
    result = run.result   # filled as we go, so a failed run's JSON still says what happened
    result.update({"bucket": settings.bucket, "dest": settings.dest, "uploaded": 0, "replaced": 0, "skipped": 0,
                   "deleted": 0, "bytes": 0, "requests": 0, "retries": 0, "manifest": None, "aborted_uploads": 0,
                   "signing": sign.version, "region": sign.region})
    try:
        _publish(settings, run, rem, files, payloads, result, started)
    finally:
        result.update(requests=rem.requests, retries=stats.retries, requests_by_op=dict(rem.by_op))
        run.summary.extend([("uploaded", f"{result['uploaded']} ({result['replaced']} replaced), "
                                         f"{result['bytes']:,} bytes"),
                            ("skipped", result["skipped"]), ("deleted", result["deleted"]),
                            ("requests", f"{result['requests']} ({result['retries']} retries)"),
                            ("manifest", result["manifest"] or "not written"),
                            ("stale uploads aborted", result["aborted_uploads"])])
    return result


def _publish(settings: Settings, run: Any, rem: Any, files: list[plan.LocalFile], payloads: dict[str, bytes],
             result: dict[str, Any], started: float) -> None:
    from . import remote as remote_mod

    prefix = f"{settings.dest}/" if settings.dest else ""
    try:
        remote = rem.list(prefix)
        old_manifest = rem.get_json(settings.manifest_key) if settings.manifest_key in remote else None
        old_files = (old_manifest or {}).get("files") if isinstance(old_manifest, dict) else None
        old_files = old_files if isinstance(old_files, dict) else {}
        # MD5 is needed now only where a same-size object exists (the diff) and for big files (the checkpoint)
        local.ensure_md5([f for f in files if f.multipart or (f.key in remote and remote[f.key].size == f.size)])
        for key in plan.needs_head(files, remote, old_files):
            remote[key].md5 = rem.head_md5(key)
    except remote_mod.oss2.exceptions.OssError as exc:
        raise remote_mod.fail(f"listing oss://{settings.bucket}/{prefix}", exc) from None
    except remote_mod.CrcMissing as exc:
        raise PluginError(f"{exc}; nothing was changed", hint=CRC_HINT) from None

    include, exclude = plan.Globs(settings.include), plan.Globs(settings.exclude)
    p = plan.diff(files, remote, manifest_files=old_files, overwrite=settings.overwrite, delete=settings.delete,
                  manifest_key=settings.manifest_key, dest=settings.dest,
                  in_scope=lambda rel: plan.selected(rel, include, exclude))
    _print_plan(p, settings.dry_run or settings.debug)
    result["skipped"] = len(p.skip)
    if p.conflict:
        for f, why in p.conflict[:SHOWN]:
            log.error(f"{f.key}: exists with other content ({why})")
        raise PluginError(f"{len(p.conflict)} object(s) under oss://{settings.bucket}/{prefix} exist with other "
                          f"content and overwrite is false; nothing was changed",
                          hint="publish to a new version prefix, or set overwrite: true to replace them")
    if p.delete:
        limit = plan.delete_limit(settings.delete_max, len(remote))
        if len(p.delete) > limit:
            raise PluginError(f"refusing to delete {len(p.delete)} of {len(remote)} objects under "
                              f"oss://{settings.bucket}/{prefix}: more than delete_max {settings.delete_max} "
                              f"({limit}); nothing was changed",
                              hint="check that source holds the whole build; raise PLUGIN_DELETE_MAX if intended")
    if settings.dry_run:
        log.note("dry run: nothing was changed")
        result["planned"] = {"upload": len(p.upload), "replace": len(p.replace), "delete": len(p.delete),
                             "bytes": p.bytes}
        return

    etags = {f.key: remote[f.key].etag for f in p.skip}
    for f in p.skip:   # the manifest describes what is stored (a gzip from another zlib may differ)
        r = remote[f.key]
        if r.md5 and r.md5 != f.md5:
            f.md5, f.size = r.md5, r.size
    manifest_written = False
    own_uploads: set[str] = set()
    try:
        if p.changes and old_manifest is not None:
            run.pending = "the manifest (the prefix is marked incomplete while it changes)"
            rem.delete_key(settings.manifest_key)
        run.pending = f"{len(p.transfers)} uploads, then the manifest"
        etags.update(_upload(settings, run.workspace, rem, p.transfers, payloads, result, own_uploads))
        result["uploaded"], result["replaced"] = len(p.transfers), len(p.replace)
        if settings.verify and p.transfers:
            _verify(rem, prefix, p.transfers, etags)
        if p.delete:
            run.pending = f"deleting {len(p.delete)} objects, then the manifest"
            for batch in plan.batches(p.delete):
                result["deleted"] += len(rem.delete_keys(batch))
        mfiles = plan.manifest_files(files, etags)
        for f in p.stale_headers:   # not re-sent: the manifest keeps describing the headers stored
            mfiles[f.key]["h"] = old_files.get(f.key, {}).get("h")
        if p.changes or not plan.manifest_up_to_date(old_manifest, mfiles):
            run.pending = "the manifest"
            _write_manifest(settings, run, rem, mfiles)
            manifest_written = True
        run.pending = ""
        result["manifest"] = settings.manifest_key
    except remote_mod.oss2.exceptions.OssError as exc:
        raise remote_mod.fail("publishing", exc) from None
    except remote_mod.CrcMissing as exc:
        raise PluginError(f"{exc}; the manifest was not written", hint=CRC_HINT) from None
    if settings.abort_stale_uploads and (p.changes or manifest_written):
        # a killed run leaves this prefix without a current manifest, so the run after it always writes here;
        # a run that changed nothing costs no extra request
        from . import cleanup

        result["aborted_uploads"] = cleanup.abort_stale(rem, run.workspace, prefix, own_uploads,
                                                        time.monotonic() - started, settings.stale_upload_age)
    if settings.cdn_refresh != "off" and p.changes:
        from . import cdn

        result["cdn"] = cdn.refresh(settings, [f.key for f in p.transfers] + p.delete)
    log.ok(f"published {len(files)} files to oss://{settings.bucket}/{prefix} in "
           f"{time.monotonic() - started:.1f}s" + ("" if p.changes or manifest_written else " (already up to date)"))


def _upload(settings: Settings, workspace: Path, rem: Any, todo: list[plan.LocalFile], payloads: dict[str, bytes],
            result: dict[str, Any], own_uploads: set[str]) -> dict[str, str]:
    """Upload with one bounded pool: small files and the parts of big files are tasks of the same pool."""
    forbid = not settings.overwrite
    etags: dict[str, str] = {}
    jobs = [multipart.prepare(rem, workspace, f, forbid) for f in todo if f.multipart]
    own_uploads.update(job.upload_id for job in jobs)
    total = sum(f.size for f in todo)
    failures: list[tuple[str, BaseException]] = []
    pool = ThreadPoolExecutor(settings.concurrency)
    try:
        _run_pool(pool, rem, jobs, todo, payloads, forbid, total, etags, failures)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)   # SIGTERM/Ctrl-C: start nothing more, checkpoints stay
        raise
    pool.shutdown(wait=True)
    if failures:
        _raise_first(jobs, failures)
    for job in jobs:
        if job.claim_completion():       # every part was sent by an earlier run
            etags[job.file.key] = multipart.complete(rem, job) or ""
    result["bytes"] = total
    return etags


def _run_pool(pool: ThreadPoolExecutor, rem: Any, jobs: list[multipart.Job], todo: list[plan.LocalFile],
              payloads: dict[str, bytes], forbid: bool, total: int, etags: dict[str, str],
              failures: list[tuple[str, BaseException]]) -> None:
    with log.progress(total, "uploading") as bar:
        futures: dict[Future, tuple[str, Callable[[], Any]]] = {}

        def submit(label: str, fn: Callable[[], Any]) -> None:
            futures[pool.submit(fn)] = (label, fn)

        def part(job: multipart.Job, n: int) -> int:
            sent = multipart.upload_part(rem, job, n)
            if job.claim_completion():   # the last part in completes the object, overlapping other uploads
                etags[job.file.key] = multipart.complete(rem, job) or ""
            return sent

        for job in jobs:
            bar.advance(sum(p["size"] for p in job.parts.values()))
            for n in job.missing():
                submit(job.file.key, lambda job=job, n=n: part(job, n))
        for f in todo:
            if f.multipart:
                continue
            body = (lambda data=payloads[f.key]: data) if f.key in payloads else \
                (lambda path=f.path: open(path, "rb"))
            submit(f.key, lambda f=f, body=body: (f.key, _put(rem, f, body, forbid), f.size))
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for fut in done:
                if fut.cancelled():
                    continue
                label = futures[fut][0]
                exc = fut.exception()
                if exc is not None:
                    failures.append((label, exc))
                    for other in pending:   # a request failed after its retries: start no more
                        other.cancel()
                    continue
                value = fut.result()
                if isinstance(value, tuple):
                    etags[value[0]] = value[1]
                    bar.advance(value[2])
                else:
                    bar.advance(value)


def _raise_first(jobs: list[multipart.Job], failures: list[tuple[str, BaseException]]) -> None:
    from . import remote as remote_mod

    for job in jobs:
        if job.missing():
            multipart.left_for_resume(job)
    label, exc = failures[0]
    more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
    if isinstance(exc, remote_mod.oss2.exceptions.ServerError) and exc.status == 409:
        raise PluginError(f"{label}: already exists with other content (x-oss-forbid-overwrite){more}; "
                          f"the manifest was not written",
                          hint="someone else wrote this prefix meanwhile; publish to a new version prefix "
                               "or set overwrite: true")
    if isinstance(exc, remote_mod.oss2.exceptions.OssError):
        raise PluginError(f"uploading {label} failed after retries: {remote_mod.describe(exc)}{more}; "
                          f"the manifest was not written", hint=remote_mod._hint(exc) or
                          "rerun the step: identical files are skipped and big files resume")
    if isinstance(exc, remote_mod.CrcMissing):
        raise PluginError(f"{exc}{more}; the manifest was not written", hint=CRC_HINT)
    raise exc


def _put(rem: Any, f: plan.LocalFile, body: Callable[[], Any], forbid: bool) -> str:
    if not f.md5:
        f.md5 = local.md5_file(f.path)[0]
    return rem.put(f.key, body, f.md5, f.headers, forbid)


def _verify(rem: Any, prefix: str, todo: list[plan.LocalFile], etags: dict[str, str]) -> None:
    """One more listing: every uploaded object is there with the planned size and the ETag it was given."""
    listed = rem.list(prefix)
    bad = []
    for f in todo:
        r = listed.get(f.key)
        want = etags.get(f.key) or ""
        if r is None:
            bad.append(f"{f.key}: missing")
        elif r.size != f.size:
            bad.append(f"{f.key}: size {r.size}, expected {f.size}")
        elif not r.multipart and r.md5 != f.md5:
            bad.append(f"{f.key}: ETag {r.etag}, expected MD5 {f.md5.upper()}")
        elif r.multipart and want and r.etag != want:
            bad.append(f"{f.key}: ETag {r.etag}, expected {want}")
        else:
            etags[f.key] = r.etag
    if bad:
        raise PluginError(f"verification failed for {len(bad)} object(s): " + "; ".join(bad[:5]) +
                          "; the manifest was not written", hint="rerun the step; differing objects are re-sent")
    log.ok(f"verified {len(todo)} uploaded objects (size and ETag)")


def _write_manifest(settings: Settings, run: Any, rem: Any, mfiles: dict[str, dict]) -> None:
    ctx = run.ctx
    version = ctx.tag_name or (ctx.semver.get("DRONE_SEMVER") if ctx.semver else None)
    doc = plan.build_manifest(bucket=settings.bucket, dest=settings.dest, files=mfiles, version=version,
                              commit=ctx.commit_sha, build=ctx.build_number, repo=ctx.repo,
                              time=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    data = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
    import hashlib

    md5 = hashlib.md5(data).hexdigest()
    rem.put(settings.manifest_key, lambda: data, md5,
            {"Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-cache"}, forbid=False)
    log.ok(f"manifest written: oss://{settings.bucket}/{settings.manifest_key} ({len(mfiles)} files)")
