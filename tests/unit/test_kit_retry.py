"""One retry policy: transient errors are retried with backoff, others fail at once."""

import pytest

from tagship.retry import RetryPolicy, RetryStats, call


class Flaky:
    def __init__(self, failures, exc):
        self.failures, self.exc, self.calls = failures, exc, 0

    def __call__(self):
        self.calls += 1
        if self.calls <= self.failures:
            raise self.exc
        return "ok"


def transient(exc):
    return isinstance(exc, ConnectionError)


def test_transient_errors_are_retried_with_growing_capped_waits():
    waits = []
    stats = RetryStats()
    fn = Flaky(3, ConnectionError("reset"))
    policy = RetryPolicy(attempts=5, base=1, cap=3, sleep=waits.append)
    assert call(fn, is_transient=transient, policy=policy, stats=stats) == "ok"
    assert fn.calls == 4 and stats.retries == 3 and len(waits) == 3
    assert all(0 <= w <= 3 for w in waits)


def test_permanent_error_is_not_retried():
    fn = Flaky(1, PermissionError("denied"))
    with pytest.raises(PermissionError):
        call(fn, is_transient=transient, policy=RetryPolicy(sleep=lambda s: None))
    assert fn.calls == 1


def test_gives_up_after_max_attempts_with_the_last_error():
    fn = Flaky(10, ConnectionError("still down"))
    with pytest.raises(ConnectionError, match="still down"):
        call(fn, is_transient=transient, policy=RetryPolicy(attempts=3, sleep=lambda s: None))
    assert fn.calls == 3


def test_deadline_stops_retrying():
    fn = Flaky(10, ConnectionError("slow"))
    with pytest.raises(ConnectionError):
        call(fn, is_transient=transient, policy=RetryPolicy(attempts=100, deadline=0, sleep=lambda s: None))
    assert fn.calls == 1
