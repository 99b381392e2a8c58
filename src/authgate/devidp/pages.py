"""Server-rendered pages of the development identity provider (sign-in, errors, signed out)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

# Starlette's environment autoescapes, so names and messages cannot inject markup.
_templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

# The pages take no scripts, frames or foreign resources; say so to the browser.
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self' http: https:; frame-ancestors 'none'",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
}


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    return _templates.TemplateResponse(request, name, context, status_code=status, headers=_HEADERS)


def error_page(request: Request, title: str, message: str, status: int = 400) -> Response:
    """For requests that must not be redirected (unknown client, unregistered redirect URI)."""
    return render(request, "error.html", {"title": title, "message": message}, status)
