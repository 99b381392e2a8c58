"""authgate: a self-hosted OAuth2 / OpenID Connect gateway and token vault."""

__version__ = "0.1.0"
