"""Several ``authgate serve`` replicas on one PostgreSQL database, against one hh.ru look-alike
that counts every rule a client breaks (a refresh before expiry, a refresh token used twice).

The replicas are real processes; time is the test's (``ClockFile``): the look-alike and the
database go by the "world" clock, and a replica with a skewed clock runs a constant distance off it.
"""

from __future__ import annotations

import json
import uuid
from contextlib import ExitStack
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from authgate.clock import TEST_CLOCK_SKEW_ENV
from authgate.keyring import new_master_key
from authgate.vault.journal import JOURNAL_GLOB
from tests.harness import (
    ClockFile,
    DevIdp,
    DevIdpProcess,
    Gateway,
    hh_provider_config,
    stop_together,
)
from tests.stacks import Stack, seed_connections


class Cluster:
    """One look-alike, one database, replicas started on demand (each with its own data_dir)."""

    def __init__(self, tmp: Path, cleanup: ExitStack, pg_url: str, *,
                 devidp_process: bool = False) -> None:
        """``devidp_process``: the look-alike as a process of its own (benchmarks: in the test
        process, it shares one interpreter lock with everything else there)."""
        self.tmp, self.cleanup, self.pg_url = tmp, cleanup, pg_url
        self.world = ClockFile(tmp / "world-clock")
        self.devidp: DevIdp | DevIdpProcess = (DevIdpProcess if devidp_process else DevIdp)(
            tmp, gateway_url="http://127.0.0.1:1", clock=self.world)
        self.replicas: list[Gateway] = []
        # Every replica (made later) and the look-alike stop at the same time, at the end.
        cleanup.callback(lambda: stop_together(self.devidp, *self.replicas))
        self.devidp.start()
        self.api_key = ""
        self.master_key = new_master_key()  # one keyring for all, in the database

    def replica(self, *, skew: float = 0.0, http_timeout: str | None = None,
                start: bool = True, master_key: str | None = None) -> Gateway:
        """A replica; ``skew``: its clock this many seconds ahead of the world's."""
        sub = self.tmp / f"replica{len(self.replicas)}"
        sub.mkdir()
        master_key = self.master_key if master_key is None else master_key
        keyring = f'[keyring]\nmaster_key = "{master_key}"\n' if master_key else ""
        gateway = Gateway(sub, body=hh_provider_config(self.devidp.url) + keyring,
                          clock=self.world, top=f'database_url = "{self.pg_url}"\n',
                          http_timeout=http_timeout)
        # A skewed replica runs a constant distance off the world's clock file; the database's
        # clock is the world's, whatever this replica's says (one file moves them all).
        if skew:
            gateway.env[TEST_CLOCK_SKEW_ENV] = repr(skew)
        self.replicas.append(gateway)
        if start:
            gateway.start()
        return gateway

    def advance(self, seconds: float) -> None:
        """Move the world, and every replica's clock with it (skewed ones included)."""
        self.world.advance(seconds)

    def key(self) -> str:
        """The bots' API key (made with the first replica's CLI, on first use)."""
        if not self.api_key:
            self.api_key = self.replicas[0].create_api_key()
        return self.api_key

    def seed(self, count: int, *, expired: bool) -> None:
        seed_connections(Stack(self.devidp, self.replicas[0], self.key(), self.world), count,
                         expired=expired)

    def api(self, gateway: Gateway) -> httpx.Client:
        client = httpx.Client(base_url=gateway.url,
                              headers={"Authorization": f"Bearer {self.key()}"})
        self.cleanup.callback(client.close)
        return client


def new_database(server_url: str) -> str:
    """A fresh database on ``server_url``'s server (creating one is cheap; a server is not)."""
    name = f"t{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url.replace("postgresql://", "postgresql+psycopg://"),
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return server_url.rsplit("/", 1)[0] + f"/{name}"


def claims(gateway: Gateway) -> dict[str, float]:
    """This replica's refresh claims by result, from its own metrics."""
    text = httpx.get(f"{gateway.url}/metrics").text
    found = {"won": 0.0, "lost": 0.0}
    for line in text.splitlines():
        if line.startswith("authgate_refresh_claims_total{"):
            result = line.split('result="', 1)[1].split('"', 1)[0]
            found[result] = float(line.rsplit(" ", 1)[1])
    return found


def journaled(gateway: Gateway) -> int:
    """How many refreshed pairs this replica keeps for the database."""
    return sum(len(json.loads(path.read_text())["pending"])
               for path in gateway.data_dir.glob(JOURNAL_GLOB))
