"""The schema revision authgate expects is the newest migration, and migrate() brings a new or
current database there."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from authgate.store.db import (
    HEAD_REVISION,
    MIGRATIONS,
    current_revision,
    make_engine,
    migrate,
    schema_is_current,
)


def test_head_revision_is_the_newest_migration() -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(cfg).get_current_head() == HEAD_REVISION


def test_migrate_creates_the_schema_once(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        assert current_revision(engine) is None and not schema_is_current(engine)
        migrate(engine)
        assert current_revision(engine) == HEAD_REVISION and schema_is_current(engine)
        tables = set(inspect(engine).get_table_names())
        assert {"connections", "users", "alembic_version"} <= tables
        migrate(engine)  # already current: nothing to do, nothing broken
        assert current_revision(engine) == HEAD_REVISION
    finally:
        engine.dispose()
