"""Every way an OpenID sign-in can be tampered with ends in a clear 4xx and no session."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.harness import assert_no_secrets
from tests.signin.conftest import SESSION_COOKIE

TAMPERED = [
    ("bad_signature", "id_token_signature"),
    ("alg_none", "id_token_alg"),
    ("hs256_public_key", "id_token_alg"),
    ("wrong_iss", "id_token_iss"),
    ("wrong_aud", "id_token_aud"),
    ("wrong_azp", "id_token_azp"),
    ("expired", "id_token_expired"),
    ("nonce_mismatch", "id_token_nonce"),
    ("userinfo_sub_mismatch", "userinfo_sub_mismatch"),
]


def assert_refused(response, error: str, status: int = 400) -> None:
    assert response.status_code == status, response.text
    assert error in response.text
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")


@pytest.mark.parametrize(("mode", "error"), TAMPERED)
def test_tampered_id_token_or_userinfo_is_refused(shared_stack, mode, error):
    stack = shared_stack
    email = stack.person(f"tamper-{mode.replace('_', '-')}")
    stack.devidp.control("oidc/tamper", {"mode": mode})
    browser = stack.browser()
    assert_refused(browser.oidc_signin(login_hint=email), error)
    assert browser.session is None and browser.me().status_code == 401
    # The same person can sign in right after, with an honest token.
    assert browser.oidc_signin(login_hint=email).status_code == 303
    assert browser.me().status_code == 200


def _callback_url(browser, stack, email):
    """Run a sign-in up to the provider's redirect back to us; return that URL unvisited."""
    start = browser.get(f"{stack.gateway.url}/auth/dev/login", params={"login_hint": email})
    back = browser.follow(start, until=stack.gateway.url)
    return str(back.request.url.join(back.headers["location"]))


def test_forged_replayed_and_foreign_state_are_refused(shared_stack):
    stack = shared_stack
    email = stack.person("state-tests")
    browser = stack.browser()
    callback = _callback_url(browser, stack, email)
    parts = urlsplit(callback)
    query = parse_qs(parts.query)

    forged = {**{k: v[0] for k, v in query.items()}, "state": "forged-" + "x" * 40}
    assert_refused(browser.get(f"{stack.gateway.url}{parts.path}?{urlencode(forged)}"),
                   "invalid_state")
    # Another browser (no binding cookie) cannot finish this one's sign-in.
    assert_refused(stack.browser().get(callback), "state_browser_mismatch")
    # The owner can, once.
    assert browser.get(callback).status_code == 303
    assert_refused(browser.get(callback), "state_reused")
    # Each refusal is a line in the sign-in log, though no user was identified.
    log = json.loads(stack.gateway.cli("audit", "--limit", "1000", "--json").stdout)
    reasons = [e["reason"] for e in log if e["provider"] == "dev" and e["result"] == "failure"]
    for reason in ("invalid_state", "state_browser_mismatch", "state_reused"):
        assert reason in reasons, reasons


def test_replayed_code_with_a_fresh_state_is_refused(shared_stack):
    stack = shared_stack
    email = stack.person("code-replay")
    victim = stack.browser()
    stolen = _callback_url(victim, stack, email)
    assert victim.get(stolen).status_code == 303  # the victim's sign-in used the code
    code = parse_qs(urlsplit(stolen).query)["code"][0]

    attacker = stack.browser()
    own = urlsplit(_callback_url(attacker, stack, email))
    params = {k: v[0] for k, v in parse_qs(own.query).items()}
    replay = attacker.get(f"{stack.gateway.url}{own.path}?{urlencode({**params, 'code': code})}")
    assert_refused(replay, "code_refused")
    assert_no_secrets([stack.gateway.log_text(), *attacker.gateway_locations(),
                       *victim.gateway_locations()], [code, params["code"]])


def test_denied_consent_and_wrong_iss_parameter(shared_stack):
    stack = shared_stack
    browser = stack.browser()
    start = browser.get(f"{stack.gateway.url}/auth/dev/login")  # no hint: the devidp asks
    page = browser.follow(start)
    request_id = page.text.split('name="request_id" value="', 1)[1].split('"', 1)[0]
    denied = browser.post(str(page.request.url), data={"request_id": request_id,
                                                       "decision": "deny"})
    assert_refused(browser.get(denied.headers["location"]), "access_denied")

    callback = urlsplit(_callback_url(browser, stack, stack.person("mixup")))
    params = {k: v[0] for k, v in parse_qs(callback.query).items()}
    mixup = {**params, "iss": "https://attacker.example"}
    assert_refused(browser.get(f"{stack.gateway.url}{callback.path}?{urlencode(mixup)}"),
                   "invalid_issuer")


def test_disabled_user_cannot_sign_in_with_the_provider(shared_stack):
    stack = shared_stack
    email = stack.person("disabled-oidc")
    browser = stack.browser()
    assert browser.oidc_signin(login_hint=email).status_code == 303
    username = browser.me().json()["username"]
    stack.gateway.cli("users", "disable", username)
    assert browser.me().status_code == 401
    assert_refused(stack.browser().oidc_signin(login_hint=email), "account_disabled", 403)


def test_failures_are_in_the_signin_log(shared_stack):
    stack = shared_stack
    stack.devidp.control("oidc/tamper", {"mode": "nonce_mismatch"})
    stack.browser().oidc_signin(login_hint=stack.person("logged-failure"))
    events = json.loads(stack.gateway.cli("audit", "--json", "--limit", "200").stdout)
    assert any(e["result"] == "failure" and e["reason"] == "id_token_nonce" and e["ip"]
               for e in events)


def test_provider_key_rotation_is_followed_within_the_refetch_limit(stack):
    """An unknown kid makes the gateway refetch the JWKS, but at most once per 30 s."""
    email = stack.person("rotation")
    browser = stack.browser()
    stack.clock.freeze()  # however long the steps below take, no time passes for the gateway
    assert browser.oidc_signin(login_hint=email).status_code == 303  # JWKS fetched now
    jwks_before = stack.devidp.control("oidc/stats")["jwks_fetched"]

    stack.devidp.control("oidc/rotate-keys", {"keep_old": False})
    # Too soon after the last fetch: the unknown kid cannot make us hit the provider again.
    assert_refused(browser.oidc_signin(login_hint=email), "id_token_kid")
    assert stack.devidp.control("oidc/stats")["jwks_fetched"] == jwks_before

    stack.clock.advance(31)  # past the limit (instead of waiting for it): one more fetch
    stack.devidp.control("oidc/tamper", {"mode": "unknown_kid_rotated"})  # and once more
    assert browser.oidc_signin(login_hint=email).status_code == 303
    assert browser.me().status_code == 200
    assert stack.devidp.control("oidc/stats")["jwks_fetched"] == jwks_before + 1
