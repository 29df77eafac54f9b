"""Fixtures of the simulator tests: sockets allowed, and a server built on the codec."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from .server import CodecServer


@pytest.fixture(autouse=True)
def _sockets(loopback_sockets: None) -> None:
    """Real sockets on loopback."""


@pytest.fixture
async def server() -> AsyncIterator[CodecServer]:
    """A TCP server on 127.0.0.1 that decodes with the codec and sends its replies."""
    async with CodecServer() as running:
        yield running
