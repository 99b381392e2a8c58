"""``?next=`` never leads off-site: the rule itself, then the routes that take it."""

from __future__ import annotations

import httpx
import pytest

from authgate.errors import InvalidRequest
from authgate.signin.redirects import safe_next

PUBLIC = "https://auth.example.com"
PANEL = "https://panel.example.com"

EVIL = [
    "//evil.example",
    "//evil.example/path",
    "https://evil.example",
    "http://evil.example/",
    "/\\evil.example",
    "\\\\evil.example",
    "/%2F%2Fevil.example",
    "%2F%2Fevil.example",
    "/%5Cevil.example",
    "/%252F%252Fevil.example",
    "%2f%2fevil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    " //evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "javascript%3Aalert(1)",
    "data:text/html,<script>alert(1)</script>",
    "https://auth.example.com@evil.example/",
    "https://evil.example\\@auth.example.com/",
    "https://auth.example.com.evil.example/",
    "http://auth.example.com/",  # another scheme is another origin
    "https:/evil.example",
    "https:evil.example",
    "evil.example",
    "ftp://auth.example.com/",
]

GOOD = [
    ("/", "/"),
    ("/app/?tab=1#top", "/app/?tab=1#top"),
    ("/search?q=a%2Fb", "/search?q=a%2Fb"),
    ("https://auth.example.com/console", "https://auth.example.com/console"),
    ("https://panel.example.com/app?x=1", "https://panel.example.com/app?x=1"),
    ("https://PANEL.example.com:443/app", "https://PANEL.example.com:443/app"),
]


@pytest.mark.parametrize("value", EVIL)
def test_unsafe_next_is_refused(value):
    with pytest.raises(InvalidRequest) as caught:
        safe_next(value, public_url=PUBLIC, allowed_origins=[PANEL])
    assert caught.value.error == "unsafe_redirect"


@pytest.mark.parametrize(("value", "expected"), GOOD)
def test_safe_next_is_kept(value, expected):
    assert safe_next(value, public_url=PUBLIC, allowed_origins=[PANEL]) == expected


def test_no_next_means_none():
    assert safe_next(None, public_url=PUBLIC, allowed_origins=[]) is None
    assert safe_next("", public_url=PUBLIC, allowed_origins=[]) is None


SERVER_EVIL = ["//evil.example", "https://evil.example", "/\\evil.example", "/%2F%2Fevil.example",
               "javascript:alert(1)", "%2F%2Fevil.example"]


def test_routes_refuse_unsafe_next_and_never_redirect_off_site(shared_stack):
    stack = shared_stack
    gw = stack.gateway.url
    stack.insert_user("nexter", "next password")
    browser = stack.browser()
    for value in SERVER_EVIL:
        page = browser.get(f"{gw}/login", params={"next": value})
        assert page.status_code == 400 and "unsafe_redirect" in page.text
        start = browser.get(f"{gw}/auth/dev/login", params={"next": value})
        assert start.status_code == 400
        token = browser.csrf(browser.get(f"{gw}/login"))
        post = browser.post(f"{gw}/login", data={"username": "nexter", "csrf_token": token,
                                                 "password": "next password", "next": value})
        assert post.status_code == 400 and browser.session is None
    signed_in = browser.password_signin("nexter", "next password", next_url="/ok")
    assert signed_in.headers["location"] == "/ok"
    for value in SERVER_EVIL:  # signed in: still refused, not handed off
        assert browser.get(f"{gw}/login", params={"next": value}).status_code == 400
    for location in browser.gateway_locations():
        assert location.startswith(("/", gw, f"{stack.devidp.url}/")), location
    assert httpx.get(f"{gw}/login", params={"next": f"{stack.panel_origin}/x"}).status_code == 200
