"""Sign-in tests against real processes: the devidp (or panva's oidc-provider) and the gateway.

``Browser`` is an httpx client that keeps cookies like a browser and records every response, so
tests can check each URL the gateway built (its ``Location`` headers) for secrets.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.harness import ClockFile, DevIdp, Gateway, Process, bound, free_port, stop_together

DEV_CLIENT_ID = "authgate-dev"
DEV_CLIENT_SECRET = "dev-oidc-secret"
ROLES_CLAIM = "urn:zitadel:iam:org:project:roles"
SESSION_COOKIE = "authgate_session"


def dev_provider_config(devidp_url: str, name: str = "dev", *,
                        end_session_method: str = "get") -> str:
    return (f'[providers.{name}]\nkind = "oidc"\ndisplay_name = "Dev ZITADEL"\n'
            f'issuer = "{devidp_url}/oidc"\nclient_id = "{DEV_CLIENT_ID}"\n'
            f'client_secret = "{DEV_CLIENT_SECRET}"\n'
            f'scopes = ["openid", "email", "profile"]\nroles_claim = "{ROLES_CLAIM}"\n'
            f'roles_map = {{ admin = "admin" }}\nend_session_method = "{end_session_method}"\n')


@dataclass
class Seen:
    url: str
    status: int
    location: str | None


@dataclass
class Browser:
    """Cookies like a browser, redirects followed by hand, every answer recorded."""

    gateway_url: str
    client: httpx.Client = field(init=False)
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.client = httpx.Client(follow_redirects=False, timeout=bound(30),
                                   event_hooks={"response": [self._record]})

    def _record(self, response: httpx.Response) -> None:
        self.seen.append(Seen(str(response.request.url), response.status_code,
                              response.headers.get("location")))

    def get(self, url: str, **kw: Any) -> httpx.Response:
        return self.client.get(url, **kw)

    def post(self, url: str, **kw: Any) -> httpx.Response:
        return self.client.post(url, **kw)

    @property
    def session(self) -> str | None:
        return self.client.cookies.get(SESSION_COOKIE)

    def gateway_locations(self) -> list[str]:
        """Every redirect the gateway itself built."""
        return [s.location for s in self.seen
                if s.location and s.url.startswith(self.gateway_url)]

    def follow(self, response: httpx.Response, *, until: str | None = None,
               limit: int = 10) -> httpx.Response:
        """Follow redirects; stop before one to a URL starting with ``until``."""
        for _ in range(limit):
            location = response.headers.get("location")
            if response.status_code not in (301, 302, 303, 307) or not location:
                return response
            target = str(response.request.url.join(location))
            if until and target.startswith(until):
                return response
            response = self.client.get(target)
        return response

    def csrf(self, page: httpx.Response) -> str:
        match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert match, page.text
        return match.group(1)

    def password_signin(self, username: str, password: str, *, next_url: str | None = None,
                        headers: dict[str, str] | None = None) -> httpx.Response:
        page = self.get(f"{self.gateway_url}/login")
        data = {"username": username, "password": password, "csrf_token": self.csrf(page)}
        if next_url:
            data["next"] = next_url
        return self.post(f"{self.gateway_url}/login", data=data, headers=headers or {})

    def oidc_signin(self, provider: str = "dev", *, login_hint: str | None = None,
                    next_url: str | None = None, api_path: bool = False) -> httpx.Response:
        """Start at the gateway, let the devidp approve ``login_hint``, come back; returns the
        gateway's answer to the callback."""
        base = f"/api/auth/oidc/{provider}" if api_path else f"/auth/{provider}"
        params = {k: v for k, v in (("login_hint", login_hint), ("next", next_url)) if v}
        start = self.get(f"{self.gateway_url}{base}/login", params=params)
        assert start.status_code == 302, start.text
        back = self.follow(start, until=self.gateway_url)
        assert back.status_code in (302, 303), back.text
        return self.get(str(back.request.url.join(back.headers["location"])))

    def me(self, token: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.get(f"{self.gateway_url}/auth/me", headers=headers)


@dataclass
class SigninStack:
    devidp: DevIdp
    gateway: Gateway
    panel_origin: str
    clock: ClockFile

    def browser(self) -> Browser:
        return Browser(self.gateway.url)

    def person(self, local: str, *, roles: list[str] | None = None,
               name: str | None = None) -> str:
        """A new person at the devidp (unique per test); returns their email."""
        email = f"{local}@{self.panel_origin.rsplit(':', 1)[1]}.example.com"
        self.devidp.control("oidc/users", {"email": email, "name": name or local.title(),
                                           "roles": roles or []})
        return email

    def add_user(self, username: str, password: str, *extra: str) -> None:
        """``authgate users add`` (with ``extra`` options)."""
        self.gateway.cli("users", "add", username, "--password-stdin", *extra,
                         input_text=password + "\n")

    def insert_user(self, username: str, password: str, *, role: str = "user") -> None:
        """The same, in-process on the gateway's database: a CLI start costs seconds."""
        from authgate.config import load_settings
        from authgate.runtime import Runtime
        from authgate.signin.passwords import hash_password

        runtime = Runtime.open(load_settings(self.gateway.config))
        try:
            runtime.signin.users.add(username, role=role, now=runtime.clock.now(),
                                               password_hash=hash_password(password))
        finally:
            runtime.engine.dispose()


def make_stack(tmp: Path, cleanup: ExitStack, *, extra: str = "",
               login: str = "") -> SigninStack:
    """Start a devidp and a gateway sharing one clock; ``cleanup`` ends each of them, whatever
    happens after it started."""
    port = free_port()
    panel_origin = f"http://127.0.0.1:{free_port()}"
    clock = ClockFile(tmp / "clock")
    devidp = DevIdp(tmp, gateway_url=f"http://127.0.0.1:{port}", clock=clock)
    cleanup.callback(devidp.stop)
    devidp.start()
    body = (f'[login]\nallowed_redirects = ["{panel_origin}"]\n{login}\n'
            + dev_provider_config(devidp.url, end_session_method="post") + extra)
    gateway = Gateway(tmp, port=port, body=body, clock=clock)
    cleanup.callback(gateway.stop)
    cleanup.callback(stop_together, gateway, devidp)  # first; the two above are then no-ops
    gateway.start()
    return SigninStack(devidp, gateway, panel_origin, clock)


@pytest.fixture
def stack_factory(tmp_path: Path) -> Iterator[Any]:
    with ExitStack() as cleanup:
        made: list[SigninStack] = []

        def factory(extra: str = "", login: str = "") -> SigninStack:
            sub = tmp_path / f"stack{len(made)}"
            sub.mkdir()
            stack = make_stack(sub, cleanup, extra=extra, login=login)
            made.append(stack)
            return stack

        yield factory


@pytest.fixture
def stack(stack_factory: Any) -> SigninStack:
    made: SigninStack = stack_factory()
    return made


@pytest.fixture(scope="module")
def shared_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SigninStack]:
    """One devidp and gateway for a whole module, for tests that do not disturb each other
    (each uses its own people: see ``SigninStack.person``). Starting processes is the slow part
    of these tests."""
    with ExitStack() as cleanup:
        yield make_stack(tmp_path_factory.mktemp("signin"), cleanup)


