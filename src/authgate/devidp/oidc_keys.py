"""The OIDC provider's RSA signing keys: one current key, plus old ones still published."""

from __future__ import annotations

from typing import Any

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey


def new_rsa_key() -> RSAKey:
    key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"}, auto_kid=True)
    return key


class KeyRing:
    def __init__(self, current: RSAKey, retired: list[RSAKey] | None = None) -> None:
        self.current = current
        # Keys no longer used for signing but still in the JWKS, so tokens they signed verify.
        self.retired = retired or []

    @classmethod
    def generate(cls) -> KeyRing:
        return cls(new_rsa_key())

    @property
    def kid(self) -> str:
        return str(self.current.kid)

    def rotate(self, keep_old: bool = False) -> RSAKey:
        self.retired = [*self.retired, self.current] if keep_old else []
        self.current = new_rsa_key()
        return self.current

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
        return {
            "current": self.current.as_dict(private=True),
            "retired": [k.as_dict(private=True) for k in self.retired],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KeyRing:
        return cls(
            RSAKey.import_key(data["current"]),
            [RSAKey.import_key(k) for k in data.get("retired", [])],
        )
