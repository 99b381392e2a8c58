"""The sign-in gateway's services of one process, built together by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from sqlalchemy.orm import Session, sessionmaker

from authgate.clock import Clock
from authgate.config import Settings
from authgate.flows import FlowStore
from authgate.keyring import Keyring
from authgate.outbox.store import Outbox
from authgate.providers import Providers
from authgate.signin.audit import SigninLog
from authgate.signin.completion import SigninCompletion
from authgate.signin.handoff import HandoffCodes
from authgate.signin.oidc_login import OidcLogin
from authgate.signin.passwords import HashSlots, hash_slots_for_memory
from authgate.signin.ratelimit import PasswordLimiter
from authgate.signin.revocations import RevocationCache
from authgate.signin.sessions import SessionService
from authgate.signin.signing_keys import SigningKeys
from authgate.signin.users import UserStore
from authgate.signin.verdict_epoch import VerdictEpoch


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
    completion: SigninCompletion
    epoch: VerdictEpoch

    @classmethod
    def build(cls, settings: Settings, *, providers: Providers, db: sessionmaker[Session],
              keyring: Keyring, clock: Clock, http: httpx.AsyncClient,
              flows: FlowStore, outbox: Outbox) -> SigninServices:
        """Wire the services; nothing is read from the database until they are used."""
        revocations = RevocationCache(db, clock)
        users = UserStore(db, on_revoke=revocations.add, outbox=outbox)
        keys = SigningKeys(db, keyring, clock, settings.session.lifetime)
        # Key rotations by other processes are picked up on the same off-request-path schedule.
        revocations.on_reload.append(keys.maintain)
        # nginx's verify cache: a new epoch on every change of a verdict (active once serving).
        epoch = VerdictEpoch(settings.verify_epoch_path)
        revocations.on_change.append(epoch.bump)
        keys.on_change.append(epoch.bump)
        sessions = SessionService(db, keys, keyring, revocations, clock,
                                  issuer=settings.public_url,
                                  lifetime=settings.session.lifetime)
        log = SigninLog(db)
        limiter = PasswordLimiter(db, max_failures=settings.login.max_failures,
                                  window=settings.login.failure_window)
        hash_slots = HashSlots(settings.login.parallel_checks or hash_slots_for_memory())
        return cls(users=users, keys=keys, revocations=revocations, sessions=sessions, log=log,
                   limiter=limiter, handoff=HandoffCodes(db),
                   oidc=OidcLogin(providers, settings.login, http, clock, flows),
                   completion=SigninCompletion(settings.login, users, sessions, log, limiter,
                                               clock, hash_slots),
                   epoch=epoch)
