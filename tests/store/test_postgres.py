"""PostgreSQL is a configuration change, not a rewrite: the same flows on a real server."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import inspect

from authgate.store.db import make_engine, migrate, schema_is_current
from tests.harness import connect_hh, skip_unless_installed
from tests.postgres import pg_bin, postgres_server

pytestmark = [pytest.mark.postgres,
              skip_unless_installed(pg_bin() is not None, "PostgreSQL")]


@pytest.fixture(scope="module")
def pg_url():
    with postgres_server() as url:
        yield url


def test_migrations_create_every_table(pg_url):
    engine = make_engine(pg_url.replace("postgresql://", "postgresql+psycopg://"))
    migrate(engine)
    migrate(engine)  # idempotent
    assert schema_is_current(engine)
    tables = set(inspect(engine).get_table_names())
    assert {"users", "connections", "sessions", "api_keys", "auth_flows"} <= tables
    engine.dispose()


def test_vault_flows_on_postgres(stack_factory, pg_url):
    stack = stack_factory(database_url=pg_url)
    connect_hh(stack.gateway.url, stack.api_key, owner="pg")
    api = httpx.Client(base_url=stack.gateway.url, headers=stack.auth)
    first = api.get("/api/v1/connections/hh/pg/token").json()["access_token"]
    stack.expire_tokens()
    second = api.get("/api/v1/connections/hh/pg/token").json()["access_token"]
    assert first != second
    assert stack.devidp.hh_stats()["already_refreshed"] == 0
    assert httpx.get(f"{stack.gateway.url}/readyz").json()["database"] == "ok"
    assert not (stack.gateway.data_dir / "authgate.db").exists()


def test_a_burst_of_password_guesses_is_counted_before_the_checks(pg_url, tmp_path):
    """The password limit across connections (as across processes): review finding 4."""
    from concurrent.futures import ThreadPoolExecutor

    from authgate.clock import FrozenClock
    from authgate.config import Settings
    from authgate.errors import RateLimited, Unauthorized
    from authgate.runtime import Runtime
    from authgate.signin.audit import Client
    from authgate.signin.passwords import hash_password

    settings = Settings(public_url="https://auth.example.com", data_dir=tmp_path / "data",
                        database_url=pg_url, login={"max_failures": 3, "parallel_checks": 4})
    runtime = Runtime.open(settings, clock=FrozenClock())
    try:
        runtime.signin.users.add("gus", role="user", now=runtime.clock.now(),
                                 password_hash=hash_password("right"))
        client = Client(ip="192.0.2.9", user_agent=None)

        def attempt(n: int) -> str:
            try:
                runtime.signin.completion.password("gus", f"guess {n}", client)
            except (RateLimited, Unauthorized) as exc:
                return exc.error
            return "signed in"

        with ThreadPoolExecutor(max_workers=20) as pool:
            results = list(pool.map(attempt, range(20)))
        assert results.count("invalid_credentials") == 3
        assert results.count("too_many_attempts") == 17
    finally:
        runtime.engine.dispose()
