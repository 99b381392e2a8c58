"""The generated nginx site, checked by nginx itself and exercised with real requests.

Upstreams are a header-echoing app and a stand-in for authgate (see ``servers.py``): these tests
check nginx's wiring, not authgate's verification.
"""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

import authgate
from authgate.deploy.nginx import (
    NginxSiteOptions,
    ProtectedApp,
    nginx_test,
    parse_protect,
    render_nginx_site,
    write_self_signed_cert,
    write_standalone_conf,
)
from authgate.deploy.templating import DeployError
from tests.deploy.servers import Nginx, StandInGateway, ThreadedServer, echo_app, nginx_binary
from tests.harness import bound, free_port, skip_unless_installed

needs_nginx = skip_unless_installed(nginx_binary() is not None, "nginx")
pytestmark = [pytest.mark.nginx, needs_nginx]

DOMAIN = "auth.test"


@pytest.mark.parametrize("tls", ["terminated-upstream", "certbot", "none"])
def test_nginx_accepts_the_site(tmp_path: Path, tls: str) -> None:
    cert, key = write_self_signed_cert(tmp_path / "certs", DOMAIN)
    site = render_nginx_site(NginxSiteOptions(
        domain=DOMAIN, tls=tls,  # type: ignore[arg-type]
        listen_host="127.0.0.1", listen_port=free_port(), http_port=free_port(),
        log_dir=str(tmp_path), ssl_certificate=str(cert), ssl_certificate_key=str(key),
        protect=[("grafana", "127.0.0.1:3000"), ProtectedApp("admin", "http://[::1]:9000/",
                                                             "admin")],
        callback_paths=["/callback", "/oauth/hh/done"]))
    (tmp_path / "tmp").mkdir()
    result = nginx_test(write_standalone_conf(site, tmp_path), tmp_path)
    assert result.ok, result.output
    assert "[warn]" not in result.output, result.output


@pytest.mark.parametrize("domain", ["signin.example-company.com",
                                    "auth." + "long-department-name." * 8 + "example.org"])
def test_a_long_domain_gives_a_site_nginx_accepts(tmp_path: Path, domain: str) -> None:
    """Review finding: variables named after a long domain did not fit in nginx's variables
    hash ("could not build variables_hash": the site failed nginx -t)."""
    site = render_nginx_site(NginxSiteOptions(
        domain=domain, tls="none", listen_host="127.0.0.1", listen_port=free_port(),
        log_dir=str(tmp_path), protect=[("grafana", "127.0.0.1:3000")]))
    twin = render_nginx_site(NginxSiteOptions(domain=domain[:-1] + "x"))  # same beginning
    def defined(text: str) -> set[str]:  # the variables the site's maps make
        return set(re.findall(r"^map .* \$(\w+) \{$", text, re.MULTILINE))

    assert defined(site) and defined(site).isdisjoint(defined(twin))
    # Two sites in one nginx must never share a variable (nginx would let the last map win).
    prefixes = {re.search(r"\$(ag_\w+?)_connection", render_nginx_site(NginxSiteOptions(
        domain=f"auth.department-{i}.example.org"))).group(1)  # type: ignore[union-attr]
        for i in range(300)}
    assert len(prefixes) == 300
    (tmp_path / "tmp").mkdir()
    result = nginx_test(write_standalone_conf(site, tmp_path), tmp_path)
    assert result.ok, result.output


def test_the_cookies_stripped_are_the_ones_the_gateway_sets() -> None:
    """Every cookie the gateway sets (all go through web.cookies.set_cookie) but the session's,
    found in the source, so that a new one cannot be forgotten here."""
    from authgate.deploy.nginx import GATEWAY_COOKIES

    package = Path(authgate.__file__).parent
    names = set()
    for path in package.rglob("*.py"):
        module_name = "authgate." + ".".join(path.relative_to(package).with_suffix("").parts)
        for call in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
                    and call.func.id == "set_cookie" and len(call.args) >= 3):
                continue
            name = call.args[2]
            if isinstance(name, ast.Call):  # host_cookie_name(request, NAME)
                name = name.args[1]
            if isinstance(name, ast.Attribute) and name.attr == "cookie_name":
                continue  # the session cookie: settings.session.cookie_name
            assert isinstance(name, ast.Name), (path, ast.dump(name))
            names.add(getattr(importlib.import_module(module_name), name.id))
    assert names and set(GATEWAY_COOKIES) == names


