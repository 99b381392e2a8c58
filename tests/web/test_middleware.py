"""The security headers (web/middleware.py) on the gateway's answers: every answer gets
nosniff and no-store; the document headers go on everything but the answers to bearer requests
and nginx's check (/auth/verify), which a browser never renders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from authgate.web.middleware import DOCUMENT_HEADERS
from tests.web.test_pages import _client

DOCUMENT = {k.lower() for k in DOCUMENT_HEADERS}


@pytest.fixture(params=["http://127.0.0.1:8000", "https://auth.example"])
def gateway(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    yield from _client(tmp_path, request.param)


def test_pages_and_cookie_answers_get_the_document_headers(gateway: httpx.Client) -> None:
    https = gateway.base_url.scheme == "https"
    for answer in (gateway.get("/login"),                        # a page
                   gateway.get("/no/such/page"),                 # an error page
                   gateway.get("/api/v1/connections"),           # the API, no key: 401
                   gateway.get("/auth/me",                       # a browser's cookie
                               headers={"Cookie": "authgate_session=x.y.z"}),
                   gateway.get("/auth/verifyx"),                 # not the check
                   gateway.get("/api/v1/connections",            # another scheme
                               headers={"Authorization": "Basic Ym90OnNlY3JldA=="})):
        assert answer.headers.keys() >= DOCUMENT, (answer.request.url, answer.headers)
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert ("strict-transport-security" in answer.headers) == https


def test_answers_to_bearer_requests_and_to_nginx_go_without_them(gateway: httpx.Client) -> None:
    answers = [gateway.get("/api/v1/connections",
                           headers={"Authorization": f"{scheme} agk_not-a-key"})
               for scheme in ("Bearer", "bearer", "BEARER")]
    answers += [gateway.get("/auth/verify", headers={"Cookie": "authgate_session=x.y.z"}),
                gateway.get("/auth/verify?next=/x")]
    for answer in answers:
        assert answer.status_code == 401
        assert not DOCUMENT & answer.headers.keys(), answer.headers
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["cache-control"] == "no-store"
        assert ("strict-transport-security" in answer.headers) == (
            gateway.base_url.scheme == "https")
