"""The deployment kit end to end: nginx from ``authgate deploy nginx`` in front of the REAL gateway
(``authgate serve``), the devidp and a header-echoing sample app, all on loopback.

Unlike ``test_nginx.py`` (nginx's wiring against a stand-in), nothing here is a stand-in except the
protected app: every ``/auth/verify`` answer comes from authgate. The browser is httpx with a
cookie jar; redirects are followed by hand so that each hop can be checked.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from authgate.config import load_settings
from authgate.deploy.nginx import (
    nginx_test,
    parse_protect,
    render_nginx_site,
    site_options_from_settings,
)
from authgate.signin.session_digest import DIGEST_COOKIE, session_digest
from tests.deploy.servers import Nginx, ThreadedServer, echo_app, nginx_binary
from tests.harness import (
    DevIdp,
    Gateway,
    assert_no_secrets,
    bound,
    eventually,
    free_port,
    skip_unless_installed,
)
from tests.signin.conftest import SESSION_COOKIE, dev_provider_config

pytestmark = [
    pytest.mark.nginx,
    skip_unless_installed(nginx_binary() is not None, "nginx"),
    # One stack per module: under --dist loadgroup its tests stay on one worker.
    pytest.mark.xdist_group("deploy_end_to_end"),
]

# The host browsers use. A name would need DNS (the devidp redirects the browser back to it), so
# the "domain" of this site is the loopback address itself.
DOMAIN = "127.0.0.1"
PANEL_PAGE = "/panel/some/page?x=1"


@dataclass
class Deployment:
    tmp: Path
    devidp: DevIdp
    gateway: Gateway
    nginx: Nginx
    app: ThreadedServer
    conf: Path
    # Every secret a browser saw on the way (codes, states, session JWTs): none may be logged.
    secrets: list[str] = field(default_factory=list)
    browsers: int = 0

    @property
    def url(self) -> str:
        return self.nginx.url

    def browser(self) -> Browser:
        """A browser on a loopback address of its own: nginx limits /login per client address,
        and this module's sign-ins, one right after another, would share one allowance."""
        self.browsers += 1
        return Browser(self, f"127.0.0.{1 + self.browsers}")

    def person(self, local: str, roles: list[str] | None = None) -> dict[str, str]:
        """A new person at the devidp; returns its record (sub, email, ...)."""
        user: dict[str, str] = self.devidp.control("oidc/users", {
            "email": f"{local}-{self.nginx.port}@example.com", "name": local.title(),
            "roles": roles or []})
        return user


class Browser:
    """A cookie jar that only ever talks to nginx's address and the devidp, hop by hop."""

    def __init__(self, site: Deployment, address: str) -> None:
        self.site = site
        self.address = address  # where its connections come from
        self.client = httpx.Client(follow_redirects=False, timeout=bound(10),
                                   transport=httpx.HTTPTransport(local_address=address))

    def get(self, url: str, **kw: object) -> httpx.Response:
        return self.client.get(self.absolute(url), **kw)  # type: ignore[arg-type]

    def absolute(self, url: str) -> str:
        return url if "://" in url else self.site.url + url

    def location(self, response: httpx.Response) -> str:
        assert response.status_code in (301, 302, 303, 307), (response.status_code,
                                                               response.text[:500])
        return str(response.request.url.join(response.headers["location"]))

    def sign_in(self, person: dict[str, str], next_path: str) -> httpx.Response:
        """From the sign-in page nginx sent us to, through the devidp's page, back through
        nginx's callback; returns the gateway's answer to the callback."""
        page = self.get("/login", params={"next": next_path})
        assert page.status_code == 200, page.text[:500]
        form = re.search(r'<form method="get" action="(/auth/dev/login)">\s*'
                         r'<input type="hidden" name="next" value="([^"]*)">', page.text)
        assert form, page.text
        assert html.unescape(form.group(2)) == next_path
        start = self.get(form.group(1), params={"next": html.unescape(form.group(2))})
        authorize = self.location(start)
        assert authorize.startswith(f"{self.site.devidp.url}/oidc/"), authorize
        idp_page = self.client.get(authorize)
        assert idp_page.status_code == 200, idp_page.text[:500]
        request_id = re.search(r'name="request_id" value="([^"]+)"', idp_page.text)
        assert request_id, idp_page.text
        back = self.client.post(str(idp_page.request.url),
                                data={"request_id": request_id.group(1), "user": person["sub"]})
        callback = self.location(back)
        assert callback.startswith(f"{self.site.url}/auth/dev/callback?"), callback
        query = parse_qs(urlsplit(callback).query)
        self.site.secrets += [query["code"][0], query["state"][0]]
        done = self.client.get(callback)
        token = self.client.cookies.get(SESSION_COOKIE)
        assert token, done.headers
        self.site.secrets.append(token)
        return done