def test_refuses_values_that_would_break_the_config() -> None:
    for bad in [dict(domain="a.test; include /etc/passwd"), dict(domain="a.test", log_dir="x y"),
                dict(domain="a.test", protect=[("login", "127.0.0.1:1")]),
                dict(domain="a.test", protect=[("app", "127.0.0.1:1;")]),
                dict(domain="a.test", callback_paths=["/cb{"]),
                # The verify cache reads $cookie_NAME, and needs the name once in the header.
                dict(domain="a.test", cookie_name="my-session"),
                dict(domain="a.test", cookie_name="Digest"),
                dict(domain="a.test", cookie_name="csrf"),
                dict(domain="a.test", cookie_name="connected"),
                dict(domain="a.test", cookie_name="Host")]:
        with pytest.raises(DeployError):
            render_nginx_site(NginxSiteOptions(**bad))  # type: ignore[arg-type]
    for name in ("my-session", "digest"):
        assert f"(?:{re.escape(name)}|" in render_nginx_site(NginxSiteOptions(
            domain="a.test", cookie_name=name, verify_cache=False))
    assert parse_protect("grafana:admin=http://127.0.0.1:3000/") == ProtectedApp(
        "grafana", "http://127.0.0.1:3000/", "admin")


@dataclass
class Site:
    tls: str
    nginx: Nginx
    gateway: StandInGateway

    def client(self, **headers: str) -> httpx.Client:
        return httpx.Client(base_url=self.nginx.url, headers={"Host": DOMAIN, **headers},
                            follow_redirects=False, timeout=bound(5))


@pytest.fixture(scope="module", params=["terminated-upstream", "none"])
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("nginx")
    gateway = StandInGateway()
    gateway_server = ThreadedServer(gateway.app()).start()
    app_server = ThreadedServer(echo_app()).start()
    port = free_port()
    site_text = render_nginx_site(NginxSiteOptions(
        domain=DOMAIN, tls=request.param, listen_host="127.0.0.1", listen_port=port,
        authgate_upstream=f"127.0.0.1:{gateway_server.port}", log_dir=str(tmp),
        callback_paths=["/callback"],
        protect=[("app", app_server.url), ("stripped", app_server.url + "/"),
                 ProtectedApp("admins", app_server.url, "admin")]))
    nginx = Nginx(site_text, tmp, port).start()
    yield Site(request.param, nginx, gateway)
    nginx.stop()
    app_server.stop()
    gateway_server.stop()


def headers_of(response: httpx.Response) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in response.json()["headers"]:
        out.setdefault(key.lower(), []).append(value)
    return out


def last_verify(site: Site) -> dict[str, list[str]]:
    call: dict[str, Any] = site.gateway.verify_calls[-1]
    out: dict[str, list[str]] = {}
    for key, value in call["headers"]:
        out.setdefault(key.lower(), []).append(value)
    return out


def test_anonymous_request_is_sent_to_sign_in(site: Site) -> None:
    with site.client() as c:
        r = c.get("/app/reports/7?tab=a")
        assert r.status_code == 302
        # Relative, so the browser keeps https:// behind a TLS terminator.
        assert r.headers["location"] == "/login?next=/app/reports/7?tab=a"
        assert c.get("/app").headers["location"] == "/app/"
        assert c.get("/metrics").status_code == 403  # scraped at authgate's own address


def test_sign_in_url_from_the_gateways_401(site: Site) -> None:
    """authgate may name the sign-in URL (next= encoded); nginx takes only a relative path."""
    encoded = "/login?next=%2Fapp%2Fr%3Fa%3D1%26b%3Da%2Bb"
    try:
        with site.client(**{"X-Auth-Request-Redirect": "/forged"}) as c:
            for sent, expected in [(encoded, encoded),
                                   ("//evil.test/x", "/login?next=/app/r?a=1&b=a+b"),
                                   ("/\\evil.test/x", "/login?next=/app/r?a=1&b=a+b"),
                                   ("https://evil.test/", "/login?next=/app/r?a=1&b=a+b"),
                                   (None, "/login?next=/app/r?a=1&b=a+b")]:
                site.gateway.signin_redirect = sent
                r = c.get("/app/r?a=1&b=a+b")
                assert r.status_code == 302
                assert r.headers["location"] == expected, sent
    finally:
        site.gateway.signin_redirect = None


