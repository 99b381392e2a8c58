"""Deliberately defective ID tokens and userinfo answers, for testing relying parties.

Each mode breaks exactly one check of OpenID Connect Core 3.1.3.7 (or a well-known JOSE attack),
so a test can tell which check a relying party forgot. A mode is armed for one use only.
"""

from __future__ import annotations

import secrets
import warnings
from typing import Any

from joserfc import jwt
from joserfc.jwk import OctKey

from authgate.devidp.oidc_keys import KeyRing, new_rsa_key

ID_TOKEN_MODES = (
    "bad_signature",  # signed by a key outside the JWKS, under a kid that is in it
    "alg_none",  # unsigned
    "hs256_public_key",  # HMAC keyed with the public RSA key: the algorithm-confusion attack
    "wrong_iss",
    "wrong_aud",
    "expired",  # beyond any reasonable clock-skew leeway
    "nonce_mismatch",
    "wrong_azp",
    "unknown_kid_rotated",  # keys rotated just before signing: the RP must refetch the JWKS
)
USERINFO_MODES = ("userinfo_sub_mismatch",)
TAMPER_MODES = ID_TOKEN_MODES + USERINFO_MODES

OTHER_ISSUER = "https://attacker.invalid/oidc"
OTHER_CLIENT = "another-client"


def sign_id_token(keys: KeyRing, claims: dict[str, Any], mode: str | None) -> str:
    """Sign ``claims`` with the current key; with ``mode``, produce that one defect instead."""
    claims = dict(claims)
    if mode == "wrong_iss":
        claims["iss"] = OTHER_ISSUER
    elif mode == "wrong_aud":
        claims["aud"] = [OTHER_CLIENT]
        claims["azp"] = OTHER_CLIENT
    elif mode == "wrong_azp":
        claims["azp"] = OTHER_CLIENT
    elif mode == "expired":
        iat = int(claims["iat"]) - 7200
        claims.update(iat=iat, exp=iat + 3600, auth_time=min(int(claims["auth_time"]), iat))
    elif mode == "nonce_mismatch":
        claims["nonce"] = secrets.token_urlsafe(16)
    elif mode == "unknown_kid_rotated":
        keys.rotate(keep_old=False)

    if mode == "bad_signature":
        header = {"alg": "RS256", "typ": "JWT", "kid": keys.kid}
        return jwt.encode(header, claims, new_rsa_key(), algorithms=["RS256"])
    if mode == "alg_none":
        header = {"alg": "none", "typ": "JWT", "kid": keys.kid}
        with warnings.catch_warnings():  # joserfc warns that "none" is unsafe; that is the point
            warnings.simplefilter("ignore")
            return jwt.encode(header, claims, OctKey.generate_key(256), algorithms=["none"])
    if mode == "hs256_public_key":
        pem = keys.public_pem()
        # joserfc refuses to import a PEM as an HMAC secret (rightly); build the key directly.
        hmac_key = OctKey(pem, pem)
        header = {"alg": "HS256", "typ": "JWT", "kid": keys.kid}
        return jwt.encode(header, claims, hmac_key, algorithms=["HS256"])
    return keys.sign(claims)
