"""The vault's clients: ``Client`` for sync code and threads, ``AsyncClient`` for asyncio and trio.

Each asks ``GET /api/v1/connections/{provider}/{owner}/token`` with the API key, and gives out an
``httpx.Auth`` for calls to the provider's API (see ``authgate_vault_client.auth``), or an httpx
client that calls the API through authgate's proxy, which adds the token itself (``proxy``).
"""

from __future__ import annotations

from collections.abc import Collection

import httpx

from authgate_vault_client.auth import DEFAULT_REFRESH_ON, AsyncVaultAuth, VaultAuth
from authgate_vault_client.wire import Token, proxy_path, token_from, token_path


class Client:
    """A sync vault client; safe to share between threads."""

    def __init__(self, url: str, api_key: str, *, timeout: float = 30.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self._url, self._timeout, self._transport = url.rstrip("/"), timeout, transport
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self._http = httpx.Client(base_url=self._url, timeout=timeout, headers=self._headers,
                                  transport=transport)

    def token(self, provider: str, owner: str = "default") -> Token:
        """A token valid now; raises ``NeedsReauth``, ``NotFound``, ``Unauthorized``, …"""
        return token_from(self._http.get(token_path(provider, owner)))

    def auth(self, provider: str, owner: str = "default", *,
             refresh_on: Collection[int] = DEFAULT_REFRESH_ON) -> VaultAuth:
        """An ``httpx.Auth`` with this owner's token, for ``httpx.Client`` (or ``AsyncClient``,
        fetching in a worker thread). ``refresh_on``: the API's statuses for a stale token."""
        return VaultAuth(self, provider, owner, refresh_on=refresh_on)

    def proxy(self, provider: str, owner: str = "default") -> httpx.Client:
        """An ``httpx.Client`` for the provider's API through authgate's proxy: paths are
        relative to the provider's API (``.get("/me")``), and authgate adds the owner's token
        and the headers the provider requires, refreshing and retrying once on a stale token.
        Close it (or use it in ``with``) when done."""
        return httpx.Client(base_url=self._url + proxy_path(provider, owner),
                            timeout=self._timeout, headers=self._headers,
                            transport=self._transport)

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
        self._url, self._timeout, self._transport = url.rstrip("/"), timeout, transport
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self._http = httpx.AsyncClient(base_url=self._url, timeout=timeout,
                                       headers=self._headers, transport=transport)

    async def token(self, provider: str, owner: str = "default") -> Token:
        """A token valid now; raises ``NeedsReauth``, ``NotFound``, ``Unauthorized``, …"""
        return token_from(await self._http.get(token_path(provider, owner)))

    def auth(self, provider: str, owner: str = "default", *,
             refresh_on: Collection[int] = DEFAULT_REFRESH_ON) -> AsyncVaultAuth:
        """An ``httpx.Auth`` with this owner's token, for ``httpx.AsyncClient``."""
        return AsyncVaultAuth(self, provider, owner, refresh_on=refresh_on)

    def proxy(self, provider: str, owner: str = "default") -> httpx.AsyncClient:
        """An ``httpx.AsyncClient`` for the provider's API through authgate's proxy (see
        ``Client.proxy``). Close it (or use it in ``async with``) when done."""
        return httpx.AsyncClient(base_url=self._url + proxy_path(provider, owner),
                                 timeout=self._timeout, headers=self._headers,
                                 transport=self._transport)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
