"""A real browser (Chromium) through both sign-ins: what httpx cannot show (Origin: null under
our Referrer-Policy, cookies, forms without JavaScript under our CSP)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def test_password_and_provider_signin_in_chromium(shared_stack, browser):
    # Every check goes through expect(), which waits: a click that posts a form returns once the
    # navigation starts, and the redirect chain behind it may still be running.
    stack = shared_stack
    stack.insert_user("chrome", "chrome password")
    gw = stack.gateway.url
    context = browser.new_context(java_script_enabled=False)
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
    finally:
        context.close()
