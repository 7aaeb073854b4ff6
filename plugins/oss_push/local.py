"""The local side: walk ``source``, pick files by include/exclude, hash them, gzip what ``gzip`` asks for."""

from __future__ import annotations

import gzip
import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tagship import log
from tagship.errors import PluginError

from . import plan
from .settings import Settings

CHUNK = 1 << 20


def md5_file(path: str) -> tuple[str, int]:
    h, size = hashlib.md5(), 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def walk(root: Path) -> list[tuple[str, str]]:
    """(rel, absolute path) of regular files under root. Directory symlinks are not followed; a file
    symlink is followed only when it points inside root (so a link cannot publish /etc/passwd)."""
    out = []
    real_root = os.path.realpath(root)
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            if os.path.islink(full):
                target = os.path.realpath(full)
                if not target.startswith(real_root + os.sep) or not os.path.isfile(target):
                    log.warn(f"{rel}: a symlink to outside the source (or to no file); not published")
                    continue
            elif not os.path.isfile(full):
                continue
            out.append((rel, full))
    return out


def scan(settings: Settings, root: Path, payloads: dict[str, bytes]) -> list[plan.LocalFile]:
    """The files to publish (MD5 only for gzipped ones yet). Gzipped bodies go into ``payloads`` (key -> bytes)."""
    include, exclude, gz = plan.Globs(settings.include), plan.Globs(settings.exclude), plan.Globs(settings.gzip)
    chosen = [(rel, full) for rel, full in walk(root) if plan.selected(rel, include, exclude)]
    problems = []
    keyed = []
    for rel, full in chosen:
        try:
            keyed.append((rel, full, plan.object_key(settings.dest, rel)))
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        raise PluginError(f"{len(problems)} file(s) cannot be published: " + "; ".join(problems[:5]),
                          hint="rename them or leave them out with PLUGIN_EXCLUDE")

    def one(item: tuple[str, str, str]) -> plan.LocalFile:
        rel, full, key = item
        size, md5 = os.path.getsize(full), ""   # hashed later, only where needed (see ensure_md5)
        gzipped = False
        source_md5 = ""
        if gz and gz.match(rel) and size < settings.multipart_threshold:
            raw = Path(full).read_bytes()
            data = gzip.compress(raw, compresslevel=9, mtime=0)   # deterministic: no time, no name
            if len(data) < size:
                gzipped, size, md5 = True, len(data), hashlib.md5(data).hexdigest()
                source_md5 = hashlib.md5(raw).hexdigest()
                payloads[key] = data
        headers = plan.headers_for(rel, settings.headers, defaults=settings.default_headers, gzipped=gzipped,
                                   acl=settings.acl, storage_class=settings.storage_class)
        return plan.LocalFile(rel=rel, key=key, path=full, size=size, md5=md5, headers=headers, gzipped=gzipped,
                              source_md5=source_md5,
                              multipart=size >= settings.multipart_threshold)

    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        return list(pool.map(one, keyed))


def ensure_md5(files: list[plan.LocalFile]) -> None:
    """Hash the files that have no MD5 yet, a few at a time (hashlib frees the GIL). Files that are only
    uploaded are hashed by the upload worker instead, so hashing overlaps the network."""
    todo = [f for f in files if not f.md5]

    def one(f: plan.LocalFile) -> None:
        f.md5 = md5_file(f.path)[0]

    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        list(pool.map(one, todo))
