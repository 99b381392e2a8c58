"""The composition root: builds every service from the settings, once per process.

The web app, the CLI and the tests all start from here, so they share one way of wiring; every
service is a typed attribute, handed on explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from authgate.apikeys import ApiKeys
from authgate.clock import Clock, SystemClock
from authgate.config import Settings
from authgate.flows import FlowStore
from authgate.keyring import Keyring, keyring_path
from authgate.outbox.message import Channel, Router
from authgate.outbox.store import Outbox
from authgate.outbox.worker import DeliveryWorker
from authgate.private_files import read_or_create_key
from authgate.providers import Providers, build_providers
from authgate.signin.services import SigninServices
from authgate.store.db import (
    database_url,
    make_engine,
    make_sessionmaker,
    migrate,
    prepare_data_dir,
)
from authgate.telegram.bot_api import BotApi
from authgate.telegram.channel import TELEGRAM_CHANNEL, TelegramChannel, TelegramRouter
from authgate.telegram.chats import TelegramChats
from authgate.telegram.reconnect import ReconnectNotifier
from authgate.vault.connections import ConnectionStore
from authgate.vault.links import ConnectLinks
from authgate.vault.service import Vault
from authgate.webhooks.channel import WebhookChannel
from authgate.webhooks.endpoints import CHANNEL as WEBHOOK_CHANNEL
from authgate.webhooks.endpoints import WebhookEndpoints

CSRF_KEY_FILE = "csrf.key"


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    engine: Engine
    db: sessionmaker[Session]
    keyring: Keyring
    http: httpx.AsyncClient
    providers: Providers
    vault: Vault
    flows: FlowStore
    links: ConnectLinks
    apikeys: ApiKeys
    signin: SigninServices
    # Events written with the changes that cause them, and the worker that delivers them.
    outbox: Outbox
    webhooks: WebhookEndpoints
    webhook_channel: WebhookChannel
    delivery: DeliveryWorker
    telegram_chats: TelegramChats
    # Asks tg:<chat_id> owners to connect again; None without [telegram].
    telegram: ReconnectNotifier | None
    # Signs the forms' CSRF tokens; one file per data_dir, so every worker accepts every form.
    csrf_key: bytes

    @classmethod
    def open(cls, settings: Settings, *, clock: Clock | None = None,
             transport: httpx.AsyncBaseTransport | None = None) -> Runtime:
        """Create data_dir, open and migrate the database, load (or create) the keys."""
        clock = clock or SystemClock()
        prepare_data_dir(settings.data_dir)
        engine = make_engine(database_url(settings.database_url, settings.data_dir))
        migrate(engine)
        db = make_sessionmaker(engine)
        keyring = Keyring(keyring_path(settings.data_dir))
        timeout = settings.vault.http_timeout.total_seconds()
        http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=min(5.0, timeout)),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
            transport=transport, follow_redirects=False,
        )
        providers = build_providers(settings)
        flows = FlowStore(db, keyring)
        webhooks = WebhookEndpoints(db, keyring, settings.webhooks)
        routers: list[Router] = [webhooks]
        if settings.telegram is not None:
            routers.append(TelegramRouter())
        outbox = Outbox(db, routers=routers)
        vault = Vault(ConnectionStore(db, keyring, outbox), providers, http, clock,
                      settings.vault)
        signin = SigninServices.build(settings, providers=providers, db=db, keyring=keyring,
                                      clock=clock, http=http, flows=flows, outbox=outbox)
        links = ConnectLinks(db)
        telegram_chats = TelegramChats(db)
        webhook_channel = WebhookChannel(webhooks, http, clock)
        channels: dict[str, Channel] = {WEBHOOK_CHANNEL: webhook_channel}
        telegram = None
        if settings.telegram is not None:
            bot = BotApi(http, settings.telegram.api_base,
                         settings.telegram.bot_token.get_secret_value())
            telegram = ReconnectNotifier(
                settings.telegram, bot=bot, links=links, chats=telegram_chats,
                connections=vault.store, providers=vault.providers,
                public_url=settings.public_url, clock=clock)
            channels[TELEGRAM_CHANNEL] = TelegramChannel(telegram)
        delivery = DeliveryWorker(outbox, channels, clock)
        return cls(settings=settings, clock=clock, engine=engine, db=db, keyring=keyring,
                   http=http, providers=providers, vault=vault, flows=flows,
                   links=links, apikeys=ApiKeys(db), signin=signin,
                   outbox=outbox, webhooks=webhooks, webhook_channel=webhook_channel,
                   delivery=delivery, telegram_chats=telegram_chats, telegram=telegram,
                   csrf_key=read_or_create_key(settings.data_dir / CSRF_KEY_FILE))

    async def aclose(self) -> None:
        await self.http.aclose()
        self.engine.dispose()
