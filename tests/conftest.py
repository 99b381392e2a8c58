from __future__ import annotations

import pytest

from tests.stacks import stack_factory

__all__ = ["stack_factory"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
