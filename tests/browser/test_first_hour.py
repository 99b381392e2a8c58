"""Long values and narrow screens in a real browser: at 1280×800 and 390×844, in English and
Russian, no column of any console table leaves the viewport, and the page never scrolls
sideways. The values are the ones that used to break the tables: a 150-character username typed
at the sign-in page, a 128-character API key name, a 200-character owner."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.browser.conftest import Tab
from tests.browser.test_console import sign_in_with_password
from tests.demo_harness import DemoProcess
from tests.harness import AUTHGATE

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


def _long_values(demo: DemoProcess) -> None:
    config = str(demo.directory / "authgate.toml")
    env = {**os.environ}
    subprocess.run([*AUTHGATE, "users", "add", LONG_USER, "--password-stdin", "--config", config],
                   input="long user password\n", text=True, capture_output=True, check=False,
                   env=env, timeout=60)
    subprocess.run([*AUTHGATE, "apikey", "create", LONG_KEY, "--config", config],
                   capture_output=True, check=True, env=env, timeout=60)
    # Anyone can type a long name at the sign-in page: it lands in the sign-in log.
    with httpx.Client(base_url=demo.gateway, timeout=10) as client:
        import re

        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
        assert token
        client.post("/login", data={"username": "x" * 150, "password": "not this one",
                                    "csrf_token": token.group(1)})
    _save_connection(demo, LONG_OWNER)


def _save_connection(demo: DemoProcess, owner: str) -> None:
    from authgate.config import load_settings
    from authgate.keyring import Keyring, keyring_path
    from authgate.protocol.rfc6749_oauth2 import TokenResponse
    from authgate.providers.base import Account
    from authgate.store.db import database_url, make_engine, make_sessionmaker
    from authgate.vault.connections import ConnectionStore

    settings = load_settings(demo.directory / "authgate.toml", environ={})
    engine = make_engine(database_url(settings.database_url, settings.data_dir))
    store = ConnectionStore(make_sessionmaker(engine), Keyring(keyring_path(settings.data_dir)))
    now = datetime.now(UTC)
    if store.get("hh", owner) is None:
        store.save_tokens("hh", owner, TokenResponse(access_token="a" * 24, refresh_token="r" * 24,
                                                     expires_in=14 * 86400),
                          Account(id="1", name="Очень Длинное Имя Аккаунта " * 4), now=now,
                          next_refresh_at=now + timedelta(days=14))
    engine.dispose()


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_no_column_leaves_the_viewport(demo: DemoProcess, tab: Tab, lang: str) -> None:
    _long_values(demo)
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
