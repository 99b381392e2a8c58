"""Local accounts: password sign-in, limits, disabled accounts, CSRF, languages."""

from __future__ import annotations

import json
from contextlib import ExitStack

import httpx
import pytest

from tests.harness import assert_no_secrets, wait_until

LIMITS = 'max_failures = 3\nfailure_window = "10m"\n'


@pytest.fixture(scope="module")
def pw_stack(tmp_path_factory):
    from tests.signin.conftest import make_stack

    with ExitStack() as cleanup:
        yield make_stack(tmp_path_factory.mktemp("pw"), cleanup, login=LIMITS)


def xff(ip: str) -> dict[str, str]:
    # The gateway trusts X-Forwarded-For from loopback (trusted_proxies): one client per test.
    return {"X-Forwarded-For": ip}


def test_password_signin_wrong_password_and_audit(pw_stack):
    stack = pw_stack
    stack.add_user("pat", "correct horse battery", "--email", "pat@example.com")
    browser = stack.browser()

    wrong = browser.password_signin("pat", "incorrect", headers=xff("192.0.2.10"))
    assert wrong.status_code == 401
    assert "The username or password is wrong." in wrong.text
    assert 'value="pat"' in wrong.text and browser.session is None

    ok = browser.password_signin("pat", "correct horse battery", next_url="/panel/?x=1",
                                 headers=xff("192.0.2.10"))
    assert ok.status_code == 303 and ok.headers["location"] == "/panel/?x=1"
    me = browser.me().json()
    assert me == {"username": "pat", "role": "user", "email": "pat@example.com", "name": None,
                  "picture": None, "provider": "local"}

    events = json.loads(stack.gateway.cli("audit", "--json", "--user", "pat").stdout)
    assert [(e["result"], e["reason"], e["ip"]) for e in events] == [
        ("success", None, "192.0.2.10"), ("failure", "wrong_password", "192.0.2.10")]
    assert events[0]["user_agent"].startswith("python-httpx")
    table = stack.gateway.cli("audit").stdout
    assert "pat" in table and "wrong_password" in table

    assert_no_secrets([stack.gateway.log_text(), *browser.gateway_locations()],
                      ["correct horse battery", browser.session])
    assert "incorrect" not in stack.gateway.log_text()


def test_too_many_failures_per_username_and_per_ip(pw_stack):
    stack = pw_stack
    stack.insert_user("lim", "right password 1")
    stack.insert_user("other", "right password 2")
    browser = stack.browser()
    for _ in range(3):
        r = browser.password_signin("lim", "guess", headers=xff("192.0.2.20"))
        assert r.status_code == 401
    limited = browser.password_signin("lim", "right password 1", headers=xff("192.0.2.20"))
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 600
    assert "Too many failed attempts. Please try again in 10 minutes." in limited.text
    assert browser.session is None
    # The owner, from their own address, is slowed down for seconds, not locked out.
    owner = stack.browser()
    for _ in range(3):
        signed_in = owner.password_signin("lim", "right password 1", headers=xff("192.0.2.30"))
        if signed_in.status_code != 429:
            break
        assert int(signed_in.headers["retry-after"]) <= 30
        stack.clock.advance(int(signed_in.headers["retry-after"]))
    assert signed_in.status_code == 303
    # Someone else, from elsewhere, is not affected.
    assert browser.password_signin("other", "right password 2",
                                   headers=xff("192.0.2.31")).status_code == 303

    spray = stack.browser()
    for name in ("a1", "a2", "a3"):  # one address trying many accounts
        assert spray.password_signin(name, "x", headers=xff("192.0.2.40")).status_code == 401
    blocked = spray.password_signin("other", "right password 2", headers=xff("192.0.2.40"))
    assert blocked.status_code == 429
    as_json = httpx.post(f"{stack.gateway.url}/login", headers={
        **xff("192.0.2.40"), "Accept": "application/json"}, data={"username": "x"})
    assert as_json.status_code == 403  # no CSRF token: refused before anything else