def app_headers(response: httpx.Response) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in response.json()["headers"]:
        out.setdefault(key.lower(), []).append(value)
    return out


def assert_signin_redirect(response: httpx.Response, next_path: str) -> None:
    """A relative redirect to the gateway's sign-in page, with next= back to ``next_path``."""
    assert response.status_code == 302, response.text[:500]
    location = urlsplit(response.headers["location"])
    assert (location.scheme, location.netloc, location.path) == ("", "", "/login"), location
    assert parse_qs(location.query)["next"] == [next_path], location


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    tmp = tmp_path_factory.mktemp("e2e")
    nginx_port = free_port()
    public_url = f"http://{DOMAIN}:{nginx_port}"
    app = ThreadedServer(echo_app())
    devidp = DevIdp(tmp, gateway_url=public_url)
    gateway = Gateway(tmp, body=dev_provider_config(devidp.url))
    # Browsers reach the gateway through nginx only; trusted_proxies keeps its default
    # (127.0.0.1, ::1), which is where nginx connects from.
    config = gateway.config.read_text()
    gateway.config.write_text(config.replace(f'public_url = "{gateway.url}"',
                                             f'public_url = "{public_url}"', 1))
    settings = load_settings(gateway.config, environ={})
    assert settings.public_url == public_url
    site_text = render_nginx_site(site_options_from_settings(
        settings, domain=DOMAIN, tls="none", listen_host="127.0.0.1", listen_port=nginx_port,
        log_dir=str(tmp / "nginx"),
        protect=[parse_protect(f"panel={app.url}"), parse_protect(f"ops:admin={app.url}")]))
    nginx = Nginx(site_text, tmp / "nginx", nginx_port)
    try:
        app.start()
        devidp.start()
        gateway.start()
        nginx.start()
        yield Deployment(tmp, devidp, gateway, nginx, app, nginx.conf)
    finally:
        nginx.stop()
        gateway.stop()
        devidp.stop()
        app.stop()


def test_nginx_accepts_the_rendered_site(site: Deployment) -> None:
    result = nginx_test(site.conf, site.nginx.workdir)
    assert result.ok, result.output
    assert "[warn]" not in result.output, result.output
    text = site.conf.read_text()
    assert f"server 127.0.0.1:{site.gateway.port};" in text  # from the gateway's listen
    assert f"server 127.0.0.1:{site.app.port};" in text


def test_anonymous_request_goes_to_the_gateways_sign_in_page(site: Deployment) -> None:
    browser = site.browser()
    first = browser.get(PANEL_PAGE)
    assert first.status_code == 302, first.text
    assert_signin_redirect(first, PANEL_PAGE)
    login = browser.get(first.headers["location"])
    assert login.status_code == 200
    assert "authgate" in login.text.lower()
    assert f'<input type="hidden" name="next" value="{PANEL_PAGE}">' in login.text
    assert 'action="/auth/dev/login"' in login.text
    # The app never saw the request, and forged identity headers change nothing.
    forged = browser.get(PANEL_PAGE, headers={
        "X-Auth-Request-User": "admin", "X-Auth-Request-Role": "admin",
        "X-Forwarded-Uri": "/login", "X-Original-URI": "/healthz",
        "Cookie": f"{SESSION_COOKIE}=not.a.jwt"})
    assert_signin_redirect(forged, PANEL_PAGE)
    assert browser.get("/ops/").status_code == 302


