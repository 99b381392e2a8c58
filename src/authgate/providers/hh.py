"""HeadHunter (hh.ru), from its API documentation.

* authorize at ``https://hh.ru/oauth/authorize``, token at ``https://api.hh.ru/token`` (the old
  ``https://hh.ru/oauth/token`` is deprecated), account at ``https://api.hh.ru/me``;
* every request carries ``HH-User-Agent: Name/Version (contact)``;
* an access token lives 14 days; its refresh token works once, and only after it has expired;
* an application token (client_credentials) never expires; asking again revokes the old one.

The last two are capabilities (``registry.capabilities_of``); the rest is here.
"""

from __future__ import annotations

import httpx

from authgate.protocol.rfc6749_oauth2 import OAuthErrorResponse
from authgate.providers.base import Account, Provider, RefreshFailure

AUTHORIZE_URL = "https://hh.ru/oauth/authorize"
TOKEN_URL = "https://api.hh.ru/token"
API_BASE = "https://api.hh.ru"

# error_description values (lower-cased) after which only a new connection helps.
_REAUTH = {
    "token has already been refreshed": "hh.ru says the refresh token was already used",
    "token was revoked": "the access was revoked at hh.ru",
    "token deactivated": "the hh.ru user changed their password or was logged out everywhere",
    "bad token": "hh.ru does not know the refresh token",
    "token not found": "hh.ru does not know the refresh token",
    "account not found": "the hh.ru account no longer exists",
}


class HeadHunterProvider(Provider):
    @property
    def authorize_endpoint(self) -> str:
        return self.settings.authorize_url or AUTHORIZE_URL

    @property
    def token_endpoint(self) -> str:
        return self.settings.token_url or TOKEN_URL

    @property
    def api_base(self) -> str:
        return (self.settings.api_base or API_BASE).rstrip("/")

    @property
    def stale_token_statuses(self) -> frozenset[int]:
        # hh.ru answers 403 {"errors": [{"type": "oauth", "value": "token_expired"}]}.
        return frozenset({401, 403})

    def headers(self) -> dict[str, str]:
        return {**super().headers(), "HH-User-Agent": self.settings.user_agent,
                "User-Agent": self.settings.user_agent}

    async def fetch_account(self, http: httpx.AsyncClient, access_token: str) -> Account:
        body = await self._get_json(http, f"{self.api_base}/me", access_token)
        name = " ".join(str(body[k]) for k in ("first_name", "last_name") if body.get(k))
        return Account(id=None if body.get("id") is None else str(body["id"]),
                       name=name or (str(body["email"]) if body.get("email") else None))

    def classify_refresh_error(self, exc: OAuthErrorResponse) -> RefreshFailure:
        description = exc.description.strip().lower()
        if description == "token not expired":
            # Not consumed: the access token is still valid by hh.ru's clock. Try again later.
            return RefreshFailure("too_early", "refresh_not_allowed",
                                  "hh.ru: the access token has not expired yet")
        if description in _REAUTH:
            return RefreshFailure("needs_reauth", exc.oauth_error,
                                  f"{_REAUTH[description]} ({exc.oauth_error}: {description})")
        if exc.oauth_error == "invalid_client":
            # Our client_id/secret is wrong: a configuration problem, not the user's.
            return RefreshFailure("transient", "invalid_client",
                                  "hh.ru refused the client credentials (invalid_client)")
        return super().classify_refresh_error(exc)
