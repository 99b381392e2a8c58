"""CPU of the refresh engine's statements on PostgreSQL: on the driver's cursor (as authgate runs
them, ``DriverStatement``) against SQLAlchemy's own execution path for the very same statements.

Each transaction is what the engine does: claim a batch of 5 due connections (one statement), or
store a batch of 3 new pairs (three conditional UPDATEs). The two paths are alternated per round
in one process, and CPU is this thread's own (``time.thread_time``); the medians are compared.

Run: .venv/bin/python -m bench.store_hot_path [transactions_per_round] [rounds]"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, insert, update

from authgate.store.db import make_engine, migrate
from authgate.store.driver_sql import DriverStatement
from authgate.vault import connections
from tests.postgres import pg_bin, postgres_server

NOW = datetime(2026, 6, 1, tzinfo=UTC)
ROWS = 20_000
SEALED = "v1.k1." + "x" * 120  # the length of a sealed hh token


def seed(engine: Engine) -> None:
    rows = [{"provider": "hh", "owner": f"o{n}", "status": "active", "token_type": "bearer",
             "access_token_enc": SEALED, "refresh_token_enc": SEALED, "generation": 1,
             "attempts": 0, "expires_at": NOW, "next_refresh_at": NOW - timedelta(seconds=n),
             "created_at": NOW, "updated_at": NOW} for n in range(ROWS)]
    with engine.begin() as conn:
        conn.execute(insert(connections.TABLE), rows)


def runners(engine: Engine) -> dict[str, dict[str, Callable[[int], None]]]:
    claim = connections._CLAIM_DUE
    complete = connections._COMPLETE_REFRESH[True]
    pair = {"new_access_token_enc": SEALED, "new_refresh_token_enc": SEALED,
            "new_token_type": "bearer", "new_scope": None, "new_expires_at": NOW,
            "new_updated_at": NOW, "new_last_refresh_at": NOW, "new_next_refresh_at": NOW,
            "from_generation": 1}
    def through_sqlalchemy(conn: Connection, statement: DriverStatement,
                           params: dict[str, Any]) -> None:
        list(conn.execute(statement.statement, params))

    def on_the_driver(conn: Connection, statement: DriverStatement,
                      params: dict[str, Any]) -> None:
        statement.rows(conn, params)

    def claim_with(run: Callable[..., None]) -> Callable[[int], None]:
        def one(n: int) -> None:
            with engine.begin() as conn:
                run(conn, claim, {"now": NOW, "limit": 5, "holder": "bench",
                                  "until": NOW + timedelta(seconds=30)})
        return one

    def complete_with(run: Callable[..., None]) -> Callable[[int], None]:
        # Each transaction n stores pairs for rows 3n+1..3n+3, each row once: every UPDATE,
        # conditional on the generation, finds its row.
        def one(n: int) -> None:
            with engine.begin() as conn:
                for k in range(1, 4):
                    run(conn, complete, {**pair, "conn_id": 3 * n + k})
        return one

    return {"claim 5 due connections": {"sqlalchemy": claim_with(through_sqlalchemy),
                                        "driver": claim_with(on_the_driver)},
            "store 3 new pairs": {"sqlalchemy": complete_with(through_sqlalchemy),
                                  "driver": complete_with(on_the_driver)}}


def per_transaction(run: Callable[[int], None], count: int, start: int) -> float:
    before = time.thread_time()
    for n in range(start, start + count):
        run(n)
    return (time.thread_time() - before) / count


def main() -> None:
    if pg_bin() is None:
        raise SystemExit("PostgreSQL is not installed")
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 6
    if 3 * count * rounds * 2 > ROWS:
        raise SystemExit(f"per round × rounds: at most {ROWS // 6}")
    print(f"{count} transactions per round, {rounds} rounds alternated; CPU per transaction "
          "of this thread, medians")
    with postgres_server() as url:
        engine = make_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        migrate(engine)
        seed(engine)
        for what, paths in runners(engine).items():
            figures: dict[str, list[float]] = {"sqlalchemy": [], "driver": []}
            done = 0
            for r in range(rounds):
                for path in (("sqlalchemy", "driver") if r % 2 == 0 else ("driver", "sqlalchemy")):
                    with engine.begin() as conn:  # every claim finds due rows again
                        conn.execute(update(connections.TABLE).values(claim_until=None))
                    figures[path].append(per_transaction(paths[path], count, done))
                    done += count
            sa, driver = (statistics.median(figures[p]) for p in ("sqlalchemy", "driver"))
            print(f"{what:24}: SQLAlchemy's path {sa * 1e6:.0f} µs, on the driver "
                  f"{driver * 1e6:.0f} µs, ratio {driver / sa:.2f}")
        engine.dispose()


if __name__ == "__main__":
    main()
