from __future__ import annotations

import pytest

from authgate.clock import FrozenClock
from tests.protocol.fake_idp import FakeIdp


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def idp(clock: FrozenClock) -> FakeIdp:
    # A MockTransport client holds no sockets; nothing to close.
    return FakeIdp(clock)
