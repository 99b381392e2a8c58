"""Presets from configuration: the providers' real endpoints by default, each quirk in the
requests built, and configurations the providers cannot work with refused at start."""

from __future__ import annotations

import typing
from urllib.parse import parse_qs, urlsplit

import pytest

from authgate.config import PresetKind, Settings
from authgate.errors import FlowError
from authgate.providers import build_providers
from authgate.providers.preset_provider import PresetProvider
from authgate.providers.presets import PRESETS


def _provider(kind: str, **extra: object) -> PresetProvider:
    conf = {"kind": kind, "client_id": "cid", "client_secret": "sec", **extra}
    provider = build_providers(Settings(providers={"p": conf}))["p"]
    assert isinstance(provider, PresetProvider)
    return provider


def _authorize_query(provider: PresetProvider) -> dict[str, list[str]]:
    return parse_qs(urlsplit(provider.authorize_url(state="st", code_challenge="ch")).query)


def test_every_preset_kind_has_rules_and_connects_ahead_of_expiry():
    assert set(PRESETS) == set(typing.get_args(PresetKind))
    for kind in PRESETS:
        provider = _provider(kind)
        assert provider.can_connect and not provider.can_sign_in
        assert provider.refresh_rule == "ahead"
        assert provider.authorize_endpoint.startswith("https://")


def test_google_asks_for_offline_access_with_consent():
    query = _authorize_query(_provider("google"))
    assert query["access_type"] == ["offline"] and query["prompt"] == ["consent"]
    assert query["scope"] == ["openid email profile"]


def test_github_reads_the_account_under_api_base_and_a_dead_refresh_token_in_a_200():
    from authgate.protocol.rfc6749_oauth2 import OAuthErrorResponse

    github = _provider("github")
    assert github.account_url == "https://api.github.com/user"
    assert github.headers()["Accept"] == "application/json"
    verdict = github.classify_refresh_error(OAuthErrorResponse("bad_refresh_token", "", 200))
    assert verdict.verdict == "needs_reauth"


def test_yandex_presents_tokens_with_the_oauth_scheme():
    yandex = _provider("yandex")
    assert yandex.authorization("t0k") == "OAuth t0k"
    assert yandex.account_url == "https://login.yandex.ru/info?format=json"


def test_vk_requires_pkce_and_keeps_the_callbacks_device_id():
    vk = _provider("vk", pkce=False)
    assert vk.uses_pkce and _authorize_query(vk)["code_challenge"] == ["ch"]
    assert vk.connection_extras({"code": "c", "device_id": "dev1"}) == {"device_id": "dev1"}
    fields = vk.refresh_fields({"device_id": "dev1"})
    assert fields["device_id"] == "dev1" and fields["state"]
    with pytest.raises(FlowError):
        vk.connection_extras({"code": "c"})


def test_superjob_sends_its_secret_as_app_id_and_refreshes_apart():
    superjob = _provider("superjob")
    assert superjob.headers()["X-Api-App-Id"] == "sec"
    assert superjob.refresh_endpoint.endswith("/oauth2/refresh_token/")
    assert not superjob.uses_pkce and "code_challenge" not in _authorize_query(superjob)


@pytest.mark.parametrize("kind", ["google", "github", "yandex", "superjob"])
def test_presets_that_need_a_client_secret_refuse_to_start_without(kind):
    with pytest.raises(ValueError, match="client_secret"):
        Settings(providers={"p": {"kind": kind, "client_id": "cid"}})
    Settings(providers={"p": {"kind": "vk", "client_id": "cid"}})  # a public client


def test_doctor_probes_a_presets_own_token_endpoint_when_none_is_configured():
    import anyio
    import httpx

    from authgate.deploy.doctor_net import ProviderProbe, probe_provider

    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        return httpx.Response(405)

    conf = Settings(providers={"p": {"kind": "yandex", "client_id": "c",
                                     "client_secret": "s"}}).providers["p"]

    async def probe() -> ProviderProbe:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
            return await probe_provider(http, "p", conf)

    result = anyio.run(probe)
    assert asked == ["https://oauth.yandex.ru/token"]
    assert result.authorize_endpoint == "https://oauth.yandex.ru/authorize"
    assert all(check.ok for check in result.results)