# -- panva/oidc-provider ------------------------------------------------------------------------

OP_DIR = Path(__file__).with_name("oidc_provider")
OP_CLIENT_ID = "authgate-test"


def ensure_node_modules() -> None:
    if not (OP_DIR / "node_modules" / "oidc-provider").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                       cwd=OP_DIR, check=True, capture_output=True, timeout=300)


class OidcProvider(Process):
    """panva/oidc-provider (certified) under Node, configured by oidc_provider/server.mjs."""

    name = "oidc-provider (node)"

    def __init__(self, tmp: Path, *, gateway_url: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.client_secret = "op-secret-" + "k" * 24
        self.profile_file = tmp / "op-profiles.json"
        env = {"PORT": str(self.port), "CLIENT_SECRET": self.client_secret,
               "PROFILE_FILE": str(self.profile_file),
               "REDIRECT_URIS": f"{gateway_url}/auth/op/callback,"
                                f"{gateway_url}/api/auth/oidc/op/callback",
               "POST_LOGOUT_REDIRECT_URIS": f"{gateway_url}/login"}
        super().__init__(["node", str(OP_DIR / "server.mjs")], tmp / "oidc-provider.log",
                         f"{self.url}/.well-known/openid-configuration", env=env)

    def set_profile(self, login: str, **claims: Any) -> None:
        self.profile_file.write_text(json.dumps({login: claims}))

    def provider_config(self) -> str:
        return (f'[providers.op]\nkind = "oidc"\ndisplay_name = "Certified OP"\n'
                f'issuer = "{self.url}"\nclient_id = "{OP_CLIENT_ID}"\n'
                f'client_secret = "{self.client_secret}"\n'
                f'scopes = ["openid", "email", "profile", "roles"]\nroles_claim = "roles"\n'
                f'roles_map = {{ admin = "admin" }}\n')


_FORM = re.compile(r'<form[^>]*?(?:id="([^"]*)")?[^>]*action="([^"]+)"[^>]*>(.*?)</form>', re.S)
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


_LOGOUT_FORM = re.compile(r'<form method="post" action="([^"]+)" data-autosubmit>(.*?)</form>',
                          re.S)


def provider_logout_form(page: httpx.Response) -> tuple[str, dict[str, str]]:
    """The gateway's sign-out page: the provider's end-session endpoint and the form fields."""
    match = _LOGOUT_FORM.search(page.text)
    assert match, page.text[:2000]
    return html.unescape(match.group(1)), {
        name: html.unescape(value) for name, value in _HIDDEN.findall(match.group(2))}


def submit_op_page(browser: Browser, page: httpx.Response, login: str) -> httpx.Response:
    """Answer whichever devInteractions page this is: sign-in (any password), consent, or the
    logout confirmation."""
    match = _FORM.search(page.text)
    assert match, page.text[:2000]
    data = dict(_HIDDEN.findall(match.group(3)))
    if 'name="login"' in match.group(3):
        data.update(login=login, password="any password works here")
    if "logoutForm" in (match.group(1) or ""):
        data["logout"] = "yes"
    return browser.post(str(page.request.url.join(match.group(2))), data=data)


def op_signin(browser: Browser, gateway_url: str, login: str) -> httpx.Response:
    """The whole sign-in at the certified provider; returns the gateway's callback answer."""
    response = browser.get(f"{gateway_url}/auth/op/login")
    assert response.status_code == 302, response.text
    for _ in range(12):
        response = browser.follow(response, until=gateway_url)
        if response.status_code == 200:
            response = submit_op_page(browser, response, login)
            continue
        location = response.headers.get("location", "")
        target = str(response.request.url.join(location))
        assert target.startswith(gateway_url), (response.status_code, response.text[:500])
        return browser.get(target)
    raise AssertionError("the provider's pages did not lead back to the gateway")
