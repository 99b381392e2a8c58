"""The journal of new pairs waiting for the database: encrypted on disk, taken over from a
process that ended, left alone while its process lives."""

from __future__ import annotations

import fcntl
import os
import shutil
from datetime import UTC, datetime

from authgate.keyring import Keyring
from authgate.protocol.rfc6749_oauth2 import TokenResponse
from authgate.vault.connections import ConnectionView
from authgate.vault.journal import PairJournal, PendingPair

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _pair(owner: str) -> PendingPair:
    conn = ConnectionView(id=1, provider="hh", owner=owner, account_id="1", account_name=None,
                          status="active", token_type="bearer", expires_at=NOW,
                          next_refresh_at=NOW, last_refresh_at=None, refresh_started_at=NOW,
                          attempts=0, last_error=None, generation=3, created_at=NOW,
                          claimed_by="host:1:ab")
    return PendingPair(conn, TokenResponse(access_token=f"AT-{owner}", refresh_token="RT-secret",
                                           expires_in=60), NOW, None)


def test_a_journal_is_encrypted_and_taken_over_only_from_ended_processes(tmp_path):
    keyring = Keyring(tmp_path / "keyring.json")
    mine = PairJournal(tmp_path, keyring)
    mine.add(_pair("dead"))
    text = mine.path.read_text()
    assert "AT-dead" not in text and "RT-secret" not in text
    # Two other processes' journals: one ended (nobody holds its lock), one alive.
    ended = tmp_path / "refresh-journal.999991.json"
    alive = tmp_path / "refresh-journal.999992.json"
    shutil.copy(mine.path, ended)
    mine.remove(mine.pending()[0])
    shutil.copy(ended, alive)
    holder = open(alive.with_suffix(".lock"), "a")  # noqa: SIM115 - the live process's lock
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        started = PairJournal(tmp_path, keyring)
        assert [p.tokens.access_token for p in started.pending()] == ["AT-dead"]
        assert started.pending()[0].conn == _pair("dead").conn
        assert not ended.exists() and alive.exists()
        assert started.path == tmp_path / f"refresh-journal.{os.getpid()}.json"
    finally:
        holder.close()
