"""Completing a sign-in: the account checks, the session, and one line in the sign-in log.

Synchronous (database and argon2): the web layer runs these in a worker thread.
"""

from __future__ import annotations

from authgate.clock import Clock
from authgate.config import LoginSettings
from authgate.errors import AuthgateError, Forbidden, NotFound, RateLimited, Unauthorized
from authgate.signin.audit import FAILURE, LOCAL, REFUSED, SUCCESS, Client, SigninLog
from authgate.signin.oidc_login import OidcIdentity
from authgate.signin.passwords import HashSlots, check_password
from authgate.signin.ratelimit import PasswordLimiter
from authgate.signin.sessions import IssuedSession, SessionService
from authgate.signin.users import UserStore

_MAX_PASSWORD = 1024  # argon2 would hash megabytes happily; nobody types that many


class SigninCompletion:
    def __init__(self, login: LoginSettings, users: UserStore, sessions: SessionService,
                 log: SigninLog, limiter: PasswordLimiter, clock: Clock,
                 hash_slots: HashSlots) -> None:
        self._login = login
        self._users = users
        self._sessions = sessions
        self._log = log
        self._limiter = limiter
        self._clock = clock
        self._hash_slots = hash_slots

    def password(self, username: str, password: str, client: Client) -> IssuedSession:
        if not self._login.password:
            raise NotFound("Password sign-in is turned off here.", error="password_disabled")
        now = self._clock.now()
        # Counted (and maybe refused) before the password is looked at: see signin/ratelimit.py.
        event = self._limiter.admit(username=username, client=client, now=now)
        user, stored = self._users.credentials(username)
        try:
            with self._hash_slots.slot():
                check = check_password(stored, password[:_MAX_PASSWORD])
        except RateLimited as exc:  # busy: not a failed guess
            self._log.settle(event, result=REFUSED, reason=exc.error)
            raise
        if user is None or not check.ok:
            reason = "unknown_user" if user is None else "wrong_password"
            self._log.settle(event, result=FAILURE, reason=reason)
            raise Unauthorized("The username or password is wrong.", error="invalid_credentials")
        if check.rehashed:
            self._users.set_password_hash(user.username, check.rehashed, now)
        if user.disabled:
            self._log.settle(event, result=REFUSED, reason="account_disabled")
            self._refuse_disabled(LOCAL, user.username, client, logged=True)
        issued = self._sessions.start(user, provider=LOCAL, ip=client.ip,
                                      user_agent=client.user_agent)
        self._log.settle(event, result=SUCCESS, username=user.username)
        return issued

    def provider(self, identity: OidcIdentity, client: Client) -> IssuedSession:
        now = self._clock.now()
        user, created = self._users.upsert_from_provider(
            identity.provider, identity.subject, identity.profile, role=identity.role,
            default_role=self._login.default_role, now=now)
        if user.disabled:
            self._refuse_disabled(identity.provider, user.username, client)
        issued = self._sessions.start(user, provider=identity.provider, ip=client.ip,
                                      user_agent=client.user_agent, id_token=identity.id_token)
        self._log.record(now=now, provider=identity.provider, result=SUCCESS, client=client,
                         username=user.username, reason="user_created" if created else None)
        return issued

    def provider_failed(self, provider: str, exc: AuthgateError, client: Client) -> None:
        if exc.error == "account_disabled":
            return  # already logged, with the user's name
        self._log.record(now=self._clock.now(), provider=provider, result=FAILURE,
                         client=client, reason=exc.error)

    def _refuse_disabled(self, provider: str, username: str, client: Client, *,
                         logged: bool = False) -> None:
        if not logged:
            self._log.record(now=self._clock.now(), provider=provider, result=REFUSED,
                             client=client, username=username, reason="account_disabled")
        raise Forbidden("This account is disabled. Ask an administrator.",
                        error="account_disabled")
