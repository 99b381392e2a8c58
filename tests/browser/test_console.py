"""The demo in a real browser: sign-in (OpenID and password), the console, a live refresh, the
sample panel, Russian, and a non-administrator refused. Every page: screenshot, axe, no console
errors (see conftest)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import HH_LIFETIME, Tab
from tests.demo_harness import DemoProcess
from tests.harness import bound

# One xdist group: with ``--dist loadgroup`` every browser test shares one worker, hence one demo
# and one Chromium (with plain ``-n`` each worker that gets one starts its own; still correct).
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def sign_in_with_password(tab: Tab, demo: DemoProcess) -> None:
    page = tab.page
    password = demo.admin_password()
    assert password, demo.text
    page.fill("#username", "admin")
    page.fill("#password", password)
    page.locator("form[action='/login'] button[type=submit]").click()


def sign_in_at_zitadel(tab: Tab, person: str) -> None:
    """On the gateway's sign-in page: the "ZITADEL (demo)" button, then the person at the
    development identity provider."""
    page = tab.page
    page.get_by_role("button", name=re.compile(r"ZITADEL \(demo\)")).click()
    page.get_by_role("button", name=re.compile(f"Sign in as {person}")).click()


def test_zitadel_sign_in_connect_and_watch_a_refresh(demo: DemoProcess, tab: Tab) -> None:
    page = tab.page
    page.goto(f"{demo.panel}/")
    assert page.get_by_test_id("panel-user").inner_text() == "You are not signed in."
    tab.check("panel-signed-out")

    page.get_by_role("link", name="Sign in through authgate").click()
    page.wait_for_url(re.compile(r"/login\?next="))
    tab.check("login")
    sign_in_at_zitadel(tab, "Alice Admin")
    # Back at the panel, the one-time handoff code already taken out of the address.
    page.wait_for_url(f"{demo.panel}/")
    assert "Alice Admin (role: admin)" in page.get_by_test_id("panel-user").inner_text()
    tab.check("panel-signed-in")

    page.get_by_role("link", name=re.compile("Reports")).click()
    assert page.locator("[data-header=x-auth-request-user]").inner_text() == "alice"
    assert page.locator("[data-header=x-auth-request-role]").inner_text() == "admin"
    tab.check("panel-reports")

    page.goto(f"{demo.gateway}/console")
    assert page.locator("[data-testid=whoami] [data-field=username]").inner_text() == "alice"
    assert page.locator("[data-testid=whoami] [data-field=role]").inner_text() == "administrator"
    assert "ZITADEL (demo)" in page.get_by_role("table").inner_text()
    tab.check("dashboard")

    page.get_by_role("link", name="Connections", exact=True).click()
    page.select_option("#connect-provider", label="HeadHunter (demo)")
    page.get_by_role("button", name="Connect", exact=True).click()
    page.get_by_role("button", name=re.compile("Sign in as Ivan Petrov")).click()
    page.wait_for_url(re.compile(r"/console/connections\?notice=connected"))
    row = page.locator("tr[data-key='hh/user:alice']")
    assert row.locator("[data-field=account]").inner_text() == "Ivan Petrov"
    assert row.locator("[data-field=status_label]").get_attribute("data-status") in (
        "active", "expired", "refreshing")
    tab.check("connections")

    # The access token lives HH_LIFETIME seconds; the vault refreshes it right after expiry
    # (hh.ru's rule) and the table shows it without the page being reloaded. The demo's clock
    # is moved past the expiry instead of waiting for it.
    page.evaluate("window.__same_page = true")
    before = row.locator("[data-field=last_refresh]").get_attribute("datetime")
    assert demo.clock is not None
    demo.clock.advance(HH_LIFETIME + 5)
    page.wait_for_function(
        """before => {
            const cell = document.querySelector(
                "tr[data-key='hh/user:alice'] [data-field=last_refresh]");
            const now = cell && cell.getAttribute("datetime");
            return now && now !== before;
        }""", arg=before, timeout=bound(20) * 1000)
    assert page.evaluate("window.__same_page") is True
    assert row.locator("[data-field=last_refresh]").inner_text() != "never"
    assert row.locator("[data-field=last_error]").inner_text() == ""
    tab.check("connections-refreshed")

    row.get_by_role("button", name=re.compile("Refresh now")).click()
    # hh.ru refuses a refresh before expiry: the console says so instead of pretending.
    expect(page.locator("[data-notice]")).to_have_attribute(
        "data-notice", re.compile(r"^(not_yet|refreshed)$"))

    page.locator("tr[data-key='hh/user:alice']").get_by_role(
        "button", name=re.compile("Disconnect")).click()
    expect(page.locator("[data-notice]")).to_have_attribute("data-notice", "disconnected")
    expect(page.locator("tr[data-key='hh/user:alice']")).to_have_count(0)

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/login"))
    page.goto(f"{demo.gateway}/console")
    assert re.search(r"/login\?next=%2Fconsole$", page.url), page.url


def test_password_sign_in_and_the_admin_pages(demo: DemoProcess, tab: Tab) -> None:
    page = tab.page
    page.goto(f"{demo.gateway}/console/users")
    page.wait_for_url(re.compile(r"/login\?next=%2Fconsole%2Fusers"))
    sign_in_with_password(tab, demo)
    page.wait_for_url(f"{demo.gateway}/console/users")
    assert page.locator("tr[data-username=admin]").count() == 1
    tab.check("users")

    page.fill("#user-q", "no-such-person")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r"q=no-such-person"))
    expect(page.locator("tr[data-username]")).to_have_count(0)
    tab.check("users-search-empty")

    page.goto(f"{demo.gateway}/console/signins")
    page.select_option("#log-result", "success")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"result=success"))
    log = page.locator("#signins").inner_text()
    assert "admin" in log and "success" in log and "failure" not in log
    tab.check("signins")

    page.goto(f"{demo.gateway}/console/apikeys")
    page.fill("#key-name", "browser-test-bot")
    page.get_by_role("button", name="Create key").click()
    key = page.get_by_test_id("new-key").inner_text()
    assert key.startswith("agk_")
    tab.check("apikeys-created")
    page.goto(f"{demo.gateway}/console/apikeys")
    assert key not in page.content()  # shown once
    row = page.locator("tr", has_text="browser-test-bot").first
    row.get_by_role("button", name=re.compile("Revoke")).click()
    expect(page.locator("[data-notice]")).to_have_attribute("data-notice", "key_revoked")
    expect(page.locator("tr", has_text="browser-test-bot").first).to_contain_text("revoked")
    tab.check("apikeys")


def test_russian(demo: DemoProcess, tab: Tab) -> None:
    page = tab.page
    page.goto(f"{demo.gateway}/login?next=/console&lang=ru")
    assert page.locator("html").get_attribute("lang") == "ru"
    tab.check("login-ru")
    sign_in_with_password(tab, demo)
    page.wait_for_url(f"{demo.gateway}/console")
    assert page.locator("html").get_attribute("lang") == "ru"
    assert page.get_by_role("heading", level=1).inner_text() == "Обзор"
    assert page.get_by_role("button", name="Выйти").is_visible()
    tab.check("dashboard-ru")
    page.get_by_role("link", name="Подключения", exact=True).click()
    # An administrator may connect an account for someone else, e.g. a bot's user.
    page.fill("#connect-owner", "tg:777")
    page.get_by_role("button", name="Подключить", exact=True).click()
    page.get_by_role("button", name=re.compile("Sign in as Anna Smirnova")).click()
    page.wait_for_url(re.compile(r"/console/connections\?notice=connected"))
    assert page.locator("[data-notice]").inner_text() == "Аккаунт подключён."
    assert page.locator("tr[data-key='hh/tg:777'] [data-field=account]").inner_text() == (
        "Anna Smirnova")
    tab.check("connections-ru")

    # A phone: the page fits its width (wide tables scroll inside their own box).
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    tab.check("connections-ru-phone")


def test_a_user_is_refused_the_admin_pages(demo: DemoProcess, tab: Tab) -> None:
    page = tab.page
    page.goto(f"{demo.gateway}/console")
    sign_in_at_zitadel(tab, "Bob User")
    page.wait_for_url(f"{demo.gateway}/console")
    assert page.locator("[data-testid=whoami] [data-field=role]").inner_text() == "user"
    nav = page.get_by_role("navigation", name="Console sections").inner_text()
    assert "Connections" in nav and "Users" not in nav and "API keys" not in nav
    tab.check("dashboard-user")

    tab.expect_console_error(r"status of 403")  # the refused page itself, on purpose
    for path in ("/console/users", "/console/signins", "/console/apikeys"):
        response = page.goto(f"{demo.gateway}{path}")
        assert response is not None and response.status == 403, path
        assert "This page is for administrators." in page.inner_text("main")
    tab.check("forbidden")


def test_the_console_works_without_javascript(demo: DemoProcess, tab_without_js: Tab) -> None:
    page = tab_without_js.page
    page.goto(f"{demo.gateway}/console/apikeys")
    sign_in_with_password(tab_without_js, demo)
    page.wait_for_url(f"{demo.gateway}/console/apikeys")
    page.fill("#key-name", "no-js-bot")
    page.get_by_role("button", name="Create key").click()
    assert page.get_by_test_id("new-key").inner_text().startswith("agk_")
    # Without console.js there is no "are you sure?": the form posts straight away.
    page.locator("tr", has_text="no-js-bot").first.get_by_role(
        "button", name=re.compile("Revoke")).click()
    expect(page.locator("tr", has_text="no-js-bot").first).to_contain_text("revoked")
    page.goto(f"{demo.gateway}/console/connections")
    assert page.get_by_role("button", name="Connect", exact=True).is_visible()
    assert page.locator("#connections").get_attribute("data-live") is None
