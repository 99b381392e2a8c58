"""Smaller promises of the vault's surface: the registered-URI alias, ops endpoints, URLs."""

from __future__ import annotations

import re

import httpx

from tests.harness import approve_hh, assert_no_secrets, connect_hh, open_connect_link


def test_callback_path_alias_and_urls_we_build_carry_no_secrets(stack_factory):
    stack = stack_factory(extra='callback_path = "/callback"\n')
    api = httpx.Client(base_url=stack.gateway.url, headers=stack.auth)
    link = api.post("/api/v1/connect-sessions", json={"provider": "hh", "owner": "alias"}).json()
    built = [link["url"]]
    with httpx.Client() as browser:
        start = open_connect_link(browser, link["url"])
        authorize = httpx.URL(start.headers["location"])
        built.append(str(authorize))
        # The provider is sent back to the already-registered URI, not the default one.
        assert authorize.params["redirect_uri"] == f"{stack.gateway.url}/callback"
        back = approve_hh(browser, str(authorize), "10000001")
        code = httpx.URL(back.headers["location"]).params["code"]
        page = browser.get(back.headers["location"], follow_redirects=True)
        assert page.status_code == 200
    token = api.get("/api/v1/connections/hh/alias/token").json()["access_token"]
    assert_no_secrets(built, [token, code, stack.api_key, "dev-hh-secret"])
    assert_no_secrets([stack.gateway.log_text()], [token, code, stack.api_key, "dev-hh-secret"])


def test_health_readiness_and_metrics(stack_factory):
    stack = stack_factory()
    base = stack.gateway.url
    assert httpx.get(f"{base}/healthz").json()["status"] == "ok"
    assert httpx.get(f"{base}/readyz").json() == {"status": "ready", "database": "ok"}
    httpx.get(f"{base}/api/v1/connections", headers=stack.auth)
    before = httpx.get(f"{base}/metrics").text
    assert "authgate_http_request_seconds_bucket" in before
    assert not re.search(r"^authgate_refreshes_total\{", before, re.M)  # none counted yet
    # One refresh, counted by provider and outcome.
    connect_hh(base, stack.api_key, owner="metrics")
    stack.expire_tokens()
    assert httpx.get(f"{base}/api/v1/connections/hh/metrics/token",
                     headers=stack.auth).status_code == 200
    metrics = httpx.get(f"{base}/metrics").text
    counted = [line.rsplit(" ", 1) for line in metrics.splitlines()
               if line.startswith("authgate_refreshes_total{")]
    assert [(set(labels[len("authgate_refreshes_total{"):-1].split(",")), float(value))
            for labels, value in counted] == [({'outcome="ok"', 'provider="hh"'}, 1.0)], metrics
    missing = httpx.get(f"{base}/no/such/page", headers={"Accept": "text/html"})
    assert missing.status_code == 404 and "<html" in missing.text
    headers = missing.headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["referrer-policy"] == "no-referrer"


def test_language_switch_keeps_the_query(stack_factory):
    stack = stack_factory()
    page = httpx.get(f"{stack.gateway.url}/login?next=/console/connections",
                     headers={"Accept-Language": "en"})
    assert 'href="/login?next=%2Fconsole%2Fconnections&amp;lang=ru"' in page.text
    russian = httpx.get(f"{stack.gateway.url}/login?next=/console&lang=ru")
    assert '<html lang="ru">' in russian.text
