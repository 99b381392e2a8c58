"""A devidp + gateway pair with an API key: the vault's usual test stack."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.harness import DevIdp, Gateway, free_port, hh_provider_config


@dataclass
class Stack:
    devidp: DevIdp
    gateway: Gateway
    api_key: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


def make_stack(tmp: Path, *, access_lifetime: float, extra: str = "",
               database_url: str = "") -> Stack:
    port = free_port()
    devidp = DevIdp(tmp, gateway_url=f"http://127.0.0.1:{port}",
                    access_lifetime=access_lifetime).start()
    top = f'database_url = "{database_url}"\n' if database_url else ""
    gateway = Gateway(tmp, port=port, body=hh_provider_config(devidp.url) + extra, top=top)
    api_key = gateway.create_api_key()
    gateway.start()
    return Stack(devidp, gateway, api_key)


@pytest.fixture
def stack_factory(tmp_path: Path) -> Iterator[object]:
    made: list[Stack] = []

    def factory(access_lifetime: float = 1209600, extra: str = "",
                database_url: str = "") -> Stack:
        stack = make_stack(tmp_path, access_lifetime=access_lifetime, extra=extra,
                           database_url=database_url)
        made.append(stack)
        return stack

    yield factory
    for stack in made:
        stack.gateway.stop()
        stack.devidp.stop()


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
    runtime = Runtime.open(load_settings(stack.gateway.config))
    now = runtime.clock.now()
    for n, grant in enumerate(grants):
        expires_in = int(grant["expires_in"])  # type: ignore[call-overload]
        runtime.vault.store.save_tokens(
            "hh", f"{prefix}:{n}",
            TokenResponse(access_token=str(grant["access_token"]),
                          refresh_token=str(grant["refresh_token"]), expires_in=expires_in),
            Account(id=str(grant["account_id"]), name=None), now=now,
            next_refresh_at=now + timedelta(seconds=expires_in))
    runtime.engine.dispose()
    return grants
