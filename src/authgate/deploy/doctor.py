"""``authgate doctor``: what is wrong with this installation, and how to fix it.

Local checks (files and their modes, the database) run first, then the network checks
(providers, the proxy) concurrently. Nothing is created or changed: a missing database file is
reported, not made, and the keyring is opened only when its file exists. A check that cannot
decide (authgate not running, a provider's 5xx) is a warning; only failures make the command
exit 1.
"""

from __future__ import annotations

import asyncio
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from sqlalchemy import Engine, func, select

from authgate.clock import SystemClock
from authgate.config import Settings
from authgate.deploy import doctor_net
from authgate.deploy.doctor_check import Check
from authgate.errors import AuthgateError
from authgate.keyring import Keyring, keyring_path, parse_master_key
from authgate.outbox.store import Outbox
from authgate.store.data_keys import DatabaseKeys, has_data_keys
from authgate.store.db import (
    database_url,
    make_engine,
    make_sessionmaker,
    ping,
    schema_is_current,
)
from authgate.store.db_clock import SKEW_WARNING_SECONDS, DatabaseClock
from authgate.store.models import Connection, User
from authgate.vault.connections import NEEDS_REAUTH, ConnectionStore, ConnectionView

DB_CONNECT_TIMEOUT = 10  # seconds; libpq would wait for a black-holed server forever
INIT_HINT = "run `authgate init` (or start `authgate serve` once): it creates and migrates it"


async def run_doctor(
    settings: Settings,
    *,
    http: httpx.AsyncClient,
    config_path: Path | None = None,
    registered_redirect_uris: Mapping[str, Sequence[str]] | None = None,
) -> list[Check]:
    checks = [
        Check("configuration", True, f"loaded {config_path}" if config_path
              else "no configuration file: defaults and AUTHGATE_* environment variables"),
        _public_url_setting(settings),
    ]
    checks.append(_data_dir(settings.data_dir))
    key = keyring_path(settings.data_dir)
    url = _with_connect_timeout(database_url(settings.database_url, settings.data_dir))
    sqlite_file = Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None
    if sqlite_file is not None and sqlite_file.exists():  # a missing one: see "database"
        checks.append(_private_file("database file", sqlite_file, also=("-wal", "-shm")))
    master = settings.keyring.master_key
    db_checks, connection_count = await asyncio.to_thread(
        _database, url, sqlite_file, key, parse_master_key(master) if master else None)
    if any(c.name == "database" and c.ok for c in db_checks):
        db_checks.append(await asyncio.to_thread(_signin, settings, url, config_path))
    if not master:
        checks.append(_key_file(key, connection_count))
    checks.extend(db_checks)
    checks.extend(await _network(settings, http, registered_redirect_uris or {}))
    return checks


# -- local --------------------------------------------------------------------------------------

def _public_url_setting(settings: Settings) -> Check:
    host = urlsplit(settings.public_url).hostname or ""
    if settings.is_https or host in ("127.0.0.1", "localhost", "::1"):
        return Check("public_url", True, settings.public_url)
    return Check("public_url", True, f"{settings.public_url} is plain http on a non-loopback "
                 "host: session cookies are sent unencrypted and are not marked Secure",
                 "serve it over https (authgate deploy nginx --tls certbot)", warning=True)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _data_dir(path: Path) -> Check:
    name = "data_dir"
    if not path.exists():
        return Check(name, False, f"{path} does not exist", INIT_HINT)
    if not path.is_dir():
        return Check(name, False, f"{path} is not a directory")
    mode = _mode(path)
    if mode != 0o700:
        return Check(name, False,
                     f"{path.name} is {mode:04o}, expected 0700; fix: chmod 700 {path}")
    return Check(name, True, f"{path} (0700)")


def _private_file(name: str, path: Path, also: Sequence[str] = ()) -> Check:
    if not path.exists():
        return Check(name, False, f"{path} does not exist", INIT_HINT)
    wrong = [(p, _mode(p)) for p in [path, *(Path(f"{path}{s}") for s in also)]
             if p.exists() and _mode(p) != 0o600]
    if wrong:
        return Check(name, False, "; ".join(
            f"{p.name} is {m:04o}, expected 0600; fix: chmod 600 {p}" for p, m in wrong))
    return Check(name, True, f"{path} (0600)")


