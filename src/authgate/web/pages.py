"""Server-rendered pages: one Jinja2 environment, the language and helpers in every template."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from authgate.web.i18n import LANG_COOKIE, LANGS, negotiate, translate

templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))


def same_page_in(request: Request, lang: str) -> str:
    """A relative link to this page in another language, keeping the rest of the query
    (``next`` above all)."""
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    return f"{request.url.path}?{urlencode([*query, ('lang', lang)])}"


def render(request: Request, name: str, context: dict[str, Any] | None = None, *,
           status_code: int = 200) -> HTMLResponse:
    lang = negotiate(request)
    ctx = {"lang": lang, "langs": LANGS, "t": lambda key, **kw: translate(lang, key, **kw),
           "lang_href": lambda code: same_page_in(request, code), **(context or {})}
    response = templates.TemplateResponse(request, name, ctx, status_code=status_code)
    if request.query_params.get("lang") in LANGS:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax",
                            httponly=True)
    return response
