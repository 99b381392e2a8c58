"""The generated site's verify-cache key, run by real nginx in front of a counting stand-in for
the gateway: the plain case (the session cookie's name once, its digest cookie, an epoch, no
Authorization) is answered from the cache on the second request; a second copy of the name, a
digest that is not the session cookie's, and anything else unusual go to the gateway each time.

The stand-in (not authgate: see servers.py) answers every check 200 with an X-Accel-Expires five
minutes ahead, so that whether nginx asked it, not the clock, is what each test sees."""

from __future__ import annotations

import http.client
import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from authgate.deploy.nginx import VERIFY_JS, NginxSiteOptions, parse_protect, render_nginx_site
from authgate.signin.session_digest import DIGEST_COOKIE, session_digest
from tests.deploy.servers import Nginx, ThreadedServer, echo_app, nginx_binary
from tests.harness import bound, free_port, skip_unless_installed

pytestmark = [pytest.mark.nginx, skip_unless_installed(nginx_binary() is not None, "nginx"),
              pytest.mark.xdist_group("deploy_verify_cache_key")]

EPOCH = "0123456789abcdef"
_serial = itertools.count()


@dataclass
class CountingGateway:
    checks: list[str] = field(default_factory=list)

    def app(self) -> Starlette:
        async def verify(request: Request) -> Response:
            self.checks.append(request.headers.get("x-original-uri", ""))
            return Response(status_code=200, headers={
                "X-Auth-Request-User": "alice", "X-Accel-Expires": f"@{int(time.time()) + 300}"})

        return Starlette(routes=[Route("/auth/verify", verify)])


@dataclass
class Site:
    nginx: Nginx
    gateway: CountingGateway
    epoch: Path

    def asked(self, *headers: tuple[str, str], path: str = "/app/") -> int:
        """How many of two identical requests nginx asked the gateway about."""
        before = len(self.gateway.checks)
        for _ in range(2):
            assert _get(self.nginx, path, headers) == 200
        return len(self.gateway.checks) - before


def _get(nginx: Nginx, path: str, headers: tuple[tuple[str, str], ...]) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", nginx.port, timeout=bound(10))
    try:
        connection.putrequest("GET", path)
        for name, value in headers:  # repeated names stay repeated
            connection.putheader(name, value.encode())
        connection.endheaders()
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("verify-key")
    epoch = tmp / "verify-epoch"
    epoch.write_text(EPOCH + "\n")
    gateway = CountingGateway()
    gateway_server = ThreadedServer(gateway.app())
    app_server = ThreadedServer(echo_app())
    port = free_port()
    text = render_nginx_site(NginxSiteOptions(
        domain="127.0.0.1", tls="none", listen_host="127.0.0.1", listen_port=port,
        authgate_upstream=f"127.0.0.1:{gateway_server.port}", log_dir=str(tmp / "nginx"),
        verify_epoch_file=str(epoch),
        protect=[parse_protect(f"app={app_server.url}"),
                 parse_protect(f"ops:admin={app_server.url}")]))
    nginx = Nginx(text, tmp / "nginx", port)
    try:
        gateway_server.start()
        app_server.start()
        nginx.start()
        yield Site(nginx, gateway, epoch)
    finally:
        nginx.stop()
        app_server.stop()
        gateway_server.stop()


def _token() -> str:
    """A new JWT-shaped value for each case, so that no case meets another's entry."""
    return f"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.sig-_{next(_serial)}x{time.time_ns()}"


def _with_digest(cookie: str, token: str) -> tuple[str, str]:
    return ("Cookie", f"{cookie}; {DIGEST_COOKIE}={session_digest(token)}")


@pytest.mark.parametrize("cookie", [
    "authgate_session={t}",
    "lang=ru; authgate_session={t}; other=1",
    "lang=ru;authgate_session={t};other=1",
    "a=1;  authgate_session =  {t}; b=2",
    "authgate_session={t};",
])
def test_the_one_session_cookie_with_its_digest_is_cached(site: Site, cookie: str) -> None:
    token = _token()
    assert site.asked(_with_digest(cookie.format(t=token), token)) == 1
    # ... under its location: a role's check is another entry.
    assert site.asked(_with_digest(cookie.format(t=token), token), path="/ops/") == 1


def test_the_digest_cookie_may_come_first(site: Site) -> None:
    token = _token()
    assert site.asked(("Cookie", f"{DIGEST_COOKIE}={session_digest(token)}; "
                                 f"authgate_session={token}")) == 1


