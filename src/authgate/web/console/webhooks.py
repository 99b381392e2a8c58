"""Webhook endpoints and their delivery log, for administrators: add (the secret is shown once,
in the answer to the POST), remove, send a test event, resend a delivery.

Endpoints of the config file are listed read-only: they are changed in the file.
"""

from __future__ import annotations

from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from authgate.errors import InvalidRequest
from authgate.outbox.events import EVENT_TYPES
from authgate.outbox.store import DeliveryRecord
from authgate.web.console.access import ConsoleUser, console_page
from authgate.web.console.render import page
from authgate.web.console.timefmt import absolute, relative
from authgate.web.i18n import negotiate
from authgate.web.request_context import runtime_of

LOG_ROWS = 100
NOTICES = ("webhook_removed", "webhook_resent")


async def _context(request: Request) -> dict[str, Any]:
    runtime = runtime_of(request)
    now, lang = runtime.clock.now(), negotiate(request)
    endpoints = await anyio.to_thread.run_sync(runtime.webhooks.list_endpoints)
    counts = await anyio.to_thread.run_sync(runtime.outbox.counts_by_destination, "webhook")
    log: list[DeliveryRecord] = await anyio.to_thread.run_sync(
        lambda: runtime.outbox.recent(limit=LOG_ROWS, channel="webhook"))
    return {
        "event_types": EVENT_TYPES,
        "endpoints": [{"id": e.id, "url": e.url, "events": ", ".join(e.events),
                       "read_only": e.read_only, "counts": counts.get(e.id, {})}
                      for e in endpoints],
        "deliveries": [{"id": d.message_id, "event": d.event_type, "endpoint": d.destination,
                        "state": d.state, "attempts": d.attempts,
                        "answer": d.last_answer or "",
                        "created": relative(d.created_at, now, lang),
                        "created_iso": absolute(d.created_at),
                        "next": (relative(d.next_attempt_at, now, lang)
                                 if d.state == "pending" else "")}
                       for d in log],
    }


async def _render(request: Request, user: ConsoleUser, **extra: Any) -> Response:
    notice = request.query_params.get("notice", "")
    return page(request, user, "console/webhooks.html",
                {**await _context(request), "notice": notice if notice in NOTICES else "",
                 **extra})


@console_page(admin=True)
async def webhooks_page(request: Request, user: ConsoleUser) -> Response:
    return await _render(request, user)


@console_page(admin=True, form=True)
async def add_endpoint(request: Request, user: ConsoleUser, form: dict[str, str]) -> Response:
    runtime = runtime_of(request)
    url = form.get("url", "").strip()[:2000]
    events = [t for t in EVENT_TYPES if form.get(f"event.{t}") == "1"]
    now = runtime.clock.now()
    try:
        endpoint, secret = await anyio.to_thread.run_sync(
            lambda: runtime.webhooks.add(url, events=events, now=now))
    except InvalidRequest as exc:
        return await _render(request, user, url_error=exc.detail, url_value=url,
                             checked=events)
    return await _render(request, user, created_secret=secret, created_id=endpoint.id)


@console_page(admin=True, form=True)
async def remove_endpoint(request: Request, user: ConsoleUser, form: dict[str, str]) -> Response:
    runtime = runtime_of(request)
    endpoint_id = request.path_params["endpoint_id"]
    await anyio.to_thread.run_sync(runtime.webhooks.remove, endpoint_id)
    return RedirectResponse("/console/webhooks?notice=webhook_removed", status_code=303)


@console_page(admin=True, form=True)
async def test_endpoint(request: Request, user: ConsoleUser, form: dict[str, str]) -> Response:
    runtime = runtime_of(request)
    _, result = await runtime.webhook_channel.send_test(request.path_params["endpoint_id"])
    return await _render(request, user, test_ok=result.kind == "delivered",
                         test_answer=result.answer)


@console_page(admin=True, form=True)
async def resend(request: Request, user: ConsoleUser, form: dict[str, str]) -> Response:
    runtime = runtime_of(request)
    message_id = request.path_params["message_id"]
    now = runtime.clock.now()
    await anyio.to_thread.run_sync(lambda: runtime.outbox.resend(message_id, now=now))
    runtime.delivery.wake()
    return RedirectResponse("/console/webhooks?notice=webhook_resent", status_code=303)


def routes() -> list[BaseRoute]:
    return [
        Route("/webhooks", webhooks_page),
        Route("/webhooks", add_endpoint, methods=["POST"]),
        Route("/webhooks/{endpoint_id}/remove", remove_endpoint, methods=["POST"]),
        Route("/webhooks/{endpoint_id}/test", test_endpoint, methods=["POST"]),
        Route("/webhooks/deliveries/{message_id}/resend", resend, methods=["POST"]),
    ]
