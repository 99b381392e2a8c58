"""The look-alike and the vault in one process, sharing one fake clock: time moves on command.

Requests go through ``httpx.ASGITransport`` into the real devidp application — a real HTTP
exchange without sockets, not a mock of our own code.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from argon2 import PasswordHasher

from authgate.clock import FrozenClock
from authgate.config import ProviderSettings, Settings
from authgate.devidp import DevIdpOptions, HhOptions, create_devidp_app
from authgate.providers.hh import HeadHunterProvider
from authgate.runtime import Runtime
from tests.launch import cheap_hasher

IDP = "http://devidp.test"
UA = "AuthgateTests/1.0 (tests@example.com)"

# argon2id at its lowest cost: what a test's passwords are hashed with in this process.
CHEAP_HASHER: PasswordHasher = cheap_hasher()


@contextlib.contextmanager
def cheap_password_hashing() -> Iterator[None]:
    """Hash and check passwords in this process with ``CHEAP_HASHER`` for the block (see
    ``tests.launch.cheap_hasher``: the processes the tests fork always do). The tests whose
    point is checks running at the same time keep the production cost.
    """
    from authgate.signin import passwords

    saved = passwords._HASHER
    passwords._HASHER = CHEAP_HASHER
    passwords._dummy_hash.cache_clear()  # made with whichever hasher came first
    try:
        yield
    finally:
        passwords._HASHER = saved
        passwords._dummy_hash.cache_clear()


@dataclass
class InProcess:
    clock: FrozenClock
    runtime: Runtime
    provider: HeadHunterProvider
    idp: httpx.AsyncClient

    async def control(self, path: str, body: dict[str, object] | None = None) -> object:
        response = await (self.idp.post(f"/_devidp/{path}", json=body) if body is not None
                          else self.idp.get(f"/_devidp/{path}"))
        response.raise_for_status()
        return response.json()


def hh_settings(data_dir: Path, **extra: object) -> Settings:
    provider = ProviderSettings(
        kind="hh", client_id="DEVHHCLIENT", client_secret="dev-hh-secret", user_agent=UA,
        authorize_url=f"{IDP}/hh/oauth/authorize", token_url=f"{IDP}/hh/token",
        api_base=f"{IDP}/hh", use=["connect"], **extra)  # type: ignore[arg-type]
    return Settings(public_url="http://gw.test", data_dir=data_dir, providers={"hh": provider})


def make_inprocess(tmp: Path, *, access_lifetime: float = 60.0,
                   wrap: Callable[[Any], Any] | None = None,
                   settings: Callable[[Settings], Settings] | None = None) -> InProcess:
    """``wrap``: an ASGI app put in front of the devidp (a test's own upstream routes);
    ``settings``: changes to the gateway's settings."""
    clock = FrozenClock()
    app = create_devidp_app(DevIdpOptions(
        base_url=IDP, hh=HhOptions(redirect_uris=["http://gw.test/"],
                                   access_lifetime=access_lifetime),
        clock=lambda: clock.now().timestamp()))
    transport = httpx.ASGITransport(app=wrap(app) if wrap else app)
    gateway_settings = hh_settings(tmp / "data")
    if settings is not None:
        gateway_settings = settings(gateway_settings)
    runtime = Runtime.open(gateway_settings, clock=clock, transport=transport)
    provider = runtime.providers["hh"]
    assert isinstance(provider, HeadHunterProvider)
    idp = httpx.AsyncClient(transport=transport, base_url=IDP)
    return InProcess(clock=clock, runtime=runtime, provider=provider, idp=idp)
