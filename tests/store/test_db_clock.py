"""The database's clock, read through a replica's own: the same time whatever the replica's
clock says."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import Engine

from authgate.clock import FrozenClock, OffsetClock
from authgate.store.db import make_engine
from authgate.store.db_clock import DatabaseClock
from tests.harness import ClockFile, skip_unless_installed
from tests.postgres import pg_bin, postgres_server

SKEW = 120.0


@pytest.fixture(scope="module")
def pg_engine() -> Iterator[Engine]:
    with postgres_server() as url:
        engine = make_engine(url.replace("postgresql://", "postgresql+psycopg://"), pool_size=1)
        yield engine
        engine.dispose()


@pytest.mark.postgres
@skip_unless_installed(pg_bin() is not None, "PostgreSQL")
@pytest.mark.parametrize("skew", [SKEW, -SKEW])
def test_a_skewed_replica_reads_the_database_servers_time(tmp_path, pg_engine, skew):
    world = ClockFile(tmp_path / "world")
    # This replica's clock is off; the database's is the world's.
    clock = DatabaseClock(OffsetClock(world.path, skew=skew), pg_engine)
    measured = clock.sync()
    assert measured is not None and abs(measured - skew) < 1
    # Read a moment later, the corrected time is the world's (up to the measurement's error).
    assert abs((clock.now() - world.clock().now()).total_seconds()) < 1


class MovedWhileMeasured(OffsetClock):
    """A replica's skewed clock whose world the test moves right after the second reading, as
    a test may while the replica measures."""

    def __init__(self, world: ClockFile, skew: float, by: float) -> None:
        super().__init__(world.path, skew=skew)
        self.world, self.by, self.readings = world, by, 0

    def now(self) -> datetime:
        value = super().now()
        self.readings += 1
        if self.readings == 2:
            self.world.advance(self.by)
        return value


@pytest.mark.postgres
@skip_unless_installed(pg_bin() is not None, "PostgreSQL")
def test_time_moved_during_a_measurement_is_measured_again(tmp_path, pg_engine):
    world = ClockFile(tmp_path / "world")
    clock = DatabaseClock(MovedWhileMeasured(world, SKEW, by=14 * 86400), pg_engine)
    assert abs(clock.sync() - SKEW) < 1  # type: ignore[operator]
    assert abs((clock.now() - world.clock().now()).total_seconds()) < 1


def test_sqlite_and_hand_driven_clocks_have_nothing_to_measure(tmp_path):
    frozen = FrozenClock()
    sqlite = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}", pool_size=1)
    try:
        clock = DatabaseClock(frozen, sqlite)
        assert clock.sync() is None and clock.skew is None
        assert clock.now() == frozen.now()
    finally:
        sqlite.dispose()
