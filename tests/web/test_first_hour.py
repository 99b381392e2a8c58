"""The first hour in the gateway's pages, through its real ASGI app (no sockets) with a clock
that moves on command: what a new administrator meets and what used to surprise them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from authgate.clock import FrozenClock
from authgate.runtime import Runtime
from authgate.signin.passwords import hash_password
from authgate.web.app import create_app
from tests.inprocess import hh_settings

# Passwords at argon2's lowest cost: these tests are about pages, not about what a hash costs.
pytestmark = pytest.mark.usefixtures("cheap_passwords")

GATEWAY = "http://127.0.0.1:8000"
PASSWORD = "correct horse battery"


@dataclass
class Site:
    runtime: Runtime
    clock: FrozenClock
    app: object

    def browser(self, lang: str = "en") -> httpx.Client:
        client = TestClient(self.app, base_url=GATEWAY,  # type: ignore[arg-type]
                            follow_redirects=False)
        client.headers["Accept-Language"] = lang
        return client

    def add_user(self, username: str, role: str = "admin", password: str = PASSWORD) -> None:
        self.runtime.signin.users.add(username, role=role, now=self.clock.now(),
                                      password_hash=hash_password(password))


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def sign_in(client: httpx.Client, username: str, password: str = PASSWORD,
            next_to: str | None = None) -> httpx.Response:
    token = csrf_of(client.get("/login").text)
    data = {"username": username, "password": password, "csrf_token": token}
    if next_to:
        data["next"] = next_to
    return client.post("/login", data=data)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    clock = FrozenClock()
    settings = hh_settings(tmp_path / "data").model_copy(update={"public_url": GATEWAY})
    runtime = Runtime.open(settings, clock=clock)
    yield Site(runtime, clock, create_app(runtime, run_engine=False))
    runtime.engine.dispose()


# -- item 5: an API key's "Last used" -----------------------------------------------------------

def test_api_key_last_used_is_written_at_most_once_a_minute(site: Site) -> None:
    site.add_user("root")
    key, view = site.runtime.apikeys.create("job-bot", now=site.clock.now())
    bot = site.browser()
    bot.headers["Authorization"] = f"Bearer {key}"
    assert bot.get("/api/v1/connections").status_code == 200
    first = site.runtime.apikeys.list_keys()[0].last_used_at
    assert first == site.clock.now()

    site.clock.advance(30)
    site.runtime.apikeys._recent.clear()  # as if the 5-second cache had lapsed
    assert bot.get("/api/v1/connections").status_code == 200
    assert site.runtime.apikeys.list_keys()[0].last_used_at == first  # not a write per call

    site.clock.advance(45)
    site.runtime.apikeys._recent.clear()
    assert bot.get("/api/v1/connections").status_code == 200
    assert site.runtime.apikeys.list_keys()[0].last_used_at == site.clock.now()

    admin = site.browser()
    sign_in(admin, "root")
    site.clock.advance(120)
    page = admin.get("/console/apikeys").text
    row = page[page.index(f'data-key-id="{view.id}"'):]
    row = row[:row.index("</tr>")]
    assert "never" not in row and "2 min ago" in row


# -- item 7: a bad owner in the Connect form ------------------------------------------------------

@pytest.mark.parametrize("lang, said", [
    ("en", "This owner cannot be used"), ("ru", "Такого владельца указать нельзя")])
@pytest.mark.parametrize("owner", ["tg:Иван", "x" * 5000, "_x"])
def test_a_bad_owner_is_refused_next_to_the_field(site: Site, owner: str, lang: str,
                                                   said: str) -> None:
    site.add_user("root")
    admin = site.browser(lang)
    sign_in(admin, "root")
    page = admin.get("/console/connections").text
    field = re.search(r'<input type="text" id="connect-owner"[^>]*>', page)
    assert field and 'maxlength="200"' in field.group(0) and 'pattern="' in field.group(0)
    refused = admin.post("/console/connections/connect", data={
        "provider": "hh", "owner": owner, "csrf_token": csrf_of(page)})
    assert refused.status_code == 400
    assert f'lang="{lang}"' in refused.text
    assert "Something went wrong" not in refused.text and "Что-то пошло не так" not in refused.text
    error = re.search(r'data-testid="owner-error">([^<]+)<', refused.text)
    assert error and said in error.group(1)
    assert 'aria-invalid="true"' in refused.text
    # A good owner goes on to the provider.
    ok = admin.post("/console/connections/connect", data={
        "provider": "hh", "owner": "tg:12345", "csrf_token": csrf_of(page)})
    assert ok.status_code == 303 and "/hh/oauth/authorize" in ok.headers["location"]


# -- item 8: where a sign-in without ?next= lands ---------------------------------------------

@pytest.mark.parametrize("lang, heading", [("en", "You are signed in"), ("ru", "Вы вошли")])
def test_a_sign_in_without_next_lands_somewhere_useful(site: Site, lang: str,
                                                       heading: str) -> None:
    site.add_user("root")
    site.add_user("bob", role="user")
    admin = site.browser(lang)
    assert sign_in(admin, "root").headers["location"] == "/console"
    # With ?next= it still goes where it was asked to.
    again = site.browser(lang)
    assert sign_in(again, "root", next_to="/console/users").headers["location"] == (
        "/console/users")

    person = site.browser(lang)
    landed = sign_in(person, "bob").headers["location"]
    assert landed == "/login"
    page = person.get(landed).text
    h1 = re.search(r"<h1[^>]*>([^<]+)</h1>", page)
    assert h1 and h1.group(1).strip() == heading
    assert re.search(r"<title>\s*" + heading, page)
    assert 'action="/login"' not in page  # no sign-in form for someone signed in


# -- item 9: how long a lockout lasts ----------------------------------------------------------

@pytest.mark.parametrize("lang, said", [
    ("en", "Please try again in 15 minutes."), ("ru", "Попробуйте снова через 15 минут.")])
def test_a_lockout_says_how_many_minutes(site: Site, lang: str, said: str) -> None:
    site.add_user("root")
    client = site.browser(lang)
    for _ in range(5):
        assert sign_in(client, "root", "wrong password").status_code == 401
    locked = sign_in(client, "root")
    assert locked.status_code == 429
    assert locked.headers["retry-after"] == "900"
    assert said in locked.text
    site.clock.advance(14 * 60 + 1)
    assert "in 59 seconds." in sign_in(site.browser(), "root").text


@pytest.mark.parametrize("lang, n, text", [
    ("en", 1, "1 minute"), ("en", 2, "2 minutes"), ("en", 0, "0 minutes"),
    ("ru", 1, "1 минуту"), ("ru", 3, "3 минуты"), ("ru", 5, "5 минут"), ("ru", 11, "11 минут"),
    ("ru", 21, "21 минуту"), ("ru", 22, "22 минуты"), ("ru", 14, "14 минут")])
def test_plural_forms(lang: str, n: int, text: str) -> None:
    from authgate.web.i18n import translate_plural

    assert translate_plural(lang, "login.wait.minutes", n) == text


# -- item 3: changing one's password in the console --------------------------------------------

@pytest.mark.parametrize("lang, wrong, mismatch", [
    ("en", "This is not your current password.", "The two new passwords differ."),
    ("ru", "Это не ваш текущий пароль.", "Новые пароли не совпадают.")])
def test_a_person_changes_their_password_and_other_sessions_end(
        site: Site, lang: str, wrong: str, mismatch: str) -> None:
    site.add_user("root")
    here, elsewhere = site.browser(lang), site.browser(lang)
    sign_in(here, "root")
    sign_in(elsewhere, "root")
    page = here.get("/console/password")
    assert page.status_code == 200 and 'href="/console/password"' in page.text
    token = csrf_of(page.text)

    def change(current: str, new: str, again: str, csrf: str = token) -> httpx.Response:
        return here.post("/console/password", data={"current": current, "new": new,
                                                     "again": again, "csrf_token": csrf})

    assert change("guess", "new password 1", "new password 1", csrf="forged").status_code == 403
    refused = change("guess", "new password 1", "new password 1")
    assert refused.status_code == 400 and wrong in refused.text
    assert 'data-testid="error-current"' in refused.text
    differ = change(PASSWORD, "new password 1", "new password 2")
    assert differ.status_code == 400 and mismatch in differ.text
    assert change(PASSWORD, "short", "short").status_code == 400

    done = change(PASSWORD, "new password 1", "new password 1")
    assert done.status_code == 303
    assert here.get(done.headers["location"]).status_code == 200  # this session goes on
    site.runtime.signin.revocations.load()
    assert elsewhere.get("/console").status_code == 303  # the other one has ended
    assert sign_in(site.browser(), "root").status_code == 401  # the old password is gone
    assert sign_in(site.browser(), "root", "new password 1").status_code == 303


def test_someone_without_a_password_is_told_so(site: Site) -> None:
    from authgate.signin.users import Profile

    user, _ = site.runtime.signin.users.upsert_from_provider(
        "zitadel", "sub-1", Profile(name="Zed"), role=None, default_role="user",
        now=site.clock.now())
    issued = site.runtime.signin.sessions.start(user, provider="zitadel", ip=None,
                                                user_agent=None)
    client = site.browser()
    client.cookies.set("authgate_session", issued.token)
    page = client.get("/console/password")
    assert page.status_code == 200
    assert "no password to change" in page.text and 'name="new"' not in page.text


# -- item 10: the "Connected" page has a clean address --------------------------------------------

def test_the_connected_page_leaves_no_code_in_the_address(tmp_path: Path) -> None:
    from tests.harness import open_connect_link
    from tests.inprocess import make_inprocess

    setup = make_inprocess(tmp_path)
    runtime = setup.runtime
    app = create_app(runtime, run_engine=False)
    link = runtime.links.create("hh", "tg:1", now=setup.clock.now(),
                                lifetime=runtime.settings.vault.connect_link_lifetime)
    browser = TestClient(app, base_url="http://gw.test", follow_redirects=False)
    start = open_connect_link(browser, f"http://gw.test/connect/hh?session={link.token}")
    authorize = httpx.URL(start.headers["location"])
    idp = TestClient(setup.idp._transport.app, base_url="http://devidp.test")  # type: ignore[attr-defined]
    page = idp.get(authorize.raw_path.decode())
    request_id = re.search(r'name="request_id" value="([^"]+)"', page.text)
    assert request_id
    back = idp.post("/hh/oauth/authorize", data={"request_id": request_id.group(1),
                                                 "account": "10000001"},
                    follow_redirects=False)
    callback = httpx.URL(back.headers["location"])
    assert "code=" in str(callback)
    done = browser.get(callback.raw_path.decode())
    assert done.status_code == 303 and done.headers["location"] == "/connect/hh/done"
    shown = browser.get(done.headers["location"])
    assert shown.status_code == 200 and "Ivan Petrov" in shown.text and "Connected" in shown.text
    again = browser.get("/connect/hh/done")  # a reload: still a sensible page
    assert again.status_code == 200 and "is connected" in again.text
    runtime.engine.dispose()


# -- item 10: the smaller things ---------------------------------------------------------------

@pytest.mark.parametrize("lang, created, locked, admin_role, summary", [
    ("en", "first sign-in: account created", "too many attempts", "administrator",
     "0 connected API accounts."),
    ("ru", "первый вход: учётная запись создана", "слишком много попыток", "администратор",
     "0 подключённых API-аккаунтов.")])
def test_words_instead_of_codes(site: Site, lang: str, created: str, locked: str,
                                admin_role: str, summary: str) -> None:
    from authgate.signin.audit import Client

    site.add_user("root")
    site.add_user("bob", role="user")
    log = site.runtime.signin.log
    for reason in ("user_created", "too_many_attempts", "some_new_code"):
        log.record(now=site.clock.now(), provider="zitadel", result="success",
                   client=Client(ip="192.0.2.1", user_agent=None), username="carol",
                   reason=reason)
    admin = site.browser(lang)
    sign_in(admin, "root")
    signins = admin.get("/console/signins").text
    assert f'data-reason="user_created">{created}<' in signins
    assert f'data-reason="too_many_attempts">{locked}<' in signins
    assert 'data-reason="some_new_code">some_new_code<' in signins  # unknown: the code itself

    users = admin.get("/console/users").text
    bob = users[users.index('data-username="bob"'):]
    assert f">{admin_role}</option>" in bob
    mine = users[users.index('data-username="root"'):users.index('data-username="root"') + 2000]
    assert admin_role in mine and ">admin<" not in mine
    dashboard = admin.get("/console").text
    assert f'data-field="role">{admin_role}<' in dashboard
    assert summary in dashboard

    # A refresh the provider does not allow yet is news, not a success.
    not_yet = admin.get("/console/connections?notice=not_yet").text
    assert re.search(r'class="notice info"[^>]*data-notice="not_yet"', not_yet)
    assert re.search(r'class="notice ok"[^>]*data-notice="refreshed"',
                     admin.get("/console/connections?notice=refreshed").text)

    # One language switch on the sign-in page, the header's.
    login = site.browser(lang).get("/login").text
    assert login.count("hreflang=") == 1

    # A new key: selectable in one click, with a copy button that JavaScript reveals.
    made = admin.post("/console/apikeys", data={"name": "bot", "csrf_token": csrf_of(signins)})
    assert re.search(r'<button type="button"[^>]*data-copy="new-key"[^>]*hidden', made.text)


def test_plural_of_the_connection_count() -> None:
    from authgate.web.i18n import translate_plural

    assert translate_plural("en", "dash.connections_summary", 1) == "1 connected API account."
    assert translate_plural("ru", "dash.connections_summary", 2) == (
        "2 подключённых API-аккаунта.")
    assert translate_plural("ru", "dash.connections_summary", 1) == "1 подключённый API-аккаунт."
