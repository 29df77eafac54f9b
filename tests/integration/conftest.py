"""Fixtures for the Home Assistant integration tests.

The integration runs for real: a real listener on 127.0.0.1 (an ephemeral port), real
frames sent by a TCP client, entities read from ``hass.states``. Entries, frames and the
client come from ``tests/support`` (``hass``, ``frames``, ``client``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from unittest.mock import AsyncMock, patch

from homeassistant.const import CONF_PORT
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion

from tests.support.client import Client
from tests.support.hass import make_entry
from tests.support.plugin import ClientFactory

SOURCE_IP = "192.168.1.10"
"""Home Assistant's LAN address in the flow tests (see ``source_ip``)."""

type TrackerFactory = Callable[[MockConfigEntry], Awaitable[Client]]


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom_components/sinotrack."""


@pytest.fixture(autouse=True)
def _sockets(loopback_sockets: None) -> None:
    """The listener binds real sockets on 127.0.0.1."""


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Snapshots in Home Assistant's format (tests/integration/snapshots/*.ambr)."""
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


@pytest.fixture
def source_ip() -> Iterator[AsyncMock]:
    """Home Assistant's LAN address, ``SOURCE_IP`` (the network integration would ask the
    internet), which the flows tell the user to forward the tracker's port to."""
    with patch(
        "homeassistant.components.network.async_get_source_ip",
        AsyncMock(return_value=SOURCE_IP),
    ) as mock:
        yield mock


@pytest.fixture
def config_entry() -> MockConfigEntry:
    """The entry of tracker TRACKER_ID on a free port (not added to Home Assistant)."""
    return make_entry()


@pytest.fixture
async def loaded_entry(hass: HomeAssistant, config_entry: MockConfigEntry) -> MockConfigEntry:
    """``config_entry``, added and set up."""
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    return config_entry


@pytest.fixture
def connect(hass: HomeAssistant, connect: ClientFactory) -> TrackerFactory:
    """``await connect(entry)``: a tracker connection to the listener of an entry (closed
    at teardown, before Home Assistant stops)."""

    async def factory(entry: MockConfigEntry) -> Client:
        return await connect(entry.data[CONF_PORT])

    return factory
