"""authgate: a self-hosted OAuth2 / OpenID Connect gateway and token vault."""

from authgate_vault_client import AsyncClient, AsyncVaultAuth, Client, Token, VaultAuth

__version__ = "0.1.0"
__all__ = ["AsyncClient", "AsyncVaultAuth", "Client", "Token", "VaultAuth", "__version__"]
