"""Fixtures of the location tests: sockets on loopback allowed, whatever pytest plugins run.

Under pytest-homeassistant-custom-component (which installs pytest-socket and blocks
sockets) every test here requests ``socket_enabled``; plain pytest needs nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
import importlib
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer
import pytest

from custom_components.sinotrack.location.celldb import CellDatabase

from .helpers import FakeService


@pytest.fixture(autouse=True)
def _allow_sockets(request: pytest.FixtureRequest) -> None:
    """Real sockets on 127.0.0.1, with or without pytest-socket."""
    try:
        request.getfixturevalue("socket_enabled")
    except pytest.FixtureLookupError:
        return
    try:
        pytest_socket = importlib.import_module("pytest_socket")
    except ImportError:  # pragma: no cover - socket_enabled comes from pytest-socket
        return
    pytest_socket.socket_allow_hosts(["127.0.0.1"], allow_unix_socket=True)


@pytest.fixture(autouse=True)
def _close_cell_databases(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every cell database a test opens is closed after it, as the integration closes its
    own (no connection left for the garbage collector)."""
    opened: list[CellDatabase] = []
    original = CellDatabase.__init__

    def tracked(self: CellDatabase, database: Path) -> None:
        original(self, database)
        opened.append(self)

    monkeypatch.setattr(CellDatabase, "__init__", tracked)
    yield
    for database in opened:
        database.close()


@pytest.fixture
async def service() -> AsyncIterator[tuple[FakeService, str]]:
    """A fake geolocate + Nominatim server on 127.0.0.1 and its base URL."""
    fake = FakeService()
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    try:
        yield fake, str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A client session, as Home Assistant's shared one would be."""
    async with aiohttp.ClientSession() as client:
        yield client
