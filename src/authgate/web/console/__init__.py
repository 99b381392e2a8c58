"""The web console: server-rendered pages (English and Russian) over the vault and the sign-in
gateway. Every page works without JavaScript; ``/static/console.js`` only adds live updates and
confirmations."""

from __future__ import annotations

from starlette.routing import BaseRoute

from authgate.runtime import Runtime
from authgate.web.console import (
    apikeys,
    connections,
    dashboard,
    messages,  # noqa: F401  (registers the console's strings)
    signins,
    users,
)


def routes(runtime: Runtime) -> list[BaseRoute]:
    del runtime  # every page reads the runtime from the request
    return [*dashboard.routes(), *connections.routes(), *users.routes(), *signins.routes(),
            *apikeys.routes()]
