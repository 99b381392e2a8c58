"""Real-browser fixtures: one ``authgate demo`` and one headless Chromium per test session (per
xdist worker), a fresh browser context per test.

Every page a test looks at goes through ``Tab.check``: a screenshot (JPEG) under
``test-output/screenshots/`` and an axe-core run (no serious or critical violations). Console
errors and uncaught page errors are collected for the whole test and fail it.

axe-core comes from the npm registry (``tests/browser/node``, installed by ``npm ci``). The pages'
CSP allows scripts from 'self' only, so it is injected with ``page.evaluate`` (DevTools
evaluation, which CSP does not govern) rather than ``add_script_tag`` (an inline script, which the
CSP rightly blocks). The pages are tested with their real CSP on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.chromium import CHROMIUM
from tests.demo_harness import DemoProcess, free_base_port
from tests.harness import bound, in_ci

ROOT = Path(__file__).resolve().parents[2]
AXE = Path(__file__).parent / "node" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "test-output" / "screenshots"
AXE_REPORTS = ROOT / "test-output" / "axe"
# The demo's clock is moved past this to watch a refresh (it never passes by itself in a test).
HH_LIFETIME = 600
BLOCKING_IMPACTS = ("serious", "critical")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if CHROMIUM.exists() or in_ci():  # on CI the browser fixture fails instead
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is missing (apt-get install chromium; "
                                   "scripts/setup --test does it)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` in {AXE.parents[2]} "
                    "(scripts/setup --test does it)")
    return AXE.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoProcess]:
    tmp = tmp_path_factory.mktemp("demo")
    process = DemoProcess(tmp / "authgate-demo", free_base_port(), tmp / "demo.log",
                          ["--hh-lifetime", str(HH_LIFETIME)])
    with process:  # ended however the session ends, a failed start included
        yield process.start()


@dataclass
class Tab:
    """One page in its own browser context, with the checks every page must pass."""

    page: Any
    axe_source: str
    errors: list[str] = field(default_factory=list)
    # Console errors a test provokes on purpose (e.g. "status of 403" on a refused page).
    expected: list[re.Pattern[str]] = field(default_factory=list)

    def expect_console_error(self, pattern: str) -> None:
        self.expected.append(re.compile(pattern))

    def unexpected_errors(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.expected)]

    def check(self, name: str, *, screenshot: bool = True) -> list[dict[str, Any]]:
        """Screenshot (unless the caller takes one of its own), axe, console: returns axe's
        non-blocking findings for the record."""
        self.page.wait_for_load_state("load")
        if screenshot:
            # For a person to look through: JPEG, which Chromium encodes in a third of the CPU
            # a full-page PNG takes (the pictures for docs/ stay PNG).
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(SCREENSHOTS / f"{name}.jpg"), full_page=True,
                                 type="jpeg", quality=80)
        if not self.page.evaluate("typeof window.axe !== 'undefined'"):
            self.page.evaluate(self.axe_source)
        violations: list[dict[str, Any]] = self.page.evaluate("""async () => {
            const result = await window.axe.run(document, {resultTypes: ["violations"]});
            return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 5)}));
        }""")
        AXE_REPORTS.mkdir(parents=True, exist_ok=True)
        (AXE_REPORTS / f"{name}.json").write_text(json.dumps(
            {"url": self.page.url, "violations": violations}, indent=2))
        blocking = [v for v in violations if v["impact"] in BLOCKING_IMPACTS]
        assert not blocking, f"axe on {name} ({self.page.url}): {json.dumps(blocking, indent=1)}"
        assert not self.unexpected_errors(), f"console errors on {name}: {self.errors}"
        return violations


@pytest.fixture
def tab(browser: Any, axe_source: str) -> Iterator[Tab]:
    yield from _tab(browser, axe_source, java_script_enabled=True)


@pytest.fixture
def tab_without_js(browser: Any, axe_source: str) -> Iterator[Tab]:
    yield from _tab(browser, axe_source, java_script_enabled=False)


def _tab(browser: Any, axe_source: str, *, java_script_enabled: bool) -> Iterator[Tab]:
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800},
                                  java_script_enabled=java_script_enabled)
    context.set_default_timeout(bound(15) * 1000)
    page = context.new_page()
    tab = Tab(page, axe_source)
    page.on("console", lambda m: tab.errors.append(f"console: {m.text}")
            if m.type == "error" else None)
    page.on("pageerror", lambda e: tab.errors.append(f"pageerror: {e}"))
    page.on("dialog", lambda d: d.accept())  # the console's "Disconnect?" / "Revoke?" prompts
    yield tab
    context.close()
    assert not tab.unexpected_errors(), f"console errors: {tab.errors}"
