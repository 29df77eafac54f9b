"""Diagnostics of an entry: what a user attaches to an issue, with nothing that locates them."""

from __future__ import annotations

import json
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_PORT
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion
from syrupy.matchers import path_type

from tests.support.hass import TRACKER_ID, make_entry, setup_entry
from tests.support.net import occupied_port

from .conftest import TrackerFactory
from .flow_helpers import v1_frame


@pytest.mark.freeze_time("2026-03-04T05:06:07+00:00")
async def test_diagnostics_redacted(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    loaded_entry: MockConfigEntry,
    connect: TrackerFactory,
    snapshot: SnapshotAssertion,
) -> None:
    tracker = await connect(loaded_entry)
    await tracker.send(v1_frame(TRACKER_ID))
    await tracker.read_until(b"#")
    await hass.async_block_till_done()

    diagnostics: dict[str, Any] = await get_diagnostics_for_config_entry(
        hass, hass_client, loaded_entry
    )

    text = json.dumps(diagnostics)
    # Nothing that identifies or locates the tracker: its ID (or IMEI), its position, the
    # address it connects from, the name the user gave it.
    for secret in (TRACKER_ID, "9.9397", "84.1117", "0956.3869", "08406.7068", "Car"):
        assert secret not in text
    port = loaded_entry.data[CONF_PORT]
    assert diagnostics["entry"]["data"][CONF_PORT] == port
    assert diagnostics["listener"]["addresses"] == [f"127.0.0.1:{port}"]
    assert diagnostics["tracker"]["connected"] is True
    assert diagnostics["listener"]["tracker"]["frames"] == 1
    # The port is an ephemeral one, and the connection cap follows the process's open-file
    # limit: the snapshot records only that they are numbers.
    assert diagnostics == snapshot(
        matcher=path_type(
            {
                "entry.data.port": (int,),
                "listener.config.port": (int,),
                "listener.config.max_connections": (int,),
                "listener.addresses.0": (str,),
            }
        )
    )


async def test_diagnostics_of_entry_waiting_for_its_port(
    hass: HomeAssistant, hass_client: ClientSessionGenerator
) -> None:
    """Diagnostics still download when the entry could not listen (when they help most)."""
    with occupied_port() as busy:
        entry = make_entry(port=busy)
        await setup_entry(hass, entry)
        assert entry.state is ConfigEntryState.SETUP_RETRY

        diagnostics: dict[str, Any] = await get_diagnostics_for_config_entry(
            hass, hass_client, entry
        )

    assert diagnostics["entry"]["state"] == "setup_retry"
    assert diagnostics["entry"]["data"][CONF_PORT] == busy
    assert diagnostics["tracker"] is None
    assert diagnostics["listener"] == {}
    assert TRACKER_ID not in json.dumps(diagnostics)
