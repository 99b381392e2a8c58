"""A real browser (Chromium) through both sign-ins: what httpx cannot show (Origin: null under
our Referrer-Policy, cookies, forms without JavaScript under our CSP)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.harness import bound

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def test_password_and_provider_signin_in_chromium(shared_stack, browser):
    # Every check goes through expect(), which waits: a click that posts a form returns once the
    # navigation starts, and the redirect chain behind it may still be running.
    stack = shared_stack
    stack.insert_user("chrome", "chrome password")
    gw = stack.gateway.url
    context = browser.new_context(java_script_enabled=False)
    context.set_default_timeout(bound(30) * 1000)
    try:
        page = context.new_page()
        page.goto(f"{gw}/login?next=/auth/me")
        page.fill("#username", "chrome")
        page.fill("#password", "wrong")
        page.click("form[action='/login'] button[type=submit]")
        expect(page.locator("body")).to_contain_text("The username or password is wrong.")
        page.fill("#password", "chrome password")
        page.click("form[action='/login'] button[type=submit]")
        expect(page.locator("body")).to_contain_text('"username":"chrome"')
        page.goto(f"{gw}/login")
        page.click("text=Sign out")
        expect(page.locator("body")).to_contain_text("You are signed out.")

        page.goto(f"{gw}/login?lang=ru")
        page.click("text=Войти через Dev ZITADEL")
        page.click("button[value='310000000000000002']")  # bob, at the devidp's page
        expect(page.locator("body")).to_contain_text("Вы вошли как bob.")

        # Signing out at the provider too, without JavaScript: the ID token goes in a form the
        # person sends with one press, never in an address.
        page.get_by_role("button", name="Выйти", exact=True).click()
        expect(page.locator("[role=status]")).to_contain_text("Здесь вы вышли.")
        assert "id_token_hint" not in page.url
        page.get_by_role("button", name="Выйти и в Dev ZITADEL").click()
        page.wait_for_url(f"{gw}/login")
        expect(page.locator("body")).to_contain_text("Вход")
        assert "Вы вошли как" not in page.locator("body").inner_text()
    finally:
        context.close()


def test_sign_out_at_the_provider_goes_by_itself_with_javascript(shared_stack, browser):
    gw = shared_stack.gateway.url
    context = browser.new_context()
    context.set_default_timeout(bound(30) * 1000)
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{gw}/login")
        page.get_by_role("button", name="Sign in with Dev ZITADEL").click()
        page.click("button[value='310000000000000002']")  # bob
        expect(page.locator("body")).to_contain_text("You are signed in as bob.")
        with page.expect_request(lambda r: r.method == "POST" and "/oidc/end_session" in r.url
                                 ) as sent:
            page.get_by_role("button", name="Sign out", exact=True).click()
        assert "id_token_hint=" in (sent.value.post_data or "")
        assert "id_token_hint" not in sent.value.url
        page.wait_for_url(f"{gw}/login")
        expect(page.get_by_role("button", name="Sign in with Dev ZITADEL")).to_be_visible()
        assert errors == []
    finally:
        context.close()
