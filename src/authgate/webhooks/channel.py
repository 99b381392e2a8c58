"""The webhook channel of the outbox: one signed POST per attempt.

Any 2xx is delivered; anything else (another status, a timeout, a refused connection) is tried
again later, honouring ``Retry-After`` on 429 and 503. A message whose endpoint was removed is
dead. The answer kept for the delivery log is the status and the start of the receiver's reply;
the URL, the secret and the body are never logged.
"""

from __future__ import annotations

import anyio
import httpx

from authgate import __version__
from authgate.clock import Clock
from authgate.errors import NotFound
from authgate.outbox.events import test_event
from authgate.outbox.message import DeliveryResult, Message
from authgate.outbox.store import new_message_id
from authgate.webhooks import standard_webhooks
from authgate.webhooks.endpoints import WebhookEndpoints

TIMEOUT = 15.0
USER_AGENT = f"authgate-webhooks/{__version__}"
ANSWER_CHARS = 120


class WebhookChannel:
    def __init__(self, endpoints: WebhookEndpoints, http: httpx.AsyncClient,
                 clock: Clock) -> None:
        self.endpoints = endpoints
        self.http = http
        self.clock = clock

    async def deliver(self, message: Message) -> DeliveryResult:
        endpoint = await anyio.to_thread.run_sync(self.endpoints.get, message.destination)
        if endpoint is None:
            return DeliveryResult.failed("the endpoint was removed")
        timestamp = int(self.clock.now().timestamp())
        headers = standard_webhooks.headers(endpoint.key, message.message_id, timestamp,
                                            message.body)
        headers |= {"content-type": "application/json", "user-agent": USER_AGENT}
        try:
            answer = await self.http.post(endpoint.url, content=message.body.encode(),
                                          headers=headers, timeout=TIMEOUT)
        except httpx.TimeoutException:
            return DeliveryResult.retry("timeout")
        except httpx.HTTPError as exc:
            return DeliveryResult.retry(f"no answer ({type(exc).__name__})")
        said = _said(answer)
        if answer.is_success:
            return DeliveryResult.delivered(said)
        retry_after = None
        if answer.status_code in (429, 503):
            retry_after = _seconds(answer.headers.get("retry-after"))
        return DeliveryResult.retry(said, retry_after)


    async def send_test(self, endpoint_id: str) -> tuple[str, DeliveryResult]:
        """One signed ``webhook.test`` POST now, outside the outbox; returns its id and how
        the endpoint answered."""
        if await anyio.to_thread.run_sync(self.endpoints.get, endpoint_id) is None:
            raise NotFound(f"no webhook endpoint {endpoint_id!r}", error="webhook_not_found")
        event = test_event(endpoint_id, self.clock.now())
        message = Message(message_id=new_message_id(), channel="webhook",
                          destination=endpoint_id, ordering_key=event.ordering_key,
                          event_type=event.type, body=event.body(), attempts=0,
                          created_at=event.at)
        return message.message_id, await self.deliver(message)


def _said(answer: httpx.Response) -> str:
    text = " ".join(answer.text[:ANSWER_CHARS].split())
    return f"HTTP {answer.status_code}" + (f": {text}" if text else "")


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
