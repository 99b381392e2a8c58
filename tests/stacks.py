"""A devidp + gateway pair with an API key and one clock: the vault's usual test stack."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.harness import (
    ClockFile,
    DevIdp,
    DevIdpProcess,
    Gateway,
    free_port,
    hh_provider_config,
    stop_together,
)

# hh.ru's access tokens live 14 days; tests that want one to expire move the clock past this.
HH_LIFETIME = 1209600


@dataclass
class Stack:
    devidp: DevIdp | DevIdpProcess
    gateway: Gateway
    api_key: str
    clock: ClockFile

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def expire_tokens(self, lifetime: float = HH_LIFETIME) -> None:
        """Move time past the access tokens' lifetime (and the vault's refresh jitter)."""
        self.clock.advance(lifetime + 5)


def make_stack(tmp: Path, cleanup: ExitStack, *, access_lifetime: float = HH_LIFETIME,
               extra: str = "", database_url: str = "", http_timeout: str | None = None,
               start_gateway: bool = True, devidp_process: bool = False) -> Stack:
    """Start the pair (the gateway only prepared, with ``start_gateway=False``; the devidp as a
    process of its own with ``devidp_process``, as the benchmarks want); ``cleanup`` ends each
    part, whatever happens after it started."""
    port = free_port()
    clock = ClockFile(tmp / "clock")
    devidp = (DevIdpProcess if devidp_process else DevIdp)(
        tmp, gateway_url=f"http://127.0.0.1:{port}", access_lifetime=access_lifetime,
        clock=clock)
    cleanup.callback(devidp.stop)
    devidp.start()
    top = f'database_url = "{database_url}"\n' if database_url else ""
    gateway = Gateway(tmp, port=port, body=hh_provider_config(devidp.url) + extra, top=top,
                      http_timeout=http_timeout, clock=clock)
    cleanup.callback(gateway.stop)
    cleanup.callback(stop_together, gateway, devidp)  # first; the two above are then no-ops
    api_key = gateway.create_api_key()
    if start_gateway:
        gateway.start()
    return Stack(devidp, gateway, api_key, clock)


@pytest.fixture
def stack_factory(tmp_path: Path) -> Iterator[object]:
    with ExitStack() as cleanup:
        made: list[Stack] = []

        def factory(access_lifetime: float = HH_LIFETIME, extra: str = "",
                    database_url: str = "", http_timeout: str | None = None,
                    start_gateway: bool = True) -> Stack:
            sub = tmp_path / f"stack{len(made)}"
            sub.mkdir()
            stack = make_stack(sub, cleanup, access_lifetime=access_lifetime, extra=extra,
                               database_url=database_url, http_timeout=http_timeout,
                               start_gateway=start_gateway)
            made.append(stack)
            return stack

        yield factory


def seed_connections(stack: Stack, count: int, *, expired: bool = True,
                     prefix: str = "seed") -> list[dict[str, object]]:
    """Put ``count`` hh connections into the vault without browser flows: the look-alike mints
    token pairs and the vault's own store saves them, exactly as a callback would."""
    from datetime import timedelta

    from authgate.config import load_settings
    from authgate.protocol.rfc6749_oauth2 import TokenResponse
    from authgate.providers.base import Account
    from authgate.runtime import Runtime

    grants: list[dict[str, object]] = stack.devidp.control(
        "hh/seed", {"count": count, "expired": expired})
    runtime = Runtime.open(load_settings(stack.gateway.config), clock=stack.clock.clock())
    try:
        now = runtime.clock.now()
        for n, grant in enumerate(grants):
            expires_in = int(grant["expires_in"])  # type: ignore[call-overload]
            runtime.vault.store.save_tokens(
                "hh", f"{prefix}:{n}",
                TokenResponse(access_token=str(grant["access_token"]),
                              refresh_token=str(grant["refresh_token"]), expires_in=expires_in),
                Account(id=str(grant["account_id"]), name=None), now=now,
                next_refresh_at=now + timedelta(seconds=expires_in))
    finally:
        runtime.engine.dispose()
    return grants
