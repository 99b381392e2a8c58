"""Long values and narrow screens in a real browser: at 1280×800 and 390×844, in English and
Russian, no column of any console table leaves the viewport, and the page never scrolls
sideways. The values are the ones that used to break the tables: a 150-character username typed
at the sign-in page, a 128-character API key name, a 200-character owner."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from authgate.outbox.store import Outbox
from authgate.signin.passwords import hash_password
from tests.browser.conftest import Tab
from tests.browser.test_console import sign_in_with_password
from tests.demo_harness import DemoProcess
from tests.inprocess import cheap_password_hashing

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

LONG_USER = "u" * 150
LONG_KEY = "k" * 128
LONG_OWNER = "tg:" + "9" * 197
SECTIONS = ["/console", "/console/connections", "/console/users", "/console/signins",
            "/console/apikeys"]
VIEWPORTS = [(1280, 800), (390, 844)]

OUT_OF_VIEW = """() => {
    const width = document.documentElement.clientWidth;
    const off = [];
    for (const cell of document.querySelectorAll("table.data th, table.data td")) {
        const box = cell.getBoundingClientRect();
        const head = cell.closest("thead");
        if (head && head.getBoundingClientRect().width <= 1) continue;  // a card's hidden head
        if (box.left < -0.5 || box.right > width + 0.5) {
            off.push(`${cell.tagName} ${cell.dataset.label || cell.textContent.trim().slice(0, 20)}`
                     + ` ${Math.round(box.left)}..${Math.round(box.right)} of ${width}`);
        }
    }
    if (off.length) off.push("widths: " + [...document.querySelectorAll("table.data thead th")]
        .map(th => `${th.textContent.trim()}=${Math.round(th.getBoundingClientRect().width)}`)
        .join(" "));
    if (document.documentElement.scrollWidth > width) off.push(
        `page ${document.documentElement.scrollWidth} wide`);
    return off;
}"""


@pytest.fixture(scope="module")
def long_values(demo: DemoProcess) -> DemoProcess:
    """The demo with a long username, API key name and owner in its tables: written once for
    both languages, on the demo's database from this process (what ``users add`` and ``apikey
    create`` write; the CLI's own tests run them)."""
    from authgate.config import load_settings
    from authgate.runtime import Runtime

    runtime = Runtime.open(load_settings(demo.directory / "authgate.toml", environ={}))
    try:
        now = runtime.clock.now()
        with cheap_password_hashing():  # a user nobody signs in as
            runtime.signin.users.add(LONG_USER, role="user", now=now,
                                     password_hash=hash_password("long user password"))
        runtime.apikeys.create(LONG_KEY, now=now)
    finally:
        runtime.engine.dispose()
    # Anyone can type a long name at the sign-in page: it lands in the sign-in log.
    with httpx.Client(base_url=demo.gateway, timeout=10) as client:
        import re

        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
        assert token
        client.post("/login", data={"username": "x" * 150, "password": "not this one",
                                    "csrf_token": token.group(1)})
    _save_connection(demo, LONG_OWNER)
    return demo


def _save_connection(demo: DemoProcess, owner: str) -> None:
    from authgate.config import load_settings
    from authgate.keyring import Keyring, keyring_path
    from authgate.protocol.rfc6749_oauth2 import TokenResponse
    from authgate.providers.base import Account
    from authgate.store.db import database_url, make_engine, make_sessionmaker
    from authgate.vault.connections import ConnectionStore

    settings = load_settings(demo.directory / "authgate.toml", environ={})
    engine = make_engine(database_url(settings.database_url, settings.data_dir))
    db = make_sessionmaker(engine)
    store = ConnectionStore(db, Keyring(keyring_path(settings.data_dir)), Outbox(db))
    now = datetime.now(UTC)
    if store.get("hh", owner) is None:
        store.save_tokens("hh", owner, TokenResponse(access_token="a" * 24, refresh_token="r" * 24,
                                                     expires_in=14 * 86400),
                          Account(id="1", name="Очень Длинное Имя Аккаунта " * 4), now=now,
                          next_refresh_at=now + timedelta(days=14))
    engine.dispose()


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_no_column_leaves_the_viewport(long_values: DemoProcess, tab: Tab, lang: str) -> None:
    demo = long_values
    page: Any = tab.page
    page.goto(f"{demo.gateway}/login?next=/console&lang={lang}")
    sign_in_with_password(tab, demo)
    page.wait_for_url(f"{demo.gateway}/console")
    problems = []
    for width, height in VIEWPORTS:
        page.set_viewport_size({"width": width, "height": height})
        for path in SECTIONS:
            page.goto(f"{demo.gateway}{path}")
            off = page.evaluate(OUT_OF_VIEW)
            problems.extend(f"{lang} {width} {path}: {o}" for o in off)
            name = path.strip("/").replace("/", "-")
            tab.check(f"layout-{name}-{lang}-{width}")
    assert problems == [], "\n".join(problems)
    # A cut value keeps its whole text in a tooltip.
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{demo.gateway}/console/apikeys")
    assert page.locator(f"span.clip[title='{LONG_KEY}']").count() >= 1


