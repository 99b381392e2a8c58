"""Each provider preset against the development identity provider in that provider's mode, end to
end through a real ``authgate serve``: connect (the browser's part played by an HTTP client), a
token served, refreshed by the preset's rule when the shared clock moves, and the provider's
quirk honoured — each test fails if the gateway ignores that quirk."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from authgate.devidp.preset_modes import MODES
from tests.harness import ClockFile, DevIdp, Gateway, bound, free_port, open_connect_link


def _provider(name: str, kind: str, devidp: str, mode: str, client: int = 0,
              extra: str = "") -> str:
    c = MODES[mode].clients[client]
    base = f"{devidp}/presets/{mode}"
    return (f'[providers.{name}]\nkind = "{kind}"\nclient_id = "{c.client_id}"\n'
            f'client_secret = "{c.client_secret}"\nauthorize_url = "{base}/authorize"\n'
            f'token_url = "{base}/token"\napi_base = "{base}/api"\n'
            f'userinfo_url = "{base}/api/account"\n{extra}')


@dataclass
class PresetStack:
    devidp: DevIdp
    gateway: Gateway
    clock: ClockFile
    api: httpx.Client

    def stats(self, mode: str) -> Counter[str]:
        """The look-alike's counters (a missing one is 0)."""
        return Counter(self.devidp.control(f"presets/{mode}/stats"))

    def connect(self, provider: str, owner: str) -> tuple[httpx.Response, str]:
        """A bot's connect link followed by its user; the final page and the authorize URL."""
        link = self.api.post("/api/v1/connect-sessions",
                             json={"provider": provider, "owner": owner})
        assert link.status_code == 201, link.text
        with httpx.Client(timeout=bound(30)) as browser:
            start = open_connect_link(browser, link.json()["url"])
            authorize = start.headers["location"]
            back = browser.get(authorize)
            assert back.status_code == 302, back.text
            return browser.get(back.headers["location"], follow_redirects=True), authorize

    def token(self, provider: str, owner: str) -> dict[str, object]:
        answer = self.api.get(f"/api/v1/connections/{provider}/{owner}/token")
        assert answer.status_code == 200, answer.text
        body: dict[str, object] = answer.json()
        return body


@pytest.fixture
def presets(tmp_path: Path) -> Iterator[PresetStack]:
    with ExitStack() as cleanup:
        port = free_port()
        clock = ClockFile(tmp_path / "clock")
        devidp = DevIdp(tmp_path, gateway_url=f"http://127.0.0.1:{port}", clock=clock)
        cleanup.callback(devidp.stop)
        devidp.start()
        d = devidp.url
        body = "".join([
            _provider("google", "google", d, "google"),
            _provider("github", "github", d, "github", client=1),
            _provider("github_app", "github", d, "github"),
            _provider("yandex", "yandex", d, "yandex"),
            _provider("vk", "vk", d, "vk"),
            _provider("superjob", "superjob", d, "superjob",
                      extra=f'refresh_url = "{d}/presets/superjob/refresh_token"\n'),
        ])
        gateway = Gateway(tmp_path, port=port, body=body, clock=clock)
        cleanup.callback(gateway.stop)
        key = gateway.create_api_key()
        gateway.start()
        api = httpx.Client(base_url=gateway.url, timeout=bound(30),
                           headers={"Authorization": f"Bearer {key}"})
        cleanup.callback(api.close)
        yield PresetStack(devidp, gateway, clock, api)


def _advance_past(stack: PresetStack, mode: str) -> None:
    stack.clock.advance(MODES[mode].access_lifetime + 5)


def _tokens_over(stack: PresetStack, provider: str, owner: str, mode: str,
                 lifetimes: int) -> set[object]:
    """The access tokens served now and after each of ``lifetimes`` expiries; each refresh
    after the first needs the refresh token the one before left (kept or rotated)."""
    tokens = {stack.token(provider, owner)["access_token"]}
    for _ in range(lifetimes):
        _advance_past(stack, mode)
        tokens.add(stack.token(provider, owner)["access_token"])
    return tokens


