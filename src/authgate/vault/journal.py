"""New token pairs that the database could not take yet, kept until it can.

A provider like hh.ru spends the refresh token when it answers: the new pair it returns is then
the only way into the account. If the database is away at that moment, the pair is kept here, in
memory (served to bots meanwhile) and in an encrypted file in data_dir (so that a restart does
not lose it), and written as soon as the database is back (``Refresher.replay_journal``).

Each process keeps a file of its own (``refresh-journal.<pid>.json``; uvicorn workers share one
data_dir) and holds an ``flock`` on its ``.lock`` beside it while it lives. A process starting
takes over the files whose lock nobody holds (their process ended, however): it merges their pairs
into its own journal and removes them. Writing a pair twice is harmless: every write is
conditional on the connection's generation.

The file holds one JSON document, replaced whole on every change; the tokens in it are keyring
ciphertexts bound to their connection, so the file alone discloses nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from authgate.keyring import Keyring
from authgate.private_files import write_private_file
from authgate.protocol.rfc6749_oauth2 import TokenResponse
from authgate.vault.connections import ConnectionView

log = logging.getLogger("authgate.vault")

JOURNAL_GLOB = "refresh-journal.*.json"
_DATES = {f.name for f in fields(ConnectionView) if "datetime" in str(f.type)}


@dataclass(frozen=True)
class PendingPair:
    conn: ConnectionView  # as claimed: the write is conditional on its generation
    tokens: TokenResponse
    received_at: datetime  # the database's time when the provider answered
    next_refresh_at: datetime | None

    @property
    def key(self) -> tuple[str, str]:
        return (self.conn.provider, self.conn.owner)


class PairJournal:
    def __init__(self, data_dir: Path, keyring: Keyring) -> None:
        self.path = data_dir / f"refresh-journal.{os.getpid()}.json"
        self._keyring = keyring
        self._pending: dict[tuple[str, str], PendingPair] = {}
        self._lock: IO[str] | None = None  # held from the first write to the process's end
        adopted = [f for f in sorted(data_dir.glob(JOURNAL_GLOB)) if f != self.path
                   and self._adopt(f)]
        if self._pending:
            self._save()
            log.warning("%d refreshed token pairs from before a restart wait for the database",
                        len(self._pending))
        for path in adopted:
            path.unlink(missing_ok=True)
            _lock_path(path).unlink(missing_ok=True)

    def _adopt(self, path: Path) -> bool:
        """Merge ``path``'s pairs when its process has ended (nobody holds its lock)."""
        with open(_lock_path(path), "a", encoding="utf-8") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False  # a live process's journal
            with contextlib.suppress(FileNotFoundError):
                for pair in map(self._decode, _read(path)["pending"]):
                    self._pending.setdefault(pair.key, pair)
            return True

    def __len__(self) -> int:
        return len(self._pending)

    def get(self, provider: str, owner: str) -> PendingPair | None:
        return self._pending.get((provider, owner))

    def pending(self) -> list[PendingPair]:
        return list(self._pending.values())

    def add(self, pair: PendingPair) -> None:
        if not self._pending:
            log.warning("the database does not take refreshed token pairs; keeping them in %s "
                        "until it does", self.path)
        self._pending[pair.key] = pair
        self._save()

    def remove(self, pair: PendingPair) -> None:
        if self._pending.get(pair.key) is pair:
            del self._pending[pair.key]
            self._save()
            if not self._pending:
                log.info("every kept token pair is in the database now")

    def _save(self) -> None:
        if self._lock is None:
            self._lock = open(_lock_path(self.path), "a", encoding="utf-8")  # noqa: SIM115
            with contextlib.suppress(BlockingIOError):  # held already: by this very process
                fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        document = {"pending": [self._encode(p) for p in self._pending.values()]}
        write_private_file(self.path, json.dumps(document).encode())

    def _encode(self, pair: PendingPair) -> dict[str, Any]:
        conn = {k: (v.isoformat() if isinstance(v, datetime) else v)
                for k, v in asdict(pair.conn).items()}
        tokens = {k: v for k, v in asdict(pair.tokens).items() if k != "extra"}
        return {"conn": conn, "received_at": pair.received_at.isoformat(),
                "next_refresh_at": _iso(pair.next_refresh_at),
                "tokens": self._keyring.encrypt(json.dumps(tokens), _aad(pair.conn))}

    def _decode(self, entry: dict[str, Any]) -> PendingPair:
        values: dict[str, Any] = {k: (datetime.fromisoformat(v) if k in _DATES and v else v)
                                  for k, v in entry["conn"].items()}
        conn = ConnectionView(**values)
        tokens = json.loads(self._keyring.decrypt(entry["tokens"], _aad(conn)))
        return PendingPair(conn, TokenResponse(**tokens),
                           datetime.fromisoformat(entry["received_at"]),
                           _date(entry["next_refresh_at"]))


def _lock_path(journal: Path) -> Path:
    return journal.with_suffix(".lock")


def _read(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _aad(conn: ConnectionView) -> str:
    return f"journal:{conn.provider}:{conn.owner}:{conn.id}"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _date(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
