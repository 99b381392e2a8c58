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
from authgate.errors import ConfigError
from authgate.flows import FlowStore
from authgate.keyring import (
    Keyring,
    KeyringError,
    derive_key,
    keyring_path,
    parse_master_key,
)
from authgate.outbox.message import Channel, Router
from authgate.outbox.store import Outbox
from authgate.outbox.worker import DeliveryWorker
from authgate.outgoing_http import outgoing_client
from authgate.private_files import read_or_create_key
from authgate.providers import Providers, build_providers
from authgate.signin.services import SigninServices
from authgate.store.data_keys import DatabaseKeys, has_data_keys
from authgate.store.db import (
    database_url,
    make_engine,
    make_sessionmaker,
    migrate,
    prepare_data_dir,
)
from authgate.store.db_clock import DatabaseClock
from authgate.telegram.bot_api import BotApi
from authgate.telegram.channel import TELEGRAM_CHANNEL, TelegramChannel, TelegramRouter
from authgate.telegram.chats import TelegramChats
from authgate.telegram.reconnect import ReconnectNotifier
from authgate.vault.connections import ConnectionStore
from authgate.vault.journal import PairJournal
from authgate.vault.links import ConnectLinks
from authgate.vault.service import Vault
from authgate.webhooks.channel import WebhookChannel
from authgate.webhooks.endpoints import CHANNEL as WEBHOOK_CHANNEL
from authgate.webhooks.endpoints import WebhookEndpoints

CSRF_KEY_FILE = "csrf.key"


def open_keyring(settings: Settings, db: sessionmaker[Session]) -> Keyring:
    """The data keys: in the database under the master key when one is given, else in
    data_dir/keyring.json. A database whose keys need a master key this process lacks (or does
    not match) is a configuration error: the process must not start, nor make a key of its own."""
    master = settings.keyring.master_key
    if not master:
        if has_data_keys(db):
            raise ConfigError(
                "keyring.master_key: this database's encryption keys are wrapped by a master "
                "key and none is given (set AUTHGATE_KEYRING__MASTER_KEY or "
                "keyring.master_key_file to the key the other replicas use)",
                error="master_key_missing")
        prepare_data_dir(settings.data_dir)
        return Keyring(keyring_path(settings.data_dir))
    source = DatabaseKeys(db, parse_master_key(master))
    legacy = keyring_path(settings.data_dir)
    try:
        source.initialize(legacy if legacy.exists() else None)
        return Keyring(source)
    except KeyringError as exc:
        raise ConfigError(f"keyring.master_key: {exc.detail} (is it the master key the other "
                          "replicas use?)", error="master_key_wrong") from None


def csrf_key(settings: Settings) -> bytes:
    master = settings.keyring.master_key
    if master:
        return derive_key(parse_master_key(master), "csrf")
    return read_or_create_key(settings.data_dir / CSRF_KEY_FILE)


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    # The database server's time, which every replica shares: the vault's clock.
    db_clock: DatabaseClock
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
    # Signs the forms' CSRF tokens: one file per data_dir, so every worker accepts every form;
    # with a master key, derived from it, so that every replica does.
    csrf_key: bytes

    @classmethod
    def open(cls, settings: Settings, *, clock: Clock | None = None,
             transport: httpx.AsyncBaseTransport | None = None) -> Runtime:
        """Create data_dir, open and migrate the database, load (or create) the keys."""
        clock = clock or SystemClock()
        url = database_url(settings.database_url, settings.data_dir)
        if url.startswith("sqlite"):
            prepare_data_dir(settings.data_dir)
        engine = make_engine(url)
        migrate(engine)
        db = make_sessionmaker(engine)
        try:
            keyring = open_keyring(settings, db)  # may refuse: nothing is created before it
        except BaseException:
            engine.dispose()
            raise
        prepare_data_dir(settings.data_dir)
        db_clock = DatabaseClock(clock, engine)
        db_clock.sync()
        timeout = settings.vault.http_timeout.total_seconds()
        http = outgoing_client(
            timeout=httpx.Timeout(timeout, connect=min(5.0, timeout)),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
            transport=transport)
        providers = build_providers(settings)
        flows = FlowStore(db, keyring)
        webhooks = WebhookEndpoints(db, keyring, settings.webhooks)
        routers: list[Router] = [webhooks]
        if settings.telegram is not None:
            routers.append(TelegramRouter())
        outbox = Outbox(db, routers=routers)
        vault = Vault(ConnectionStore(db, keyring, outbox), providers, http, db_clock,
                      settings.vault, journal=PairJournal(settings.data_dir, keyring))
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
                public_url=settings.public_url, clock=db_clock)
            channels[TELEGRAM_CHANNEL] = TelegramChannel(telegram)
        # Leases and retry times are compared across replicas: the database's clock.
        delivery = DeliveryWorker(outbox, channels, db_clock)
        return cls(settings=settings, clock=clock, db_clock=db_clock, engine=engine, db=db,
                   keyring=keyring, http=http, providers=providers, vault=vault, flows=flows,
                   links=links, apikeys=ApiKeys(db), signin=signin,
                   outbox=outbox, webhooks=webhooks, webhook_channel=webhook_channel,
                   delivery=delivery, telegram_chats=telegram_chats, telegram=telegram,
                   csrf_key=csrf_key(settings))

    async def aclose(self) -> None:
        await self.vault.refresher.aclose()
        await self.http.aclose()
        self.engine.dispose()
