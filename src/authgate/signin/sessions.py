"""Sessions: a row per sign-in (for revocation and audit) and a signed JWT the browser carries.

``verify`` is the hot path (nginx ``auth_request`` calls it for every protected request): it needs
no database. A token's signature is checked once and the result cached until the token expires
(only successes are cached, so garbage cannot fill the cache with failures we would then trust);
revocation comes from the in-memory ``RevocationCache``. ``current`` adds a database check
(session row, user not disabled) for the endpoints that return the profile anyway.

Every token names its audience (``aud``): the one in the session cookie is for this gateway
and the apps behind its nginx ``auth_request`` (``aud`` = public_url); one handed to a panel on
another origin (``/auth/token``) is for that panel only (``aud`` = its origin), so a panel that
holds a user's token cannot use it to open the other apps. ``verify`` accepts the gateway's
audience, and another one only when the caller names it. A token without ``aud`` (made before
audiences existed) is refused: its holder signs in again once.

A session begun at an OpenID provider keeps the provider's ID token, encrypted with the keyring,
until sign-out hands it back as the ``id_token_hint`` of the provider's end-session request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import JoseError
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from authgate.clock import Clock
from authgate.errors import Unauthorized
from authgate.keyring import Keyring, KeyringError
from authgate.secret_values import new_secret
from authgate.signin.revocations import RevocationCache
from authgate.signin.signing_keys import ALG, SigningKeys
from authgate.signin.users import UserView, user_view
from authgate.store.models import Session as SessionRow
from authgate.store.models import User

_MAX_TOKEN = 4096
_CACHE_SIZE = 20_000
_LEEWAY = 60


@dataclass(frozen=True)
class SessionClaims:
    username: str
    role: str
    sid: str
    email: str | None
    issued_at: int
    expires_at: int
    audience: str = ""


@dataclass(frozen=True)
class IssuedSession:
    sid: str
    token: str
    expires_at: datetime
    user: UserView


@dataclass(frozen=True)
class EndedSession:
    provider: str | None
    id_token: str | None = field(default=None, repr=False)


def _id_token_aad(sid: str) -> str:
    return f"session:{sid}:id_token"


def _unauthorized(detail: str, error: str) -> Unauthorized:
    return Unauthorized(detail, error=error)


class SessionService:
    def __init__(self, db: sessionmaker[Session], keys: SigningKeys, keyring: Keyring,
                 revocations: RevocationCache, clock: Clock, *, issuer: str,
                 lifetime: timedelta) -> None:
        self._db = db
        self._keys = keys
        self._keyring = keyring
        self._revocations = revocations
        self._clock = clock
        self.issuer = issuer
        self.lifetime = lifetime
        self._cache: dict[str, SessionClaims] = {}

    # -- issuing ------------------------------------------------------------------------------
    def start(self, user: UserView, *, provider: str, ip: str | None,
              user_agent: str | None, id_token: str | None = None) -> IssuedSession:
        """A new session (a new sid at every sign-in) and its token."""
        now = self._clock.now().replace(microsecond=0)
        sid = new_secret(24)
        expires = now + self.lifetime
        sealed = None if id_token is None else self._keyring.encrypt(id_token, _id_token_aad(sid))
        with self._db.begin() as s:
            s.add(SessionRow(id=sid, user_id=user.id, provider=provider, id_token_enc=sealed,
                             ip=ip, user_agent=(user_agent or "")[:512] or None,
                             created_at=now, expires_at=expires, revoked_at=None))
        return IssuedSession(sid, self._sign(user, sid, now, expires, self.issuer), expires,
                             user)

    def reissue(self, sid: str, *, audience: str) -> IssuedSession:
        """A fresh token for an existing, still valid session, for ``audience`` only (the
        handoff to a panel on another origin: its origin)."""
        now = self._clock.now().replace(microsecond=0)
        row, user = self._live(sid, now)
        return IssuedSession(sid, self._sign(user, sid, now, row.expires_at, audience),
                             row.expires_at, user)

    def _sign(self, user: UserView, sid: str, now: datetime, expires: datetime,
              audience: str) -> str:
        kid, key = self._keys.signer()
        claims: dict[str, Any] = {"iss": self.issuer, "aud": audience, "sub": user.username,
                                  "role": user.role, "sid": sid, "iat": int(now.timestamp()),
                                  "exp": int(expires.timestamp())}
        if user.email:
            claims["email"] = user.email
        return jwt.encode({"alg": ALG, "kid": kid, "typ": "JWT"}, claims, key, algorithms=[ALG])

    # -- checking -----------------------------------------------------------------------------
    def verify(self, token: str | None, *, audience: str | None = None) -> SessionClaims:
        """The token's claims if it is valid now and meant for this gateway, or for
        ``audience`` (a panel origin the caller stands for); ``Unauthorized`` otherwise."""
        if not token:
            raise _unauthorized("You are not signed in.", "session_missing")
        claims = self._cache.get(token)
        now = self._clock.now()
        if claims is None:
            claims = self._decode(token, now)
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.pop(next(iter(self._cache)))
            self._cache[token] = claims
        if claims.audience != self.issuer and (audience is None or claims.audience != audience):
            raise _unauthorized("This session token was issued for another site. Please sign "
                                "in again.", "session_audience")
        if claims.expires_at <= now.timestamp():
            self._cache.pop(token, None)
            raise _unauthorized("Your session has expired. Please sign in again.",
                                "session_expired")
        if self._revocations.is_revoked(claims.sid):
            raise _unauthorized("Your session has ended. Please sign in again.",
                                "session_revoked")
        return claims

    def seconds_left(self, claims: SessionClaims) -> float:
        return claims.expires_at - self._clock.now().timestamp()

    def _decode(self, token: str, now: datetime) -> SessionClaims:
        invalid = _unauthorized("Your session is not valid. Please sign in again.",
                                "session_invalid")
        if len(token) > _MAX_TOKEN:
            raise invalid
        try:
            header = jws.extract_compact(token.encode()).headers()
            kid = header.get("kid")
            keys = self._keys.verifier(kid if isinstance(kid, str) else None)
            raw = jwt.decode(token, keys, algorithms=[ALG]).claims
        except (JoseError, ValueError, UnicodeError, KeyError, TypeError):
            raise invalid from None
        fields = (raw.get("sub"), raw.get("role"), raw.get("sid"))
        exp, iat, aud = raw.get("exp"), raw.get("iat"), raw.get("aud")
        if (raw.get("iss") != self.issuer or not all(isinstance(f, str) and f for f in fields)
                or not isinstance(aud, str) or not aud
                or not isinstance(exp, int) or not isinstance(iat, int)
                or iat > now.timestamp() + _LEEWAY):
            raise invalid
        email = raw.get("email")
        return SessionClaims(username=str(raw["sub"]), role=str(raw["role"]), sid=str(raw["sid"]),
                             email=email if isinstance(email, str) else None, issued_at=iat,
                             expires_at=exp, audience=str(aud))

    def current(self, token: str | None, *, audience: str | None = None
                ) -> tuple[SessionClaims, UserView, str | None]:
        """``verify`` plus the database: the session row still live and the user enabled.

        Returns the claims, the user as stored now, and the provider the session came from.
        """
        claims = self.verify(token, audience=audience)
        row, user = self._live(claims.sid, self._clock.now())
        return claims, user, row.provider

    def _live(self, sid: str, now: datetime) -> tuple[SessionRow, UserView]:
        with self._db() as s:
            row = s.get(SessionRow, sid)
            user = s.get(User, row.user_id) if row is not None else None
            if row is None or user is None or row.revoked_at is not None or user.disabled:
                if row is not None:
                    self._revocations.add(sid)
                raise _unauthorized("Your session has ended. Please sign in again.",
                                    "session_revoked")
            if row.expires_at <= now:
                raise _unauthorized("Your session has expired. Please sign in again.",
                                    "session_expired")
            return row, user_view(s, user)

    # -- ending -------------------------------------------------------------------------------
    def end(self, sid: str) -> EndedSession:
        """Revoke one session; returns the provider it came from and the ID token it kept (for
        RP-initiated logout; given out once, then forgotten)."""
        now = self._clock.now()
        with self._db.begin() as s:
            row = s.get(SessionRow, sid)
            if row is None:
                return EndedSession(None)
            if row.revoked_at is None:
                row.revoked_at = now
            sealed, row.id_token_enc = row.id_token_enc, None
            provider = row.provider
        self._revocations.add(sid)
        return EndedSession(provider, self._open_id_token(sid, sealed))

    def _open_id_token(self, sid: str, sealed: str | None) -> str | None:
        if sealed is None:
            return None
        try:
            return self._keyring.decrypt(sealed, _id_token_aad(sid))
        except KeyringError:
            return None  # a lost key costs only the hint: the provider then asks to confirm

    def reencrypt_id_tokens(self) -> int:
        """Move the kept ID tokens to the keyring's current key (after ``keys rotate``)."""
        changed = 0
        with self._db.begin() as s:
            rows = s.scalars(select(SessionRow).where(SessionRow.id_token_enc.is_not(None)))
            for row in rows:
                assert row.id_token_enc is not None
                new = self._keyring.reencrypt(row.id_token_enc, _id_token_aad(row.id))
                if new != row.id_token_enc:
                    row.id_token_enc, changed = new, changed + 1
        return changed

    def end_all_for(self, user_id: int, *, keep: str | None = None) -> int:
        """End every live session of the user, except ``keep`` (the one changing a password)."""
        now = self._clock.now()
        with self._db.begin() as s:
            sids = list(s.scalars(select(SessionRow.id).where(
                SessionRow.user_id == user_id, SessionRow.revoked_at.is_(None),
                SessionRow.expires_at > now, SessionRow.id != (keep or ""))))
            if sids:
                s.execute(update(SessionRow).where(SessionRow.id.in_(sids))
                          .values(revoked_at=now, id_token_enc=None))
        self._revocations.add(*sids)
        return len(sids)
