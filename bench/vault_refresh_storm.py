"""CPU per refresh: the vault refreshing due hh connections against the look-alike (20 ms added
latency), as a ratio to a bare httpx client sending the same number of refreshes with the same
concurrency — on SQLite and on PostgreSQL.

CPU, not wall time (a busy machine moves wall time, not the work done): the gateway's from
/proc/PID/stat around a storm of connections made due at once (process start and seeding
excluded), the bare client's from getrusage around its run. The two are alternated per round, and
each round's vault figure is divided by the bare figure measured next to it: the median of these
paired ratios is the verdict (on a shared machine the CPU a request costs drifts by half within
minutes, and a pair measured a few seconds apart drifts together). The medians of each side are
printed too.

Run: .venv/bin/python -m bench.vault_refresh_storm [per_round] [rounds] [sqlite,postgresql]"""

from __future__ import annotations

import asyncio
import resource
import statistics
import sys
from contextlib import ExitStack, nullcontext
from pathlib import Path
from tempfile import mkdtemp

import httpx

from bench.common import real_clock
from bench.proxy_overhead import cpu_seconds
from bench.storm import make_due, seed_idle, wait_for_refreshes
from tests.postgres import pg_bin, postgres_server
from tests.stacks import Stack, make_stack

CONCURRENCY = 16
UA = "Bench/1.0 (bench@example.com)"


async def bare_client(token_url: str, refresh_tokens: list[str]) -> None:
    semaphore = asyncio.Semaphore(CONCURRENCY)
    async with httpx.AsyncClient(timeout=30, headers={"HH-User-Agent": UA}) as http:
        async def one(token: str) -> None:
            async with semaphore:
                answer = await http.post(token_url, data={
                    "grant_type": "refresh_token", "refresh_token": token,
                    "client_id": "DEVHHCLIENT", "client_secret": "dev-hh-secret"})
                answer.raise_for_status()
        await asyncio.gather(*(one(t) for t in refresh_tokens))


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def bare_round(s: Stack, count: int) -> float:
    grants = s.devidp.control("hh/seed", {"count": count, "expired": True})
    before = own_cpu()
    asyncio.run(bare_client(f"{s.devidp.url}/hh/token", [g["refresh_token"] for g in grants]))
    return (own_cpu() - before) / count


def vault_round(s: Stack, count: int, prefix: str) -> float:
    grants = s.devidp.control("hh/seed", {"count": count, "expired": True})
    seed_idle(s.gateway.config, grants, prefix)
    target = s.devidp.hh_stats()["refreshes_ok"] + count
    assert s.gateway.pid is not None
    before = cpu_seconds(s.gateway.pid)
    make_due(s.gateway.config, prefix)
    wait_for_refreshes(f"{s.devidp.url}/_devidp/hh/stats", target)
    return (cpu_seconds(s.gateway.pid) - before) / count


def measure(database: str, count: int, rounds: int) -> tuple[list[float], list[float]]:
    with ExitStack() as cleanup:
        url = cleanup.enter_context(postgres_server() if database == "postgresql"
                                    else nullcontext(""))
        s = make_stack(Path(mkdtemp(prefix="authgate-bench-")), cleanup, database_url=url,
                       devidp_process=True, start_gateway=False)
        real_clock(s.gateway).start()  # as in production (the look-alike's clock is unshifted)
        s.devidp.control("hh/latency", {"ms": 20})
        bare: list[float] = []
        vault: list[float] = []
        for n in range(rounds):
            order = ("bare", "vault") if n % 2 == 0 else ("vault", "bare")
            for which in order:
                if which == "bare":
                    bare.append(bare_round(s, count))
                else:
                    vault.append(vault_round(s, count, f"round{n}"))
        stats = s.devidp.hh_stats()
        assert stats["already_refreshed"] == stats["token_not_expired"] == 0, stats
        return bare, vault


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    databases = sys.argv[3].split(",") if len(sys.argv) > 3 else ["sqlite", "postgresql"]
    print(f"{count} refreshes per round, {rounds} rounds alternated, provider latency 20 ms, "
          f"concurrency {CONCURRENCY}; CPU per refresh, medians")
    for database in databases:
        if database == "postgresql" and pg_bin() is None:
            print("postgresql: not installed, skipped")
            continue
        bare, vault = measure(database, count, rounds)
        ratios = [v / b for b, v in zip(bare, vault, strict=True)]
        print(f"{database:10}: per round, bare httpx {_ms(bare)} ms, authgate vault {_ms(vault)} ms"
              f"\n{'':12}medians: bare {statistics.median(bare) * 1000:.2f} ms, vault "
              f"{statistics.median(vault) * 1000:.2f} ms; paired ratio "
              f"{statistics.median(ratios):.2f} (rounds {min(ratios):.2f}-{max(ratios):.2f}; "
              f"goal <= 2)", flush=True)


def _ms(values: list[float]) -> str:
    return " ".join(f"{v * 1000:.2f}" for v in values)


if __name__ == "__main__":
    main()
