"""A refresh storm staged for measuring: connections stored as not due, then made due at once
with one UPDATE, so that a running gateway's CPU can be read before and after (process start and
seeding excluded)."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import update

from authgate.clock import SystemClock
from authgate.config import load_settings
from authgate.protocol.rfc6749_oauth2 import TokenResponse
from authgate.providers.base import Account
from authgate.runtime import Runtime
from authgate.store.models import Connection


def seed_idle(config: Path, grants: list[dict[str, object]], prefix: str) -> None:
    """Store ``grants`` (from the look-alike's hh/seed) as connections due in a year."""
    runtime = Runtime.open(load_settings(config), clock=SystemClock())
    try:
        now = runtime.clock.now()
        for n, grant in enumerate(grants):
            runtime.vault.store.save_tokens(
                "hh", f"{prefix}:{n}",
                TokenResponse(access_token=str(grant["access_token"]),
                              refresh_token=str(grant["refresh_token"]),
                              expires_in=int(grant["expires_in"])),  # type: ignore[call-overload]
                Account(id=str(grant["account_id"]), name=None), now=now,
                next_refresh_at=now + timedelta(days=365))
    finally:
        runtime.engine.dispose()


def make_due(config: Path, prefix: str) -> None:
    """Every connection of ``prefix`` due now, in one statement."""
    runtime = Runtime.open(load_settings(config), clock=SystemClock())
    try:
        with runtime.db.begin() as s:
            s.execute(update(Connection).where(Connection.owner.startswith(f"{prefix}:"))
                      .values(next_refresh_at=runtime.db_clock.now() - timedelta(seconds=1)))
    finally:
        runtime.engine.dispose()


def wait_for_refreshes(stats_url: str, target: int, *, timeout: float = 600) -> float:
    """Seconds until the look-alike counts ``target`` successful refreshes."""
    started = time.perf_counter()
    with httpx.Client() as http:
        while http.get(stats_url).json()["refreshes_ok"] < target:
            if time.perf_counter() - started > timeout:
                raise SystemExit(f"not {target} refreshes within {timeout:.0f} s")
            time.sleep(0.02)
    return time.perf_counter() - started


def claims(gateway_url: str) -> tuple[float, float]:
    """(won, lost) refresh claims of one gateway, from its metrics."""
    found = {"won": 0.0, "lost": 0.0}
    for line in httpx.get(f"{gateway_url}/metrics").text.splitlines():
        if line.startswith("authgate_refresh_claims_total{"):
            found[line.split('result="', 1)[1].split('"', 1)[0]] = float(line.rsplit(" ", 1)[1])
    return found["won"], found["lost"]
