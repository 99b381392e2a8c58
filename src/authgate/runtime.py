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
from authgate.store.db_clock import DatabaseClock
from authgate.vault.connections import ConnectionStore
from authgate.vault.journal import JOURNAL_FILE, PairJournal
from authgate.vault.links import ConnectLinks
from authgate.vault.service import Vault

CSRF_KEY_FILE = "csrf.key"


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
        db_clock = DatabaseClock(clock, engine)
        db_clock.sync()
        keyring = Keyring(keyring_path(settings.data_dir))
        timeout = settings.vault.http_timeout.total_seconds()
        http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=min(5.0, timeout)),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
            transport=transport, follow_redirects=False,
        )
        providers = build_providers(settings)
        flows = FlowStore(db, keyring)
        vault = Vault(ConnectionStore(db, keyring), providers, http, db_clock, settings.vault,
                      journal=PairJournal(settings.data_dir / JOURNAL_FILE, keyring))
        signin = SigninServices.build(settings, providers=providers, db=db, keyring=keyring,
                                      clock=clock, http=http, flows=flows)
        return cls(settings=settings, clock=clock, db_clock=db_clock, engine=engine, db=db,
                   keyring=keyring, http=http, providers=providers, vault=vault, flows=flows,
                   links=ConnectLinks(db), apikeys=ApiKeys(db), signin=signin,
                   csrf_key=read_or_create_key(settings.data_dir / CSRF_KEY_FILE))

    async def aclose(self) -> None:
        await self.vault.refresher.aclose()
        await self.http.aclose()
        self.engine.dispose()
