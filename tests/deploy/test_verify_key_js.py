"""The njs function that keys nginx's verify cache (deploy/templates/authgate_verify_key.js), run
by real nginx: the plain case gets the verdict epoch and a SHA-256 of the one session cookie's
value; anything the gateway might read otherwise gets "" (nothing cached: the gateway decides)."""

from __future__ import annotations

import hashlib
import http.client
from collections.abc import Iterator
from pathlib import Path

import pytest

from authgate.deploy.nginx import VERIFY_JS
from tests.deploy.servers import Nginx, nginx_binary
from tests.harness import bound, free_port, skip_unless_installed

pytestmark = [pytest.mark.nginx, skip_unless_installed(nginx_binary() is not None, "nginx")]

TOKEN = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.sig-_09"


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Nginx, Path]]:
    tmp = tmp_path_factory.mktemp("verify-key")
    epoch = tmp / "verify-epoch"
    epoch.write_text("e-1\n")
    port = free_port()
    site = (f"js_import verify_key from {VERIFY_JS};\n"
            "js_set $authgate_key verify_key.key;\n"
            f"server {{\n    listen 127.0.0.1:{port};\n"
            "    set $authgate_session_cookie authgate_session;\n"
            f"    set $authgate_verify_epoch {epoch};\n"
            '    location / {\n        return 200 "[$authgate_key]";\n    }\n}\n')
    server = Nginx(site, tmp / "nginx", port)
    server.start()
    try:
        yield server, epoch
    finally:
        server.stop()


def _key(server: Nginx, *headers: tuple[str, str]) -> str:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=bound(10))
    try:
        connection.putrequest("GET", "/")
        for name, value in headers:
            connection.putheader(name, value.encode())
        connection.endheaders()
        return connection.getresponse().read().decode()[1:-1]
    finally:
        connection.close()


def _expected(value: str) -> str:
    return "e-1:" + hashlib.sha256(value.encode()).hexdigest()


@pytest.mark.parametrize("cookie", [
    f"authgate_session={TOKEN}",
    f"lang=ru; authgate_session={TOKEN}; other=1",
    f"lang=ru;authgate_session={TOKEN};other=1",
    f"a=1;  authgate_session =  {TOKEN} \t; b=2",
    f"authgate_session={TOKEN};",
])
def test_the_one_session_cookie_is_hashed_under_the_epoch(
        nginx: tuple[Nginx, Path], cookie: str) -> None:
    assert _key(nginx[0], ("Cookie", cookie)) == _expected(TOKEN)


@pytest.mark.parametrize("headers", [
    [],
    [("Cookie", "lang=ru")],
    [("Cookie", f"authgate_session={TOKEN}; authgate_session={TOKEN}")],  # two copies
    [("Cookie", f"authgate_session={TOKEN}"), ("Cookie", "authgate_session=other")],
    [("Cookie", f"xauthgate_session=1; authgate_session={TOKEN}")],  # the name twice
    [("Cookie", f"a=authgate_session; authgate_session={TOKEN}")],
    [("Cookie", f"Authgate_Session={TOKEN}")],                       # another name
    [("Cookie", f'authgate_session="{TOKEN}"')],                     # not a JWT's characters
    [("Cookie", "authgate_session=to ken")],
    [("Cookie", "authgate_session=a,b")],
    [("Cookie", "authgate_session=")],
    [("Cookie", "authgate_session")],
    [("Cookie", f"authgate_session{TOKEN}=x")],
    [("Cookie", f"authgate_session={TOKEN}"), ("Authorization", f"Bearer {TOKEN}")],
])
def test_anything_unusual_is_not_cached(nginx: tuple[Nginx, Path],
                                        headers: list[tuple[str, str]]) -> None:
    assert _key(nginx[0], *headers) == ""


def test_no_epoch_no_cache(nginx: tuple[Nginx, Path]) -> None:
    server, epoch = nginx
    try:
        epoch.write_text(" \n")
        assert _key(server, ("Cookie", f"authgate_session={TOKEN}")) == ""
        epoch.unlink()
        assert _key(server, ("Cookie", f"authgate_session={TOKEN}")) == ""
    finally:
        epoch.write_text("e-1\n")
    assert _key(server, ("Cookie", f"authgate_session={TOKEN}")) == _expected(TOKEN)
