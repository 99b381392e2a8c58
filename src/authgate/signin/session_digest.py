"""The session cookie's digest: a second cookie that lets nginx key its verify cache natively.

nginx's short verify cache (``deploy/nginx.py``) keeps a passing ``/auth/verify`` answer under
a key that must stand for one session token without being it: nginx writes each key into its
cache files, and no live token may reach the disk. The gateway therefore sets, beside the
session cookie, ``authgate_digest`` = base64url(MD5(token)), the one digest nginx can check
itself (``secure_link_md5``, in C, no script). nginx keys its cache on the digest only after
checking that it is the MD5 of the session cookie sent with it, so a digest copied from another
session (or made up) never opens an entry kept for that session; it only costs a miss.

Why MD5 is enough here: an entry for a victim's token could be reached only with another value
of the same digest, a second preimage of a token the gateway made (no such attack on MD5 is
known; collision attacks need both inputs chosen by the attacker, and the gateway signs only
its own tokens). The digest of a token with more than 256 random bits does not give it back.
"""

from __future__ import annotations

import base64
import hashlib

DIGEST_COOKIE = "authgate_digest"


def session_digest(token: str) -> str:
    """base64url, without padding, of the token's MD5: what nginx's secure_link compares."""
    digest = hashlib.md5(token.encode()).digest()  # noqa: S324 - see the module docstring
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
