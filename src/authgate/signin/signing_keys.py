"""The session-JWT signing keys: ES256 (P-256), created on first start, rotated on demand.

ES256 rather than EdDSA: every JWT library a panel's back-end may use verifies it, and joserfc
itself marks "EdDSA" deprecated in favour of RFC 9864's names, which few verifiers know yet.

The private halves live in ``signing_keys`` as keyring ciphertexts. A rotation retires the current
key (it signs nothing new) but keeps publishing it until every session it can have signed has
expired: ``retired_at + session lifetime``. Other processes learn about a rotation when a token
names a kid they do not hold (at most once per ``reload_interval``) or after ``max_age``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from joserfc.jwk import ECKey, KeySet
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from authgate.clock import Clock
from authgate.keyring import Keyring
from authgate.store.models import SigningKey

ALG = "ES256"


def _aad(kid: str) -> str:
    return f"signing_key:{kid}"


class SigningKeys:
    def __init__(self, db: sessionmaker[Session], keyring: Keyring, clock: Clock,
                 lifetime: timedelta, *, reload_interval: float = 5.0,
                 max_age: float = 10.0) -> None:
        self._db = db
        self._clock = clock
        self._keyring = keyring
        self._lifetime = lifetime
        self._reload_interval = reload_interval
        self._max_age = max_age
        self._lock = threading.Lock()
        self._signer: ECKey | None = None
        self._public = KeySet([])
        self._jwks: dict[str, Any] = {"keys": []}
        self._loaded = -1e9
        # Run when the published keys changed (nginx's verify cache hooks in here).
        self.on_change: list[Callable[[], None]] = []

    # -- loading ------------------------------------------------------------------------------
    def load(self) -> None:
        """Read the keys; create the first one when there is none that may sign."""
        now = self._clock.now()
        with self._lock:
            rows = self._rows(now)
            if not any(r.retired_at is None for r in rows):
                self._create(now)
                rows = self._rows(now)
            active = sorted((r for r in rows if r.retired_at is None),
                            key=lambda r: (r.created_at, r.kid))
            newest = active[-1]
            self._signer = ECKey.import_key(json.loads(
                self._keyring.decrypt(newest.private_jwk_enc, _aad(newest.kid))))
            publics = [dict(r.public_jwk) for r in rows]
            changed = publics != self._jwks["keys"]
            self._public = KeySet([ECKey.import_key(jwk) for jwk in publics])
            self._jwks = {"keys": publics}
            self._loaded = time.monotonic()
        if changed:
            for hook in self.on_change:
                hook()

    def _rows(self, now: datetime) -> list[SigningKey]:
        horizon = now - self._lifetime - timedelta(minutes=5)
        with self._db() as s:
            rows = s.scalars(select(SigningKey).order_by(SigningKey.created_at))
            return [r for r in rows if r.retired_at is None or r.retired_at > horizon]

    def _create(self, now: datetime) -> str:
        key = ECKey.generate_key("P-256", parameters={"alg": ALG, "use": "sig"}, private=True,
                                 auto_kid=True)
        kid = str(key.kid)
        with self._db.begin() as s:
            s.add(SigningKey(
                kid=kid, alg=ALG, created_at=now, retired_at=None,
                private_jwk_enc=self._keyring.encrypt(json.dumps(key.as_dict(private=True)),
                                                      _aad(kid)),
                public_jwk=key.as_dict(private=False)))
        return kid

    def maintain(self, now: datetime) -> None:
        """Pick up rotations made by other processes; called off the request path."""
        if time.monotonic() - self._loaded >= self._max_age:
            self.load()

    # -- use ----------------------------------------------------------------------------------
    def signer(self) -> tuple[str, ECKey]:
        if self._signer is None:
            self.load()
        assert self._signer is not None
        return str(self._signer.kid), self._signer

    def verifier(self, kid: str | None) -> KeySet:
        """The public keys; a kid we do not hold may be another process's rotation: reload."""
        if not any(k.kid == kid for k in self._public) and (
                time.monotonic() - self._loaded >= self._reload_interval):
            self.load()
        return self._public

    def jwks(self) -> dict[str, Any]:
        # Read fresh (at most once a second): verifiers fetch this right after a rotation made
        # by another process, and must find the new key. Rarely requested, so cheap.
        if self._signer is None or time.monotonic() - self._loaded >= 1.0:
            self.load()
        return self._jwks

    # -- maintenance --------------------------------------------------------------------------
    def rotate(self, now: datetime) -> str:
        """A new key signs from now on; the old ones stay published until their tokens expire."""
        with self._db.begin() as s:
            for row in s.scalars(select(SigningKey).where(SigningKey.retired_at.is_(None))):
                row.retired_at = now
        kid = self._create(now)
        self.load()
        return kid

    def reencrypt_all(self) -> int:
        """Move every private key to the keyring's current key (after ``keys rotate``)."""
        changed = 0
        with self._db.begin() as s:
            for row in s.scalars(select(SigningKey)):
                new = self._keyring.reencrypt(row.private_jwk_enc, _aad(row.kid))
                if new != row.private_jwk_enc:
                    row.private_jwk_enc, changed = new, changed + 1
        return changed
