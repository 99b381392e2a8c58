"""Bad providers, bad callbacks, bad configuration: clear errors, nothing lost or half-written."""

from __future__ import annotations

import httpx
import pytest

from tests.harness import (
    approve_hh,
    assert_no_secrets,
    bound,
    connect_hh,
    open_connect_link,
    run_cli,
    wait_until,
)


@pytest.mark.parametrize("mode", ["500", "html", "badjson", "hang", "429"])
def test_provider_faults_are_retried_and_nothing_is_lost(stack_factory, mode):
    stack = stack_factory()
    connect_hh(stack.gateway.url, stack.api_key, owner="f")
    # Armed before the token expires, so whichever refreshes first (the engine or the request
    # below) meets both faults.
    stack.devidp.control("hh/faults", {"mode": mode, "count": 2, "retry_after": 1})
    stack.expire_tokens()

    def answer_or_wait() -> httpx.Response | None:
        # A bot gets 503 + Retry-After rather than waiting long; retried, it gets the token.
        response = httpx.get(f"{stack.gateway.url}/api/v1/connections/hh/f/token",
                             headers=stack.auth, timeout=bound(60))
        if response.status_code == 503:
            assert int(response.headers["Retry-After"]) >= 1, response.text
            return None
        return response

    answer = wait_until(answer_or_wait, "the token after the faults", idle_bound=60,
                        interval=0.5)
    assert answer.status_code == 200, answer.text
    token = answer.json()["access_token"]
    me = httpx.get(f"{stack.devidp.url}/hh/me", headers={
        "Authorization": f"Bearer {token}", "HH-User-Agent": "T/1.0 (t@example.com)"})
    assert me.status_code == 200
    stats = stack.devidp.hh_stats()
    assert stats["faults_injected"] == 2
    assert stats["already_refreshed"] == 0
    conn = httpx.get(f"{stack.gateway.url}/api/v1/connections",
                     headers=stack.auth).json()["items"][0]
    assert conn["status"] == "active"
    assert "Traceback" not in stack.gateway.log_text()


def _start_flow(stack, owner="cb"):
    api = httpx.Client(base_url=stack.gateway.url, headers=stack.auth)
    link = api.post("/api/v1/connect-sessions", json={"provider": "hh", "owner": owner}).json()
    browser = httpx.Client()
    start = open_connect_link(browser, link["url"])
    return browser, start.headers["location"], link["url"]


def _connections(stack):
    return httpx.get(f"{stack.gateway.url}/api/v1/connections",
                     headers=stack.auth).json()["items"]


def test_bad_callbacks_get_clear_4xx_pages_and_create_nothing(stack_factory):
    stack = stack_factory()
    callback = f"{stack.gateway.url}/auth/hh/callback"
    browser, authorize, link_url = _start_flow(stack)
    back = approve_hh(browser, authorize, "10000001")
    good = httpx.URL(back.headers["location"])

    cases = {
        "missing state": (httpx.Client(cookies=browser.cookies),
                          f"{callback}?code={good.params['code']}"),
        "forged state": (httpx.Client(cookies=browser.cookies),
                         f"{callback}?code={good.params['code']}&state=forged"),
        "another browser": (httpx.Client(), str(good)),
        "denied": (httpx.Client(cookies=browser.cookies),
                   f"{callback}?error=access_denied&state=nothing"),
    }
    for name, (client, url) in cases.items():
        page = client.get(url)
        assert 400 <= page.status_code < 500, (name, page.status_code)
        assert "text/html" in page.headers["content-type"], name
        assert "Traceback" not in page.text
        assert _connections(stack) == [], name

    # The real callback works once...
    assert browser.get(str(good), follow_redirects=True).status_code == 200
    assert [c["owner"] for c in _connections(stack)] == ["cb"]
    # ...and a replay of it is refused without touching the stored connection.
    before = _connections(stack)
    replay = browser.get(str(good))
    assert replay.status_code == 400 and "already used" in replay.text
    assert _connections(stack) == before
    # The one-time connect link cannot start a second flow.
    again = httpx.get(link_url)
    assert again.status_code == 400
    assert_no_secrets([stack.gateway.log_text()], [good.params["code"], stack.api_key])


def test_user_denies_access_at_the_provider(stack_factory):
    stack = stack_factory()
    browser, authorize, _ = _start_flow(stack, owner="denier")
    page = browser.get(authorize)
    import re

    request_id = re.search(r'name="request_id" value="([^"]+)"', page.text).group(1)
    back = browser.post(authorize.split("?")[0], data={"request_id": request_id,
                                                       "decision": "deny"})
    assert back.status_code in (302, 303)
    assert "error=access_denied" in back.headers["location"]
    result = browser.get(back.headers["location"])
    assert result.status_code == 400 and "access" in result.text.lower()
    assert _connections(stack) == []


def test_bad_config_exits_2_naming_key_and_file(tmp_path):
    config = tmp_path / "authgate.toml"
    config.write_text('public_url = "http://127.0.0.1:1"\n[session]\nlifetime = "forever"\n'
                      "[providers.hh]\nkind = \"hh\"\nclient_id = \"x\"\nuser_agent = \"A/1 (a)\"\n"
                      "colour = \"blue\"\n")
    result = run_cli(["serve", "--config", str(config)])  # (tests/test_clock.py runs serve's
    # refusals as a real process)
    assert result.returncode == 2
    assert str(config) in result.stderr
    assert "session.lifetime" in result.stderr
    assert "providers.hh.colour" in result.stderr and "unknown key" in result.stderr
    assert "Traceback" not in result.stderr


def test_api_errors_are_json_never_500(stack_factory):
    stack = stack_factory()
    api = httpx.Client(base_url=stack.gateway.url, headers=stack.auth)
    for method, path, body in [
        ("POST", "/api/v1/connect-sessions", b"not json"),
        ("POST", "/api/v1/connect-sessions", b'{"provider": "nope", "owner": "x"}'),
        ("POST", "/api/v1/connect-sessions", b'{"provider": "hh", "owner": "bad owner!"}'),
        ("POST", "/api/v1/connect-sessions", b"[1, 2]"),
        ("GET", "/api/v1/connections/nope/x/token", None),
        ("GET", "/api/v1/connections/hh/unknown/token", None),
    ]:
        answer = api.request(method, path, content=body,
                             headers={"Content-Type": "application/json"})
        assert 400 <= answer.status_code < 500, (path, answer.status_code)
        assert set(answer.json()) == {"error", "detail"}


def test_a_hanging_provider_gives_bots_503_with_retry_after_not_a_long_wait(stack_factory):
    # The gateway would wait for the provider for minutes; the bot's request must not.
    stack = stack_factory(http_timeout="300s")
    connect_hh(stack.gateway.url, stack.api_key, owner="h")
    stack.devidp.control("hh/config", {"hang_seconds": 300})
    stack.devidp.control("hh/faults", {"mode": "hang", "count": 1})
    stack.expire_tokens()
    answer = httpx.get(f"{stack.gateway.url}/api/v1/connections/hh/h/token",
                       headers=stack.auth, timeout=bound(60))
    assert answer.status_code == 503, answer.text
    assert int(answer.headers["Retry-After"]) >= 1
    assert answer.json()["error"] == "provider_unavailable"
    stack.devidp.control("hh/faults", {"mode": None})
