"""``httpx.Auth`` that puts a token from the vault on each request, for ``httpx.Client`` and
``httpx.AsyncClient`` alike.

The auth keeps the token it was given until the vault's ``expires_in`` has run out, then asks
again. When the API answers with a status in ``refresh_on`` (default 401) the token is taken for
stale: the auth asks the vault for a fresh one and retries the request once with it, or returns
the answer as it is when the vault still gives the same token. Asking is *single flight*: when
many requests in flight fail with the same stale token, one of them asks the vault and the others
wait for its answer; a request whose token was already replaced just retries with the new one.
(The vault itself refreshes only when the provider's rules allow, so asking is always safe.)

Fetching does network I/O, so the auths override ``sync_auth_flow`` and ``async_auth_flow``
rather than ``auth_flow``: ``VaultAuth`` (from the sync ``Client``) guards its token with a
``threading.Lock`` and, inside an ``httpx.AsyncClient``, asks the vault in a worker thread so the
event loop keeps running; ``AsyncVaultAuth`` (from ``AsyncClient``) awaits the vault under an
``anyio.Lock``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncGenerator, Collection, Generator
from datetime import UTC, datetime
from typing import Protocol

import anyio
import anyio.to_thread
import httpx

from authgate_vault_client.wire import Token

DEFAULT_REFRESH_ON: frozenset[int] = frozenset({401})


class TokenSource(Protocol):
    def token(self, provider: str, owner: str = "default") -> Token: ...


class AsyncTokenSource(Protocol):
    async def token(self, provider: str, owner: str = "default") -> Token: ...


class _Held:
    """One token as the auth holds it. Compared by identity: a request remembers the one it used,
    and asks the vault only if that one is still the current one."""

    __slots__ = ("stale_at", "token")

    def __init__(self, token: Token) -> None:
        self.token = token.access_token
        # Seconds on the monotonic clock after which the vault is asked again: the vault's
        # expires_in when it gives one (immune to a wrong wall clock here), else its expires_at.
        if token.expires_in is not None:
            self.stale_at: float | None = time.monotonic() + token.expires_in
        elif token.expires_at is not None:
            left = (token.expires_at - datetime.now(UTC)).total_seconds()
            self.stale_at = time.monotonic() + left
        else:
            self.stale_at = None

    def usable(self) -> bool:
        return self.stale_at is None or time.monotonic() < self.stale_at


def _authorized(request: httpx.Request, held: _Held) -> httpx.Request:
    request.headers["Authorization"] = f"Bearer {held.token}"
    return request


class VaultAuth(httpx.Auth):
    """Tokens from a sync ``Client``; works in ``httpx.Client`` and ``httpx.AsyncClient``."""

    def __init__(self, client: TokenSource, provider: str, owner: str = "default", *,
                 refresh_on: Collection[int] = DEFAULT_REFRESH_ON) -> None:
        self._client, self._provider, self._owner = client, provider, owner
        self._refresh_on = frozenset(refresh_on)
        self._lock = threading.Lock()
        self._held: _Held | None = None

    def _renew(self, seen: _Held | None) -> _Held:
        """The current token, fetched anew only if ``seen`` (the one the caller found stale, or
        None) is still current: whoever holds the lock first fetches, the others reuse."""
        with self._lock:
            held = self._held
            if held is None or held is seen:
                held = self._held = _Held(self._client.token(self._provider, self._owner))
            return held

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response,
                                                                  None]:
        held = self._held
        if held is None or not held.usable():
            held = self._renew(held)
        response = yield _authorized(request, held)
        if response.status_code in self._refresh_on:
            fresh = self._renew(held)
            if fresh.token != held.token:
                yield _authorized(request, fresh)

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request,
                                                                              httpx.Response]:
        # The sync client blocks, so it runs in a worker thread: the event loop goes on.
        held = self._held
        if held is None or not held.usable():
            held = await anyio.to_thread.run_sync(self._renew, held)
        response = yield _authorized(request, held)
        if response.status_code in self._refresh_on:
            fresh = await anyio.to_thread.run_sync(self._renew, held)
            if fresh.token != held.token:
                yield _authorized(request, fresh)


class AsyncVaultAuth(httpx.Auth):
    """Tokens from an ``AsyncClient``; works in ``httpx.AsyncClient`` only."""

    def __init__(self, client: AsyncTokenSource, provider: str, owner: str = "default", *,
                 refresh_on: Collection[int] = DEFAULT_REFRESH_ON) -> None:
        self._client, self._provider, self._owner = client, provider, owner
        self._refresh_on = frozenset(refresh_on)
        self._lock = anyio.Lock()
        self._held: _Held | None = None

    async def _renew(self, seen: _Held | None) -> _Held:
        """As ``VaultAuth._renew``, awaiting the vault while other tasks run."""
        async with self._lock:
            held = self._held
            if held is None or held is seen:
                held = self._held = _Held(await self._client.token(self._provider, self._owner))
            return held

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response,
                                                                  None]:
        raise TypeError("AsyncVaultAuth needs an httpx.AsyncClient; with httpx.Client use the "
                        "auth of a sync Client")

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request,
                                                                              httpx.Response]:
        held = self._held
        if held is None or not held.usable():
            held = await self._renew(held)
        response = yield _authorized(request, held)
        if response.status_code in self._refresh_on:
            fresh = await self._renew(held)
            if fresh.token != held.token:
                yield _authorized(request, fresh)


__all__ = ["DEFAULT_REFRESH_ON", "AsyncTokenSource", "AsyncVaultAuth", "TokenSource", "VaultAuth"]
