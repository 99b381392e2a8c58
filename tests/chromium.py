"""One headless Debian Chromium per test process, shared by every browser test.

Playwright's sync API runs an event loop for as long as it is open, so a process must not open
it twice: all browser tests take this session fixture (and run in their own pytest process).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness import bound, require_tool

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    require_tool(CHROMIUM.exists(), f"{CHROMIUM} (Debian package chromium)")
    from playwright.sync_api import expect, sync_playwright

    # expect() gives up after 5 s by default: on a crowded machine a page may take longer.
    expect.set_options(timeout=bound(15) * 1000)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
