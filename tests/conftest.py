from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.chromium import browser
from tests.harness import STARTED
from tests.stacks import stack_factory

__all__ = ["browser", "stack_factory"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session", autouse=True)
def _end_every_process() -> Iterator[None]:
    """No test leaves a server running, even when its fixture failed half-way."""
    yield
    for process in STARTED:
        process.kill()
