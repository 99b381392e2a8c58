"""A fresh SQLite database starts as a copy of one migrated in this test process.

Hundreds of tests open a runtime on an empty data_dir, and each would run every migration from
the first (about 35 ms of CPU each, over 10 s for the suite) to reach the same schema. The first
one in a process is made by the real ``migrate``; every later fresh database is a page copy of
it (SQLite's backup API), so ``Runtime.open`` finds the schema current and goes on as it would.
Migrations themselves are tested where they are the point (``tests/store/test_migrations.py``,
``tests/store/test_postgres.py``: those call ``migrate`` on empty databases, not ``Runtime.open``).
"""

from __future__ import annotations

import atexit
import os
import shutil
import sqlite3
import tempfile
from functools import cache
from pathlib import Path

from authgate.config import Settings


@cache
def _template() -> Path:
    from authgate.store.db import make_engine, migrate

    directory = tempfile.mkdtemp(prefix="authgate-schema-")
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    path = Path(directory) / "authgate.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        migrate(engine)
    finally:
        engine.dispose()
    return path


def seed_fresh_database(settings: Settings) -> None:
    """Put the migrated schema in the default SQLite file of ``settings`` if it does not exist
    yet (a PostgreSQL URL or an explicit SQLite path is left alone)."""
    from authgate.store.db import prepare_data_dir

    if settings.database_url:
        return
    target = settings.data_dir / "authgate.db"
    if target.exists():
        return
    prepare_data_dir(settings.data_dir)
    # 0600 whatever the umask, as make_engine creates it.
    os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    source, copy = sqlite3.connect(_template()), sqlite3.connect(target)
    try:
        source.backup(copy)
    finally:
        copy.close()
        source.close()
