from __future__ import annotations

import pytest

from tests.chromium import browser
from tests.stacks import stack_factory

__all__ = ["browser", "stack_factory"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
