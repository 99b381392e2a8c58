"""Retry timing: exponential backoff with jitter, within a 24-hour window."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from authgate.outbox.policy import MAX_DELAY, RETRY_WINDOW, next_attempt_at

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def test_delays_double_with_jitter_up_to_an_hour() -> None:
    rng = random.Random(7)
    until = T0 + RETRY_WINDOW
    for attempt, ceiling in ((1, 5), (2, 10), (3, 20), (5, 80), (20, MAX_DELAY)):
        delays = {(next_attempt_at(attempt, now=T0, retry_until=until, rng=rng) - T0)
                  .total_seconds() for _ in range(50)}  # type: ignore[operator]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jittered


def test_a_receivers_retry_after_is_honoured() -> None:
    at = next_attempt_at(1, now=T0, retry_until=T0 + RETRY_WINDOW, retry_after=120)
    assert at == T0 + timedelta(seconds=120)


def test_the_last_attempt_is_at_the_window_end_then_none() -> None:
    until = T0 + timedelta(seconds=30)
    assert next_attempt_at(20, now=T0, retry_until=until) == until
    assert next_attempt_at(21, now=until, retry_until=until) is None
