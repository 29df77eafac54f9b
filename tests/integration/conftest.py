"""Fixtures for the Home Assistant integration tests.

The integration runs for real: a real listener on 127.0.0.1 (an ephemeral port), real
frames sent by a TCP client, entities read from ``hass.states``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
import contextlib
from typing import Any

from homeassistant.const import CONF_PORT
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion

from custom_components.sinotrack.const import (
    CONF_ALLOW_ENGINE_COMMANDS,
    CONF_ALLOW_INVALID_FIX,
    CONF_BIND_ADDRESS,
    CONF_JT808_UTC_OFFSET,
    CONF_OFFLINE_TIMEOUT,
    CONF_TRACKER_ID,
    DOMAIN,
)
from tools.devhass.config import free_port

TRACKER_ID = "4210051415"
READ_TIMEOUT = 5.0


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom_components/sinotrack."""


@pytest.fixture(autouse=True)
def _sockets(socket_enabled: None) -> None:
    """The listener binds real sockets on 127.0.0.1."""


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Snapshots in Home Assistant's format (tests/integration/snapshots/*.ambr)."""
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


def make_entry(
    tracker_id: str = TRACKER_ID, port: int | None = None, **options: Any
) -> MockConfigEntry:
    return MockConfigEntry(
        domain=DOMAIN,
        title="Car",
        unique_id=tracker_id,
        data={
            CONF_TRACKER_ID: tracker_id,
            CONF_PORT: port or free_port(),
            CONF_BIND_ADDRESS: "127.0.0.1",
        },
        options={
            CONF_OFFLINE_TIMEOUT: 30,
            CONF_JT808_UTC_OFFSET: 8.0,
            CONF_ALLOW_INVALID_FIX: False,
            CONF_ALLOW_ENGINE_COMMANDS: False,
            **options,
        },
    )


@pytest.fixture
def config_entry() -> MockConfigEntry:
    return make_entry()


@pytest.fixture
async def loaded_entry(hass: HomeAssistant, config_entry: MockConfigEntry) -> MockConfigEntry:
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    return config_entry


class Tracker:
    """A TCP client playing the tracker: sends frames, reads what the server sends back."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def read_until(self, marker: bytes) -> bytes:
        async with asyncio.timeout(READ_TIMEOUT):
            return await self.reader.readuntil(marker)

    async def read_jt808(self) -> bytes:
        """One JT/T 808 frame, delimiters included."""
        async with asyncio.timeout(READ_TIMEOUT):
            await self.reader.readuntil(b"\x7e")
            return b"\x7e" + await self.reader.readuntil(b"\x7e")

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError, ConnectionError):
            await self.writer.wait_closed()


type TrackerFactory = Callable[[MockConfigEntry], Awaitable[Tracker]]


@pytest.fixture
async def connect(hass: HomeAssistant) -> AsyncIterator[TrackerFactory]:
    """Open a tracker connection to the listener of an entry."""
    opened: list[Tracker] = []

    async def factory(entry: MockConfigEntry) -> Tracker:
        reader, writer = await asyncio.open_connection("127.0.0.1", entry.data[CONF_PORT])
        tracker = Tracker(reader, writer)
        opened.append(tracker)
        return tracker

    yield factory
    for tracker in opened:
        await tracker.close()


async def wait_for(hass: HomeAssistant, condition: Callable[[], bool]) -> None:
    """Let the loop run until ``condition()`` holds (at most ``READ_TIMEOUT`` seconds)."""
    async with asyncio.timeout(READ_TIMEOUT):
        while not condition():
            await asyncio.sleep(0.01)
            await hass.async_block_till_done()
