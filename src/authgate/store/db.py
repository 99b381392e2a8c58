"""Engine, sessions and migrations: SQLite under data_dir by default, PostgreSQL by URL."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.orm import Session, sessionmaker

from authgate.errors import ConfigError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
# The newest revision in migrations/versions (a test holds the two together). Every command
# opens the database; knowing the head without alembic spares each one alembic's import.
HEAD_REVISION = "0008_replicas"


def database_url(setting: str, data_dir: Path) -> str:
    if not setting:
        return f"sqlite:///{data_dir / 'authgate.db'}"
    if setting.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        # The driver is an extra: say so instead of failing later with an ImportError.
        if importlib.util.find_spec("psycopg") is None:
            raise ConfigError("database_url: PostgreSQL needs the psycopg driver, which is not "
                              "installed: pip install 'authgate[postgres]'",
                              error="postgres_extra_missing")
        return "postgresql+psycopg://" + setting.split("://", 1)[1]
    if setting.startswith("sqlite://"):
        return setting
    raise ConfigError("database_url: expected empty (SQLite), postgresql://… or sqlite:///…")


def prepare_data_dir(data_dir: Path) -> None:
    """Create data_dir 0700; everything authgate writes inside it is created 0600."""
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)


def make_engine(url: str, *, pool_size: int = 20) -> Engine:
    if url.startswith("sqlite"):
        db_file = url.removeprefix("sqlite:///")
        if db_file and db_file != ":memory:" and not Path(db_file).exists():
            # Create the file ourselves so it is 0600 whatever the umask.
            os.close(os.open(db_file, os.O_CREAT | os.O_WRONLY, 0o600))
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                               pool_size=pool_size, max_overflow=pool_size)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers go on while the refresh engine writes; busy_timeout waits out short locks.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def _alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


# pg_advisory_lock's key for migrations ("migr" in ASCII): replicas starting together on an
# empty database migrate one after the other, not into each other.
_MIGRATION_LOCK = 0x6D696772


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent; alembic runs only when behind)."""
    if current_revision(engine) == HEAD_REVISION:
        return
    from alembic import command

    if engine.dialect.name != "postgresql":
        command.upgrade(_alembic_config(engine), "head")
        return
    with engine.connect() as lock:
        lock.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK})
        try:
            if current_revision(engine) != HEAD_REVISION:  # another replica may have done it
                command.upgrade(_alembic_config(engine), "head")
        finally:
            lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK})
            lock.commit()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def schema_is_current(engine: Engine) -> bool:
    return current_revision(engine) == HEAD_REVISION


def ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
