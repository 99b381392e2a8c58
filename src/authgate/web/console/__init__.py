"""The web console: server-rendered pages (English and Russian) over the vault and the sign-in
gateway, all under ``/console``. Every page works without JavaScript; ``/static/console.js`` only
adds live updates and confirmations."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Route

from authgate.web.console import (
    account,
    apikeys,
    connections,
    dashboard,
    signin_log,
    users,
    webhooks,
)


def routes() -> list[BaseRoute]:
    # "/" has nothing else to show: the console is the gateway's home page.
    return [
        Route("/", dashboard.console_root),
        Route("/favicon.ico", dashboard.favicon),
        Route("/console", dashboard.dashboard),
        Mount("/console", routes=[*dashboard.routes(), *connections.routes(), *users.routes(),
                                  *signin_log.routes(), *apikeys.routes(), *webhooks.routes(),
                                  *account.routes()]),
    ]
