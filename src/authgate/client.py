"""A small client for bots: fresh tokens from the vault, and an ``httpx.Auth`` that uses them.

    client = authgate.Client("http://127.0.0.1:8000", api_key)
    token = client.token("hh", owner="tg:12345")
    api = httpx.Client(auth=client.auth("hh", owner="tg:12345"))

The auth flow puts the token on each request; on a 401 it asks the vault for a fresh token once
and retries (the vault refreshes only when the provider's rules allow, so this is safe).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

import httpx

from authgate.errors import AuthgateError, NeedsReauth, NotFound, Unauthorized


@dataclass(frozen=True)
class Token:
    access_token: str
    token_type: str
    expires_at: datetime | None


class Client:
    def __init__(self, url: str, api_key: str, *, timeout: float = 30.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self._http = httpx.Client(base_url=url.rstrip("/"), timeout=timeout,
                                  headers={"Authorization": f"Bearer {api_key}"},
                                  transport=transport)

    def token(self, provider: str, owner: str = "default") -> Token:
        path = f"/api/v1/connections/{quote(provider, safe='')}/{quote(owner, safe='')}/token"
        body = _checked(self._http.get(path))
        expires = body.get("expires_at")
        return Token(
            access_token=str(body["access_token"]), token_type=str(body.get("token_type", "")),
            expires_at=(datetime.fromisoformat(str(expires).replace("Z", "+00:00"))
                        if expires else None),
        )

    def auth(self, provider: str, owner: str = "default") -> VaultAuth:
        return VaultAuth(self, provider, owner)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class VaultAuth(httpx.Auth):
    def __init__(self, client: Client, provider: str, owner: str) -> None:
        self._client, self._provider, self._owner = client, provider, owner
        self._token: str | None = None

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._token is None:
            self._token = self._client.token(self._provider, self._owner).access_token
        request.headers["Authorization"] = f"Bearer {self._token}"
        response = yield request
        if response.status_code == 401:
            self._token = self._client.token(self._provider, self._owner).access_token
            request.headers["Authorization"] = f"Bearer {self._token}"
            yield request


def _checked(response: httpx.Response) -> dict[str, object]:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code == 200 and isinstance(body, dict):
        return body
    error = str(body.get("error", f"http_{response.status_code}")) if isinstance(body, dict) \
        else f"http_{response.status_code}"
    detail = str(body.get("detail", response.reason_phrase)) if isinstance(body, dict) else ""
    cls: type[AuthgateError] = {401: Unauthorized, 404: NotFound,
                                409: NeedsReauth}.get(response.status_code, AuthgateError)
    raise cls(detail, error=error)
