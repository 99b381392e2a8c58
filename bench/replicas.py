"""One replica against three on one PostgreSQL database: refresh throughput, CPU per refresh and
wasted claims, against the hh.ru look-alike with 20 ms added latency.

Each round stores ``count`` connections as not due, makes them due at once, and measures until
the look-alike has refreshed them all: wall time, the replicas' CPU (from /proc/PID/stat) and
their refresh claims (won, and lost to another replica: wasted). One and three replicas are
alternated per round; medians are printed, and three replicas' throughput as a ratio to one's.

Replicas run on machines of their own in production; here all of them share two cores with the
look-alike and PostgreSQL, so one efficient replica already keeps the machine busy and a second
one has nothing left to use. ``--cpu-per-replica`` (default half a core) caps each replica
with a cgroup, so that each stands for a small machine of its own and the shared parts keep what
is left: the ratio then shows whether replicas share the work or fight over it. ``0`` runs them
uncapped (what the whole machine does).

Run: .venv/bin/python -m bench.replicas [per_round] [rounds] [--cpu-per-replica CORES]"""

from __future__ import annotations

import argparse
import statistics
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from tempfile import mkdtemp

from bench.common import real_clock
from bench.cpu_caps import CpuCaps
from bench.proxy_overhead import cpu_seconds
from bench.storm import claims, make_due, seed_idle, wait_for_refreshes
from tests.harness import Gateway
from tests.postgres import postgres_server
from tests.replicas import Cluster


@dataclass
class Round:
    per_second: float
    cpu_ms: float
    wasted: float  # claims lost / claims made
    spread: list[int]  # refreshes claimed by each replica


def storm(cluster: Cluster, replicas: list[Gateway], count: int, prefix: str) -> Round:
    grants = cluster.devidp.control("hh/seed", {"count": count, "expired": True})
    seed_idle(replicas[0].config, grants, prefix)
    target = cluster.devidp.hh_stats()["refreshes_ok"] + count
    pids = [r.pid for r in replicas if r.pid is not None]
    cpu = [cpu_seconds(p) for p in pids]
    before = [claims(r.url) for r in replicas]
    make_due(replicas[0].config, prefix)
    seconds = wait_for_refreshes(f"{cluster.devidp.url}/_devidp/hh/stats", target)
    used = sum(cpu_seconds(p) for p in pids) - sum(cpu)
    after = [claims(r.url) for r in replicas]
    won = [a[0] - b[0] for a, b in zip(after, before, strict=True)]
    lost = sum(a[1] - b[1] for a, b in zip(after, before, strict=True))
    return Round(count / seconds, used / count * 1000, lost / max(1.0, sum(won) + lost),
                 [int(w) for w in won])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", nargs="?", type=int, default=600)
    parser.add_argument("rounds", nargs="?", type=int, default=4)
    parser.add_argument("--cpu-per-replica", type=float, default=0.5)
    args = parser.parse_args()
    count, rounds = args.count, args.rounds
    caps = CpuCaps.open("authgate-bench-replicas") if args.cpu_per_replica > 0 else None
    capped: set[int] = set()
    with postgres_server() as url, ExitStack() as cleanup:
        if caps is not None:
            cleanup.callback(caps.close)
        cluster = Cluster(Path(mkdtemp(prefix="authgate-bench-")), cleanup, url,
                          devidp_process=True)
        cluster.devidp.control("hh/latency", {"ms": 20})
        # On the system clock, as in production (the look-alike's and the database's are
        # unshifted).
        replicas = [real_clock(cluster.replica(start=False)) for _ in range(3)]
        replicas[0].start()
        results: dict[int, list[Round]] = {1: [], 3: []}
        for n in range(rounds):
            for size in ((1, 3) if n % 2 == 0 else (3, 1)):
                for extra in replicas[1:]:
                    if size == 3 and not extra.running():
                        extra.start()
                    elif size == 1 and extra.running():
                        extra.stop()
                for replica in replicas[:size]:
                    if caps is not None and replica.pid is not None and replica.pid not in capped:
                        caps.cap(replica.pid, args.cpu_per_replica)
                        capped.add(replica.pid)
                results[size].append(storm(cluster, replicas[:size], count, f"r{n}s{size}"))
        stats = cluster.devidp.hh_stats()
    if caps is not None:
        print(f"each replica capped at {args.cpu_per_replica:g} of a core (a cgroup); the "
              "look-alike and PostgreSQL uncapped")
    elif args.cpu_per_replica > 0:
        print("no cgroup cpu controller to cap the replicas with: uncapped")
    else:
        print("replicas uncapped: all share the machine's cores")
    print(f"{count} due connections per round, {rounds} rounds alternated, provider latency "
          "20 ms, PostgreSQL; medians")
    for size, runs in results.items():
        print(f"{size} replica(s): {statistics.median(r.per_second for r in runs):,.0f} "
              f"refreshes/s, {statistics.median(r.cpu_ms for r in runs):.2f} ms CPU per refresh, "
              f"wasted claims {statistics.median(r.wasted for r in runs):.1%}, "
              f"claimed per replica (last round) {runs[-1].spread}")
    ratio = (statistics.median(r.per_second for r in results[3])
             / statistics.median(r.per_second for r in results[1]))
    print(f"throughput, 3 replicas / 1: {ratio:.2f}; rule violations: "
          f"{stats['token_not_expired']} not-expired, {stats['already_refreshed']} reused")


if __name__ == "__main__":
    main()
