"""A small "user's own panel", protected by the gateway the two ways a real one would be.

* ``/`` asks the gateway's ``/auth/me`` with the browser's cookie, as a panel's back-end does.
* ``/reports`` is guarded like nginx ``auth_request``: every request is first checked with
  ``/auth/verify``; 401 sends the browser to the gateway's sign-in page with ``?next=`` back here,
  403 is refused, 200 lets the page through with the ``X-Auth-Request-*`` headers.

The panel runs on another port of the same host, so the gateway's session cookie (cookies are
per host, not per port) reaches it exactly as it would reach ``panel.example.com`` when the
gateway's cookie is set for the parent domain. Coming back from a sign-in, the gateway adds a
one-time ``?handoff=`` code (the panel is another origin); a panel on another domain trades it at
``POST /auth/token`` for the session JWT. This one has the cookie already, so it only redeems the
code (leaving no usable code in the address bar or history) and redirects to the clean URL.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from authgate.signin.handoff import HANDOFF_PARAM
from authgate.web.i18n import CATALOG_PARTS, Catalog
from authgate.web.middleware import SecurityHeaders
from authgate.web.pages import TEMPLATES, Pages

STATIC = Path(__file__).parents[1] / "web" / "static"

EN = {
    "panel.title": "Sample panel",
    "panel.lead": "This small app stands for your own panel. It trusts authgate for who you are.",
    "panel.signed_in": "Signed in as {name} (role: {role}).",
    "panel.signed_out": "You are not signed in.",
    "panel.sign_in": "Sign in through authgate",
    "panel.reports": "Reports (a page behind /auth/verify)",
    "panel.console": "Open the authgate console",
    "panel.how_me": "This page asked the gateway's /auth/me with your cookie.",
    "panel.reports.title": "Reports",
    "panel.reports.lead": "Only signed-in people get here: every request is checked with "
                          "/auth/verify, as nginx auth_request would.",
    "panel.reports.headers": "Headers the gateway sent with its answer",
    "panel.header": "Header",
    "panel.value": "Value",
    "panel.back": "Back to the panel",
    "panel.forbidden": "Your role may not see this page.",
    "panel.gateway_down": "The gateway does not answer; is `authgate demo` running?",
}
RU = {
    "panel.title": "Пример панели",
    "panel.lead": "Это небольшое приложение изображает вашу панель. Кто вы, оно узнаёт у authgate.",
    "panel.signed_in": "Вы вошли как {name} (роль: {role}).",
    "panel.signed_out": "Вы не вошли.",
    "panel.sign_in": "Войти через authgate",
    "panel.reports": "Отчёты (страница за /auth/verify)",
    "panel.console": "Открыть консоль authgate",
    "panel.how_me": "Эта страница спросила /auth/me у шлюза с вашей cookie.",
    "panel.reports.title": "Отчёты",
    "panel.reports.lead": "Сюда попадают только вошедшие: каждый запрос проверяется через "
                          "/auth/verify, как это делает nginx auth_request.",
    "panel.reports.headers": "Заголовки, которые шлюз прислал в ответе",
    "panel.header": "Заголовок",
    "panel.value": "Значение",
    "panel.back": "Вернуться в панель",
    "panel.forbidden": "Вашей роли эта страница недоступна.",
    "panel.gateway_down": "Шлюз не отвечает; запущен ли `authgate demo`?",
}
# The panel's own templates first; the gateway's frame (base.html) and words beside them.
PAGES = Pages([Path(__file__).with_name("templates"), TEMPLATES],
              Catalog(*CATALOG_PARTS, {"en": EN, "ru": RU}))

FORWARDED_HEADERS = ("x-auth-request-user", "x-auth-request-email", "x-auth-request-role")


def create_panel_app(*, gateway_url: str, panel_url: str) -> Starlette:
    gateway = gateway_url.rstrip("/")
    http = httpx.AsyncClient(base_url=gateway, timeout=5.0)

    def gateway_headers(request: Request) -> dict[str, str]:
        # Only the cookie goes to the gateway: it is all a browser session is.
        cookie = request.headers.get("cookie")
        return {"cookie": cookie} if cookie else {}

    def login_url(request: Request) -> str:
        back = panel_url + request.url.path
        return f"{gateway}/login?{urlencode({'next': back})}"

    async def take_handoff(request: Request) -> Response | None:
        code = request.query_params.get(HANDOFF_PARAM)
        if code is None:
            return None
        with contextlib.suppress(httpx.HTTPError):
            # A back-end names the panel's origin itself (a browser's fetch sends it).
            await http.post("/auth/token", json={"code": code},
                            headers={"Origin": panel_url.rstrip("/")})
        return RedirectResponse(panel_url + request.url.path, status_code=303)

    async def home(request: Request) -> Response:
        if (clean := await take_handoff(request)) is not None:
            return clean
        try:
            answer = await http.get("/auth/me", headers=gateway_headers(request))
        except httpx.HTTPError:
            return _down(request)
        me: dict[str, Any] | None = answer.json() if answer.status_code == 200 else None
        return PAGES.render(request, "demo/panel_home.html", {
            "me": me, "login_url": login_url(request), "console_url": f"{gateway}/console"})

    async def reports(request: Request) -> Response:
        if (clean := await take_handoff(request)) is not None:
            return clean
        try:
            answer = await http.get("/auth/verify", headers=gateway_headers(request))
        except httpx.HTTPError:
            return _down(request)
        if answer.status_code == 401:
            return RedirectResponse(login_url(request), status_code=302)
        if answer.status_code != 200:
            return PAGES.render(request, "demo/panel_message.html",
                          {"key": "panel.forbidden"}, status_code=403)
        headers = [(name, answer.headers.get(name, "")) for name in FORWARDED_HEADERS]
        return PAGES.render(request, "demo/panel_reports.html", {"headers": headers})

    def _down(request: Request) -> Response:
        return PAGES.render(request, "demo/panel_message.html", {"key": "panel.gateway_down"},
                      status_code=502)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await http.aclose()

    async def favicon(request: Request) -> Response:
        return FileResponse(STATIC / "favicon.png", media_type="image/png")

    app = Starlette(
        routes=[Route("/", home), Route("/reports", reports), Route("/favicon.ico", favicon),
                Mount("/static", app=StaticFiles(directory=str(STATIC)), name="static")],
        middleware=[Middleware(SecurityHeaders, hsts=False)],
        lifespan=lifespan,
    )
    app.state.secure_cookies = False  # the demo runs on plain http on loopback
    return app
