"""New token pairs that the database could not take yet, kept until it can.

A provider like hh.ru spends the refresh token when it answers: the new pair it returns is then
the only way into the account. If the database is away at that moment, the pair is kept here, in
memory (served to bots meanwhile) and in an encrypted file in data_dir (so that a restart does
not lose it), and written as soon as the database is back (``Refresher.replay_journal``).

The file holds one JSON document, replaced whole on every change; the tokens in it are keyring
ciphertexts bound to their connection, so the file alone discloses nothing.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from authgate.keyring import Keyring
from authgate.private_files import write_private_file
from authgate.protocol.rfc6749_oauth2 import TokenResponse
from authgate.vault.connections import ConnectionView

log = logging.getLogger("authgate.vault")

JOURNAL_FILE = "refresh-journal.json"
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
    def __init__(self, path: Path, keyring: Keyring) -> None:
        self.path = path
        self._keyring = keyring
        self._pending: dict[tuple[str, str], PendingPair] = {}
        if path.exists():
            self._pending = {p.key: p for p in map(self._decode, _read(path)["pending"])}
            if self._pending:
                log.warning("%d refreshed token pairs from before a restart wait for the "
                            "database", len(self._pending))

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


def _read(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _aad(conn: ConnectionView) -> str:
    return f"journal:{conn.provider}:{conn.owner}:{conn.id}"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _date(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
