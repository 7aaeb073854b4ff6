"""The run's deadline (``PLUGIN_DEADLINE``, default 1h): every wait of a plugin is bounded by it.

The entry wrapper calls :func:`start` with the setting; retries (:mod:`tagship.retry`), rate limiting,
subprocesses (:mod:`tagship.proc`) and polling loops ask :func:`bound` for a timeout and :func:`sleep` to
wait. Once the deadline has passed, :func:`sleep` and :func:`check` raise :class:`DeadlineExceeded`
(an operation failure, exit 1), so no wait can outlive the step's budget silently.
"""

from __future__ import annotations

import time

from .errors import PluginError

DEFAULT = 3600.0
_state: dict[str, float | None] = {"end": None, "seconds": None}


class DeadlineExceeded(PluginError):
    def __init__(self, what: str = "the run"):
        seconds = _state["seconds"] or 0
        super().__init__(f"{what} would outlast PLUGIN_DEADLINE ({seconds:.0f}s)",
                         hint="raise PLUGIN_DEADLINE, or look for what is slow or stuck")


def start(seconds: float | None) -> None:
    """Start the clock (``None``: no deadline, as in library use)."""
    _state["seconds"] = seconds
    _state["end"] = None if seconds is None else time.monotonic() + seconds


def remaining() -> float | None:
    end = _state["end"]
    return None if end is None else end - time.monotonic()


def bound(timeout: float | None) -> float | None:
    """``timeout`` cut to what is left of the deadline (``None`` = no bound from either)."""
    left = remaining()
    if left is None:
        return timeout
    left = max(left, 0.0)
    return left if timeout is None else min(timeout, left)


def check(what: str = "the run") -> None:
    left = remaining()
    if left is not None and left <= 0:
        raise DeadlineExceeded(what)


def sleep(seconds: float, what: str = "a wait") -> None:
    """Sleep ``seconds``, unless that would pass the deadline: then raise at once (a wait that cannot end
    in time is not started)."""
    left = remaining()
    if left is not None and seconds > left:
        raise DeadlineExceeded(what)
    if seconds > 0:
        time.sleep(seconds)
