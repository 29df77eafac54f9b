"""The pytest fixtures every suite may use (registered by ``tests/conftest.py``).

No Home Assistant import: the codec suite runs without it. A suite that talks over sockets
asks for ``loopback_sockets`` (autouse in its conftest); a suite's conftest sets its
listeners' limits by overriding ``listener_defaults`` and ``strict_release``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
import contextlib
from typing import Any

import pytest

from .client import Client
from .defaults import LOOPBACK
from .listeners import ListenerFactory, Listeners
from .net import allow_loopback

type ClientFactory = Callable[..., Awaitable[Client]]


@pytest.fixture
def loopback_sockets(request: pytest.FixtureRequest) -> None:
    """Real sockets on loopback, with or without pytest-socket."""
    allow_loopback(request)


@pytest.fixture
def listener_defaults() -> dict[str, Any]:
    """The configuration of a listener from ``make_listener`` (besides host and port)."""
    return {}


@pytest.fixture
def strict_release() -> bool:
    """Whether ``make_listener`` checks at teardown that a closed listener left nothing."""
    return False


@pytest.fixture
async def make_listener(
    listener_defaults: dict[str, Any], strict_release: bool
) -> AsyncIterator[ListenerFactory]:
    """``await make_listener(**config)``: a started listener on loopback, closed at teardown."""
    listeners = Listeners(listener_defaults, strict=strict_release)
    yield listeners.make
    await listeners.close()


@pytest.fixture
async def connect(make_listener: ListenerFactory) -> AsyncIterator[ClientFactory]:
    """``await connect(port, host=..., source=None)``: a client, closed at teardown (before
    the listeners)."""
    clients: list[Client] = []

    async def make(port: int, host: str = LOOPBACK, source: str | None = None) -> Client:
        client = await Client.connect(port, host, source)
        clients.append(client)
        return client

    yield make
    for client in clients:
        with contextlib.suppress(OSError):
            await client.close()
