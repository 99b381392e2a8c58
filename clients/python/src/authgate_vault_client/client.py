"""The vault's clients: ``Client`` for sync code and threads, ``AsyncClient`` for asyncio and trio.

Each asks ``GET /api/v1/connections/{provider}/{owner}/token`` with the API key, and gives out an
``httpx.Auth`` for calls to the provider's API (see ``authgate_vault_client.auth``).
"""

from __future__ import annotations

from collections.abc import Collection

import httpx

from authgate_vault_client.auth import DEFAULT_REFRESH_ON, AsyncVaultAuth, VaultAuth
from authgate_vault_client.wire import Token, token_from, token_path


class Client:
    """A sync vault client; safe to share between threads."""

    def __init__(self, url: str, api_key: str, *, timeout: float = 30.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self._http = httpx.Client(base_url=url.rstrip("/"), timeout=timeout,
                                  headers={"Authorization": f"Bearer {api_key}"},
                                  transport=transport)

    def token(self, provider: str, owner: str = "default") -> Token:
        """A token valid now; raises ``NeedsReauth``, ``NotFound``, ``Unauthorized``, …"""
        return token_from(self._http.get(token_path(provider, owner)))

    def auth(self, provider: str, owner: str = "default", *,
             refresh_on: Collection[int] = DEFAULT_REFRESH_ON) -> VaultAuth:
        """An ``httpx.Auth`` with this owner's token, for ``httpx.Client`` (or ``AsyncClient``,
        fetching in a worker thread). ``refresh_on``: the API's statuses for a stale token."""
        return VaultAuth(self, provider, owner, refresh_on=refresh_on)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClient:
    """An async vault client, for one event loop."""

    def __init__(self, url: str, api_key: str, *, timeout: float = 30.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._http = httpx.AsyncClient(base_url=url.rstrip("/"), timeout=timeout,
                                       headers={"Authorization": f"Bearer {api_key}"},
                                       transport=transport)

    async def token(self, provider: str, owner: str = "default") -> Token:
        """A token valid now; raises ``NeedsReauth``, ``NotFound``, ``Unauthorized``, …"""
        return token_from(await self._http.get(token_path(provider, owner)))

    def auth(self, provider: str, owner: str = "default", *,
             refresh_on: Collection[int] = DEFAULT_REFRESH_ON) -> AsyncVaultAuth:
        """An ``httpx.Auth`` with this owner's token, for ``httpx.AsyncClient``."""
        return AsyncVaultAuth(self, provider, owner, refresh_on=refresh_on)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