def test_signed_in_through_nginx_the_app_gets_the_identity(site: Deployment) -> None:
    browser = site.browser()
    person = site.person("erin")
    done = browser.sign_in(person, PANEL_PAGE)
    assert done.status_code == 303, done.text[:500]
    assert done.headers["location"] == PANEL_PAGE  # back where nginx sent us from
    me = browser.get("/auth/me").json()
    assert me["email"] == person["email"] and me["provider"] == "dev"

    page = browser.get(done.headers["location"])
    assert page.status_code == 200, page.text
    assert page.json()["path"] == "/panel/some/page" and page.json()["query"] == "x=1"
    seen = app_headers(page)
    assert seen["x-auth-request-user"] == [me["username"]]
    assert seen["x-auth-request-email"] == [person["email"]]
    assert seen["x-auth-request-role"] == ["user"]
    assert seen["x-forwarded-prefix"] == ["/panel"]
    # The app gets its own cookies, never authgate's session.
    assert SESSION_COOKIE not in " ".join(seen.get("cookie", []))
    # A user without the admin role is refused on the admin-only app; the gateway decides.
    assert browser.get("/ops/").status_code == 403


def test_forged_headers_never_reach_the_app_or_fool_the_check(site: Deployment) -> None:
    browser = site.browser()
    person = site.person("frank")
    browser.sign_in(person, "/panel/")
    username = browser.get("/auth/me").json()["username"]
    forged = {"X-Auth-Request-User": "admin", "X-Auth-Request-Email": "admin@example.com",
              "X-Auth-Request-Role": "admin", "X-Forwarded-Uri": "/something",
              "X-Original-URI": "/something", "X-Forwarded-Host": "evil.test",
              "X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7"}
    page = browser.get("/panel/real?y=2", headers=forged)
    assert page.status_code == 200, page.text
    assert page.json()["path"] == "/panel/real"
    seen = app_headers(page)
    assert seen["x-auth-request-user"] == [username] != ["admin"]
    assert seen["x-auth-request-email"] == [person["email"]]
    assert seen["x-auth-request-role"] == ["user"]
    assert "x-forwarded-uri" not in seen and "x-original-uri" not in seen
    assert seen["x-forwarded-host"] == [DOMAIN]
    assert seen["x-forwarded-proto"] == ["http"]
    assert seen["x-forwarded-for"] == [browser.address]  # nginx's, not the forged one
    # Pointing the check at another path does not lift the admin requirement.
    assert browser.get("/ops/x", headers={**forged, "X-Forwarded-Uri": "/panel/"}
                       ).status_code == 403

    # An admin at the IdP is an admin here, on the admin-only app too.
    admin = site.browser()
    admin_person = site.person("grace", roles=["admin"])
    admin.sign_in(admin_person, "/ops/")
    ops = admin.get("/ops/tools")
    assert ops.status_code == 200, ops.text
    assert app_headers(ops)["x-auth-request-role"] == ["admin"]

    # Signed out, the same session cookie is refused at once, forged headers or not.
    token = browser.client.cookies.get(SESSION_COOKIE)
    logout = browser.client.post(f"{site.url}/logout", headers={"Origin": site.url})
    assert logout.status_code == 303, logout.text[:500]
    stale = httpx.get(f"{site.url}/panel/", headers={**forged,
                                                      "Cookie": f"{SESSION_COOKIE}={token}"})
    assert stale.status_code == 302


def test_password_sign_in_through_nginx(site: Deployment) -> None:
    """The same-origin checks (Origin against public_url) hold behind nginx on its own port."""
    from authgate.runtime import Runtime
    from authgate.signin.passwords import hash_password

    runtime = Runtime.open(load_settings(site.gateway.config, environ={}))
    try:
        runtime.signin.users.add("heidi", role="user", now=runtime.clock.now(),
                                           password_hash=hash_password("heidi's password"))
    finally:
        runtime.engine.dispose()
    browser = site.browser()
    page = browser.get("/login", params={"next": "/panel/"})
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf, page.text
    done = browser.client.post(f"{site.url}/login", headers={"Origin": site.url}, data={
        "username": "heidi", "password": "heidi's password", "csrf_token": csrf.group(1),
        "next": "/panel/"})
    assert done.status_code == 303, done.text[:500]
    assert done.headers["location"] == "/panel/"
    token = browser.client.cookies[SESSION_COOKIE]
    site.secrets.append(token)
    # Beside the session, its digest: what nginx keys its verify cache on.
    assert browser.client.cookies[DIGEST_COOKIE] == session_digest(token)
    # A verdict is kept to the end of the second it was given in; on a busy machine an answer
    # may come after its second has ended, and nginx keeps nothing: ask again, a few times.
    for _ in range(5):
        panel = browser.get("/panel/")
        assert app_headers(panel)["x-auth-request-user"] == ["heidi"]
        assert DIGEST_COOKIE not in app_headers(panel).get("cookie", [""])[0]
        kept = [p.read_bytes() for p in site.nginx.workdir.glob("authgate-*-verify/*/*/*")]
        if any(session_digest(token).encode() in k for k in kept):
            break
    else:
        raise AssertionError("nothing was cached")
    logout = browser.client.post(f"{site.url}/logout", headers={"Origin": site.url})
    assert logout.status_code == 303, logout.text[:500]
    assert SESSION_COOKIE not in browser.client.cookies
    assert DIGEST_COOKIE not in browser.client.cookies


