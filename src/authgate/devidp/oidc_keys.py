"""The OIDC provider's RSA signing keys: one current key, plus old ones still published."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey


def new_rsa_key() -> RSAKey:
    key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"}, auto_kid=True)
    return key


class KeyRing:
    """``current`` is made on first use when none is given: a 2048-bit RSA key costs ~50 ms of
    CPU, and most look-alike runs serve only hh or Telegram and never sign an ID token.
    ``on_new_key`` is told when that happens, so the key is saved before anything it signs
    leaves the process."""

    def __init__(self, current: RSAKey | None = None, retired: list[RSAKey] | None = None,
                 on_new_key: Callable[[], None] | None = None) -> None:
        self._current = current
        # Keys no longer used for signing but still in the JWKS, so tokens they signed verify.
        self.retired = retired or []
        self.on_new_key = on_new_key
        # Two first requests at once (sync endpoints run in threads) must not make two keys.
        self._making = threading.Lock()

    @property
    def current(self) -> RSAKey:
        if self._current is None:
            with self._making:
                if self._current is None:
                    self._current = new_rsa_key()
                    if self.on_new_key is not None:
                        self.on_new_key()
        return self._current

    @property
    def kid(self) -> str:
        return str(self.current.kid)

    def rotate(self, keep_old: bool = False) -> RSAKey:
        self.retired = [*self.retired, self.current] if keep_old else []
        self._current = new_rsa_key()
        return self._current

    def published(self) -> list[RSAKey]:
        return [self.current, *self.retired]

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.as_dict(private=False) for k in self.published()]}

    def keyset(self) -> KeySet:
        return KeySet([RSAKey.import_key(k.as_dict(private=False)) for k in self.published()])

    def sign(self, claims: dict[str, Any]) -> str:
        header = {"alg": "RS256", "typ": "JWT", "kid": self.kid}
        return jwt.encode(header, claims, self.current, algorithms=["RS256"])

    def public_pem(self) -> bytes:
        return self.current.as_pem(private=False)

    def to_dict(self) -> dict[str, Any]:
        saved: dict[str, Any] = {"retired": [k.as_dict(private=True) for k in self.retired]}
        if self._current is not None:  # saving is no reason to make a key
            saved["current"] = self._current.as_dict(private=True)
        return saved

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KeyRing:
        current = data.get("current")
        return cls(
            RSAKey.import_key(current) if current is not None else None,
            [RSAKey.import_key(k) for k in data.get("retired", [])],
        )