def test_a_borrowed_digest_opens_nothing(site: Site) -> None:
    """An entry kept for one session is never the answer for another token (or none) that
    comes with that session's digest."""
    victim = _token()
    assert site.asked(_with_digest(f"authgate_session={victim}", victim)) == 1
    digest = f"{DIGEST_COOKIE}={session_digest(victim)}"
    assert site.asked(("Cookie", f"authgate_session={_token()}; {digest}")) == 2
    assert site.asked(("Cookie", f"authgate_session=; {digest}")) == 2
    assert site.asked(("Cookie", digest)) == 2
    assert site.asked(("Cookie", f"{DIGEST_COOKIE}={session_digest('')}")) == 2


@pytest.mark.parametrize("headers", [
    [("Cookie", "authgate_session={t}; authgate_session={t}; {d}")],
    [("Cookie", "authgate_session={t}; {d}"), ("Cookie", "authgate_session=other")],
    [("Cookie", "AUTHGATE_SESSION={t}; {d}; authgate_session=other")],
    [("Cookie", "authgate_session={t}; {d}; Authgate_Session=other")],
    [("Cookie", "authgate_session={t}; x=1,authgate_session=other; {d}")],
    [("Cookie", "xauthgate_session=1; authgate_session={t}; {d}")],
    [("Cookie", "authgate_session={t}; a=authgate_session; {d}")],
])
def test_a_second_copy_of_the_name_in_any_case_goes_to_the_gateway(
        site: Site, headers: list[tuple[str, str]]) -> None:
    """The gateway refuses two copies; which one nginx read must never matter (a copy planted
    by a sibling site, sent first, would otherwise choose the session)."""
    assert _asked_with(site, headers) == 2


@pytest.mark.parametrize("headers", [
    [("Cookie", "authgate_session={t}")],                                # no digest
    [("Cookie", "lang=ru")],
    [("Cookie", 'authgate_session="{t}"; {d}')],                         # not the value digested
    [("Cookie", "authgate_session={t} ; {d}")],
    [("Cookie", "authgate_session={t}x y; {d}")],
    [("Cookie", "authgate_session={t},b; {d}")],
    [("Cookie", "authgate_session{t}=x; {d}")],
    [("Cookie", "authgate_session={t}; {d}"), ("Authorization", "Bearer {t}")],
    [("Cookie", "authgate_session={t}; {d}"), ("Authorization", "0")],
    [("Cookie", "authgate_session={t}; {DIGEST_COOKIE}={short}")],       # not the whole digest
])
def test_anything_else_unusual_goes_to_the_gateway(site: Site,
                                                   headers: list[tuple[str, str]]) -> None:
    assert _asked_with(site, headers) == 2


def test_one_copy_in_another_letter_case_is_that_tokens_entry(site: Site) -> None:
    """A single copy the gateway would not read (its name in another letter case) but nginx
    reads as the token itself: the request gets that token's verdict from the cache. Only
    someone holding the token can send it, and would get the same by sending it plainly; a
    planted copy gains nothing over planting a plain one."""
    token = _token()
    assert site.asked(_with_digest(f"Authgate_Session={token}", token)) == 1


def _asked_with(site: Site, headers: list[tuple[str, str]]) -> int:
    token = _token()
    digest = session_digest(token)
    values = {"t": token, "d": f"{DIGEST_COOKIE}={digest}", "DIGEST_COOKIE": DIGEST_COOKIE,
              "short": digest[:-1]}
    return site.asked(*((n, v.format(**values)) for n, v in headers))


def test_no_epoch_no_cache_and_a_new_epoch_a_new_entry(site: Site) -> None:
    token = _token()
    plain = _with_digest(f"authgate_session={token}", token)
    try:
        site.epoch.write_text(" \n")
        assert site.asked(plain) == 2
        site.epoch.unlink()
        assert site.asked(plain) == 2
        site.epoch.write_text("not-hex\n")
        assert site.asked(plain) == 2
        site.epoch.write_text(EPOCH + "\n")
        assert site.asked(plain) == 1
        site.epoch.write_text("fedcba9876543210\n")  # what the gateway does on a change
        assert site.asked(plain) == 1
    finally:
        site.epoch.write_text(EPOCH + "\n")


def test_a_site_from_an_earlier_version_still_loads_and_caches_nothing(tmp_path: Path) -> None:
    """Sites written before the digest cookie import the same script and call its ``key``: an
    upgrade must not leave nginx unable to load them, and they must not cache."""
    port = free_port()
    site = (f"js_import earlier from {VERIFY_JS};\n"
            "js_set $earlier_key earlier.key;\n"
            f"server {{\n    listen 127.0.0.1:{port};\n"
            '    location / {\n        return 200 "[$earlier_key]";\n    }\n}\n')
    nginx = Nginx(site, tmp_path / "nginx", port).start()
    try:
        token = _token()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=bound(10))
        try:
            connection.request("GET", "/", headers={"Cookie": f"authgate_session={token}"})
            assert connection.getresponse().read() == b"[]"
        finally:
            connection.close()
    finally:
        nginx.stop()
