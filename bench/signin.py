"""Sign-in gateway figures, each as a ratio to a baseline of the same server in the same run:

* ``/auth/verify`` with a valid session cookie: req/s and p99 at 200 connections vs ``/healthz``;
* CPU time of the gateway process per complete sign-in (OIDC with the devidp, and password),
  vs CPU per ``/healthz`` request. The devidp runs in its own process, so provider time is not
  counted.

Run: .venv/bin/python -m bench.signin"""

from __future__ import annotations

import os
import tempfile
from contextlib import ExitStack
from pathlib import Path

import httpx

from bench.common import wrk
from tests.signin.conftest import SESSION_COOKIE, SigninStack, make_stack


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_per(stack: SigninStack, action: object, count: int) -> float:
    assert stack.gateway.proc is not None and callable(action)
    before = cpu_seconds(stack.gateway.proc.pid)
    for _ in range(count):
        action()
    return (cpu_seconds(stack.gateway.proc.pid) - before) / count


def main() -> None:
    stack = make_stack(Path(tempfile.mkdtemp(prefix="authgate-bench-signin-")), ExitStack())
    try:
        stack.insert_user("bench", "bench password 123")
        browser = stack.browser()
        browser.password_signin("bench", "bench password 123")
        cookie = f"{SESSION_COOKIE}={browser.session}"
        url = stack.gateway.url
        wrk(f"{url}/healthz", seconds=2)
        baseline = wrk(f"{url}/healthz")
        verify = wrk(f"{url}/auth/verify", headers={"Cookie": cookie})
        print(f"/healthz                 : {baseline}")
        print(f"/auth/verify (cookie)    : {verify}")
        print(f"ratio verify / trivial   : throughput "
              f"{verify.requests_per_second / baseline.requests_per_second:.2f}, "
              f"p99 {verify.p99_ms / baseline.p99_ms:.2f}")

        client = httpx.Client()
        trivial = cpu_per(stack, lambda: client.get(f"{url}/healthz"), 1000)
        email = stack.person("benchoidc")

        def oidc() -> None:
            fresh = stack.browser()
            assert fresh.oidc_signin(login_hint=email).status_code in (200, 302, 303)

        def password() -> None:
            fresh = stack.browser()
            assert fresh.password_signin("bench", "bench password 123").status_code in (302, 303)

        oidc_cpu = cpu_per(stack, oidc, 100)
        password_cpu = cpu_per(stack, password, 30)
        print(f"CPU per /healthz request : {trivial * 1000:.2f} ms")
        print(f"CPU per OIDC sign-in     : {oidc_cpu * 1000:.1f} ms "
              f"({oidc_cpu / trivial:.0f}x a trivial request; provider time excluded)")
        print(f"CPU per password sign-in : {password_cpu * 1000:.1f} ms "
              f"({password_cpu / trivial:.0f}x; argon2id dominates)")
    finally:
        stack.gateway.stop()
        stack.devidp.stop()


if __name__ == "__main__":
    main()
