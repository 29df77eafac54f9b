"""Fixtures for the fault tests: real sockets on loopback, listeners with short timeouts.

``make_listener`` comes from ``tests/support/plugin.py``. The open-file limit is raised for
the tests that hold thousands of connections (each is two descriptors in this one process).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
import resource
from typing import Any

import pytest

from .helpers import Bystanders


@pytest.fixture(autouse=True)
def _sockets(loopback_sockets: None) -> None:
    """Real sockets on loopback."""


@pytest.fixture
def listener_defaults() -> dict[str, Any]:
    """The default limits, with timeouts short enough for a test."""
    return {"handshake_timeout": 5.0, "idle_timeout": 5.0}


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
async def bystanders_for() -> AsyncIterator[list[Bystanders]]:
    """Bystanders started by a test (``start_bystanders``); stopped if the test fails."""
    started: list[Bystanders] = []
    yield started
    for group in started:
        await group.abort()
