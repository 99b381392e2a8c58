"""The sign-in log, for administrators: newest first, filtered by username, provider, result."""

from __future__ import annotations

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from authgate.signin.audit import LOCAL
from authgate.web.console.access import ConsoleUser, console_page
from authgate.web.console.render import page
from authgate.web.console.timefmt import absolute
from authgate.web.i18n import CATALOG, negotiate, translate
from authgate.web.request_context import runtime_of

LIMIT = 200
RESULTS = ("success", "failure", "refused")
# Reasons the log's table says in words; any other is shown as its code.
REASON_KEYS = frozenset(key for key in CATALOG.messages["en"] if key.startswith("reason."))


@console_page(admin=True)
async def signins_page(request: Request, user: ConsoleUser) -> Response:
    runtime = runtime_of(request)
    params = request.query_params
    filters = {"username": params.get("username", "").strip()[:150],
               "provider": params.get("provider", "").strip()[:64],
               "result": params.get("result", "") if params.get("result") in RESULTS else ""}
    events = await anyio.to_thread.run_sync(lambda: runtime.signin.log.recent(
        limit=LIMIT, username=filters["username"] or None,
        provider=filters["provider"] or None, result=filters["result"] or None))
    lang = negotiate(request)
    names = {p.name: p.display_name for p in runtime.providers.values()}
    choices = [(LOCAL, translate(lang, "provider.password")),
               *runtime.signin.oidc.login_providers()]
    names[LOCAL] = translate(lang, "provider.password")
    return page(request, user, "console/signins.html", {
        "filters": filters, "provider_choices": choices, "reasons": REASON_KEYS,
        "events": [{"at": e.at.strftime("%Y-%m-%d %H:%M:%S UTC"), "at_iso": absolute(e.at),
                    "username": e.username, "provider": names.get(e.provider, e.provider),
                    "result": e.result, "reason": e.reason, "ip": e.ip} for e in events],
    })


def routes() -> list[BaseRoute]:
    return [Route("/signins", signins_page)]
