"""authgate: a self-hosted OAuth2 / OpenID Connect gateway and token vault."""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from authgate_vault_client import AsyncClient, AsyncVaultAuth, Client, Token, VaultAuth

__version__ = "0.1.0"
__all__ = ["AsyncClient", "AsyncVaultAuth", "Client", "Token", "VaultAuth", "__version__"]


def __getattr__(name: str) -> Any:
    # The bots' client, imported on first use: the command line starts without httpx.
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import authgate_vault_client

    return getattr(authgate_vault_client, name)
