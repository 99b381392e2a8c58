"""The OIDC provider's bookkeeping: users, codes, access and refresh tokens, claims.

No HTTP here; errors carry RFC 6749 codes and the endpoint decides the status.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from authgate.devidp.common import EndpointError, opaque_token, pkce_s256_matches
from authgate.devidp.options import Clock, OidcOptions, OidcUser

ROLES_SCOPE = "urn:zitadel:iam:org:projects:roles"
ROLES_CLAIM = "urn:zitadel:iam:org:project:roles"

STAT_KEYS = (
    "discovery_fetched",
    "jwks_fetched",
    "codes_issued",
    "codes_exchanged",
    "denied",
    "tokens_issued",
    "id_tokens_issued",
    "refreshes",
    "token_errors",
    "userinfo_ok",
    "userinfo_errors",
    "end_session",
    "tampered",
)


class OidcError(EndpointError):
    """An OpenID provider endpoint error."""


@dataclass
class OidcCode:
    sub: str
    client_id: str
    redirect_uri: str
    code_challenge: str
    nonce: str | None
    scopes: list[str]
    auth_time: int
    expires_at: float
    used: bool = False
    # RFC 6749 4.1.2: a code presented twice revokes what it was exchanged for.
    issued_access: list[str] = field(default_factory=list)


@dataclass
class OidcGrant:
    """What an access or refresh token stands for."""

    sub: str
    client_id: str
    scopes: list[str]
    auth_time: int
    expires_at: float
    used: bool = False  # refresh tokens rotate: each is good for one refresh
    revoked: bool = False


class OidcModel:
    def __init__(self, options: OidcOptions, clock: Clock, on_change: Callable[[], None]) -> None:
        self.options = options
        self._clock = clock
        self._changed = on_change
        self.stats: Counter[str] = Counter({key: 0 for key in STAT_KEYS})
        self.reset(notify=False)

    def reset(self, *, notify: bool = True) -> None:
        self.users: dict[str, OidcUser] = {u.sub: u for u in self.options.users}
        self.codes: dict[str, OidcCode] = {}
        self.access: dict[str, OidcGrant] = {}
        self.refresh: dict[str, OidcGrant] = {}
        self.stats.clear()
        self.stats.update({key: 0 for key in STAT_KEYS})
        if notify:
            self._changed()

    def to_dict(self) -> dict[str, Any]:
        return {
            "users": [asdict(u) for u in self.users.values()],
            "access": {k: asdict(v) for k, v in self.access.items()},
            "refresh": {k: asdict(v) for k, v in self.refresh.items()},
        }

    def load_dict(self, data: dict[str, Any]) -> None:
        self.users = {u["sub"]: OidcUser(**u) for u in data.get("users", [])}
        self.access = {k: OidcGrant(**v) for k, v in data.get("access", {}).items()}
        self.refresh = {k: OidcGrant(**v) for k, v in data.get("refresh", {}).items()}

    # -- users ---------------------------------------------------------------------------------

    def find_user(self, hint: str | None) -> OidcUser | None:
        if not hint:
            return None
        if hint in self.users:
            return self.users[hint]
        return next((u for u in self.users.values() if u.email.lower() == hint.lower()), None)

    def upsert_user(self, data: dict[str, Any]) -> OidcUser:
        """Add a user or change some fields of one found by ``sub`` or ``email``."""
        known = {f.name for f in fields(OidcUser)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown user fields: {', '.join(sorted(unknown))}")
        existing = self.find_user(data.get("sub")) or self.find_user(data.get("email"))
        if existing is not None:
            merged = {**asdict(existing), **data}
            del self.users[existing.sub]
        else:
            if not data.get("email") or not data.get("name"):
                raise ValueError("a new user needs at least email and name")
            sub = data.get("sub") or self._free_sub()
            merged = {"sub": sub}
            merged.update(data)
        user = OidcUser(**merged)
        self.users[user.sub] = user
        self._changed()
        return user

    def _free_sub(self) -> str:
        """A ZITADEL-like numeric id not taken yet."""
        n = 310_000_000_000_000_000 + len(self.users)
        while str(n) in self.users:
            n += 1
        return str(n)

    # -- codes ---------------------------------------------------------------------------------

    def issue_code(
        self,
        user: OidcUser,
        redirect_uri: str,
        challenge: str,
        nonce: str | None,
        scopes: list[str],
    ) -> str:
        now = self._clock()
        horizon = now - 2 * self.options.code_lifetime
        for stale in [c for c, v in self.codes.items() if v.expires_at < horizon]:
            del self.codes[stale]
        code = opaque_token()
        self.codes[code] = OidcCode(
            user.sub,
            self.options.client_id,
            redirect_uri,
            challenge,
            nonce,
            scopes,
            int(now),
            now + self.options.code_lifetime,
        )
        self.stats["codes_issued"] += 1
        return code

    def redeem_code(
        self, code: str | None, client_id: str, redirect_uri: str | None, verifier: str | None
    ) -> OidcCode:
        entry = self.codes.get(code or "")
        if entry is None or entry.client_id != client_id:
            raise OidcError("invalid_grant", "unknown authorization code")
        if entry.used:
            for token in entry.issued_access:
                if token in self.access:
                    self.access[token].revoked = True
            self._changed()
            raise OidcError("invalid_grant", "authorization code already used")
        if self._clock() >= entry.expires_at:
            raise OidcError("invalid_grant", "authorization code expired")
        if redirect_uri != entry.redirect_uri:
            raise OidcError("invalid_grant", "redirect_uri differs from the authorization request")
        if not verifier:
            raise OidcError("invalid_request", "code_verifier is required")
        if not pkce_s256_matches(verifier, entry.code_challenge):
            raise OidcError("invalid_grant", "PKCE verification failed")
        entry.used = True
        self.stats["codes_exchanged"] += 1
        return entry

    # -- tokens --------------------------------------------------------------------------------

    def issue_access(self, sub: str, client_id: str, scopes: list[str], auth_time: int) -> str:
        token = opaque_token()
        expires = self._clock() + self.options.access_lifetime
        self.access[token] = OidcGrant(sub, client_id, scopes, auth_time, expires)
        self.stats["tokens_issued"] += 1
        self._changed()
        return token

    def issue_refresh(self, sub: str, client_id: str, scopes: list[str], auth_time: int) -> str:
        token = opaque_token()
        expires = self._clock() + self.options.refresh_lifetime
        self.refresh[token] = OidcGrant(sub, client_id, scopes, auth_time, expires)
        self._changed()
        return token

    def use_refresh(self, token: str | None, client_id: str, scope: str | None) -> OidcGrant:
        grant = self.refresh.get(token or "")
        if grant is None or grant.client_id != client_id or grant.revoked:
            raise OidcError("invalid_grant", "unknown refresh token")
        if grant.used:
            raise OidcError("invalid_grant", "refresh token already used")
        if self._clock() >= grant.expires_at:
            raise OidcError("invalid_grant", "refresh token expired")
        if grant.sub not in self.users:
            raise OidcError("invalid_grant", "user no longer exists")
        scopes = grant.scopes
        if scope is not None:
            asked = scope.split()
            if not set(asked) <= set(grant.scopes):
                raise OidcError("invalid_scope", "a refresh cannot widen the granted scopes")
            scopes = asked
        grant.used = True
        self.stats["refreshes"] += 1
        self._changed()
        return OidcGrant(grant.sub, client_id, scopes, grant.auth_time, grant.expires_at)

    def check_access(self, token: str) -> OidcGrant:
        grant = self.access.get(token)
        if grant is None or grant.revoked or grant.sub not in self.users:
            raise OidcError("invalid_token", "unknown or revoked access token", status=401)
        if self._clock() >= grant.expires_at:
            raise OidcError("invalid_token", "access token expired", status=401)
        return grant

    # -- claims --------------------------------------------------------------------------------

    def user_claims(self, user: OidcUser, scopes: list[str]) -> dict[str, Any]:
        """Claims released for ``scopes`` (OIDC Core 5.4), plus ZITADEL's role claims."""
        claims: dict[str, Any] = {}
        if "profile" in scopes:
            claims.update(
                name=user.name,
                given_name=user.given_name,
                family_name=user.family_name,
                preferred_username=user.email,
                picture=user.picture,
                locale=user.locale,
            )
        if "email" in scopes:
            claims.update(email=user.email, email_verified=user.email_verified)
        if self.options.assert_roles or ROLES_SCOPE in scopes:
            # ZITADEL's shape: {"role": {"<orgId>": "<orgDomain>"}}, under two claim names.
            roles = {r: {self.options.org_id: self.options.org_domain} for r in user.roles}
            claims[ROLES_CLAIM] = roles
            claims[f"urn:zitadel:iam:org:project:{self.options.project_id}:roles"] = roles
        return claims