def _key_file(path: Path, connection_count: int | None) -> Check:
    if path.exists():
        return _private_file("key file", path)
    if connection_count:
        # A new key would be created on start, and every stored token would be unreadable.
        return Check("key file", False,
                     f"{path} is missing but the database holds {connection_count} "
                     "connection(s) encrypted with it",
                     "restore keyring.json from a backup before starting authgate")
    return Check("key file", True, f"{path} does not exist yet", INIT_HINT, warning=True)


def _with_connect_timeout(url: str) -> str:
    if not url.startswith("postgresql") or "connect_timeout=" in url:
        return url
    return f"{url}{'&' if '?' in url else '?'}connect_timeout={DB_CONNECT_TIMEOUT}"


def _database(url: str, sqlite_file: Path | None, key: Path,
              master: bytes | None) -> tuple[list[Check], int | None]:
    """Reachable and migrated; the keys; then the connections that need their owner to connect
    again."""
    if sqlite_file is not None and not sqlite_file.exists():
        return [Check("database", False, f"{sqlite_file} does not exist", INIT_HINT)], None
    try:
        engine = make_engine(url, pool_size=1)
    except Exception as exc:
        return [Check("database", False, f"cannot open the database: {_short(exc)}")], None
    try:
        try:
            ping(engine)
            current = schema_is_current(engine)
        except Exception as exc:
            return [Check("database", False, f"not reachable: {_short(exc)}",
                          "is the server up, and are database_url's user and password right?")
                    ], None
        where = "SQLite" if sqlite_file else "PostgreSQL"
        if not current:
            return [Check("database", False, f"{where} reachable, but the schema is not current",
                          INIT_HINT.replace("creates and migrates", "migrates"))], None
        checks = [Check("database", True, f"{where} reachable, schema current")]
        if sqlite_file is None:
            checks.append(_database_clock(engine))
        db = make_sessionmaker(engine)
        if master is not None and not has_data_keys(db):
            return [*checks, Check("encryption keys", True, "none in the database yet: the "
                                   "first start with the master key creates them",
                                   warning=True)], 0
        if master is not None:
            try:
                keyring = Keyring(DatabaseKeys(db, master))
            except AuthgateError as exc:
                return [*checks, Check("encryption keys", False, exc.detail,
                                       "give every replica the same [keyring] master_key")], None
            checks.append(Check("encryption keys", True,
                                "in the database, opened with the master key"))
            views = ConnectionStore(db, keyring, Outbox(db)).list_connections()
            return [*checks, _connections(views)], len(views)
        if sqlite_file is None:
            checks.append(Check("encryption keys", True, f"in {key}: this machine only",
                                "several replicas need one keyring: set [keyring] master_key "
                                "(authgate keys master-key), the same on each", warning=True))
        if not key.exists():
            # Only count: opening the keyring would create a new, wrong key file.
            with engine.connect() as conn:
                count = conn.scalar(select(func.count()).select_from(Connection))
            return checks, int(count or 0)
        try:
            views = ConnectionStore(db, Keyring(key), Outbox(db)).list_connections()
        except AuthgateError as exc:
            return [*checks, Check("connections", False, exc.detail)], None
        return [*checks, _connections(views)], len(views)
    finally:
        engine.dispose()


def _database_clock(engine: Engine) -> Check:
    """This machine's clock against the database server's, which every replica goes by."""
    skew = DatabaseClock(SystemClock(), engine).sync() or 0.0
    label = "database clock"
    if abs(skew) > SKEW_WARNING_SECONDS:
        return Check(label, True, f"this machine's clock is {skew:+.1f} s off the database's",
                     "authgate goes by the database's time, so tokens stay right; still, "
                     "synchronize this machine's clock (systemd-timesyncd, chrony)", warning=True)
    return Check(label, True, f"within {SKEW_WARNING_SECONDS:.0f} s of the database's "
                              f"({skew:+.3f} s)")


def _login_providers(settings: Settings) -> list[str]:
    return [name for name, conf in settings.providers.items()
            if "login" in conf.use and conf.kind == "oidc"]


