"""``authgate token``'s short way: a stored token that the vault would hand out as it is, read
from the SQLite database with the standard library (no SQLAlchemy, no HTTP client), so that a bot
shelling out for each token waits a fraction of the full start-up.

It answers only the plain case and says None to everything else — PostgreSQL, a master key (the
keys are in the database then), no database yet,
an owner to be chosen among several, no such connection, a status other than active, a token due
for refresh (``records.handed_out_as_stored``), an unexpected schema — and the command then takes
the vault's full way, which decides, refreshes and reports errors as always. It never writes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from authgate.config_stamp import QuickSettings
from authgate.keyring import Keyring, KeyringError, keyring_path
from authgate.vault.records import ACTIVE, APPLICATION_OWNER, handed_out_as_stored, secret_aad


@dataclass(frozen=True)
class StoredToken:
    access_token: str
    token_type: str
    expires_at: datetime | None


def stored_token(settings: QuickSettings, provider: str, owner: str,
                 choose_owner: Callable[[list[str]], str | None],
                 now: Callable[[], datetime]) -> StoredToken | None:
    """The token for ``owner`` (or, when it is "", the owner ``choose_owner`` picks from the
    provider's owners; None from it: the full way decides), or None: ask the vault."""
    database = settings.data_dir / "authgate.db"
    keys = keyring_path(settings.data_dir)
    if not settings.local_store or provider not in settings.providers \
            or not database.is_file() or not keys.is_file():
        return None
    try:
        with sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True, timeout=5) as db:
            if not owner:
                owners = [o for (o,) in db.execute(
                    "SELECT owner FROM connections WHERE provider = ? ORDER BY owner",
                    (provider,)) if o != APPLICATION_OWNER]
                owner = choose_owner(owners) or ""
            if not owner or owner == APPLICATION_OWNER:
                return None
            row = db.execute(
                "SELECT status, access_token_enc, token_type, expires_at, next_refresh_at, "
                "refresh_started_at FROM connections WHERE provider = ? AND owner = ?",
                (provider, owner)).fetchone()
    except sqlite3.Error:
        return None
    if row is None:
        return None
    status, sealed, token_type, expires_raw, next_raw, started_raw = row
    expires_at, next_refresh_at = _utc(expires_raw), _utc(next_raw)
    if status != ACTIVE or started_raw is not None \
            or not handed_out_as_stored(expires_at, next_refresh_at, now()):
        return None
    try:
        access_token = Keyring(keys).decrypt(sealed, secret_aad(provider, owner, "access"))
    except KeyringError:
        return None
    return StoredToken(access_token, token_type, expires_at)


def _utc(value: str | None) -> datetime | None:
    """SQLAlchemy's SQLite form of the store's UTC timestamps."""
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
