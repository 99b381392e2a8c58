"""What each answer of a provider's token endpoint makes of a refresh: its outcome, and the row.

The provider is played by ``httpx.MockTransport`` answering what hh.ru's documentation (or
RFC 6749 §5.2) says it answers; the vault, its database and the clock are real.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest

from authgate.clock import FrozenClock
from authgate.config import ProviderSettings, Settings
from authgate.errors import NeedsReauth, ProviderUnavailable
from authgate.protocol.rfc6749_oauth2 import TokenResponse
from authgate.providers import Account
from authgate.runtime import Runtime
from authgate.vault.connections import ConnectionView
from authgate.vault.engine import refresh_due
from authgate.web.errors import status_of

pytestmark = pytest.mark.anyio

PROVIDER = "http://provider.test"


@dataclass
class PlayedProvider:
    """A token endpoint that gives the scripted answers in turn and records refresh tokens."""

    answers: list[httpx.Response] = field(default_factory=list)
    refresh_tokens: list[str] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        form = parse_qs(request.content.decode())
        assert form["grant_type"] == ["refresh_token"]
        self.refresh_tokens.append(form["refresh_token"][0])
        return self.answers.pop(0)

    def error(self, status: int, error: str, description: str = "",
              headers: dict[str, str] | None = None) -> None:
        body = {"error": error, **({"error_description": description} if description else {})}
        self.answers.append(httpx.Response(status, json=body, headers=headers))

    def tokens(self, access: str, refresh: str, expires_in: int = 60) -> None:
        self.answers.append(httpx.Response(200, json={
            "access_token": access, "token_type": "bearer", "refresh_token": refresh,
            "expires_in": expires_in}))


@pytest.fixture
def played() -> PlayedProvider:
    return PlayedProvider()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def runtime(tmp_path: Path, played: PlayedProvider, clock: FrozenClock) -> Iterator[Runtime]:
    providers = {
        "hh": ProviderSettings(kind="hh", client_id="c", user_agent="T/1.0 (t@example.com)",
                               authorize_url=f"{PROVIDER}/hh/authorize",
                               token_url=f"{PROVIDER}/hh/token"),
        "api": ProviderSettings(kind="oauth2", client_id="c", refresh="after_expiry",
                                authorize_url=f"{PROVIDER}/api/authorize",
                                token_url=f"{PROVIDER}/api/token"),
    }
    settings = Settings(public_url="http://gw.test", data_dir=tmp_path / "data",
                        providers=providers)
    made = Runtime.open(settings, clock=clock, transport=httpx.MockTransport(played))
    yield made
    made.engine.dispose()


async def _connect(runtime: Runtime, provider: str, owner: str = "o") -> ConnectionView:
    return await runtime.vault.store_new_connection(
        runtime.providers[provider], owner,
        TokenResponse(access_token="A1", refresh_token="R1", expires_in=60),
        Account(id="1", name=None))


async def test_hh_token_not_expired_is_retried_later_and_not_consumed(runtime, played, clock):
    conn = await _connect(runtime, "hh")
    clock.advance(61)  # expired by our clock, not yet by hh.ru's
    played.error(400, "invalid_grant", "token not expired")
    outcome = await runtime.vault.refresh(conn)
    assert (outcome.kind, outcome.error) == ("retry_later", "refresh_not_allowed")
    after = outcome.connection
    assert after.status == "active" and after.attempts == 0  # not counted as a failure
    assert after.next_refresh_at is not None
    assert after.next_refresh_at >= clock.now() + timedelta(seconds=30)
    assert outcome.retry_after == (after.next_refresh_at - clock.now()).total_seconds()
    assert runtime.vault.store.get("hh", "o") == after

    clock.advance(30)
    played.tokens("A2", "R2")
    assert await refresh_due(runtime.vault) == {"ok": 1, "retry": 0, "needs_reauth": 0}
    assert played.refresh_tokens == ["R1", "R1"]  # the same, still unused, token
    assert (await runtime.vault.token("hh", "o")).access_token == "A2"


@pytest.mark.parametrize(("description", "reason"), [
    ("token was revoked", "revoked"),
    ("token has already been refreshed", "already used"),
    ("token deactivated", "password"),
])
async def test_hh_dead_refresh_token_needs_reauth(runtime, played, clock, description, reason):
    conn = await _connect(runtime, "hh")
    clock.advance(61)
    played.error(400, "invalid_grant", description)
    outcome = await runtime.vault.refresh(conn)
    assert outcome.kind == "needs_reauth" and outcome.detail and reason in outcome.detail
    assert outcome.connection.status == "needs_reauth"
    assert outcome.connection.next_refresh_at is None
    with pytest.raises(NeedsReauth, match=reason):
        await runtime.vault.token("hh", "o")
    assert played.refresh_tokens == ["R1"]  # never sent again


async def test_generic_invalid_grant_needs_reauth(runtime, played, clock):
    await _connect(runtime, "api")
    clock.advance(61)
    played.error(400, "invalid_grant", "refresh token expired")
    assert await refresh_due(runtime.vault) == {"ok": 0, "retry": 0, "needs_reauth": 1}
    with pytest.raises(NeedsReauth, match="refresh token expired"):
        await runtime.vault.token("api", "o")


async def test_generic_other_oauth_error_is_retried(runtime, played, clock):
    conn = await _connect(runtime, "api")
    clock.advance(61)
    played.error(400, "temporarily_unavailable")
    outcome = await runtime.vault.refresh(conn)
    assert (outcome.kind, outcome.error) == ("retry_later", "temporarily_unavailable")
    assert outcome.connection.status == "active" and outcome.connection.attempts == 1


@pytest.mark.parametrize("provider", ["hh", "api"])
async def test_server_error_is_retried_with_backoff(runtime, played, clock, provider):
    conn = await _connect(runtime, provider)
    clock.advance(61)
    played.error(503, "unavailable", headers={"Retry-After": "120"})
    outcome = await runtime.vault.refresh(conn)
    assert outcome.kind == "retry_later" and outcome.error == "provider_unavailable"
    assert outcome.retry_after == 120
    after = outcome.connection
    assert after.status == "active" and after.attempts == 1 and after.last_error
    assert after.next_refresh_at and after.next_refresh_at >= clock.now() + timedelta(seconds=120)

    played.answers.append(httpx.Response(502, text="<html>Bad Gateway</html>"))
    clock.advance(121)
    assert await refresh_due(runtime.vault) == {"ok": 0, "retry": 1, "needs_reauth": 0}
    assert runtime.vault.store.get(provider, "o").attempts == 2  # type: ignore[union-attr]
    assert played.refresh_tokens == ["R1", "R1"]


async def test_refreshed_outcome_carries_the_new_token(runtime, played, clock):
    conn = await _connect(runtime, "hh")
    clock.advance(61)
    played.tokens("A2", "R2", expires_in=3600)
    outcome = await runtime.vault.refresh(conn)
    assert outcome.refreshed and outcome.access_token == "A2"
    assert outcome.connection.generation == conn.generation + 1
    assert outcome.connection.expires_at == clock.now() + timedelta(seconds=3600)
    assert (await runtime.vault.token("hh", "o")).access_token == "A2"


async def test_hh_before_expiry_is_not_due_and_nothing_is_sent(runtime, played, clock):
    conn = await _connect(runtime, "hh")
    clock.advance(59)
    outcome = await runtime.vault.refresh(conn)
    assert outcome.kind == "not_due" and outcome.connection == conn
    assert played.refresh_tokens == []
    assert (await runtime.vault.token("hh", "o")).access_token == "A1"


async def test_expired_token_and_provider_down_is_503_provider_unavailable(runtime, played, clock):
    await _connect(runtime, "api")
    clock.advance(61)
    for _ in range(3):  # every on-demand attempt
        played.error(500, "server_error")
    with pytest.raises(ProviderUnavailable) as caught:
        await runtime.vault.token("api", "o")
    assert caught.value.retry_after == 30
    assert status_of(caught.value) == 503
    assert played.refresh_tokens == ["R1"] * 3
    assert runtime.vault.store.get("api", "o").status == "active"  # type: ignore[union-attr]


async def test_hh_token_not_expired_on_demand_serves_the_stored_token(runtime, played, clock):
    """hh.ru's own word that the token is valid: the bot gets it, at once, not a 503."""
    await _connect(runtime, "hh")
    clock.advance(61)  # expired by our clock, not yet by hh.ru's
    played.error(400, "invalid_grant", "token not expired")
    issued = await runtime.vault.token("hh", "o")
    assert issued.access_token == "A1"
    assert issued.expires_at is not None and issued.expires_at > clock.now()
    assert played.refresh_tokens == ["R1"]  # asked once, not three times


async def test_a_providers_retry_after_is_honoured_on_demand(runtime, played, clock):
    await _connect(runtime, "api")
    clock.advance(61)
    played.error(429, "slow_down", headers={"Retry-After": "20"})
    with pytest.raises(ProviderUnavailable) as caught:
        await runtime.vault.token("api", "o")
    assert caught.value.retry_after is not None and caught.value.retry_after >= 20
    # The next bot request within those 20 s does not ask the provider again.
    with pytest.raises(ProviderUnavailable):
        await runtime.vault.token("api", "o")
    assert played.refresh_tokens == ["R1"]
