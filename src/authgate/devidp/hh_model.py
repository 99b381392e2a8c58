"""The hh.ru look-alike's bookkeeping: accounts, codes and token pairs, by hh.ru's rules.

No HTTP here. Every rule answers with hh.ru's documented ``error`` / ``error_description`` pair
(docs/errors.md of github.com/hhru/api), so clients are tested against the real wording.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from authgate.devidp.common import EndpointError, hh_style_token, pkce_s256_matches
from authgate.devidp.options import Clock, HhAccount, HhOptions

# Lifecycle of a token pair. Only "active" pairs answer /me or may be refreshed.
ACTIVE, REFRESHED, REVOKED, DEACTIVATED = "active", "refreshed", "revoked", "deactivated"

STAT_KEYS = (
    "requests_total",
    "token_requests",
    "me_requests",
    "bad_user_agent",
    "faults_injected",
    "codes_issued",
    "codes_exchanged",
    "code_errors",
    "denied",
    "refreshes_ok",
    "token_not_expired",
    "already_refreshed",
    "revoked_used",
    "deactivated_used",
    "bad_token",
    "invalid_client",
    "app_tokens_issued",
    "app_token_too_early",
    "me_ok",
    "me_expired",
    "me_rejected",
    "seeded",
    "in_flight_max",
)


class HhError(EndpointError):
    """An hh.ru token-endpoint error."""


@dataclass
class HhGrant:
    """One access/refresh pair (or an application token, which has neither account nor refresh)."""

    account_id: str | None
    access_token: str
    refresh_token: str | None
    issued_at: float
    expires_at: float | None  # None: never expires (application token)
    status: str = ACTIVE

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at


@dataclass
class HhCode:
    account_id: str
    redirect_uri: str | None  # as given to /oauth/authorize, None when it was left out
    code_challenge: str | None
    expires_at: float
    used: bool = False
    revoked: bool = False


class HhModel:
    def __init__(self, options: HhOptions, clock: Clock, on_change: Callable[[], None]) -> None:
        self.options = options
        self._clock = clock
        self._changed = on_change
        self.stats: Counter[str] = Counter({key: 0 for key in STAT_KEYS})
        self.reset(notify=False)

    def now(self) -> float:
        return self._clock()

    # -- state ---------------------------------------------------------------------------------

    def reset(self, *, notify: bool = True) -> None:
        self.accounts: dict[str, HhAccount] = {a.id: a for a in self.options.accounts}
        self.codes: dict[str, HhCode] = {}
        self.by_access: dict[str, HhGrant] = {}
        self.by_refresh: dict[str, HhGrant] = {}
        self.app_grant: HhGrant | None = None
        self.stats.clear()
        self.stats.update({key: 0 for key in STAT_KEYS})
        if notify:
            self._changed()

    def to_dict(self) -> dict[str, Any]:
        # Codes live minutes and are not worth keeping across a restart.
        grants = list(self.by_access.values())
        return {
            "accounts": [asdict(a) for a in self.accounts.values()],
            "grants": [asdict(g) for g in grants],
            "app_grant": asdict(self.app_grant) if self.app_grant else None,
        }

    def load_dict(self, data: dict[str, Any]) -> None:
        self.accounts = {a["id"]: HhAccount(**a) for a in data.get("accounts", [])}
        self.by_access, self.by_refresh = {}, {}
        for raw in data.get("grants", []):
            self._index(HhGrant(**raw))
        app = data.get("app_grant")
        self.app_grant = HhGrant(**app) if app else None

    def _index(self, grant: HhGrant) -> None:
        self.by_access[grant.access_token] = grant
        if grant.refresh_token:
            self.by_refresh[grant.refresh_token] = grant

    def _new_grant(self, account_id: str, issued_at: float, lifetime: float) -> HhGrant:
        grant = HhGrant(
            account_id=account_id,
            access_token=hh_style_token("USER"),
            refresh_token=hh_style_token("USER"),
            issued_at=issued_at,
            expires_at=issued_at + lifetime,
        )
        self._index(grant)
        return grant

    # -- authorization codes -------------------------------------------------------------------

    def issue_code(self, account_id: str, redirect_uri: str | None, challenge: str | None) -> str:
        now = self._clock()
        # Drop codes long past use so a long demo does not grow without bound.
        horizon = now - 2 * self.options.code_lifetime
        for stale in [c for c, v in self.codes.items() if v.expires_at < horizon]:
            del self.codes[stale]
        code = hh_style_token("CODE")
        self.codes[code] = HhCode(
            account_id, redirect_uri, challenge, now + self.options.code_lifetime
        )
        self.stats["codes_issued"] += 1
        return code

    def check_client(self, client_id: str | None, client_secret: str | None) -> None:
        if client_id != self.options.client_id or client_secret != self.options.client_secret:
            self.stats["invalid_client"] += 1
            raise HhError("invalid_client", "client_id or client_secret not found")

    def exchange_code(
        self, code: str | None, redirect_uri: str | None, verifier: str | None
    ) -> HhGrant:
        entry = self.codes.get(code or "")
        try:
            if code is None or entry is None:
                raise HhError("invalid_request", "code not found")
            if entry.used:
                raise HhError("invalid_grant", "code has already been used")
            if entry.revoked:
                raise HhError("invalid_grant", "code was revoke")  # sic, hh.ru's wording
            if self._clock() >= entry.expires_at:
                raise HhError("invalid_grant", "code expired")
            # hh.ru: a redirect_uri refined at /authorize must be sent again, unchanged.
            if redirect_uri is not None and redirect_uri != entry.redirect_uri:
                raise HhError("invalid_request", "bad redirect url")
            if redirect_uri is None and entry.redirect_uri is not None:
                raise HhError("invalid_request", "bad redirect url")
            if entry.code_challenge is not None and not (
                verifier and pkce_s256_matches(verifier, entry.code_challenge)
            ):
                # Undocumented wording: hh.ru does not publish its PKCE failure text.
                raise HhError("invalid_grant", "bad code_verifier")
        except HhError:
            self.stats["code_errors"] += 1
            raise
        entry.used = True
        grant = self._new_grant(entry.account_id, self._clock(), self.options.access_lifetime)
        self.stats["codes_exchanged"] += 1
        self._changed()
        return grant

    # -- refresh ---------------------------------------------------------------------------------

    def refresh(self, refresh_token: str | None) -> HhGrant:
        if not refresh_token:
            raise HhError("invalid_request", "token is empty")
        grant = self.by_refresh.get(refresh_token)
        if grant is None:
            self.stats["bad_token"] += 1
            raise HhError("invalid_grant", "bad token")
        if grant.status == REVOKED:
            self.stats["revoked_used"] += 1
            raise HhError("invalid_grant", "token was revoked")
        if grant.status == DEACTIVATED:
            self.stats["deactivated_used"] += 1
            raise HhError("invalid_grant", "token deactivated")
        if grant.status == REFRESHED:
            self.stats["already_refreshed"] += 1
            raise HhError("invalid_grant", "token has already been refreshed")
        now = self._clock()
        if not grant.expired(now):
            self.stats["token_not_expired"] += 1
            raise HhError("invalid_grant", "token not expired")
        assert grant.account_id is not None  # application tokens have no refresh token
        # The old pair dies entirely: its access token stops working, its refresh token is spent.
        grant.status = REFRESHED
        new = self._new_grant(grant.account_id, now, self.options.access_lifetime)
        self.stats["refreshes_ok"] += 1
        self._changed()
        return new

    # -- application token ---------------------------------------------------------------------

    def app_token(self) -> HhGrant:
        now = self._clock()
        previous = self.app_grant
        if previous is not None and now - previous.issued_at < self.options.app_token_min_interval:
            self.stats["app_token_too_early"] += 1
            raise HhError("forbidden", "app token refresh too early", status=403)
        if previous is not None:
            previous.status = REVOKED  # hh.ru: asking again revokes the previous token
        grant = HhGrant(None, hh_style_token("APPL"), None, now, None)
        self.app_grant = grant
        self.by_access[grant.access_token] = grant
        self.stats["app_tokens_issued"] += 1
        self._changed()
        return grant

    # -- /me -----------------------------------------------------------------------------------

    def check_access(self, access_token: str) -> HhGrant:
        """The grant behind a bearer token, or HhError whose description is hh.ru's oauth value."""
        grant = self.by_access.get(access_token)
        if grant is None or grant.status == REFRESHED:
            self.stats["me_rejected"] += 1
            raise HhError("oauth", "bad_authorization", status=403)
        if grant.status in (REVOKED, DEACTIVATED):
            self.stats["me_rejected"] += 1
            raise HhError("oauth", "token_revoked", status=403)
        if grant.expired(self._clock()):
            self.stats["me_expired"] += 1
            raise HhError("oauth", "token_expired", status=403)
        self.stats["me_ok"] += 1
        return grant

    def invalidate(self, access_token: str) -> None:
        """``DELETE /oauth/token``: works only on a live user token; refreshing it then fails."""
        grant = self.check_access(access_token)
        if grant.account_id is None:
            raise HhError("oauth", "user_auth_expected", status=403)
        grant.status = REVOKED
        self._changed()

    # -- control -------------------------------------------------------------------------------

    def end_account(self, account_id: str, status: str) -> int:
        """Revoke or deactivate every live pair and pending code of an account."""
        count = 0
        for grant in self.by_access.values():
            if grant.account_id == account_id and grant.status == ACTIVE:
                grant.status = status
                count += 1
        for code in self.codes.values():
            if code.account_id == account_id:
                code.revoked = True
        self._changed()
        return count

    def expire(self, account_id: str | None) -> int:
        """Make live access tokens expire now (all, or one account's), so they may be refreshed."""
        now, count = self._clock(), 0
        for grant in self.by_access.values():
            live = grant.status == ACTIVE and grant.refresh_token and not grant.expired(now)
            if live and account_id in (None, grant.account_id):
                grant.expires_at = now
                count += 1
        self._changed()
        return count

    def seed(self, count: int, expired: bool, lifetime: float | None) -> list[HhGrant]:
        """Create ``count`` new accounts, each with one token pair, without any browser flow."""
        now = self._clock()
        life = self.options.access_lifetime if lifetime is None else lifetime
        # An expired pair was issued one lifetime and a second ago: due for refresh right now.
        issued_at = now - life - 1 if expired else now
        next_id = max((int(i) for i in self.accounts if i.isdigit()), default=20_000_000) + 1
        grants = []
        for n in range(count):
            account = HhAccount(
                str(next_id + n), "Seed", f"User{next_id + n}", f"seed{next_id + n}@example.com"
            )
            self.accounts[account.id] = account
            grants.append(self._new_grant(account.id, issued_at, life))
        self.stats["seeded"] += count
        self._changed()
        return grants

    def upsert_account(self, account: HhAccount) -> None:
        self.accounts[account.id] = account
        self._changed()
