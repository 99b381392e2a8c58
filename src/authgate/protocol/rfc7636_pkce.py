"""RFC 7636 — Proof Key for Code Exchange, S256 only (``plain`` offers no protection)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass


@dataclass(frozen=True)
class PkcePair:
    verifier: str
    challenge: str
    method: str = "S256"


def s256_challenge(verifier: str) -> str:
    """RFC 7636 §4.2: ``BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))``, without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def new_pkce_pair() -> PkcePair:
    # 64 url-safe characters: inside RFC 7636's 43..128 range, 384 bits of entropy.
    verifier = secrets.token_urlsafe(48)
    return PkcePair(verifier=verifier, challenge=s256_challenge(verifier))


def new_opaque_value() -> str:
    """A random value for ``state`` or ``nonce`` (256 bits)."""
    return secrets.token_urlsafe(32)