def test_google_asks_offline_access_and_keeps_the_reused_refresh_token(presets):
    page, authorize = presets.connect("google", "tg:1")
    assert page.status_code == 200 and "Ivan Petrov" in page.text, page.text
    query = parse_qs(urlsplit(authorize).query)
    assert query["access_type"] == ["offline"] and query["prompt"] == ["consent"]
    # The second refresh needs the refresh token the first answer left out.
    assert len(_tokens_over(presets, "google", "tg:1", "google", 2)) == 3
    stats = presets.stats("google")
    assert stats["codes_without_offline_access"] == 0
    assert stats["refreshes_ok"] == 2 and stats["refresh_token_kept"] == 2
    assert stats["refresh_refused"] == 0


def test_github_oauth_app_token_never_expires_and_is_never_refreshed(presets):
    page, _ = presets.connect("github", "tg:2")
    assert page.status_code == 200 and "Ivan Petrov" in page.text, page.text
    first = presets.token("github", "tg:2")
    assert first["expires_at"] is None
    presets.clock.advance(400 * 86400)
    assert presets.token("github", "tg:2")["access_token"] == first["access_token"]
    stats = presets.stats("github")
    assert stats["refreshes_ok"] == 0 and stats["form_encoded_answers"] == 0


def test_github_app_refresh_token_rotates_and_200_errors_mean_reconnect(presets):
    page, _ = presets.connect("github_app", "tg:3")
    assert page.status_code == 200, page.text
    assert len(_tokens_over(presets, "github_app", "tg:3", "github", 2)) == 3
    stats = presets.stats("github")
    assert stats["refresh_token_rotated"] == 2 and stats["refresh_refused"] == 0
    assert stats["form_encoded_answers"] == 0  # it asked for JSON every time

    # The person revokes the app: GitHub says so with HTTP 200 and an error field.
    presets.devidp.control("presets/github/revoke", {})
    _advance_past(presets, "github")
    answer = presets.api.get("/api/v1/connections/github_app/tg:3/token")
    assert answer.status_code == 409, answer.text
    assert "bad_refresh_token" in answer.json()["detail"]


def test_yandex_refresh_token_sometimes_rotates_and_the_api_takes_oauth_scheme(presets):
    page, _ = presets.connect("yandex", "tg:4")
    assert page.status_code == 200 and "Ivan Petrov" in page.text, page.text
    assert len(_tokens_over(presets, "yandex", "tg:4", "yandex", 3)) == 4
    stats = presets.stats("yandex")
    assert stats["refresh_token_kept"] >= 1 and stats["refresh_token_rotated"] >= 1
    assert stats["refresh_refused"] == 0
    proxied = presets.api.get("/api/v1/proxy/yandex/tg:4/echo/disk/resources?path=%2F")
    assert proxied.status_code == 200, proxied.text
    assert proxied.json()["path"] == "disk/resources" and stats["wrong_auth_scheme"] == 0


def test_vk_id_pkce_and_device_id_kept_for_every_refresh(presets):
    page, authorize = presets.connect("vk", "tg:5")
    assert page.status_code == 200 and "Ivan Petrov" in page.text, page.text
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"]
    assert len(_tokens_over(presets, "vk", "tg:5", "vk", 2)) == 3
    stats = presets.stats("vk")
    assert stats["refreshes_ok"] == 2 and stats["refresh_token_rotated"] == 2
    assert stats["device_id_missing"] == 0 and stats["state_missing"] == 0
    listing = presets.api.get("/api/v1/connections", params={"provider": "vk"}).json()
    assert "device_id" not in str(listing)


def test_superjob_refreshes_at_its_own_endpoint_and_sends_the_app_id(presets):
    page, _ = presets.connect("superjob", "tg:6")  # the account lookup needs X-Api-App-Id
    assert page.status_code == 200 and "Ivan Petrov" in page.text, page.text
    assert len(_tokens_over(presets, "superjob", "tg:6", "superjob", 1)) == 2
    proxied = presets.api.get("/api/v1/proxy/superjob/tg:6/echo/vacancies/?t=4&count=100")
    assert proxied.status_code == 200, proxied.text
    assert proxied.json()["query"] == "t=4&count=100"
    stats = presets.stats("superjob")
    assert stats["refreshes_ok"] == 1 and stats["app_id_missing"] == 0
