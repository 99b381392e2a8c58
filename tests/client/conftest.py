from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.client.double import VaultDouble, serve


@pytest.fixture
def double() -> Iterator[VaultDouble]:
    """A vault and a provider API under uvicorn on loopback (see tests/client/double.py)."""
    made = VaultDouble()
    with serve(made):
        yield made
