"""Statements run on the driver's cursor behave as SQLAlchemy's own path does: the same rows and
types, its exceptions, and a lost connection invalidated. On a real PostgreSQL server whose
default time zone is not UTC."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, bindparam, insert, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from authgate.store.db import make_engine, migrate
from authgate.store.driver_sql import DriverStatement
from authgate.store.models import User
from tests.harness import skip_unless_installed
from tests.postgres import pg_bin, postgres_server

pytestmark = [pytest.mark.postgres,
              skip_unless_installed(pg_bin() is not None, "PostgreSQL")]

T0 = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
USERS = User.__table__


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    with postgres_server() as url:
        engine = make_engine(url.replace("postgresql://", "postgresql+psycopg://"), pool_size=2)
        migrate(engine)
        with engine.begin() as conn:
            # Connections default to a zone far from UTC: timestamps must still come back in UTC.
            conn.execute(text("ALTER DATABASE authgate SET timezone TO 'Asia/Tokyo'"))
            for n, role in enumerate(["admin", "viewer", "viewer"]):
                conn.execute(insert(USERS).values(
                    username=f"u{n}", role=role, disabled=False, attributes={"n": n},
                    created_at=T0 + timedelta(minutes=n), updated_at=T0))
        engine.dispose()  # the zone applies to new sessions
        yield engine
        engine.dispose()


def test_rows_types_and_constants_are_those_of_sqlalchemys_path(engine: Engine) -> None:
    query = (select(USERS.c.username, USERS.c.created_at, USERS.c.attributes)
             .where(USERS.c.role == "viewer", USERS.c.created_at > bindparam("after"))
             .order_by(USERS.c.username))
    statement = DriverStatement(query)
    with engine.begin() as conn:
        assert conn.exec_driver_sql("SHOW timezone").scalar() == "Asia/Tokyo"
        rows = statement.rows(conn, {"after": T0})
        expected = list(conn.execute(query, {"after": T0}))
    assert [tuple(r) for r in rows] == [tuple(r) for r in expected] == [
        ("u1", T0 + timedelta(minutes=1), {"n": 1}), ("u2", T0 + timedelta(minutes=2), {"n": 2})]
    assert rows[0].username == "u1" and rows[0].created_at.tzinfo is UTC


def test_a_statement_without_rows_changes_them_in_the_callers_transaction(
        engine: Engine) -> None:
    rename = DriverStatement(update(USERS).where(USERS.c.username == bindparam("old"))
                             .values(username=bindparam("new")))
    with pytest.raises(RuntimeError), engine.begin() as conn:
        assert rename.rows(conn, {"old": "u0", "new": "renamed"}) == []
        raise RuntimeError("rolled back")
    with engine.connect() as conn:
        assert conn.scalar(select(USERS.c.username).where(USERS.c.id == 1)) == "u0"


def test_a_driver_error_is_sqlalchemys_without_the_parameters(engine: Engine) -> None:
    no_role = DriverStatement(update(USERS).where(USERS.c.username == "u2")
                              .values(name=bindparam("name"), role=bindparam("role")))
    with pytest.raises(IntegrityError) as raised, engine.begin() as conn:
        no_role.rows(conn, {"name": "secret-value-4711", "role": None})
    # The server's own message may quote the row; the parameters are not added to it.
    assert "role" in str(raised.value) and "[parameters:" not in str(raised.value)
    assert not raised.value.connection_invalidated


def test_a_lost_connection_is_invalidated_and_the_next_transaction_works(
        engine: Engine) -> None:
    count = DriverStatement(select(USERS.c.id).where(USERS.c.disabled.is_(False)))
    with engine.connect() as other, pytest.raises(DBAPIError) as raised, \
            engine.begin() as conn:
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        count.rows(conn, {})
    assert raised.value.connection_invalidated
    with engine.begin() as conn:
        assert len(count.rows(conn, {})) == 3


def test_a_statement_that_expands_parameters_is_refused(engine: Engine) -> None:
    expanding = DriverStatement(select(USERS.c.id).where(
        USERS.c.id.in_(bindparam("ids", expanding=True))))
    with engine.begin() as conn, pytest.raises(TypeError, match="expand"):
        expanding.rows(conn, {"ids": [1]})
