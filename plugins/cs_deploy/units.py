"""Compose's units the way docker/cli reads them: Go durations (``2us``, ``1h30m``), sizes (go-units
``RAMInBytes``: ``1T``, ``512m``, ``4kb``), CPUs and port ranges. Pure; a bad value raises ValueError with a
short expectation (the caller names the key)."""

from __future__ import annotations

import re
from typing import Any

_DUR = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_DUR_UNITS = {"ns": 1, "us": 1e3, "µs": 1e3, "μs": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgtp])?(?:i?b)?", re.I)
_SIZE_UNITS = {None: 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def duration_ns(value: Any) -> int:
    """A Go duration (``time.ParseDuration``) in nanoseconds; a bare number is seconds (compose casts ints)."""
    if isinstance(value, bool):
        raise ValueError(f"a duration such as 10s or 1m30s, not {value!r}")
    if isinstance(value, (int, float)):
        return int(value * 1e9)
    text = str(value).strip()
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    if body == "0":
        return 0
    parts = _DUR.findall(body)
    if not parts or "".join(n + u for n, u in parts) != body:
        raise ValueError(f"a duration such as 10s, 500ms or 1m30s, not {text!r}")
    return sign * round(sum(float(n) * _DUR_UNITS[u] for n, u in parts))


def ram_bytes(value: Any) -> int:
    """go-units ``RAMInBytes``: binary multiples, ``b``/``kb``/``k`` alike, case-insensitive."""
    if isinstance(value, bool):
        raise ValueError(f"a size such as 512m or 1g, not {value!r}")
    if isinstance(value, (int, float)):
        return int(value)
    text = str(value).strip()
    m = _SIZE.fullmatch(text)
    if not m:
        raise ValueError(f"a size such as 512m or 1g, not {text!r}")
    unit = m.group(2).lower() if m.group(2) else None
    return int(float(m.group(1)) * _SIZE_UNITS[unit])


def nano_cpus(value: Any) -> int:
    try:
        cpus = float(str(value).strip())
    except ValueError:
        raise ValueError(f"a number of CPUs such as 0.5, not {value!r}") from None
    return int(round(cpus * 1e9))


def port_range(text: str) -> tuple[int, int]:
    """``8080`` or ``8000-8010`` → (first, last)."""
    first, sep, last = str(text).strip().partition("-")
    try:
        lo, hi = int(first), int(last) if sep else int(first)
    except ValueError:
        raise ValueError(f"a port or a port range such as 8000-8010, not {text!r}") from None
    if not 0 <= lo <= hi <= 65535:
        raise ValueError(f"a port or a port range such as 8000-8010, not {text!r}")
    return lo, hi
