"""Look-alikes of Google, GitHub, Yandex ID, VK ID and SuperJob: one generic OAuth 2 provider
switched into each one's mode, its documented quirks reproduced (no HTTP here).

Written from the providers' documentation, apart from the gateway's presets
(``authgate.providers.presets``), so that a test against a mode fails when a preset gets a rule
wrong: a mode refuses what its provider would refuse, it does not follow the gateway's data.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from authgate.devidp.common import EndpointError, opaque_token, pkce_s256_matches
from authgate.devidp.options import Clock

Rotation = Literal["never", "always", "alternate"]


@dataclass(frozen=True)
class ModeClient:
    client_id: str
    client_secret: str
    # False: tokens that never expire and no refresh token (a GitHub OAuth App).
    expiring: bool = True


@dataclass(frozen=True)
class PresetMode:
    name: str
    clients: tuple[ModeClient, ...]
    access_lifetime: float
    # Authorize parameters without which no refresh token is issued (Google's offline access).
    refresh_token_requires: Mapping[str, str] = field(default_factory=dict)
    # never: a refresh answer has no refresh token (the old one stays valid); always: a new one
    # each time (the old one dies); alternate: the same one every other time (Yandex's "may").
    rotation: Rotation = "always"
    error_status: int = 400  # GitHub answers token errors with 200
    dead_refresh_error: str = "invalid_grant"
    json_only_on_accept: bool = False  # GitHub: form-encoded unless Accept: application/json
    pkce_required: bool = False
    # VK ID: the callback brings device_id; the exchange and each refresh must send it back,
    # each with a state; state is required on authorize too.
    device_id: bool = False
    secret_optional: bool = False  # VK ID's public clients send no secret
    app_id_header: bool = False  # SuperJob: X-Api-App-Id = the app's secret on API calls
    refresh_apart: bool = False  # SuperJob: refresh at /refresh_token only
    auth_scheme: str = "Bearer"  # Yandex: "OAuth <token>"
    account_post_form: bool = False  # VK ID: user_info takes the token in a form body


MODES: Mapping[str, PresetMode] = {
    "google": PresetMode(
        "google", (ModeClient("dev-google.apps.googleusercontent.com", "dev-google-secret"),),
        access_lifetime=3599, rotation="never",
        refresh_token_requires={"access_type": "offline", "prompt": "consent"}),
    "github": PresetMode(
        "github", (ModeClient("Iv1.devgithubapp", "dev-github-app-secret"),
                   ModeClient("Ov23devoauthapp", "dev-github-oauth-secret", expiring=False)),
        access_lifetime=28800, error_status=200, dead_refresh_error="bad_refresh_token",
        json_only_on_accept=True),
    "yandex": PresetMode(
        "yandex", (ModeClient("devyandexclient", "dev-yandex-secret"),),
        access_lifetime=31536000, rotation="alternate", auth_scheme="OAuth"),
    "vk": PresetMode(
        "vk", (ModeClient("51000001", "dev-vk-secret"),), access_lifetime=3600,
        pkce_required=True, device_id=True, secret_optional=True, account_post_form=True),
    "superjob": PresetMode(
        "superjob", (ModeClient("3001", "v3.r.devsuperjobsecret"),), access_lifetime=604800,
        app_id_header=True, refresh_apart=True),
}

PERSON = {"id": "5550001", "login": "ivan.petrov", "first_name": "Ivan", "last_name": "Petrov",
          "email": "ivan.petrov@example.com"}


def account_json(mode: str) -> dict[str, Any]:
    """The demo person as each provider's account endpoint shapes it."""
    p = PERSON
    full = f"{p['first_name']} {p['last_name']}"
    shapes: dict[str, dict[str, Any]] = {
        "google": {"sub": p["id"], "name": full, "email": p["email"], "email_verified": True},
        "github": {"id": int(p["id"]), "login": p["login"], "name": full},
        "yandex": {"id": p["id"], "login": p["login"], "display_name": full,
                   "default_email": p["email"]},
        "vk": {"user": {"user_id": p["id"], "first_name": p["first_name"],
                        "last_name": p["last_name"], "email": p["email"]}},
        "superjob": {"id": int(p["id"]), "name": full, "email": p["email"]},
    }
    return shapes[mode]


class ModeError(EndpointError):
    """A token endpoint error of a mode."""


@dataclass
class ModeGrant:
    client_id: str
    access_token: str
    refresh_token: str | None
    expires_at: float | None
    device_id: str | None
    live: bool = True
    refreshes: int = 0


@dataclass
class ModeCode:
    client_id: str
    redirect_uri: str
    challenge: str | None
    refresh_allowed: bool
    device_id: str | None
    expires_at: float
    used: bool = False


