"""The console's first page: who I am, my role, the identities linked to me, my connections."""

from __future__ import annotations

from pathlib import Path

import anyio
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from authgate.web.console.access import ConsoleUser, console_page
from authgate.web.console.render import page
from authgate.web.i18n import negotiate, translate
from authgate.web.request_context import runtime_of

FAVICON = Path(__file__).parents[1] / "static" / "favicon.png"


def _provider_name(request: Request, name: str | None) -> str:
    if name is None:
        return translate(negotiate(request), "provider.password")
    providers = runtime_of(request).providers
    return providers[name].display_name if name in providers else name


@console_page()
async def dashboard(request: Request, user: ConsoleUser) -> Response:
    runtime = runtime_of(request)
    conns = await anyio.to_thread.run_sync(runtime.vault.store.list_connections)
    identities = [(_provider_name(request, p), subject) for p, subject in user.identities]
    return page(request, user, "console/dashboard.html", {
        "signed_in_with": _provider_name(request, user.provider),
        "identities": identities,
        "my_connections": sum(1 for c in conns if c.owner == user.owner),
    })


async def console_root(request: Request) -> Response:
    return RedirectResponse("/console", status_code=307)


async def favicon(request: Request) -> Response:
    # Browsers ask for it on every site; a 404 would be a console error on every page.
    return FileResponse(FAVICON, media_type="image/png",
                        headers={"Cache-Control": "public, max-age=86400"})


def routes() -> list[BaseRoute]:
    return [Route("/", console_root)]
