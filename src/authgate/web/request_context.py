"""What a route reads from its request: the runtime, the Bearer token, a JSON body, the peer."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from starlette.requests import Request

from authgate.runtime import Runtime


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def bearer_token(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The token of an ASGI request's first ``Authorization`` header (the one
    ``request.headers.get`` reads), when its scheme is Bearer."""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() or None if scheme.lower() == "bearer" else None
    return None


def bearer(request: Request) -> str | None:
    return bearer_token(request.scope["headers"])


async def json_body(request: Request) -> dict[str, Any]:
    from authgate.errors import InvalidRequest

    try:
        body = await request.json()
    except ValueError:
        raise InvalidRequest("the body must be a JSON object", error="invalid_json") from None
    if not isinstance(body, dict):
        raise InvalidRequest("the body must be a JSON object", error="invalid_json")
    return body


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def trusted_peer(request: Request) -> bool:
    """Whether the request comes from one of trusted_proxies itself (e.g. Prometheus on this
    machine), not from a client they forward: the proxy headers middleware has already put a
    forwarded client's own address in ``request.client``."""
    peer = client_ip(request)
    if peer is None:
        return False
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    for entry in runtime_of(request).settings.trusted_proxies:
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue  # a host name: never equal to a peer address
    return False