def test_app_gets_identity_from_verify_never_from_the_client(site: Site) -> None:
    forged = {"X-Auth-Request-User": "mallory", "X-Auth-Request-Role": "admin",
              "X-Forwarded-Uri": "/forged", "X-Original-URI": "/forged",
              "X-Forwarded-Host": "evil.test", "X-Forwarded-Proto": "gopher",
              "X-Forwarded-For": "198.51.100.7", "Forwarded": "for=198.51.100.7"}
    with site.client(**forged) as c:
        r = c.get("/app/page?x=1",
                  headers={"Cookie": "standin=allow; authgate_session=JWT.SECRET; theme=dark"})
    assert r.status_code == 200, r.text
    app = headers_of(r)
    assert r.json()["path"] == "/app/page"
    assert app["x-auth-request-user"] == ["alice"]
    assert app["x-auth-request-role"] == ["user"]
    assert app["x-auth-request-email"] == ["alice@example.com"]
    assert "x-forwarded-uri" not in app and "x-original-uri" not in app
    assert "forwarded" not in app
    assert app["x-forwarded-host"] == [DOMAIN]
    assert app["x-forwarded-prefix"] == ["/app"]
    assert app["x-forwarded-proto"] == ["https" if site.tls == "terminated-upstream" else "http"]
    if site.tls == "none":  # at the edge the client's list is dropped entirely
        assert app["x-forwarded-for"] == ["127.0.0.1"]
    else:  # the test client is the terminator here (loopback, trusted): its word is taken
        assert app["x-forwarded-for"] == ["198.51.100.7"]
        assert app["x-real-ip"] == ["198.51.100.7"]
    # The app gets its cookies, not authgate's session.
    assert "JWT.SECRET" not in app["cookie"][0]
    assert "theme=dark" in app["cookie"][0] and "standin=allow" in app["cookie"][0]

    verify = last_verify(site)
    assert verify["x-forwarded-uri"] == ["/app/page?x=1"]
    assert verify["x-original-uri"] == ["/app/page?x=1"]
    assert verify["x-original-method"] == ["GET"]
    assert "x-auth-request-user" not in verify and "x-auth-request-role" not in verify
    assert "JWT.SECRET" in verify["cookie"][0]  # authgate needs its session cookie
    assert "content-length" not in verify or verify["content-length"] == ["0"]


def test_every_copy_of_authgates_cookies_is_stripped(site: Site) -> None:
    """Review finding: a planted first copy must not let the real session through."""
    cookies = ("standin=allow; authgate_session=planted; theme=dark; "
               "authgate_session=JWT.SECRET; authgate_csrf=C1; __Host-authgate_csrf=C2; "
               "authgate_flow=F; authgate_lang=ru; authgate_session =SPACED; x_authgate_csrf=k; "
               "authgate_digest=D1")
    with site.client() as c:
        r = c.get("/app/page", headers={"Cookie": cookies})
        assert r.status_code == 200, r.text
        sent = headers_of(r)["cookie"][0]
        assert "authgate_session" not in sent and "SECRET" not in sent and "SPACED" not in sent
        assert "C1" not in sent and "C2" not in sent and "authgate_flow" not in sent
        assert "authgate_digest" not in sent
        r = c.get("/app/page", headers={"Cookie": "standin=allow; authgate_connected=Acct; t=1"})
        assert headers_of(r)["cookie"][0] == "standin=allow; t=1"
        assert "theme=dark" in sent and "standin=allow" in sent and "x_authgate_csrf=k" in sent
        many = "standin=allow; " + "; ".join(f"authgate_session=s{i}" for i in range(12))
        assert c.get("/app/page", headers={"Cookie": many}).status_code == 400


