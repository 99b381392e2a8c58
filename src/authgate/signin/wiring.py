"""The sign-in services of one process, built once from the runtime and kept in its ``extras``."""

from __future__ import annotations

from dataclasses import dataclass

from authgate.runtime import Runtime
from authgate.signin.audit import SigninLog
from authgate.signin.handoff import HandoffCodes
from authgate.signin.oidc_login import OidcLogin
from authgate.signin.ratelimit import PasswordLimiter
from authgate.signin.revocations import RevocationCache
from authgate.signin.sessions import SessionService
from authgate.signin.signing_keys import SigningKeys
from authgate.signin.signins import Signins
from authgate.signin.users import UserStore

_KEY = "signin"


@dataclass
class SigninServices:
    users: UserStore
    keys: SigningKeys
    revocations: RevocationCache
    sessions: SessionService
    log: SigninLog
    limiter: PasswordLimiter
    handoff: HandoffCodes
    oidc: OidcLogin
    signins: Signins


def signin_services(runtime: Runtime) -> SigninServices:
    cached = runtime.extras.get(_KEY)
    if isinstance(cached, SigninServices):
        return cached
    settings, db, clock = runtime.settings, runtime.db, runtime.clock
    users = UserStore(db)
    keys = SigningKeys(db, runtime.keyring, clock, settings.session.lifetime)
    revocations = RevocationCache(db, clock)
    # Key rotations by other processes are picked up on the same off-request-path schedule.
    revocations.on_reload.append(keys.maintain)
    sessions = SessionService(db, keys, runtime.keyring, revocations, clock,
                              issuer=settings.public_url,
                              lifetime=settings.session.lifetime)
    log = SigninLog(db)
    limiter = PasswordLimiter(db, max_failures=settings.login.max_failures,
                              window=settings.login.failure_window)
    services = SigninServices(
        users=users, keys=keys, revocations=revocations, sessions=sessions, log=log,
        limiter=limiter, handoff=HandoffCodes(db),
        oidc=OidcLogin(runtime.providers, settings.login, runtime.http, clock, runtime.flows),
        signins=Signins(settings.login, users, sessions, log, limiter, clock))
    runtime.extras[_KEY] = services
    return services
