"""Time for the vault to refresh 10 000 connections that are all due at once, against the
hh.ru look-alike with 20 ms added latency, as a ratio to a bare httpx client sending the same
10 000 refreshes with the same concurrency (the floor set by the provider).

Run: .venv/bin/python -m bench.vault_refresh_storm [count]"""

from __future__ import annotations

import asyncio
import sys
import time

import httpx

from bench.common import stack
from tests.stacks import seed_connections

CONCURRENCY = 16
UA = "Bench/1.0 (bench@example.com)"


async def bare_client(token_url: str, refresh_tokens: list[str]) -> float:
    semaphore = asyncio.Semaphore(CONCURRENCY)
    async with httpx.AsyncClient(timeout=30, headers={"HH-User-Agent": UA}) as http:
        async def one(token: str) -> None:
            async with semaphore:
                answer = await http.post(token_url, data={
                    "grant_type": "refresh_token", "refresh_token": token,
                    "client_id": "DEVHHCLIENT", "client_secret": "dev-hh-secret"})
                answer.raise_for_status()
        started = time.perf_counter()
        await asyncio.gather(*(one(t) for t in refresh_tokens))
        return time.perf_counter() - started


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    s = stack()
    try:
        s.gateway.stop()
        s.devidp.control("hh/latency", {"ms": 20})
        grants = s.devidp.control("hh/seed", {"count": count, "expired": True})
        floor = asyncio.run(bare_client(f"{s.devidp.url}/hh/token",
                                        [g["refresh_token"] for g in grants]))
        seed_connections(s, count, expired=True, prefix="storm")
        before = s.devidp.hh_stats()["refreshes_ok"]
        started = time.perf_counter()
        s.gateway.start()
        while s.devidp.hh_stats()["refreshes_ok"] - before < count:
            time.sleep(0.05)
        vault = time.perf_counter() - started
        stats = s.devidp.hh_stats()
        print(f"{count} due connections, provider latency 20 ms, concurrency {CONCURRENCY}")
        print(f"bare httpx client : {floor:.1f} s ({count / floor:,.0f} refreshes/s)")
        print(f"authgate vault    : {vault:.1f} s ({count / vault:,.0f} refreshes/s), "
              f"including process start")
        print(f"ratio (vault / bare): {vault / floor:.2f}; rule violations: "
              f"{stats['token_not_expired']} not-expired, {stats['already_refreshed']} reused")
    finally:
        s.gateway.stop()
        s.devidp.stop()


if __name__ == "__main__":
    main()