def test_doctor_sees_the_gateway_through_nginx(site: Deployment) -> None:
    site.gateway.env["COLUMNS"] = "400"  # one table row per line
    result = site.gateway.cli_process("doctor", check=False)  # the real command, as run by hand
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 failed" in result.stdout
    rows: dict[str, list[tuple[str, str]]] = {}
    for line in result.stdout.splitlines():
        cells = [c.strip() for c in line.strip("│ ").split("│")]
        if len(cells) == 3:
            rows.setdefault(cells[1], []).append((cells[0], cells[2]))
    # public_url is http://, and through nginx (X-Forwarded-Proto from a trusted proxy) the
    # gateway sees http:// too.
    assert rows["public_url through the proxy"] == [
        ("ok", f"{site.url}/healthz: authgate sees http://{DOMAIN}")], result.stdout
    accepted = rows["provider dev: redirect URI accepted"]
    assert accepted[0][0] == "ok" and accepted[0][1].startswith(f"{site.url}/auth/dev/callback")


def test_the_whole_query_survives_sign_in(site: Deployment) -> None:
    path = "/panel/search?q=a+b&page=2&path=%2Fx%26y"
    browser = site.browser()
    login = browser.get(browser.location(browser.get(path)))
    field = re.search(r'<input type="hidden" name="next" value="([^"]*)">', login.text)
    assert field and html.unescape(field.group(1)) == path, login.text
    done = browser.sign_in(site.person("judy"), path)
    assert done.headers["location"] == path
    page = browser.get(path)
    assert page.json()["query"] == "q=a+b&page=2&path=%2Fx%26y"


def test_no_code_state_or_session_in_any_log(site: Deployment) -> None:
    browser = site.browser()
    browser.sign_in(site.person("ivan"), "/panel/")
    assert len(site.secrets) >= 3
    callbacks_log = next(site.nginx.workdir.glob("authgate-*.callbacks.log"))
    callbacks = eventually(callbacks_log.read_text, "GET /auth/dev/callback HTTP/1.1")
    assert "GET /auth/dev/callback HTTP/1.1" in callbacks
    assert "code=" not in callbacks and "state=" not in callbacks
    nginx_logs = [p.read_text(errors="replace") for p in site.nginx.workdir.glob("*.log")]
    assert len(nginx_logs) >= 4  # error, access, and the site's access, callbacks and error
    texts = [*nginx_logs, site.nginx.logs(), site.gateway.log_text()]
    assert_no_secrets(texts, site.secrets)
    assert not any(re.search(r"[?&](code|state)=", t) for t in texts)


def test_login_burst_gets_429(site: Deployment) -> None:
    """One client address (127.0.0.1, no browser's) asking for /login again and again."""
    with httpx.Client(base_url=site.url, timeout=bound(10)) as client:
        statuses = [client.get("/login").status_code for _ in range(20)]
        statuses += [client.post("/login", data={"username": "x", "password": "y"}).status_code
                     for _ in range(20)]
    assert 429 in statuses[:20] and 429 in statuses[20:], statuses
    assert statuses.count(429) >= 20, statuses
    assert set(statuses) <= {200, 403, 429}, statuses  # 403: the POSTs have no CSRF token


