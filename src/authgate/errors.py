"""One exception root for everything authgate raises on purpose.

Every error carries a machine-readable ``error`` code and a human ``detail``. Domain code raises
these; only the web layer and the CLI decide what an error becomes (an HTTP status, a page, an exit
code). ``detail`` is shown to people, so it must never contain a secret.
"""

from __future__ import annotations


class AuthgateError(Exception):
    """Root of authgate's errors: ``error`` is a stable code, ``detail`` a readable sentence."""

    error: str = "authgate_error"

    def __init__(self, detail: str, *, error: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if error is not None:
            self.error = error

    def __str__(self) -> str:
        return f"{self.error}: {self.detail}"


class ConfigError(AuthgateError):
    """The configuration is invalid (bad key or value); names the key and the file."""

    error = "config_invalid"


class InvalidRequest(AuthgateError):
    """The caller sent something malformed or not allowed."""

    error = "invalid_request"


class Unauthorized(AuthgateError):
    """No valid credentials (session, API key, password)."""

    error = "unauthorized"


class Forbidden(AuthgateError):
    """Authenticated, but not allowed (role, disabled account)."""

    error = "forbidden"


class NotFound(AuthgateError):
    error = "not_found"


class Conflict(AuthgateError):
    error = "conflict"


class RateLimited(AuthgateError):
    """Too many attempts; ``retry_after`` seconds until the next one may succeed."""

    error = "rate_limited"

    def __init__(self, detail: str, *, retry_after: int, error: str | None = None) -> None:
        super().__init__(detail, error=error)
        self.retry_after = retry_after


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


class NeedsReauth(AuthgateError):
    """The connection cannot give tokens until its owner connects again; detail says why."""

    error = "needs_reauth"