def test_disabled_user_is_refused_and_loses_sessions_at_once(pw_stack):
    stack = pw_stack
    stack.insert_user("dis", "a good password")
    browser = stack.browser()
    assert browser.password_signin("dis", "a good password",
                                   headers=xff("192.0.2.50")).status_code == 303
    assert browser.get(f"{stack.gateway.url}/auth/verify").status_code == 200

    stack.gateway.cli("users", "disable", "dis")
    assert browser.me().status_code == 401  # checked against the database: at once
    # verify answers from memory, reloaded every second of real time (a monotonic interval in
    # the gateway, not its clock): poll for it, within a bound that scales with the load.
    wait_until(lambda: browser.get(f"{stack.gateway.url}/auth/verify").status_code == 401,
               "verify refusing the disabled user's session", idle_bound=5, interval=0.1)

    again = browser.password_signin("dis", "a good password", headers=xff("192.0.2.50"))
    assert again.status_code == 403 and "disabled" in again.text
    stack.gateway.cli("users", "enable", "dis")
    assert browser.password_signin("dis", "a good password",
                                   headers=xff("192.0.2.50")).status_code == 303


def test_set_password_and_set_role(pw_stack):
    stack = pw_stack
    stack.add_user("rol", "first password")
    stack.gateway.cli("users", "set-password", "rol", "--password-stdin",
                      input_text="second password\n")
    browser = stack.browser()
    assert browser.password_signin("rol", "first password",
                                   headers=xff("192.0.2.60")).status_code == 401
    assert browser.password_signin("rol", "second password",
                                   headers=xff("192.0.2.60")).status_code == 303
    stack.gateway.cli("users", "set-role", "rol", "admin")
    assert browser.me().status_code == 401  # the token carried the old role
    browser.password_signin("rol", "second password", headers=xff("192.0.2.60"))
    assert browser.me().json()["role"] == "admin"


def test_csrf_token_and_origin_are_required(pw_stack):
    stack = pw_stack
    stack.insert_user("csrf", "csrf password")
    url = f"{stack.gateway.url}/login"
    browser = stack.browser()
    token = browser.csrf(browser.get(url))
    data = {"username": "csrf", "password": "csrf password"}

    missing = browser.post(url, data=data, headers=xff("192.0.2.70"))
    assert missing.status_code == 403 and "csrf_failed" in missing.text
    stranger = stack.browser()  # a token from someone else's page does not match my cookie
    stranger.get(url)
    assert stranger.post(url, data={**data, "csrf_token": token},
                         headers=xff("192.0.2.70")).status_code == 403
    foreign = browser.post(url, data={**data, "csrf_token": token},
                           headers={**xff("192.0.2.70"), "Origin": "https://evil.example"})
    assert foreign.status_code == 403
    # What browsers send under our Referrer-Policy: no-referrer. It says nothing; the token counts.
    null_origin = stack.browser()
    null_token = null_origin.csrf(null_origin.get(url))
    assert null_origin.post(url, data={**data, "csrf_token": null_token}, headers={
        **xff("192.0.2.70"), "Origin": "null"}).status_code == 303
    ok = browser.post(url, data={**data, "csrf_token": token},
                      headers={**xff("192.0.2.70"), "Origin": stack.gateway.url})
    assert ok.status_code == 303


def test_login_page_in_english_and_russian(pw_stack):
    stack = pw_stack
    url = f"{stack.gateway.url}/login"
    ru = httpx.get(url, params={"next": "/app"}, headers={"Accept-Language": "ru-RU,ru;q=0.9"})
    assert ru.status_code == 200 and 'lang="ru"' in ru.text
    assert "Вход" in ru.text and "Войти через Dev ZITADEL" in ru.text
    assert 'name="next" value="/app"' in ru.text
    assert 'href="/login?next=%2Fapp&amp;lang=en"' in ru.text  # the switch keeps next
    en = httpx.get(url, params={"lang": "en"}, headers={"Accept-Language": "ru"})
    assert "Sign in with Dev ZITADEL" in en.text and "Password" in en.text
    assert "authgate_lang=en" in en.headers["set-cookie"]
    assert "<script" not in en.text  # works without JavaScript
