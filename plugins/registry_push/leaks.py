"""The build-secret proof: search every byte of every layer (file contents, names, link targets, PAX
headers), the history, labels, env and config for the build's secret values and the lines of its SSH key.

``docker save`` writes the legacy layout (``<id>/layer.tar``) on older engines and an OCI layout
(``blobs/sha256/<hex>``) from Docker 25 on; members are recognised by content (a tar, or a gzip of one), not by
name, and ``manifest.json`` says which are the layers — one not read makes the proof fail, never pass blind.
"""

from __future__ import annotations

import gzip
import io
from typing import Any, Iterable

TAR_MAGIC = b"ustar"
GZIP_MAGIC = b"\x1f\x8b"


class Tee(io.RawIOBase):
    """Reads through ``inner`` and remembers which needles passed by (also across chunk borders)."""

    def __init__(self, inner: Any, needles: list[bytes]):
        self._inner = inner
        self._needles = needles
        self._keep = max((len(n) for n in needles), default=1) - 1
        self._tail = b""
        self.found: set[int] = set()

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self._inner.read(len(b))
        if not data:
            return 0
        n = len(data)
        b[:n] = data
        if self._needles:
            window = self._tail + data
            for i, needle in enumerate(self._needles):
                if i not in self.found and needle in window:
                    self.found.add(i)
            self._tail = window[-self._keep:] if self._keep else b""
        return n


class Prefixed(io.RawIOBase):
    """``head`` (bytes already read to sniff the format) followed by the rest of ``inner``."""

    def __init__(self, head: bytes, inner: Any):
        self._head = head
        self._inner = inner

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self._head:
            n = min(len(b), len(self._head))
            b[:n], self._head = self._head[:n], self._head[n:]
            return n
        data = self._inner.read(len(b))
        b[:len(data)] = data
        return len(data)


def open_layer(fileobj: Any) -> Any | None:
    """A file object of the layer's tar bytes (gunzipped when needed), or None when the member is no layer
    (a config blob, an index, a manifest)."""
    head = fileobj.read(512)
    if head[:2] == GZIP_MAGIC:
        inner = gzip.GzipFile(fileobj=io.BufferedReader(Prefixed(head, fileobj)))
        head = inner.read(512)
        fileobj = inner
    if len(head) == 512 and head[257:262] == TAR_MAGIC:
        return io.BufferedReader(Prefixed(head, fileobj), 1 << 20)
    if len(head) >= 512 and not head.strip(b"\0"):
        return io.BufferedReader(Prefixed(head, fileobj), 1 << 20)   # an empty layer: a tar of zero blocks
    return None


def encode(needles: Iterable[str]) -> list[bytes]:
    return [n.encode("utf-8", "surrogateescape") for n in needles if n]


def in_text(texts: Iterable[str], needles: list[str]) -> set[int]:
    """Which needles appear in any of ``texts`` (history lines, labels, env, the config JSON)."""
    joined = "\n".join(texts)
    return {i for i, n in enumerate(needles) if n and n in joined}
