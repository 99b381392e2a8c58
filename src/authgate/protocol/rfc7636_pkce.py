"""RFC 7636 — Proof Key for Code Exchange, S256 only (``plain`` offers no protection)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from authlib.oauth2.rfc7636 import create_s256_code_challenge


@dataclass(frozen=True)
class PkcePair:
    verifier: str
    challenge: str
    method: str = "S256"


def new_pkce_pair() -> PkcePair:
    # 64 url-safe characters: inside RFC 7636's 43..128 range, 384 bits of entropy.
    verifier = secrets.token_urlsafe(48)
    return PkcePair(verifier=verifier, challenge=create_s256_code_challenge(verifier))


def new_opaque_value() -> str:
    """A random value for ``state`` or ``nonce`` (256 bits)."""
    return secrets.token_urlsafe(32)
