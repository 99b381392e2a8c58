"""What a stored connection's fields mean, without the storage: its statuses, the owners with a
meaning of their own, the encryption context of its secrets, and when a stored access token is
handed out as it is. Shared by the store, the vault and ``authgate token``'s short way
(``vault/stored_token.py``), which must not import SQLAlchemy."""

from __future__ import annotations

from datetime import datetime, timedelta

ACTIVE = "active"
NEEDS_REAUTH = "needs_reauth"
# The owner under which a provider's application token (client_credentials) is kept.
APPLICATION_OWNER = "_application"
# Ahead-of-expiry providers: a token with less left than this is refreshed before it is handed out.
MIN_VALIDITY = timedelta(seconds=10)


def secret_aad(provider: str, owner: str, field: str) -> str:
    """The associated data a connection's secret (``access`` or ``refresh``) is sealed with."""
    return f"connection:{provider}:{owner}:{field}"


def handed_out_as_stored(expires_at: datetime | None, next_refresh_at: datetime | None,
                         now: datetime) -> bool:
    """True when the vault gives the stored access token without refreshing, whatever the
    provider's refresh rule: nothing to refresh with, or at least MIN_VALIDITY left (before
    expiry, so an after-expiry provider may not refresh yet either). False means: ask the vault,
    which decides by the rule (it may still give the stored one)."""
    if next_refresh_at is None:
        return True
    return expires_at is not None and expires_at - now >= MIN_VALIDITY