class ModeModel:
    def __init__(self, mode: PresetMode, clock: Clock) -> None:
        self.mode = mode
        self._clock = clock
        self.clients = {c.client_id: c for c in mode.clients}
        self.codes: dict[str, ModeCode] = {}
        self.by_access: dict[str, ModeGrant] = {}
        self.by_refresh: dict[str, ModeGrant] = {}
        self.stats: Counter[str] = Counter()

    # -- authorize ----------------------------------------------------------------------------
    def issue_code(self, client_id: str, q: Mapping[str, str]) -> tuple[str, str | None]:
        """A code for the demo person, and the device_id to hand over with it (VK ID)."""
        wanted = self.mode.refresh_token_requires
        refresh_allowed = all(q.get(k) == v for k, v in wanted.items())
        if not refresh_allowed:
            self.stats["codes_without_offline_access"] += 1
        device = opaque_token(12) if self.mode.device_id else None
        code = opaque_token()
        self.codes[code] = ModeCode(client_id, q.get("redirect_uri", ""), q.get("code_challenge"),
                                    refresh_allowed, device, self._clock() + 600)
        return code, device

    # -- token endpoint -----------------------------------------------------------------------
    def client(self, form: Mapping[str, str]) -> ModeClient:
        client = self.clients.get(form.get("client_id", ""))
        secret = form.get("client_secret")
        if client is None or (secret is None and not self.mode.secret_optional) or (
                secret is not None and secret != client.client_secret):
            self.stats["invalid_client"] += 1
            raise ModeError("invalid_client", "client_id or client_secret is wrong")
        return client

    def exchange(self, form: Mapping[str, str]) -> ModeGrant:
        client = self.client(form)
        entry = self.codes.get(form.get("code", ""))
        if entry is None or entry.used or self._clock() >= entry.expires_at:
            raise self._refused("bad_verification_code" if self.mode.error_status == 200
                                else "invalid_grant", "the code is unknown, used or expired")
        if entry.client_id != client.client_id or entry.redirect_uri != form.get("redirect_uri"):
            raise self._refused("invalid_grant", "redirect_uri or client does not match")
        if entry.challenge is not None and not pkce_s256_matches(
                form.get("code_verifier", ""), entry.challenge):
            raise self._refused("invalid_grant", "code_verifier does not match")
        self._device_and_state(form, entry.device_id)
        entry.used = True
        self.stats["codes_exchanged"] += 1
        with_refresh = client.expiring and entry.refresh_allowed
        if client.expiring and not with_refresh:
            self.stats["issued_without_refresh_token"] += 1
        return self._grant(client, with_refresh=with_refresh, device_id=entry.device_id)

    def refresh(self, form: Mapping[str, str]) -> tuple[ModeGrant, bool]:
        """The new grant, and whether its refresh token belongs in the answer."""
        client = self.client(form)
        old = self.by_refresh.get(form.get("refresh_token", ""))
        if old is None or not old.live or old.client_id != client.client_id:
            self.stats["refresh_refused"] += 1
            raise self._refused(self.mode.dead_refresh_error, "the refresh token is not valid")
        self._device_and_state(form, old.device_id)
        rotate = self.mode.rotation == "always" or (
            self.mode.rotation == "alternate" and old.refreshes % 2 == 1)
        self.by_access.pop(old.access_token, None)
        if rotate:
            old.live = False
            new = self._grant(client, with_refresh=True, device_id=old.device_id)
        else:  # the same refresh token goes on, with a new access token
            new = self._grant(client, with_refresh=False, device_id=old.device_id)
            new.refresh_token = old.refresh_token
            self.by_refresh[old.refresh_token or ""] = new
        new.refreshes = old.refreshes + 1
        self.stats["refreshes_ok"] += 1
        self.stats["refresh_token_rotated" if rotate else "refresh_token_kept"] += 1
        return new, self.mode.rotation != "never"

    def _device_and_state(self, form: Mapping[str, str], device_id: str | None) -> None:
        if device_id is None:
            return
        if form.get("device_id") != device_id:
            self.stats["device_id_missing"] += 1
            raise self._refused("invalid_request", "device_id is missing or wrong")
        if not form.get("state"):
            self.stats["state_missing"] += 1
            raise self._refused("invalid_request", "state is required")

    def _grant(self, client: ModeClient, *, with_refresh: bool,
               device_id: str | None) -> ModeGrant:
        expires = self._clock() + self.mode.access_lifetime if client.expiring else None
        grant = ModeGrant(client.client_id, opaque_token(), opaque_token() if with_refresh
                          else None, expires, device_id)
        self.by_access[grant.access_token] = grant
        if grant.refresh_token:
            self.by_refresh[grant.refresh_token] = grant
        return grant

    def _refused(self, error: str, description: str) -> ModeError:
        self.stats[f"error_{error}"] += 1
        return ModeError(error, description, status=self.mode.error_status)

    def revoke_all(self) -> int:
        """Every grant dies, as when the person revokes the application at the provider."""
        live = [g for g in self.by_access.values() if g.live]
        for grant in live:
            grant.live = False
        return len(live)

    # -- the API ------------------------------------------------------------------------------
    def check_access(self, token: str) -> ModeGrant | None:
        grant = self.by_access.get(token)
        if grant is None or not grant.live or (
                grant.expires_at is not None and self._clock() >= grant.expires_at):
            self.stats["api_refused"] += 1
            return None
        self.stats["api_ok"] += 1
        return grant


def token_answer(grant: ModeGrant, lifetime: float, *, with_refresh: bool,
                 state: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"access_token": grant.access_token, "token_type": "bearer"}
    if grant.expires_at is not None:
        body["expires_in"] = int(lifetime)
    if with_refresh and grant.refresh_token:
        body["refresh_token"] = grant.refresh_token
        body["refresh_token_expires_in"] = 15897600  # GitHub's six months; others ignore it
    if state:
        body["state"] = state
    return body

