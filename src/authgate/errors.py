"""One exception root for everything authgate raises on purpose.

Every error carries a machine-readable ``error`` code and a human ``detail``. Domain code raises
these; only the web layer and the CLI decide what an error becomes (an HTTP status, a page, an exit
code). ``detail`` is shown to people, so it must never contain a secret.

The root and the errors a bot can meet on the API live in the bots' client distribution
(``authgate_vault_client.errors``, which needs nothing of the server) and are the same classes
here: ``except authgate.errors.NeedsReauth`` catches the vault's error in-process and the client's
over HTTP alike. The errors only the server raises are defined below, on that root.
"""

from __future__ import annotations

from authgate_vault_client import errors as _wire
from authgate_vault_client.errors import (
    AuthgateError,
    Conflict,
    Forbidden,
    InvalidRequest,
    NeedsReauth,
    NotFound,
    Unauthorized,
)


class ConfigError(AuthgateError):
    """The configuration is invalid (bad key or value); names the key and the file."""

    error = "config_invalid"


class RateLimited(_wire.RateLimited):
    """Too many attempts; ``retry_after`` seconds until the next one may succeed."""

    retry_after: int

    def __init__(self, detail: str, *, retry_after: int, error: str | None = None) -> None:
        super().__init__(detail, error=error, retry_after=retry_after)


class FlowError(AuthgateError):
    """A browser flow (login or connect) cannot go on: bad/expired/reused state, denied consent."""

    error = "invalid_state"


class IdTokenError(AuthgateError):
    """An ID token (or userinfo answer) failed a check required by OpenID Connect Core."""

    error = "invalid_id_token"


class ProviderError(AuthgateError):
    """A provider answered with an error or not at all.

    ``transient`` errors may be retried later; the others mean retrying will not help.
    ``retry_after`` is the provider's hint in seconds, when it gave one.
    """

    error = "provider_error"

    def __init__(
        self,
        detail: str,
        *,
        transient: bool,
        error: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(detail, error=error)
        self.transient = transient
        self.retry_after = retry_after


class ProviderUnavailable(ProviderError):
    """The provider cannot serve us right now (429, 5xx; or it fails and the token we hold has
    expired): try again in ``retry_after`` seconds when known."""

    error = "provider_unavailable"

    def __init__(self, detail: str, *, retry_after: float | None = None) -> None:
        super().__init__(detail, transient=True, retry_after=retry_after)


class DatabaseUnavailable(AuthgateError):
    """The database does not answer (stopped, restarting, unreachable): try again shortly."""

    error = "database_unavailable"

    def __init__(self, detail: str = "The database is not answering; try again shortly.", *,
                 retry_after: int = 5) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


__all__ = [
    "AuthgateError",
    "ConfigError",
    "Conflict",
    "DatabaseUnavailable",
    "FlowError",
    "Forbidden",
    "IdTokenError",
    "InvalidRequest",
    "NeedsReauth",
    "NotFound",
    "ProviderError",
    "ProviderUnavailable",
    "RateLimited",
    "Unauthorized",
]
