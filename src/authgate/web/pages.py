"""Server-rendered pages: a Jinja2 environment with the language and helpers in every template."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from authgate.web.cookies import set_cookie
from authgate.web.i18n import (
    CATALOG,
    LANG_COOKIE,
    LANGS,
    Catalog,
    negotiate,
    pick_plural,
)

TEMPLATES = Path(__file__).with_name("templates")


def same_page_in(request: Request, lang: str) -> str:
    """A relative link to this page in another language, keeping the rest of the query
    (``next`` above all)."""
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    return f"{request.url.path}?{urlencode([*query, ('lang', lang)])}"


class Pages:
    """Templates from ``directories`` (first match wins) with words from ``catalog``."""

    def __init__(self, directories: Sequence[Path], catalog: Catalog) -> None:
        self.templates = Jinja2Templates(directory=[str(d) for d in directories])
        self.catalog = catalog

    def render(self, request: Request, name: str, context: dict[str, Any] | None = None, *,
               status_code: int = 200) -> HTMLResponse:
        lang = negotiate(request)
        ctx = {"lang": lang, "langs": LANGS,
               "t": lambda key, **kw: self.catalog.translate(lang, key, **kw),
               # t with plural forms: tn("dash.connections_summary", 3)
               "tn": lambda key, n, **kw: pick_plural(lang, n, self.catalog.translate(
                   lang, key, n=n, **kw)),
               "lang_href": lambda code: same_page_in(request, code), **(context or {})}
        response = self.templates.TemplateResponse(request, name, ctx, status_code=status_code)
        if request.query_params.get("lang") in LANGS:
            set_cookie(request, response, LANG_COOKIE, lang, max_age=365 * 86400)
        return response


GATEWAY_PAGES = Pages([TEMPLATES], CATALOG)


def render(request: Request, name: str, context: dict[str, Any] | None = None, *,
           status_code: int = 200) -> HTMLResponse:
    """A page of the gateway."""
    return GATEWAY_PAGES.render(request, name, context, status_code=status_code)
