"""The preset look-alikes refuse what their providers would refuse: checked over real HTTP with a
hand-written client, independently of the gateway's presets."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from authgate.devidp.preset_modes import MODES
from tests.devidp.conftest import pkce_pair

CALLBACK = "http://127.0.0.1:9/auth/p/callback"


def _code(client, mode: str, client_index: int = 0, **params: str) -> dict[str, str]:
    c = MODES[mode].clients[client_index]
    answer = client.get(f"/presets/{mode}/authorize", params={
        "response_type": "code", "client_id": c.client_id, "redirect_uri": CALLBACK,
        "state": "s1", **params})
    assert answer.status_code == 302, answer.text
    return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["location"]).query).items()}


def _form(mode: str, client_index: int = 0, **fields: str) -> dict[str, str]:
    c = MODES[mode].clients[client_index]
    return {"client_id": c.client_id, "client_secret": c.client_secret,
            "redirect_uri": CALLBACK, **fields}


def test_google_gives_a_refresh_token_only_for_offline_access_with_consent(make_devidp):
    client = make_devidp().client()
    online = _code(client, "google")
    first = client.post("/presets/google/token", data=_form(
        "google", grant_type="authorization_code", code=online["code"])).json()
    assert "refresh_token" not in first
    offline = _code(client, "google", access_type="offline", prompt="consent")
    pair = client.post("/presets/google/token", data=_form(
        "google", grant_type="authorization_code", code=offline["code"])).json()
    again = client.post("/presets/google/token", data=_form(
        "google", grant_type="refresh_token", refresh_token=pair["refresh_token"])).json()
    assert again["access_token"] != pair["access_token"] and "refresh_token" not in again


def test_github_answers_form_encoded_without_accept_and_errors_with_200(make_devidp):
    client = make_devidp().client()
    code = _code(client, "github")["code"]
    bare = client.post("/presets/github/token", data=_form(
        "github", grant_type="authorization_code", code=code))
    assert bare.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert "access_token=" in bare.text and "refresh_token=" in bare.text
    refused = client.post("/presets/github/token", headers={"Accept": "application/json"},
                          data=_form("github", grant_type="refresh_token", refresh_token="x"))
    assert refused.status_code == 200 and refused.json()["error"] == "bad_refresh_token"


def test_vk_requires_pkce_and_the_device_id_on_the_exchange(make_devidp):
    client = make_devidp().client()
    assert _code(client, "vk")["error"] == "invalid_request"  # no PKCE
    verifier, challenge = pkce_pair()
    back = _code(client, "vk", code_challenge=challenge, code_challenge_method="S256")
    assert back["device_id"] and back["state"] == "s1"
    fields = {"grant_type": "authorization_code", "code": back["code"],
              "code_verifier": verifier, "state": "s1"}
    missing = client.post("/presets/vk/token", data=_form("vk", **fields))
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"


def test_superjob_api_wants_the_app_id_and_refreshes_only_apart(make_devidp):
    client = make_devidp().client()
    code = _code(client, "superjob")["code"]
    pair = client.post("/presets/superjob/token", data=_form(
        "superjob", grant_type="authorization_code", code=code)).json()
    bearer = {"Authorization": f"Bearer {pair['access_token']}"}
    assert client.get("/presets/superjob/api/account", headers=bearer).status_code == 403
    secret = MODES["superjob"].clients[0].client_secret
    account = client.get("/presets/superjob/api/account",
                         headers={**bearer, "X-Api-App-Id": secret})
    assert account.status_code == 200 and account.json()["name"] == "Ivan Petrov"
    refresh = _form("superjob", grant_type="refresh_token", refresh_token=pair["refresh_token"])
    assert client.post("/presets/superjob/token", data=refresh).status_code == 400
    assert client.post("/presets/superjob/refresh_token", data=refresh).status_code == 200
