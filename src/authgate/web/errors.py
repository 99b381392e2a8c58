"""The only place where authgate errors become HTTP: JSON for APIs, a readable page otherwise."""

from __future__ import annotations

import logging

from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from authgate.errors import (
    AuthgateError,
    Conflict,
    DatabaseUnavailable,
    FlowError,
    Forbidden,
    IdTokenError,
    InvalidRequest,
    NeedsReauth,
    NotFound,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    Unauthorized,
)
from authgate.web.i18n import CATALOG, negotiate, translate
from authgate.web.middleware import BODY_TOO_LARGE
from authgate.web.pages import render

log = logging.getLogger("authgate.web")

STATUS: list[tuple[type[AuthgateError], int]] = [
    (RateLimited, 429),
    (Unauthorized, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (NeedsReauth, 409),
    (Conflict, 409),
    (FlowError, 400),
    (IdTokenError, 400),
    (InvalidRequest, 400),
    (ProviderUnavailable, 503),
    (DatabaseUnavailable, 503),
    (ProviderError, 502),
]

JSON_PREFIXES = ("/api/", "/auth/me", "/auth/token", "/auth/verify", "/readyz")


def status_of(exc: AuthgateError) -> int:
    if exc.error == BODY_TOO_LARGE:
        return 413
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def wants_json(request: Request) -> bool:
    if request.url.path.startswith(JSON_PREFIXES):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def page_text(lang: str, exc: AuthgateError, status: int | None = None) -> str:
    """What a page says about ``exc``: its detail in English; in other languages the sentence
    for its code, or for its HTTP status (the code is shown beside it either way)."""
    if lang == "en":
        return exc.detail
    for key in (f"error.code.{exc.error}", f"error.status.{status or status_of(exc)}"):
        if CATALOG.has(lang, key):
            return translate(lang, key)
    return exc.detail


def error_response(request: Request, exc: AuthgateError, *,
                   status: int | None = None) -> Response:
    status = status or status_of(exc)
    headers = {}
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None and status in (429, 503):
        headers["Retry-After"] = str(max(1, int(retry_after)))
    if status >= 500 and not isinstance(exc, DatabaseUnavailable):  # outages: logged once
        log.error("request failed path=%s error=%s", request.url.path, exc.error)
    if wants_json(request):
        return JSONResponse({"error": exc.error, "detail": exc.detail}, status_code=status,
                            headers=headers)
    lang = negotiate(request)
    response = render(request, "message.html", {
        "title": translate(lang, "error.title"), "body": page_text(lang, exc, status),
        "code": exc.error,
        "back": "/", "tone": "bad"}, status_code=status)
    response.headers.update(headers)
    return response


async def authgate_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AuthgateError)
    return error_response(request, exc)


async def http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    detail = {404: "There is nothing at this address.",
              405: "This address does not accept that method."}.get(exc.status_code,
                                                                      str(exc.detail))
    # Starlette's own 404/405 (no route, wrong method): not a failure of ours, so not logged.
    return error_response(request, AuthgateError(detail, error=code), status=exc.status_code)


async def unexpected_error_handler(request: Request, exc: Exception) -> Response:
    if isinstance(exc, DBAPIError):
        # The database went away (or is restarting): a bot should retry, not report a bug.
        # Not logged per request: the background tasks log the outage once.
        return error_response(request, DatabaseUnavailable())
    # Logged with the exception type only; the page never shows a traceback.
    log.error("unexpected error path=%s exc=%s", request.url.path, type(exc).__name__)
    error = AuthgateError("An unexpected error occurred. It has been logged.",
                          error="internal_error")
    return error_response(request, error)
