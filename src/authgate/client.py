"""The bots' client, as ``authgate.Client``: fresh tokens from the vault, and an ``httpx.Auth``
that uses them.

    client = authgate.Client("http://127.0.0.1:8000", api_key)
    token = client.token("hh", owner="tg:12345")
    api = httpx.Client(auth=client.auth("hh", owner="tg:12345"))

    async with authgate.AsyncClient("http://127.0.0.1:8000", api_key) as vault:
        api = httpx.AsyncClient(auth=vault.auth("hh", owner="tg:12345"))

The auth flow puts the token on each request; on a 401 it asks the vault for a fresh token once
(one call for all the requests that failed with the same token) and retries (the vault refreshes
only when the provider's rules allow, so this is safe).

It lives in a distribution of its own, ``authgate-vault-client`` (``clients/python/``, import
``authgate_vault_client``), so that bots can install it without the server's dependencies; this
module only re-exports it for code written against ``authgate.client``.
"""

from authgate_vault_client import AsyncClient, AsyncVaultAuth, Client, Token, VaultAuth

__all__ = ["AsyncClient", "AsyncVaultAuth", "Client", "Token", "VaultAuth"]
