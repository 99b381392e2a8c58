from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from authgate.protocol.refresh_policy import backoff_delay, may_refresh_now, next_refresh_at

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_after_expiry_waits_for_expiry():
    expires = NOW + timedelta(days=14)
    planned = next_refresh_at("after_expiry", expires_at=expires, issued_at=NOW,
                              ahead=timedelta(minutes=5), jitter=timedelta(minutes=1))
    assert planned is not None and planned >= expires
    assert not may_refresh_now("after_expiry", expires_at=expires, now=expires - timedelta(1))
    assert may_refresh_now("after_expiry", expires_at=expires, now=expires)


def test_ahead_refreshes_before_expiry_with_spread():
    expires = NOW + timedelta(hours=1)
    plans = {next_refresh_at("ahead", expires_at=expires, issued_at=NOW,
                             ahead=timedelta(minutes=5), jitter=timedelta(minutes=1),
                             rng=random.Random(seed)) for seed in range(20)}
    assert all(expires - timedelta(minutes=6) <= p <= expires - timedelta(minutes=5)
               for p in plans if p)
    assert len(plans) > 10
    # A short-lived token is never refreshed in the first half of its life.
    short = next_refresh_at("ahead", expires_at=NOW + timedelta(seconds=60), issued_at=NOW,
                            ahead=timedelta(minutes=5), jitter=timedelta(minutes=1))
    assert short is not None and short >= NOW + timedelta(seconds=15)


def test_never_and_no_expiry():
    assert next_refresh_at("never", expires_at=NOW, issued_at=NOW, ahead=timedelta(0),
                           jitter=timedelta(0)) is None
    assert next_refresh_at("ahead", expires_at=None, issued_at=NOW, ahead=timedelta(0),
                           jitter=timedelta(0)) is None


def test_backoff_grows_and_is_capped():
    rng = random.Random(1)
    delays = [backoff_delay(n, rng=rng) for n in range(1, 15)]
    assert delays[0] <= 2 and delays[4] >= 16 and max(delays) <= 600
