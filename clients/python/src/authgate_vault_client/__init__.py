"""A small client for bots: fresh tokens from the authgate vault, and an ``httpx.Auth`` that uses
them. Needs only httpx; the server package re-exports it as ``authgate.Client`` and so on.

    vault = Client("http://127.0.0.1:8000", api_key)
    token = vault.token("hh", owner="tg:12345")
    api = httpx.Client(auth=vault.auth("hh", owner="tg:12345"))

    async with AsyncClient("http://127.0.0.1:8000", api_key) as vault:
        token = await vault.token("hh", owner="tg:12345")
        api = httpx.AsyncClient(auth=vault.auth("hh", owner="tg:12345"))

The auth puts the token on each request and asks the vault again when it has expired; on a 401
(or the statuses given as ``refresh_on``) it asks the vault for a fresh token — one call shared by
every request that failed with the same token — and retries once with it. The vault refreshes
only when the provider's rules allow, so this is safe. Errors are ``AuthgateError``s with the
API's ``error`` code and ``detail``: ``NeedsReauth`` (send the owner a new connect link),
``NotFound``, ``Unauthorized`` (the API key), ``RateLimited``, ``Unavailable``, …
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from authgate_vault_client.auth import AsyncVaultAuth, VaultAuth
    from authgate_vault_client.client import AsyncClient, Client
    from authgate_vault_client.errors import (
        AuthgateError,
        Conflict,
        Forbidden,
        InvalidRequest,
        NeedsReauth,
        NotFound,
        RateLimited,
        Unauthorized,
        Unavailable,
    )
    from authgate_vault_client.wire import Token

# Imported on first use (PEP 562): the errors alone (what the server's own modules and its CLI
# need) come without httpx, which the clients pull in.
_WHERE = {
    "AsyncVaultAuth": "auth", "VaultAuth": "auth", "AsyncClient": "client", "Client": "client",
    "Token": "wire", **dict.fromkeys(("AuthgateError", "Conflict", "Forbidden", "InvalidRequest",
                                       "NeedsReauth", "NotFound", "RateLimited", "Unauthorized",
                                       "Unavailable"), "errors"),
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


__version__ = "0.1.0"
__all__ = [
    "AsyncClient",
    "AsyncVaultAuth",
    "AuthgateError",
    "Client",
    "Conflict",
    "Forbidden",
    "InvalidRequest",
    "NeedsReauth",
    "NotFound",
    "RateLimited",
    "Token",
    "Unauthorized",
    "Unavailable",
    "VaultAuth",
    "__version__",
]
