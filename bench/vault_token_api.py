"""Token API throughput and p99 at 200 concurrent clients, as a ratio to /healthz of the same
server in the same run.  Run: .venv/bin/python -m bench.vault_token_api"""

from __future__ import annotations

from bench.common import stack, wrk
from tests.stacks import seed_connections


def main() -> None:
    s = stack()
    try:
        s.gateway.stop()
        seed_connections(s, 1, expired=False, prefix="bench")
        s.gateway.start()
        url = s.gateway.url
        wrk(f"{url}/healthz", seconds=2)  # warm up
        baseline = wrk(f"{url}/healthz")
        token = wrk(f"{url}/api/v1/connections/hh/bench:0/token", headers=s.auth)
        print(f"trivial endpoint /healthz : {baseline}")
        print(f"token API                 : {token}")
        throughput = token.requests_per_second / baseline.requests_per_second
        print(f"ratio (token / trivial)   : throughput {throughput:.2f}, "
              f"p99 {token.p99_ms / baseline.p99_ms:.2f}")
    finally:
        s.gateway.stop()
        s.devidp.stop()


if __name__ == "__main__":
    main()
