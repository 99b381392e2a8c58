"""Routes of the feature packages that sit on top of the core (sign-in, console, demo panel).

Each feature module exposes ``routes(runtime) -> list[BaseRoute]``; this list says which are on.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from authgate.runtime import Runtime


def routes(runtime: Runtime) -> list[BaseRoute]:
    found: list[BaseRoute] = []
    from authgate.web import signin_routes

    found += signin_routes.routes(runtime)
    from authgate.web import console

    found += console.routes(runtime)
    return found
