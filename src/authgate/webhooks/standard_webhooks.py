"""Signing per the Standard Webhooks specification (https://www.standardwebhooks.com/).

* secret: ``whsec_`` + base64 of the key bytes (the key is what is base64-decoded);
* headers: ``webhook-id`` (the message id, the same on every retry), ``webhook-timestamp``
  (integer seconds since the epoch), ``webhook-signature``: space-separated ``v1,<base64 sig>``;
* signature: HMAC-SHA256 with the key over ``"{id}.{timestamp}.{body}"``.

Plain module: existing verifiers (the ``standardwebhooks`` package, Svix's libraries) accept it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"
KEY_BYTES = 32


class InvalidSecret(ValueError):
    pass


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The key bytes of a ``whsec_<base64>`` secret (the prefix may be left out)."""
    encoded = secret.strip().removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidSecret("a webhook secret is whsec_ followed by base64") from None
    if len(key) < 16:
        raise InvalidSecret("a webhook secret needs at least 16 bytes of key (24 base64 "
                            "characters)")
    return key


def sign(key: bytes, message_id: str, timestamp: int, body: str) -> str:
    """The ``webhook-signature`` value: ``v1,<base64 HMAC-SHA256>``."""
    digest = hmac.new(key, f"{message_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(key: bytes, message_id: str, timestamp: int, body: str) -> dict[str, str]:
    return {"webhook-id": message_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(key, message_id, timestamp, body)}
