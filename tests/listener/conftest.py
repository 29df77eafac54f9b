"""Fixtures for the listener tests: real sockets on 127.0.0.1, ephemeral ports.

Under pytest-homeassistant-custom-component (which installs pytest-socket and blocks sockets)
every test here requests ``socket_enabled``; plain pytest needs nothing. Each test's
listeners are closed at teardown, which then checks that nothing is left: no connection,
no listener timer, no task, and the port refuses connections.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
import contextlib
import importlib
from typing import Any

import pytest

from custom_components.sinotrack.listener import Listener, ListenerConfig

from .helpers import Client

type ListenerFactory = Callable[..., Awaitable[Listener]]
type ClientFactory = Callable[..., Awaitable[Client]]

TEST_CONFIG: dict[str, Any] = {
    "host": "127.0.0.1",
    "port": 0,
    "max_read_rate": 0,  # the throttle has its own test
}


@pytest.fixture(autouse=True)
def _allow_sockets(request: pytest.FixtureRequest) -> None:
    """Real sockets on loopback, with or without pytest-socket (PHACC)."""
    try:
        request.getfixturevalue("socket_enabled")
    except pytest.FixtureLookupError:
        return
    try:
        pytest_socket = importlib.import_module("pytest_socket")
    except ImportError:  # pragma: no cover - socket_enabled comes from pytest-socket
        return
    # PHACC allows connect() to 127.0.0.1 only; the IPv6 tests connect to ::1.
    pytest_socket.socket_allow_hosts(["127.0.0.1", "::1"], allow_unix_socket=True)


def listener_timers(loop: asyncio.AbstractEventLoop) -> list[asyncio.TimerHandle]:
    """Scheduled, not cancelled timers that call into a listener or one of its sessions."""
    scheduled: list[asyncio.TimerHandle] = getattr(loop, "_scheduled", [])
    timers = []
    for handle in scheduled:
        owner = getattr(getattr(handle, "_callback", None), "__self__", None)
        if (
            not handle.cancelled()
            and owner is not None
            and ".sinotrack.listener" in type(owner).__module__
        ):
            timers.append(handle)
    return timers


async def assert_released(listener: Listener, port: int) -> None:
    """Nothing of ``listener`` is left: connections, timers, tasks, the listening socket."""
    assert not listener.is_serving
    assert listener.connection_count == 0
    assert listener_timers(asyncio.get_running_loop()) == []
    others = {task for task in asyncio.all_tasks() if task is not asyncio.current_task()}
    assert others == set(), f"tasks left: {others}"
    with pytest.raises(ConnectionRefusedError):  # noqa: PT012 - connect and close
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.close()


@pytest.fixture
async def make_listener() -> AsyncIterator[ListenerFactory]:
    """``await make_listener(**config)``: a started listener on 127.0.0.1, closed at teardown."""
    listeners: list[Listener] = []

    async def make(**overrides: Any) -> Listener:
        listener = Listener(ListenerConfig(**{**TEST_CONFIG, **overrides}))
        await listener.start()
        listeners.append(listener)
        return listener

    yield make
    for listener in listeners:
        port = listener.port
        await listener.close()
        if listener.config.host == "127.0.0.1":
            await assert_released(listener, port)


@pytest.fixture
async def connect(make_listener: ListenerFactory) -> AsyncIterator[ClientFactory]:
    """``await connect(port, source=None)``: a client, closed at teardown (before the listeners)."""
    clients: list[Client] = []

    async def make(port: int, host: str = "127.0.0.1", source: str | None = None) -> Client:
        client = await Client.connect(port, host, source)
        clients.append(client)
        return client

    yield make
    for client in clients:
        with contextlib.suppress(OSError):
            await client.close()
