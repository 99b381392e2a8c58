"""Browser round trips to a provider (sign-in and connect), made single-use and browser-bound.

``start`` records a flow under a hash of a fresh ``state`` and returns the state (for the
provider) and a binding value (for a short-lived cookie in the browser that started it).
``consume`` accepts a callback only once, only before it expires, and only from that browser; the
single use is one conditional UPDATE, so two racing callbacks cannot both win.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from authgate.errors import FlowError
from authgate.keyring import Keyring
from authgate.secret_values import digest, equal_in_constant_time
from authgate.store.models import AuthFlow
from authgate.store.single_use import Reason, Refused, SingleUse

FLOW_LIFETIME = timedelta(minutes=10)
_STATES = SingleUse(AuthFlow, AuthFlow.consumed_at)
_REFUSALS: dict[Reason, tuple[str, str]] = {
    "unknown": ("This sign-in attempt is unknown. Please start again.", "invalid_state"),
    "used": ("This sign-in link was already used. Please start again.", "state_reused"),
    "expired": ("This sign-in attempt took too long. Please start again.", "state_expired"),
}


@dataclass(frozen=True)
class FlowRecord:
    kind: str
    provider: str
    redirect_uri: str
    nonce: str | None
    code_verifier: str | None
    next_url: str | None
    owner: str | None


class FlowStore:
    def __init__(self, db: sessionmaker[Session], keyring: Keyring) -> None:
        self._db = db
        self._keyring = keyring

    def start(self, *, kind: str, provider: str, redirect_uri: str, binding: str, now: datetime,
              nonce: str | None = None, code_verifier: str | None = None,
              next_url: str | None = None, owner: str | None = None) -> str:
        """Record a flow; returns the ``state`` to send to the provider."""
        def row(flow_id: str) -> AuthFlow:
            return AuthFlow(
                id=flow_id, kind=kind, provider=provider, binding_hash=digest(binding),
                nonce=nonce, redirect_uri=redirect_uri, next_url=next_url, owner=owner,
                code_verifier_enc=(self._keyring.encrypt(code_verifier, f"flow:{flow_id}")
                                   if code_verifier else None),
                created_at=now, expires_at=now + FLOW_LIFETIME,
            )

        with self._db.begin() as s:
            state = _STATES.issue(s, row)
        return state

    def consume(self, *, state: str | None, binding: str | None, provider: str,
                now: datetime) -> FlowRecord:
        if not state:
            raise FlowError("The sign-in link is incomplete (no state). Please start again.",
                            error="missing_state")

        def same_browser(row: AuthFlow) -> None:
            if not binding or not equal_in_constant_time(row.binding_hash, digest(binding)):
                raise FlowError("This sign-in was started in another browser. Please start "
                                "again here.", error="state_browser_mismatch")

        with self._db.begin() as s:
            try:
                row = _STATES.redeem(s, state, now, belongs=lambda r: r.provider == provider,
                                     check=same_browser)
            except Refused as refused:
                message, error = _REFUSALS[refused.reason]
                raise FlowError(message, error=error) from None
            return FlowRecord(
                kind=row.kind, provider=row.provider, redirect_uri=row.redirect_uri,
                nonce=row.nonce, next_url=row.next_url, owner=row.owner,
                code_verifier=(self._keyring.decrypt(row.code_verifier_enc, f"flow:{row.id}")
                               if row.code_verifier_enc else None),
            )
