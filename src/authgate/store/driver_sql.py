"""Statements run for every refresh: on PostgreSQL, run on the driver's cursor.

SQLAlchemy's execution path (the execution context, parameter and result processing) costs more
CPU than the statement itself through psycopg, and the refresh engine runs a few statements for
every refresh it makes (``bench.store_hot_path``: storing 3 pairs took 1.0 ms of CPU through it,
0.58 ms on the driver). A ``DriverStatement`` is a Core statement compiled once by SQLAlchemy
(the dialect's SQL, bind casts and constant values) that, on PostgreSQL, runs on the psycopg
cursor of the SQLAlchemy connection it is given: same transaction, same pool. Only the
per-statement path is skipped, and what it would have done is done here, for what these
statements use:
- values go to psycopg as they are (aware datetimes, strings, integers);
- timestamps come back in UTC, as ``UtcDateTime`` gives them;
- a driver error is raised as SQLAlchemy's (``DBAPIError`` and its subclasses), and a lost
  connection is invalidated, as SQLAlchemy does: callers (the web layer's "database
  unavailable", the engine's retries) handle one kind of error whichever path ran.

SQLite keeps SQLAlchemy's path: its timestamps are strings that only SQLAlchemy's processors turn
into datetimes, and its statements cost a fraction of a round trip to a server anyway.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Dialect, Select, Update
from sqlalchemy.exc import DBAPIError


class DriverStatement:
    def __init__(self, statement: Update | Select[*tuple[Any, ...]]) -> None:
        self.statement = statement
        self._sql = ""  # compiled for PostgreSQL on first use
        self._constants: Mapping[str, Any] = {}  # values the statement binds itself
        self._row: Any = None  # a named tuple class of the result's columns

    def rows(self, conn: Connection, params: Mapping[str, Any]) -> Sequence[Any]:
        """Run the statement in ``conn``'s transaction; its rows (none when it returns none),
        each with its columns as attributes."""
        if conn.dialect.name != "postgresql":
            result = conn.execute(self.statement, params)
            return list(result) if result.returns_rows else []
        if not self._sql:
            self._compile(conn.dialect)
        dbapi = conn.dialect.loaded_dbapi
        driver = conn.connection.driver_connection
        assert driver is not None
        with driver.cursor() as cursor:
            try:
                cursor.execute(self._sql, {**self._constants, **params})
                rows = cursor.fetchall() if cursor.description is not None else []
            except dbapi.Error as exc:
                lost = conn.dialect.is_disconnect(exc, driver, cursor)
                if lost:
                    conn.invalidate(exc)
                raise DBAPIError.instance(self._sql, None, exc, dbapi.Error,
                                          connection_invalidated=lost,
                                          dialect=conn.dialect) from exc
            if not rows:
                return []
            if self._row is None:
                self._row = _row_type([column.name for column in cursor.description])
            return [self._row._make(_utc(value) for value in row) for row in rows]

    def _compile(self, dialect: Dialect) -> None:
        compiled = self.statement.compile(dialect=dialect)
        if compiled.literal_execute_params or compiled.post_compile_params:
            raise TypeError("a DriverStatement cannot expand parameters at run time")
        self._constants = {name: bind.effective_value
                           for bind, name in compiled.bind_names.items() if not bind.required}
        self._sql = compiled.string


def _row_type(columns: list[str]) -> Any:
    # A named tuple class made at run time (from the cursor's columns): typed Any, as mypy
    # cannot type a class whose fields it does not know.
    return namedtuple("Row", columns)


def _utc(value: Any) -> Any:
    # psycopg gives timestamps in the session's time zone (the server's default, not always
    # UTC).
    return value.astimezone(UTC) if isinstance(value, datetime) else value
