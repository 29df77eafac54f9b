"""Fixtures for the fault tests: real sockets on loopback, listeners with short timeouts.

Under pytest-homeassistant-custom-component (pytest-socket blocks sockets) every test here
requests ``socket_enabled``. The open-file limit is raised for the tests that hold
thousands of connections (each is two descriptors in this one process).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
import importlib
import resource
from typing import Any

import pytest

from custom_components.sinotrack.listener import Listener, ListenerConfig

from .helpers import Bystanders

type ListenerFactory = Callable[..., Awaitable[Listener]]

FAST: dict[str, Any] = {
    "host": "127.0.0.1",
    "port": 0,
    "handshake_timeout": 5.0,
    "idle_timeout": 5.0,
}
"""Limits of a test listener: the defaults, with timeouts short enough for a test."""


@pytest.fixture(autouse=True)
def _allow_sockets(request: pytest.FixtureRequest) -> None:
    """Real sockets on loopback, with or without pytest-socket."""
    try:
        request.getfixturevalue("socket_enabled")
    except pytest.FixtureLookupError:
        return
    try:
        pytest_socket = importlib.import_module("pytest_socket")
    except ImportError:  # pragma: no cover - socket_enabled comes from pytest-socket
        return
    pytest_socket.socket_allow_hosts(["127.0.0.1"], allow_unix_socket=True)


def raise_open_files(wanted: int) -> bool:
    """Raise this process's open-file limit to ``wanted`` if the hard limit allows it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= wanted:
        return True
    if hard != resource.RLIM_INFINITY and hard < wanted:
        return False
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return True


@pytest.fixture
async def make_listener() -> AsyncIterator[ListenerFactory]:
    """``await make_listener(**limits)``: a started listener on 127.0.0.1, closed at teardown."""
    listeners: list[Listener] = []

    async def make(**overrides: Any) -> Listener:
        listener = Listener(ListenerConfig(**{**FAST, **overrides}))
        await listener.start()
        listeners.append(listener)
        return listener

    yield make
    for listener in listeners:
        await listener.close()
        assert listener.connection_count == 0


@pytest.fixture
async def bystanders_for() -> AsyncIterator[list[Bystanders]]:
    """Bystanders started by a test (``start_bystanders``); stopped if the test fails."""
    started: list[Bystanders] = []
    yield started
    for group in started:
        await group.abort()
