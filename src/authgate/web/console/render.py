"""Rendering a console page: the signed-in person, the section navigation and the CSRF token
go into every template, so pages only pass their own data."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse

from authgate.web.console.user import ConsoleUser
from authgate.web.csrf import CSRF_FIELD, attach_csrf_cookie, csrf_token
from authgate.web.pages import render

# (path, message key, administrators only)
SECTIONS = [
    ("/console", "console.dashboard", False),
    ("/console/connections", "console.connections", False),
    ("/console/users", "console.users", True),
    ("/console/signins", "console.signins", True),
    ("/console/apikeys", "console.apikeys", True),
    ("/console/webhooks", "console.webhooks", True),
]


def page(request: Request, user: ConsoleUser, template: str,
         context: dict[str, Any] | None = None, *, status_code: int = 200) -> HTMLResponse:
    path = request.url.path
    sections = [(href, key, href == path) for href, key, admin in SECTIONS
                if user.is_admin or not admin]
    page_key = next((key for href, key, _ in SECTIONS if href == path), "console.title")
    response = render(request, template, {
        "user": user, "sections": sections, "page_key": page_key, "csrf": csrf_token(request),
        "csrf_name": CSRF_FIELD, "notice": "", **(context or {}),
    }, status_code=status_code)
    attach_csrf_cookie(request, response)
    return response
