"""authgate: a self-hosted OAuth2 / OpenID Connect gateway and token vault."""

from authgate.client import Client, Token, VaultAuth

__version__ = "0.1.0"
__all__ = ["Client", "Token", "VaultAuth", "__version__"]
