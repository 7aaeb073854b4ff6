"""Fault injection and request counters for ``tagship oss-server``.

Kinds: ``503`` (answer 503 ServiceUnavailable, do nothing), ``drop`` (read the request, close the socket
without an answer), ``crc`` (do the operation, answer with a wrong ``x-oss-hash-crc64ecma``; only for
operations whose CRC the client checks), ``nocrc`` (do the operation, answer without ``x-oss-hash-crc64ecma``,
as a server or proxy that drops it would; same operations; not in the default random mix, ``RANDOM_KINDS``,
since it is a server's behaviour rather than a passing fault). ``rate`` is the fraction of requests that get a random applicable
kind; ``queue`` scripts the next faults exactly (``[{"kind": "503", "op": "PutObject"}, "drop", ...]``);
``latency_ms`` delays every answer. A ``seed`` makes the random choices repeatable.
"""
from __future__ import annotations

import random
import threading
from collections import Counter
from typing import Any, Iterable

KINDS = ("503", "drop", "crc", "nocrc")
RANDOM_KINDS = ("503", "drop", "crc")   # the default for ``rate``
CRC_KINDS = ("crc", "nocrc")            # only for CRC_OPS
CRC_OPS = frozenset({"PutObject", "UploadPart", "CompleteMultipartUpload", "GetObject"})


class Faults:
    def __init__(self, rate: float = 0.0, kinds: Iterable[str] = RANDOM_KINDS, latency_ms: float = 0,
                 seed: int | None = None):
        self.lock = threading.Lock()
        self.rate, self.kinds, self.latency_ms, self.seed = 0.0, list(RANDOM_KINDS), 0.0, seed
        self.queue: list[dict] = []
        self.rng = random.Random(seed)
        self.configure(rate=rate, kinds=kinds, latency_ms=latency_ms)

    def configure(self, rate: float | None = None, kinds: Iterable[str] | str | None = None,
                  latency_ms: float | None = None, seed: int | None = None,
                  queue: list[Any] | None = None, **unknown: Any) -> dict:
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(sorted(unknown))}")
        with self.lock:
            if rate is not None:
                rate = float(rate)
                if not 0.0 <= rate <= 1.0:
                    raise ValueError("rate must be between 0 and 1")
                self.rate = rate
            if kinds is not None:
                kinds = [k.strip() for k in (kinds.split(",") if isinstance(kinds, str) else kinds) if k.strip()]
                bad = [k for k in kinds if k not in KINDS]
                if bad:
                    raise ValueError(f"unknown fault kind(s) {bad}; known: {', '.join(KINDS)}")
                self.kinds = kinds
            if latency_ms is not None:
                if float(latency_ms) < 0:
                    raise ValueError("latency_ms must be >= 0")
                self.latency_ms = float(latency_ms)
            if seed is not None:
                self.seed = int(seed)
                self.rng = random.Random(self.seed)
            if queue is not None:
                entries = [{"kind": q} if isinstance(q, str) else dict(q) for q in queue]
                for e in entries:
                    if e.get("kind") not in KINDS or set(e) - {"kind", "op"}:
                        raise ValueError(f"bad queue entry {e}; want {{'kind': one of {KINDS}, 'op': name?}}")
                self.queue = entries
            return self.snapshot()

    def snapshot(self) -> dict:
        return {"rate": self.rate, "kinds": list(self.kinds), "latency_ms": self.latency_ms, "seed": self.seed,
                "queue": [dict(q) for q in self.queue]}

    def pick(self, op: str) -> str | None:
        """The fault to inject into this request, if any."""
        with self.lock:
            for i, q in enumerate(self.queue):
                if q.get("op") in (None, op) and (q["kind"] not in CRC_KINDS or op in CRC_OPS):
                    return self.queue.pop(i)["kind"]
            if self.rate <= 0:
                return None
            usable = [k for k in self.kinds if k not in CRC_KINDS or op in CRC_OPS]
            if not usable or self.rng.random() >= self.rate:
                return None
            return self.rng.choice(usable)


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with getattr(self, "lock", threading.Lock()):
            self.by_op: Counter[str] = Counter()
            self.by_status: Counter[str] = Counter()
            self.faults: Counter[str] = Counter()
            self.errors: Counter[str] = Counter()
            self.requests = self.bytes_in = self.bytes_out = 0

    def count(self, op: str, status: int | None, code: str | None = None, fault: str | None = None,
              bytes_in: int = 0, bytes_out: int = 0) -> None:
        with self.lock:
            self.requests += 1
            self.by_op[op] += 1
            self.by_status[str(status) if status else "dropped"] += 1
            if code:
                self.errors[code] += 1
            if fault:
                self.faults[fault] += 1
            self.bytes_in += bytes_in
            self.bytes_out += bytes_out

    def snapshot(self) -> dict:
        with self.lock:
            return {"requests": self.requests, "by_op": dict(self.by_op), "by_status": dict(self.by_status),
                    "errors": dict(self.errors), "faults": dict(self.faults),
                    "faults_injected": sum(self.faults.values()),
                    "bytes_in": self.bytes_in, "bytes_out": self.bytes_out}