def _signin(settings: Settings, url: str, config_path: Path | None) -> Check:
    """Somebody must be able to sign in: a local account with a password, or a sign-in
    provider; and somebody should be an administrator, or nobody can use the console."""
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            enabled = User.disabled.is_(False)
            passwords = int(conn.scalar(select(func.count()).select_from(User).where(
                enabled, User.password_hash.is_not(None))) or 0)
            admins = int(conn.scalar(select(func.count()).select_from(User).where(
                enabled, User.role == "admin")) or 0)
    finally:
        engine.dispose()
    config = f" --config {config_path}" if config_path else ""
    add_admin = f"authgate users add NAME --role admin{config}"
    providers = _login_providers(settings)
    ways = []
    if settings.login.password and passwords:
        ways.append(f"{passwords} account(s) with a password")
    if providers:
        ways.append("provider(s) " + ", ".join(providers))
    if not ways:
        why = ("no user has a password" if settings.login.password
               else "password sign-in is off (login.password = false)")
        return Check("sign-in", False, f"nobody can sign in: {why} and no sign-in provider "
                     "is configured", f"add the first administrator: {add_admin}")
    mapped = any("admin" in conf.roles_map.values() for name, conf in settings.providers.items()
                 if name in providers)
    if not admins and not mapped:
        return Check("sign-in", True, "by " + "; ".join(ways) + ", but nobody is an "
                     "administrator (the console's admin pages stay closed)",
                     f"add one: {add_admin}", warning=True)
    return Check("sign-in", True, "by " + "; ".join(ways))


def _connections(views: Sequence[ConnectionView]) -> Check:
    stale = [v for v in views if v.status == NEEDS_REAUTH]
    if not stale:
        return Check("connections", True, f"{len(views)} connection(s), none needs "
                     "re-authorization")
    lines = [f"{v.provider}/{v.owner}: {v.last_error or 'needs re-authorization'}"
             for v in stale]
    first = stale[0]
    return Check("connections", True,
                 f"{len(stale)} of {len(views)} need re-authorization: " + "; ".join(lines),
                 f"the owner connects again, e.g. `authgate connect {first.provider} "
                 f"--owner {first.owner}`",
                 warning=True)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


# -- network ------------------------------------------------------------------------------------

async def _network(settings: Settings, http: httpx.AsyncClient,
                   registered: Mapping[str, Sequence[str]]) -> list[Check]:
    names = list(settings.providers)
    proxy_task = asyncio.ensure_future(doctor_net.probe_public_url(http, settings))
    per_provider = await asyncio.gather(
        *(_provider(settings, name, http, registered.get(name)) for name in names))
    proxy = await proxy_task
    checks: list[Check] = []
    skews: dict[str, float] = {}
    for name, (provider_checks, skew) in zip(names, per_provider, strict=True):
        checks.extend(provider_checks)
        if skew is not None:
            skews[name] = skew
    if names:
        checks.append(doctor_net.clock_result(skews))
    checks.append(proxy)
    return checks


def redirect_uris(settings: Settings, name: str) -> list[str]:
    """Every redirect URI the provider must have registered, the main one first."""
    conf = settings.providers[name]
    uris = [settings.redirect_uri(name)]
    if "login" in conf.use and conf.kind == "oidc":
        uris.append(f"{settings.public_url}/api/auth/oidc/{name}/callback")
    return uris


async def _provider(settings: Settings, name: str, http: httpx.AsyncClient,
                    registered: Sequence[str] | None) -> tuple[list[Check], float | None]:
    conf = settings.providers[name]
    uris = redirect_uris(settings, name)
    probe = await doctor_net.probe_provider(http, name, conf)
    checks = list(probe.results)
    note = (f" (callback_path {conf.callback_path} replaces /auth/{name}/callback)"
            if conf.callback_path else "")
    alias = (f"; and {uris[1]} if a panel signs in through /api/auth/oidc/{name}/login"
             if len(uris) > 1 else "")
    checks.append(Check(f"provider {name}: redirect URIs", True,
                        f"register {uris[0]}{alias}{note}"))
    if registered is not None:
        missing = [u for u in uris[:1] if u not in registered]
        if missing:
            checks.append(Check(f"provider {name}: registered redirect URIs", False,
                                f"{missing[0]} is not among {', '.join(registered) or '(none)'}",
                                "register it, or set public_url/callback_path to match"))
    if probe.authorize_endpoint:
        results = await asyncio.gather(*(
            doctor_net.probe_redirect_uri(http, name, conf, probe.authorize_endpoint, uri,
                                          required=i == 0) for i, uri in enumerate(uris)))
        checks.extend(results)
    return checks, probe.skew


__all__ = ["Check", "redirect_uris", "run_doctor"]
