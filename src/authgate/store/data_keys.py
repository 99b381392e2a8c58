"""Data keys in the database, wrapped by one master key: one keyring for every replica.

Each replica is given the same master key (a file or an environment variable, never the
database); the data keys that encrypt tokens and signing keys live in ``data_keys``, each
wrapped (AES-256-GCM, bound to its key id) by the master key. ``authgate keys rotate`` adds a key
there, and every replica reads it within ``RELOAD_SECONDS`` (at once, when it meets a ciphertext
under a key it does not know yet).

The first start on an empty table brings in today's ``keyring.json`` when there is one (so that
what it encrypted stays readable) or makes a first key; it runs under a lock, so replicas starting
together agree on one keyring. A ``keyring.json`` holding keys the table lacks (another machine's,
from before) is merged in below the current key whenever a replica starts beside it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from authgate.keyring import FileKeys, KeyringError, new_kid, unwrap_key, wrap_key
from authgate.store.models import DataKey

RELOAD_SECONDS = 10.0
# pg_advisory_xact_lock's key for changes to data_keys ("keys" in ASCII).
_LOCK_KEY = 0x6B657973


def has_data_keys(db: sessionmaker[Session]) -> bool:
    with db() as s:
        return s.scalar(select(func.count()).select_from(DataKey)) != 0


class DatabaseKeys:
    """A ``keyring.KeySource``: the ``data_keys`` table, opened with ``master``."""

    def __init__(self, db: sessionmaker[Session], master: bytes) -> None:
        self._db = db
        self._master = master
        self._read_at = 0.0

    def describe(self) -> str:
        return "the database's data keys"

    def read(self) -> tuple[str, dict[str, bytes]]:
        with self._db() as s:
            rows = list(s.scalars(select(DataKey).order_by(DataKey.seq)))
        if not rows:
            raise KeyringError("the database holds no data keys")
        keys = {row.kid: unwrap_key(self._master, row.kid, row.wrapped) for row in rows}
        self._read_at = time.monotonic()
        return rows[-1].kid, keys

    def may_have_changed(self) -> bool:
        return time.monotonic() - self._read_at > RELOAD_SECONDS

    def add(self, kid: str, key: bytes) -> None:
        with self._db.begin() as s:
            _lock(s)
            top = s.scalar(select(func.max(DataKey.seq))) or 0
            s.add(self._row(kid, key, top + 1))

    def initialize(self, legacy: Path | None) -> None:
        """Make sure the table holds a current key, and every key of ``legacy`` (a
        keyring.json), without changing which key is current once there is one."""
        file_current, file_keys = "", dict[str, bytes]()
        if legacy is not None and legacy.exists():
            file_current, file_keys = FileKeys(legacy, create=False).read()
        with self._db.begin() as s:
            _lock(s)
            existing = {row.kid: row.seq for row in s.scalars(select(DataKey))}
            missing = [k for k in file_keys if k not in existing]
            if existing:  # merged in below the current key: readable, never current
                low = min(existing.values())
                for n, kid in enumerate(missing, start=1):
                    s.add(self._row(kid, file_keys[kid], low - n))
                return
            if not file_keys:
                file_current = new_kid()
                file_keys = {file_current: AESGCM.generate_key(256)}
            order = [k for k in file_keys if k != file_current] + [file_current]
            for seq, kid in enumerate(order, start=1):
                s.add(self._row(kid, file_keys[kid], seq))

    def _row(self, kid: str, key: bytes, seq: int) -> DataKey:
        return DataKey(kid=kid, seq=seq, wrapped=wrap_key(self._master, kid, key),
                       created_at=datetime.now(UTC))


def _lock(s: Session) -> None:
    """Serialize changes to the table across replicas (SQLite: its single writer does)."""
    bind = s.get_bind()
    if bind.dialect.name == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
