"""What the proxy costs per call: ``GET /api/v1/proxy/hh/{owner}/me`` through the gateway vs
``GET /me`` at the hh.ru look-alike directly with httpx (the token fetched once), both on
loopback, each server a process of its own. The two are alternated in blocks within one run, so
that a busy machine weighs on both alike; figures are per call, one call at a time (latency),
then CPU: the gateway's per proxied call, as a ratio to the look-alike's own per call.

Run: .venv/bin/python -m bench.proxy_overhead"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import httpx

from bench.common import cpu_seconds, stack
from tests.stacks import seed_connections

UA = {"HH-User-Agent": "AuthgateBench/1.0 (bench@example.com)"}
ROUNDS, PER_ROUND, WARMUP = 20, 50, 100
# The proxy's per-key rate limit would otherwise answer most of the run with 429.
NO_RATE_LIMIT = "\n[proxy]\nrate = 1000000\nburst = 1000000\n"


def timed(call: Callable[[], httpx.Response], count: int, into: list[float]) -> None:
    for _ in range(count):
        start = time.perf_counter()
        response = call()
        into.append(time.perf_counter() - start)
        if response.status_code != 200:
            raise SystemExit(f"{response.request.url}: {response.status_code} {response.text}")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> None:
    s = stack(extra=NO_RATE_LIMIT)
    try:
        s.gateway.stop()
        seed_connections(s, 1, expired=False, prefix="bench")
        s.gateway.start()
        gw, hh_api = s.gateway.url, f"{s.devidp.url}/hh"
        assert s.gateway.proc is not None and s.devidp.proc is not None
        gw_pid, idp_pid = s.gateway.proc.pid, s.devidp.proc.pid
        with httpx.Client(base_url=gw, headers=s.auth) as api:
            token = api.get("/api/v1/connections/hh/bench:0/token").json()["access_token"]
        direct_client = httpx.Client(base_url=hh_api,
                                     headers={**UA, "Authorization": f"Bearer {token}"})
        proxy_client = httpx.Client(base_url=f"{gw}/api/v1/proxy/hh/bench:0", headers=s.auth)

        def direct() -> httpx.Response:
            return direct_client.get("/me")

        def proxied() -> httpx.Response:
            return proxy_client.get("/me")

        timed(direct, WARMUP, [])
        timed(proxied, WARMUP, [])
        direct_times: list[float] = []
        proxy_times: list[float] = []
        gw_cpu = idp_cpu_direct = idp_cpu_proxied = 0.0
        for _ in range(ROUNDS):
            idp_before = cpu_seconds(idp_pid)
            timed(direct, PER_ROUND, direct_times)
            idp_cpu_direct += cpu_seconds(idp_pid) - idp_before
            gw_before, idp_before = cpu_seconds(gw_pid), cpu_seconds(idp_pid)
            timed(proxied, PER_ROUND, proxy_times)
            gw_cpu += cpu_seconds(gw_pid) - gw_before
            idp_cpu_proxied += cpu_seconds(idp_pid) - idp_before
        direct_client.close()
        proxy_client.close()

        calls = ROUNDS * PER_ROUND
        d50, d99 = pct(direct_times, 0.50), pct(direct_times, 0.99)
        p50, p99 = pct(proxy_times, 0.50), pct(proxy_times, 0.99)
        print(f"calls per path           : {calls} (alternated in {ROUNDS} blocks of "
              f"{PER_ROUND}, one at a time)")
        print(f"direct  GET /hh/me       : p50 {d50:.2f} ms, p99 {d99:.2f} ms, "
              f"mean {statistics.fmean(direct_times) * 1000:.2f} ms")
        print(f"proxied GET .../proxy/me : p50 {p50:.2f} ms, p99 {p99:.2f} ms, "
              f"mean {statistics.fmean(proxy_times) * 1000:.2f} ms")
        print(f"ratio proxied / direct   : p50 {p50 / d50:.2f}, p99 {p99 / d99:.2f}; "
              f"overhead p50 {p50 - d50:+.2f} ms")
        idp_per_call = idp_cpu_direct / calls
        gw_per_call = gw_cpu / calls
        print(f"CPU per call             : gateway {gw_per_call * 1e6:.0f} us per proxied call; "
              f"look-alike {idp_per_call * 1e6:.0f} us per direct call, "
              f"{idp_cpu_proxied / calls * 1e6:.0f} us per proxied call")
        if idp_per_call > 0:
            print(f"ratio gateway CPU / look-alike CPU per call: {gw_per_call / idp_per_call:.2f}"
                  " (CPU clock ticks are 10 ms: small totals are coarse)")
    finally:
        s.gateway.stop()
        s.devidp.stop()


if __name__ == "__main__":
    main()
