"""When to refresh a token: a pure decision from the provider's rule and the expiry time.

* ``ahead`` (RFC 6749 providers in general): refresh a while *before* expiry, spread with jitter so
  that thousands of tokens issued together do not hit the provider in the same second.
* ``after_expiry`` (hh.ru): the provider refuses a refresh before the access token has expired, so
  refresh right after it, with a small safety margin for clock skew.
* ``never``: no expiry, or no refresh token (e.g. hh.ru application tokens).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Literal

RefreshRule = Literal["ahead", "after_expiry", "never"]

# Our expires_at is "received + expires_in", never earlier than the provider's own; a provider
# whose clock runs late answers "token not expired", which the vault retries shortly after.
AFTER_EXPIRY_MARGIN = timedelta(0)


def next_refresh_at(
    rule: RefreshRule,
    *,
    expires_at: datetime | None,
    issued_at: datetime,
    ahead: timedelta,
    jitter: timedelta,
    rng: random.Random | None = None,
) -> datetime | None:
    if rule == "never" or expires_at is None:
        return None
    if rule == "after_expiry":
        return expires_at + AFTER_EXPIRY_MARGIN
    lifetime = expires_at - issued_at
    # Never plan to refresh in the first half of a token's life, however short it is.
    lead = min(ahead, lifetime / 2)
    spread = min(jitter, lead / 2).total_seconds()
    offset = (rng or random).uniform(0, spread) if spread > 0 else 0.0
    return expires_at - lead - timedelta(seconds=offset)


def may_refresh_now(rule: RefreshRule, *, expires_at: datetime | None, now: datetime) -> bool:
    if rule == "never":
        return False
    if rule == "after_expiry":
        return expires_at is None or now >= expires_at + AFTER_EXPIRY_MARGIN
    return True


def is_usable(expires_at: datetime | None, now: datetime, *, min_validity: timedelta) -> bool:
    """Is a token still good for at least ``min_validity``?"""
    return expires_at is None or expires_at - now >= min_validity


def backoff_delay(attempt: int, *, base: float = 2.0, cap: float = 600.0,
                  rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter (AWS architecture blog's "full jitter")."""
    ceiling = min(cap, base * (2 ** max(0, attempt - 1)))
    return (rng or random).uniform(ceiling / 2, ceiling)
