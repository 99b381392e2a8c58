"""nginx's short verify cache in front of the REAL gateway: what it writes to disk, and that every
change of a verdict is seen by the next request (sign-out, disable, role change), or, made by
another process, by the first request after the gateway has seen it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from authgate.config import load_settings
from authgate.deploy.nginx import parse_protect, render_nginx_site, site_options_from_settings
from authgate.runtime import Runtime
from authgate.signin.audit import LOCAL
from authgate.signin.session_digest import DIGEST_COOKIE, session_digest
from tests.deploy.servers import Nginx, ThreadedServer, echo_app, nginx_binary
from tests.harness import Gateway, bound, free_port, skip_unless_installed, wait_until
from tests.signin.conftest import SESSION_COOKIE

pytestmark = [
    pytest.mark.nginx,
    skip_unless_installed(nginx_binary() is not None, "nginx"),
    pytest.mark.xdist_group("deploy_verify_cache"),
]


@dataclass
class Site:
    gateway: Gateway
    nginx: Nginx
    epoch: Path

    def session(self, username: str, role: str = "user") -> str:
        """A new user and a session for them, made by another process (as the CLI would)."""
        runtime = Runtime.open(load_settings(self.gateway.config, environ={}))
        try:
            now = runtime.clock.now()
            user = runtime.signin.users.add(username, role=role, now=now)
            return runtime.signin.sessions.start(user, provider=LOCAL, ip=None,
                                                 user_agent=None).token
        finally:
            runtime.engine.dispose()

    def get(self, path: str, token: str) -> int:
        """A request with the cookies a signed-in browser sends: the session and its digest."""
        cookie = f"{SESSION_COOKIE}={token}; {DIGEST_COOKIE}={session_digest(token)}"
        return httpx.get(f"{self.nginx.url}{path}", headers={"Cookie": cookie},
                         timeout=bound(10)).status_code


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("verify-cache")
    port = free_port()
    app = ThreadedServer(echo_app())
    gateway = Gateway(tmp)
    config = gateway.config.read_text()
    gateway.config.write_text(config.replace(f'public_url = "{gateway.url}"',
                                             f'public_url = "http://127.0.0.1:{port}"', 1))
    settings = load_settings(gateway.config, environ={})
    site_text = render_nginx_site(site_options_from_settings(
        settings, domain="127.0.0.1", tls="none", listen_host="127.0.0.1", listen_port=port,
        log_dir=str(tmp / "nginx"),
        protect=[parse_protect(f"panel={app.url}"), parse_protect(f"ops:admin={app.url}")]))
    assert "proxy_cache authgate_" in site_text
    nginx = Nginx(site_text, tmp / "nginx", port)
    try:
        app.start()
        gateway.start()
        nginx.start()
        yield Site(gateway, nginx, settings.verify_epoch_path)
    finally:
        nginx.stop()
        gateway.stop()
        app.stop()


def _cache_files(site: Site) -> list[Path]:
    return [p for p in (site.nginx.workdir / "authgate-127_0_0_1-verify").rglob("*")
            if p.is_file()]


def test_the_cache_keeps_a_hash_never_the_token(site: Site) -> None:
    token = site.session("una")
    _cached(site, "/panel/", token)
    # No live token or any part of it but the common header, anywhere nginx writes.
    _header, payload, signature = token.split(".")
    for path in site.nginx.workdir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for secret in (token, payload, signature):
                assert secret.encode() not in data, path


def _kept(site: Site, epoch: str, token: str) -> bool:
    """Whether nginx holds an entry for ``token``'s session under ``epoch`` (its key is in the
    cache file)."""
    key = f"{epoch}:{session_digest(token)}".encode()
    return any(key in p.read_bytes() for p in _cache_files(site))


def _cached(site: Site, path: str, token: str) -> str:
    """Two passing requests for ``path`` made early in a wall-clock second, until nginx has kept
    the verdict; returns the epoch it is kept under.

    An entry lives to the end of the second it was made in, so the requests that follow most
    likely fall in that same second, where only the epoch in the key can keep nginx from
    answering with what it kept. On a busy machine an answer can arrive after its second has
    ended, and nginx then keeps nothing: that round is made again rather than failed."""
    for _ in range(5):
        time.sleep(1.02 - time.time() % 1)
        assert site.get(path, token) == site.get(path, token) == 200
        epoch = site.epoch.read_text()
        try:
            wait_until(lambda: _kept(site, epoch, token), "the verdict in nginx's cache",  # noqa: B023
                       idle_bound=1)
        except AssertionError:
            continue
        return epoch
    raise AssertionError("nginx kept no verdict in five rounds")


def test_sign_out_is_seen_by_the_next_request(site: Site) -> None:
    for i in range(3):
        token = site.session(f"vic{i}")
        before = _cached(site, "/panel/", token)
        logout = httpx.post(f"{site.nginx.url}/logout", timeout=bound(10), headers={
            "Cookie": f"{SESSION_COOKIE}={token}", "Origin": site.nginx.url})
        assert logout.status_code == 303, logout.text[:300]
        assert site.epoch.read_text() != before
        assert site.get("/panel/", token) == 302


@pytest.mark.parametrize("change", [("users", "disable"), ("users", "set-role", "user")])
def test_a_change_by_another_process_is_seen_once_the_gateway_has_it(
        site: Site, change: tuple[str, ...]) -> None:
    username = f"wes-{change[1]}"
    token = site.session(username, role="admin")
    before = _cached(site, "/ops/", token)
    site.gateway.cli(*change[:2], username, *change[2:])
    # The gateway's revocation set reloads within its interval (1 s) and writes a new epoch...
    wait_until(lambda: site.epoch.read_text() != before, "a new verdict epoch",
               idle_bound=5)
    # ... and from then on nothing nginx kept answers for the ended session.
    assert site.get("/ops/", token) == 302
    assert site.get("/panel/", token) == 302


def test_a_site_without_the_cache_needs_no_njs(tmp_path: Path) -> None:
    from authgate.deploy.nginx import NginxSiteOptions, nginx_test, write_standalone_conf

    site = render_nginx_site(NginxSiteOptions(
        domain="auth.test", listen_host="127.0.0.1", listen_port=free_port(),
        log_dir=str(tmp_path), protect=[parse_protect("app=127.0.0.1:1")], verify_cache=False))
    assert "js_" not in site and "proxy_cache" not in site
    (tmp_path / "tmp").mkdir()
    conf = write_standalone_conf(site, tmp_path)
    assert "load_module" not in conf.read_text()
    result = nginx_test(conf, tmp_path)
    assert result.ok, result.output
