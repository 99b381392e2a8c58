"""Memory of `authgate serve` holding 0, 10 000 and 100 000 connections, after start and after
listing them all once through the API; ratios to the empty vault in the same run.

Run: .venv/bin/python -m bench.vault_rss"""

from __future__ import annotations

import tempfile
import time
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import insert

from authgate.config import load_settings
from authgate.runtime import Runtime
from authgate.store.models import Connection
from bench.common import rss_mib
from tests.harness import Gateway


def fill(config: Path, count: int) -> None:
    """Bulk-insert ``count`` encrypted connections that expire in a week (no refresh traffic)."""
    runtime = Runtime.open(load_settings(config))
    now = runtime.clock.now()
    ring = runtime.keyring
    rows = []
    for n in range(count):
        owner = f"tg:{n}"
        rows.append({
            "provider": "hh", "owner": owner, "account_id": str(n), "account_name": f"User {n}",
            "status": "active", "token_type": "bearer", "scope": None,
            "access_token_enc": ring.encrypt(f"A{n:064d}", f"connection:hh:{owner}:access"),
            "refresh_token_enc": ring.encrypt(f"R{n:064d}", f"connection:hh:{owner}:refresh"),
            "expires_at": now + timedelta(days=7), "next_refresh_at": now + timedelta(days=7),
            "attempts": 0, "generation": 1, "created_at": now, "updated_at": now})
    with runtime.db.begin() as s:
        for start in range(0, len(rows), 5000):
            s.execute(insert(Connection), rows[start:start + 5000])
    runtime.engine.dispose()


def measure(count: int) -> tuple[float, float]:
    tmp = Path(tempfile.mkdtemp(prefix="authgate-rss-"))
    body = ('[providers.hh]\nkind = "hh"\nclient_id = "x"\nuser_agent = "B/1 (b@example.com)"\n'
            'token_url = "http://127.0.0.1:9/token"\n')
    gateway = Gateway(tmp, body=body)
    fill(gateway.config, count)
    key = gateway.create_api_key()
    gateway.start()
    try:
        time.sleep(2)
        assert gateway.proc is not None
        idle = rss_mib(gateway.proc.pid)
        listed, cursor = 0, None
        while True:  # every connection, a page of 1000 at a time
            page = httpx.get(f"{gateway.url}/api/v1/connections",
                             params={"limit": 1000, **({"cursor": cursor} if cursor else {})},
                             headers={"Authorization": f"Bearer {key}"}, timeout=300).json()
            listed += len(page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert listed == count
        time.sleep(1)
        return idle, rss_mib(gateway.proc.pid)
    finally:
        gateway.stop()


def main() -> None:
    base_idle, base_listed = measure(0)
    print(f"{'connections':>12} {'RSS idle':>10} {'ratio':>6} "
          f"{'RSS after listing':>18} {'ratio':>6}")
    print(f"{0:>12} {base_idle:>8.1f}Mi {1:>6.2f} {base_listed:>16.1f}Mi {1:>6.2f}")
    for count in (10_000, 100_000):
        idle, listed = measure(count)
        print(f"{count:>12,} {idle:>8.1f}Mi {idle / base_idle:>6.2f} {listed:>16.1f}Mi "
              f"{listed / base_listed:>6.2f}")


if __name__ == "__main__":
    main()
