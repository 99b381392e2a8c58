"""The errors an authgate API can answer with, one class per meaning.

Every error carries the API's machine-readable ``error`` code and its human ``detail``; ``status``
is the HTTP status it came with (``None`` when it was raised without HTTP). The server package
builds its own errors on these classes (``authgate.errors.NeedsReauth`` *is* this
``NeedsReauth``), so one ``except`` clause catches an error whether the vault raised it in-process
or it came over HTTP to this client.
"""

from __future__ import annotations


class AuthgateError(Exception):
    """Root of authgate's errors: ``error`` is a stable code, ``detail`` a readable sentence."""

    error: str = "authgate_error"
    status: int | None = None

    def __init__(self, detail: str, *, error: str | None = None,
                 status: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if error is not None:
            self.error = error
        if status is not None:
            self.status = status

    def __str__(self) -> str:
        return f"{self.error}: {self.detail}"


class InvalidRequest(AuthgateError):
    """The caller sent something malformed or not allowed (400)."""

    error = "invalid_request"


class Unauthorized(AuthgateError):
    """No valid credentials (session, API key, password); to a bot, a bad API key (401)."""

    error = "unauthorized"


class Forbidden(AuthgateError):
    """Authenticated, but not allowed (role, disabled account, a key scoped elsewhere) (403)."""

    error = "forbidden"


class NotFound(AuthgateError):
    """No such provider or connection (404)."""

    error = "not_found"


class Conflict(AuthgateError):
    """The request clashes with the current state (409)."""

    error = "conflict"


class NeedsReauth(AuthgateError):
    """The connection gives no tokens until its owner connects again; ``detail`` says why (409).

    Send the owner a new connect link (``POST /api/v1/connect-sessions``).
    """

    error = "needs_reauth"


class RateLimited(AuthgateError):
    """Too many requests (429); ``retry_after`` is the server's hint in seconds, if it gave one."""

    error = "rate_limited"

    def __init__(self, detail: str, *, error: str | None = None, status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(detail, error=error, status=status)
        self.retry_after = retry_after


class Unavailable(AuthgateError):
    """No token now: the provider failed or could not be reached, or the vault itself could not
    answer (502, 503, 504). Worth retrying later; ``retry_after`` is the server's hint, if any."""

    error = "unavailable"

    def __init__(self, detail: str, *, error: str | None = None, status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(detail, error=error, status=status)
        self.retry_after = retry_after


__all__ = [
    "AuthgateError",
    "Conflict",
    "Forbidden",
    "InvalidRequest",
    "NeedsReauth",
    "NotFound",
    "RateLimited",
    "Unauthorized",
    "Unavailable",
]
