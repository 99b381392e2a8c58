"""Routes of the feature packages that sit on top of the core (sign-in, console, demo panel).

Each feature module exposes ``routes(runtime) -> list[BaseRoute]``; this list says which are on.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from authgate.runtime import Runtime


def routes(runtime: Runtime) -> list[BaseRoute]:
    found: list[BaseRoute] = []
    return found