def test_forwarded_for_is_believed_only_from_the_terminator(tmp_path: Path) -> None:
    """Review finding: with --tls terminated-upstream nginx took X-Forwarded-For from anyone."""
    default = render_nginx_site(NginxSiteOptions(domain=DOMAIN, protect=[("app", "127.0.0.1:1")]))
    assert "listen 127.0.0.1:80;" in default  # where a terminator on this machine reaches it
    assert "set_real_ip_from 127.0.0.1/32;" in default and "real_ip_recursive on;" in default
    gateway = StandInGateway()
    gateway_server = ThreadedServer(gateway.app()).start()
    app_server = ThreadedServer(echo_app()).start()
    port = free_port()
    nginx = Nginx(render_nginx_site(NginxSiteOptions(
        domain=DOMAIN, tls="terminated-upstream", listen_host="127.0.0.1", listen_port=port,
        authgate_upstream=f"127.0.0.1:{gateway_server.port}", log_dir=str(tmp_path),
        trusted_proxies=["10.9.8.7"], protect=[("app", app_server.url)])), tmp_path, port).start()
    try:
        with httpx.Client(base_url=nginx.url, headers={"Host": DOMAIN}, timeout=5) as c:
            r = c.get("/app/x", headers={"Cookie": "standin=allow",
                                         "X-Forwarded-For": "198.51.100.7"})
        assert r.status_code == 200, r.text
        app = headers_of(r)
        # This peer (127.0.0.1) is not the terminator (10.9.8.7): its header is ignored.
        assert app["x-real-ip"] == ["127.0.0.1"] and app["x-forwarded-for"] == ["127.0.0.1"]
        assert "198.51.100.7" not in str(last_verify(Site("terminated-upstream", nginx,
                                                          gateway)))
    finally:
        nginx.stop()
        app_server.stop()
        gateway_server.stop()


def test_prefix_stripping_and_roles(site: Site) -> None:
    with site.client(Cookie="standin=allow") as c:
        stripped = c.get("/stripped/deep/path")
        assert stripped.status_code == 200
        assert stripped.json()["path"] == "/deep/path"
        assert c.get("/admins/x").status_code == 403
    assert site.gateway.verify_calls[-1]["query"] == "role=admin"


def test_codes_never_reach_the_logs(site: Site) -> None:
    with site.client() as c:
        for path in ["/auth/zitadel/callback?code=SECRET123&state=s",
                     "/api/auth/oidc/zitadel/callback?code=SECRET123&state=s",
                     "/callback?code=SECRET123&state=s",
                     "/connect/hh?session=SECRET123"]:
            r = c.get(path)
            assert r.status_code == 200, r.text
            # ... while the gateway itself still gets the query string.
            assert "SECRET123" in r.json()["query"]
    site.nginx.stop()  # flush and close every log
    site.nginx.start()
    logs = site.nginx.logs()
    assert "SECRET123" not in logs
    callbacks = (site.nginx.workdir / "authgate-auth_test.callbacks.log").read_text()
    assert "GET /auth/zitadel/callback HTTP/1.1" in callbacks
    assert "GET /callback HTTP/1.1" in callbacks
    assert "/connect/" not in callbacks


def test_login_burst_is_limited(site: Site) -> None:
    with site.client() as c:
        statuses = [c.get("/login").status_code for _ in range(40)]
        assert statuses[0] == 200
        assert statuses.count(429) >= 10, statuses
        if site.tls == "terminated-upstream":
            # The client is the terminator's last X-Forwarded-For entry: another one has its
            # own allowance.
            other = c.get("/login", headers={"X-Forwarded-For": "203.0.113.9"})
            assert other.status_code == 200


def test_nginx_lets_idle_upstream_connections_go_before_the_server_does() -> None:
    from authgate.cli.serve_cmd import KEEPALIVE_SECONDS

    site = render_nginx_site(NginxSiteOptions(domain=DOMAIN, protect=[
        ("app", "127.0.0.1:1"), ("admin", "127.0.0.1:2")]))
    upstreams = dict(re.findall(r"upstream (\w+) \{(.*?)\n\}", site, re.S))
    assert len(upstreams) == 3, site
    for name, body in upstreams.items():
        kept = re.search(r"keepalive_timeout (\d+)s;", body)
        assert kept, body
        # The gateway's own idle timeout, or the shortest of the usual app servers' (gunicorn).
        server_lets_go = KEEPALIVE_SECONDS if name.endswith("_gateway") else 2
        assert int(kept.group(1)) < server_lets_go, (name, body)
