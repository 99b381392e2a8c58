"""Webhook endpoints: those of the config file (``[[webhooks]]``, read-only here) and those added
at run time (CLI, console), whose secrets are stored as keyring ciphertexts.

``WebhookEndpoints`` is also the outbox ``Router`` of the webhook channel: inside a change's
transaction it names the endpoints subscribed to the event.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from authgate.config import WebhookSettings, check_webhook_url
from authgate.errors import ConfigError, Conflict, InvalidRequest, NotFound
from authgate.keyring import Keyring
from authgate.outbox.events import check_event_names, subscribed
from authgate.outbox.message import Event, Recipient
from authgate.store.driver_sql import DriverStatement
from authgate.store.models import WebhookEndpoint
from authgate.webhooks.standard_webhooks import InvalidSecret, generate_secret, secret_key

CHANNEL = "webhook"
CONFIG_PREFIX = "cfg_"
# Read with every event (every refresh publishes one): built once, not per call.
_SUBSCRIPTIONS = DriverStatement(select(WebhookEndpoint.id, WebhookEndpoint.events).order_by(
    WebhookEndpoint.created_at))
# Where a session keeps what ``_SUBSCRIPTIONS`` read, with the transaction it was read in.
_SUBSCRIPTIONS_READ = "authgate.webhook_subscriptions"


@dataclass(frozen=True)
class Endpoint:
    id: str
    url: str
    events: tuple[str, ...]
    source: Literal["config", "runtime"]
    created_at: datetime | None = None
    key: bytes = field(default=b"", repr=False)

    @property
    def read_only(self) -> bool:
        return self.source == "config"


def _aad(endpoint_id: str) -> str:
    return f"webhook:{endpoint_id}:secret"


def _configured(entries: Sequence[WebhookSettings]) -> dict[str, Endpoint]:
    """The config file's endpoints, keyed by an id derived from the URL (stable across
    restarts, so that queued messages still find their endpoint)."""
    out: dict[str, Endpoint] = {}
    for n, entry in enumerate(entries):
        where = f"webhooks[{n}]"
        try:
            key = secret_key(entry.secret)
        except InvalidSecret as exc:
            raise ConfigError(f"{where}.secret: {exc}") from None
        try:
            events = tuple(check_event_names(entry.events))
        except ValueError as exc:
            raise ConfigError(f"{where}.events: {exc}") from None
        endpoint_id = CONFIG_PREFIX + hashlib.sha256(entry.url.encode()).hexdigest()[:12]
        if endpoint_id in out:
            raise ConfigError(f"{where}.url: {entry.url} is listed twice")
        out[endpoint_id] = Endpoint(endpoint_id, entry.url, events, "config", key=key)
    return out


class WebhookEndpoints:
    def __init__(self, db: sessionmaker[Session], keyring: Keyring,
                 configured: Sequence[WebhookSettings] = ()) -> None:
        self._db = db
        self._keyring = keyring
        self._configured = _configured(configured)

    # -- the outbox router ------------------------------------------------------------------
    def recipients(self, s: Session, event: Event) -> Iterable[Recipient]:
        for endpoint in self._configured.values():
            if subscribed(endpoint.events, event.type):
                yield Recipient(CHANNEL, endpoint.id)
        # Read once per transaction: a batch of refreshes publishes one event each. On the
        # session's connection, past the ORM: its execution path cost more than the query.
        transaction, subscriptions = s.info.get(_SUBSCRIPTIONS_READ, (None, []))
        if transaction is None or transaction is not s.get_transaction():
            subscriptions = [(endpoint_id, list(events or [])) for endpoint_id, events
                             in _SUBSCRIPTIONS.rows(s.connection(), {})]
            s.info[_SUBSCRIPTIONS_READ] = (s.get_transaction(), subscriptions)
        for endpoint_id, events in subscriptions:
            if subscribed(events, event.type):
                yield Recipient(CHANNEL, endpoint_id)

    # -- reading ----------------------------------------------------------------------------
    def list_endpoints(self) -> list[Endpoint]:
        with self._db() as s:
            rows = list(s.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.created_at)))
        return [*self._configured.values(), *(self._view(r, with_key=False) for r in rows)]

    def get(self, endpoint_id: str) -> Endpoint | None:
        """The endpoint with its key, for signing; None when it is not (or no longer) there."""
        if endpoint_id in self._configured:
            return self._configured[endpoint_id]
        with self._db() as s:
            row = s.get(WebhookEndpoint, endpoint_id)
            return self._view(row, with_key=True) if row else None

    def require(self, endpoint_id: str) -> Endpoint:
        endpoint = self.get(endpoint_id)
        if endpoint is None:
            raise NotFound(f"no webhook endpoint {endpoint_id!r}", error="webhook_not_found")
        return endpoint

    # -- writing ----------------------------------------------------------------------------
    def add(self, url: str, *, events: Sequence[str], now: datetime,
            secret: str | None = None) -> tuple[Endpoint, str]:
        """Add an endpoint; returns it and its secret (generated when not given), which is
        shown once and stored only encrypted."""
        try:
            url = check_webhook_url(url.strip())
            names = check_event_names([e.strip() for e in events if e.strip()])
        except ValueError as exc:
            raise InvalidRequest(str(exc), error="invalid_webhook") from None
        secret = (secret or "").strip() or generate_secret()
        try:
            secret_key(secret)
        except InvalidSecret as exc:
            raise InvalidRequest(str(exc), error="invalid_webhook_secret") from None
        endpoint_id = "ep_" + secrets.token_hex(6)
        with self._db.begin() as s:
            row = WebhookEndpoint(id=endpoint_id, url=url, events=names, created_at=now,
                                  secret_enc=self._keyring.encrypt(secret, _aad(endpoint_id)))
            s.add(row)
            s.flush()
            return self._view(row, with_key=False), secret

    def remove(self, endpoint_id: str) -> None:
        if endpoint_id in self._configured:
            raise Conflict("this endpoint comes from the config file ([[webhooks]]); remove it "
                           "there", error="webhook_read_only")
        with self._db.begin() as s:
            gone = s.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id))
            if not gone.rowcount:  # type: ignore[attr-defined]
                raise NotFound(f"no webhook endpoint {endpoint_id!r}", error="webhook_not_found")

    def _view(self, row: WebhookEndpoint, *, with_key: bool) -> Endpoint:
        key = (secret_key(self._keyring.decrypt(row.secret_enc, _aad(row.id)))
               if with_key else b"")
        return Endpoint(row.id, row.url, tuple(row.events or ()), "runtime",
                        created_at=row.created_at, key=key)
