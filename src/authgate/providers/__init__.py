"""The configured providers: one ``Provider`` per entry, with its capabilities.

The composition root calls ``build_providers(settings)`` once and hands the result to the vault
(which keeps those it can connect) and to sign-in (those people sign in with).
"""

from authgate.providers.base import Account, Capabilities, Provider, RefreshFailure
from authgate.providers.registry import Providers, build_providers, capabilities_of

__all__ = ["Account", "Capabilities", "Provider", "Providers", "RefreshFailure",
           "build_providers", "capabilities_of"]
