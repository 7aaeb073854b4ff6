"""One retry policy for every plugin: exponential backoff with full jitter, a cap on attempts and a
total deadline, and a predicate that says which errors are transient. Built on tenacity.

The policy's deadline is cut to what is left of the run's (``PLUGIN_DEADLINE``, :mod:`tagship.deadline`),
and a backoff that would pass it is not slept: the step fails at once.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

import tenacity

from . import deadline as run_deadline
from . import log
from .mask import mask

T = TypeVar("T")


@dataclass
class RetryPolicy:
    attempts: int = 5          # tries in all, the first included
    deadline: float = 300.0    # seconds from the first try; no new try starts after it
    base: float = 0.5          # backoff unit: a wait is uniform in [0, min(cap, base * 2**n)]
    cap: float = 20.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)


@dataclass
class RetryStats:
    """Counts retries across threads, for the run's result."""

    retries: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self) -> None:
        with self._lock:
            self.retries += 1


def retrying(is_transient: Callable[[BaseException], bool], policy: RetryPolicy | None = None,
             what: str = "request", stats: RetryStats | None = None,
             describe: Callable[[BaseException], str] | None = None) -> tenacity.Retrying:
    """A tenacity ``Retrying`` with the kit's policy; use as ``for attempt in retrying(...): with attempt:``
    or call ``retrying(...)(fn, *args)``. The last error is re-raised as it was. ``describe`` turns an error
    into the text of the retry warning (default: its type and first line)."""
    policy = policy or RetryPolicy()
    describe = describe or _describe

    def before_sleep(state: tenacity.RetryCallState) -> None:
        if stats is not None:
            stats.add()
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0
        log.warn(f"{what} failed (attempt {state.attempt_number}/{policy.attempts}), retrying in "
                 f"{wait:.1f}s: {mask(describe(exc) if exc is not None else 'no error')}")

    budget = run_deadline.bound(policy.deadline)
    sleep = policy.sleep
    if sleep is time.sleep:
        def sleep(seconds: float) -> None:
            run_deadline.sleep(seconds, f"{what} (retry)")

    return tenacity.Retrying(
        stop=tenacity.stop_after_attempt(policy.attempts) | tenacity.stop_after_delay(budget),
        wait=tenacity.wait_random_exponential(multiplier=policy.base, max=policy.cap),
        retry=tenacity.retry_if_exception(is_transient),
        before_sleep=before_sleep,
        sleep=sleep,
        reraise=True,
    )


def call(fn: Callable[..., T], *args: Any, is_transient: Callable[[BaseException], bool],
         policy: RetryPolicy | None = None, what: str = "request", stats: RetryStats | None = None,
         describe: Callable[[BaseException], str] | None = None, **kwargs: Any) -> T:
    return retrying(is_transient, policy, what, stats, describe)(fn, *args, **kwargs)


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return "no error"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
