"""The optional HTTP health gate, run after the rollout converged: the service answers as expected or the
deploy fails (and is rolled back). ``requests`` is imported lazily."""

from __future__ import annotations

import re
import time
from typing import Callable

from tagship import log


def gate(url: str, status: int, body: str | None, retries: int, interval: float, deadline: float,
         sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic
         ) -> tuple[bool, str]:
    """Up to ``retries`` GETs, ``interval`` apart, never past ``deadline``. Returns (passed, last problem)."""
    import requests

    pattern = re.compile(body) if body else None
    problem = "not tried"
    for attempt in range(1, retries + 1):
        try:
            resp = requests.get(url, timeout=max(1.0, min(10.0, deadline - clock())), allow_redirects=True)
            if resp.status_code != status:
                problem = f"HTTP {resp.status_code}, expected {status}"
            elif pattern is not None and not pattern.search(resp.text):
                problem = f"the body does not match /{body}/: {resp.text[:120]!r}"
            else:
                log.ok(f"health gate passed: {url} → {resp.status_code} (try {attempt})")
                return True, ""
        except requests.RequestException as exc:
            problem = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}"
        log.info(f"health gate: {url}: {problem} (try {attempt}/{retries})")
        if attempt < retries:
            if clock() + interval > deadline:
                problem += " (out of time)"
                break
            sleep(interval)
    return False, problem