# -- item 12: the look, and the screenshots in docs/ -------------------------------------------

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_look_and_the_pictures_for_the_docs(tab: Tab, tmp_path: Path) -> None:
    """A fresh demo, walked through as a newcomer would: the development provider's pages styled
    like the rest and marked as test-only, the console's mark and favicon. The pages go to
    test-output/docs/, or to docs/ itself with AUTHGATE_DOCS_SCREENSHOTS=1."""
    import re

    from tests.demo_harness import free_base_port

    out = DOCS if os.environ.get("AUTHGATE_DOCS_SCREENSHOTS") == "1" else (
        DOCS.parent / "test-output" / "docs")
    out.mkdir(parents=True, exist_ok=True)
    demo = DemoProcess(tmp_path / "authgate-demo", free_base_port(), tmp_path / "demo.log",
                       ["--hh-lifetime", "600"]).start()
    page: Any = tab.page
    page.set_viewport_size({"width": 1280, "height": 800})

    def shot(name: str) -> None:
        tab.check(f"docs-{name}", screenshot=False)  # the picture is the one below
        page.screenshot(path=str(out / f"{name}.png"))

    try:
        for lang in ("en", "ru"):
            page.goto(f"{demo.gateway}/login?lang={lang}")
            shot("login" if lang == "en" else "login-ru")
        page.goto(f"{demo.gateway}/login?lang=en")
        # The product mark and the favicon.
        assert page.locator("header .brand svg.mark").count() == 1
        icon = page.locator("link[rel=icon][type='image/svg+xml']").get_attribute("href")
        assert icon and httpx.get(f"{demo.gateway}{icon}").headers["content-type"].startswith(
            "image/svg+xml")

        page.get_by_role("button", name=re.compile(r"ZITADEL \(demo\)")).click()
        page.wait_for_url(re.compile(re.escape(demo.devidp)))
        _styled_test_only(page)
        shot("devidp-oidc")
        page.get_by_role("button", name=re.compile("Sign in as Alice Admin")).click()
        page.wait_for_url(f"{demo.gateway}/console")

        page.goto(f"{demo.gateway}/console/connections")
        page.get_by_role("button", name="Connect", exact=True).click()
        page.wait_for_url(re.compile(re.escape(demo.devidp)))
        _styled_test_only(page)
        shot("devidp-hh")
        page.get_by_role("button", name=re.compile("Sign in as Ivan Petrov")).click()
        page.wait_for_url(re.compile(r"/console/connections\?notice=connected"))
        page.goto(f"{demo.gateway}/console/apikeys")
        page.fill("#key-name", "job-bot")
        page.get_by_role("button", name="Create key").click()
        shot("console-apikey-created")
        for lang in ("en", "ru"):
            for path in SECTIONS:
                page.goto(f"{demo.gateway}{path}?lang={lang}")
                name = "console-" + (path.removeprefix("/console").strip("/") or "dashboard")
                shot(name if lang == "en" else f"{name}-ru")
        page.goto(f"{demo.gateway}/console/connections?lang=en")
        shot("console")  # the README's first picture
    finally:
        demo.stop()


def _styled_test_only(page: Any) -> None:
    assert "TEST ONLY" in page.locator("header").inner_text()
    button = page.locator("fieldset button").first
    style = button.evaluate("""b => { const s = getComputedStyle(b);
        return {radius: s.borderTopLeftRadius, color: s.color, background: s.backgroundColor}; }""")
    assert style["radius"] == "6px", style
    assert style["color"] == "rgb(11, 92, 173)", style  # the console's accent, not grey


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_the_owner_field_checks_what_the_server_checks(demo: DemoProcess, tab: Tab,
                                                      lang: str) -> None:
    """Item 7 in the browser: the field refuses what vault.links refuses before sending, with
    the rule in its title; the server's message in the page's language is in tests/web."""
    page: Any = tab.page
    page.goto(f"{demo.gateway}/login?next=/console/connections&lang={lang}")
    sign_in_with_password(tab, demo)
    page.wait_for_url(f"{demo.gateway}/console/connections")
    field = page.locator("#connect-owner")
    for owner, valid in (("tg:12345", True), ("tg:Иван", False), ("_x", False),
                         ("user:a.b@c+d-e_f", True)):
        field.fill(owner)
        assert field.evaluate("el => el.checkValidity()") is valid, owner
    field.fill("x" * 5000)
    assert len(field.input_value()) == 200  # maxlength
    assert field.get_attribute("title")
    tab.check(f"owner-field-{lang}")


def test_times_stay_on_one_line_and_a_new_key_can_be_copied(demo: DemoProcess, tab: Tab) -> None:
    page: Any = tab.page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(f"{demo.gateway}/login?next=/console/apikeys&lang=ru")
    sign_in_with_password(tab, demo)
    page.wait_for_url(f"{demo.gateway}/console/apikeys")
    page.fill("#key-name", "copy-me")
    page.get_by_role("button", name="Создать ключ").click()
    key = page.get_by_test_id("new-key").inner_text()
    copy = page.get_by_role("button", name="Копировать")
    copy.click()
    # The page says so once the clipboard has taken the key (writeText is asynchronous).
    expect(page.locator("[data-copied]")).to_have_text("Скопировано.")
    assert page.evaluate("navigator.clipboard.readText()") == key
    tab.check("apikey-copy-ru")

    _save_connection(demo, "tg:times")
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 800})
        page.goto(f"{demo.gateway}/console/connections?lang=ru")
        lines = page.evaluate("""() => [...document.querySelectorAll("table.data time")]
            .filter(t => t.textContent.trim()).map(t => t.getClientRects().length)""")
        assert lines and set(lines) == {1}, lines


def test_without_javascript_the_key_is_selected_by_a_click(demo: DemoProcess,
                                                           tab_without_js: Tab) -> None:
    page: Any = tab_without_js.page
    page.goto(f"{demo.gateway}/login?next=/console/apikeys")
    sign_in_with_password(tab_without_js, demo)
    page.wait_for_url(f"{demo.gateway}/console/apikeys")
    page.fill("#key-name", "select-me")
    page.get_by_role("button", name="Create key").click()
    # Polled: the click's page may still be loading its stylesheet when the element is there.
    expect(page.get_by_test_id("new-key")).to_have_css("user-select", "all")
    assert not page.locator("button[data-copy]").is_visible()  # no button that cannot work
