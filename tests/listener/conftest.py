"""Fixtures for the listener tests: real sockets on 127.0.0.1, ephemeral ports.

``make_listener`` and ``connect`` come from ``tests/support/plugin.py``. Here the listeners
read without throttle (the throttle has its own test), and each test's listeners are checked
at teardown: no connection, no listener timer, no task, and the port refuses connections.
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _sockets(loopback_sockets: None) -> None:
    """Real sockets on loopback (IPv4 and IPv6)."""


@pytest.fixture
def listener_defaults() -> dict[str, Any]:
    """Listeners read as fast as the peer sends."""
    return {"max_read_rate": 0}


@pytest.fixture
def strict_release() -> bool:
    """A closed listener must leave nothing behind."""
    return True
