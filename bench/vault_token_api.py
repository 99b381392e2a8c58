"""The token API and ``/auth/verify`` called directly, against a bare Starlette app that returns
the same token JSON from memory (on the same server stack: uvicorn, uvloop, httptools), and the
gateway's own /healthz. Candidates alternate in every round; medians of req/s, the ratio to the
bare app in the same round, p99, and CPU µs per request of the server process.

Run: .venv/bin/python -m bench.vault_token_api [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field

import httpx

from bench.common import as_shipped, cpu_seconds, session_token, stack, wrk
from tests.harness import free_port, wait_http
from tests.stacks import seed_connections

BARE_APP = textwrap.dedent("""
    import sys
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    body = sys.stdin.buffer.read()

    async def token(request):
        return Response(body, media_type="application/json")

    app = Starlette(routes=[Route("/api/v1/connections/hh/bench:0/token", token)])
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), loop="uvloop", http="httptools",
                access_log=False, log_level="warning")
""")


@dataclass
class Candidate:
    name: str
    url: str
    pid: int
    headers: dict[str, str]
    rps: list[float] = field(default_factory=list)
    ratio: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds of 3 s")
    args = parser.parse_args()
    rounds, seconds = (2, 3.0) if args.quick else (5, 10.0)
    s = stack()
    bare = None
    try:
        s.gateway.stop()
        seed_connections(s, 1, expired=False, prefix="bench")
        as_shipped(s.gateway).start()
        url = s.gateway.url
        path = "/api/v1/connections/hh/bench:0/token"
        body = httpx.get(url + path, headers=s.auth, timeout=30).content
        port = free_port()
        bare = subprocess.Popen([sys.executable, "-c", BARE_APP, str(port)],
                                stdin=subprocess.PIPE)
        assert bare.stdin is not None
        bare.stdin.write(body)
        bare.stdin.close()
        wait_http(f"http://127.0.0.1:{port}{path}", process=bare)
        gateway_pid = s.gateway.pid
        assert gateway_pid is not None
        cookie = {"Cookie": f"authgate_session={session_token(s.gateway.config)}"}
        candidates = [
            Candidate("bare Starlette, JSON from memory", f"http://127.0.0.1:{port}{path}",
                      bare.pid, {}),
            Candidate("token API", url + path, gateway_pid, dict(s.auth)),
            Candidate("/auth/verify, direct", url + "/auth/verify", gateway_pid, cookie),
            Candidate("/healthz", url + "/healthz", gateway_pid, {}),
        ]
        for c in candidates:
            assert httpx.get(c.url, headers=c.headers, timeout=30).status_code == 200, c.name
            wrk(c.url, seconds=1, headers=c.headers)
        for i in range(rounds):
            for c in candidates[i % len(candidates):] + candidates[:i % len(candidates)]:
                before = cpu_seconds(c.pid)
                result = wrk(c.url, seconds=seconds, headers=c.headers)
                c.cpu_us.append((cpu_seconds(c.pid) - before)
                                / (result.requests_per_second * seconds) * 1e6)
                c.rps.append(result.requests_per_second)
                c.p99.append(result.p99_ms)
            for c in candidates:
                c.ratio.append(c.rps[-1] / candidates[0].rps[-1])
        med = statistics.median
        print(f"wrk -t2 -c200 -d{seconds:g}s, {rounds} rounds alternated; medians")
        print(f"{'candidate':34} {'req/s':>8} {'÷ bare':>7} {'p99 ms':>7} {'CPU µs/req':>11} "
              f"{'CPU ÷ bare':>10}")
        for c in candidates:
            print(f"{c.name:34} {med(c.rps):8,.0f} {med(c.ratio):7.2f} {med(c.p99):7.1f} "
                  f"{med(c.cpu_us):11.1f} {med(c.cpu_us) / med(candidates[0].cpu_us):10.2f}")
    finally:
        if bare is not None:
            bare.terminate()
            bare.wait()
        s.gateway.stop()
        s.devidp.stop()


if __name__ == "__main__":
    main()
