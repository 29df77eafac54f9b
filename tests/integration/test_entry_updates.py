"""Changes to an entry reach its running tracker through the entry's update listener: a new
name renames the device with the tracker still connected, a new port reloads the entry,
and an entry waiting for its port is set up again when it is given another one."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_NAME, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr

from custom_components.sinotrack.const import CONF_ADVANCED, CONF_BIND_ADDRESS
from tests.support.hass import TRACKER_ID, load_entry, make_entry, setup_entry
from tests.support.net import free_port, occupied_port, port_accepts

from .conftest import TrackerFactory
from .flow_helpers import state_of, v1_frame


def reconfigure_input(port: int, name: str) -> dict[str, object]:
    return {CONF_NAME: name, CONF_PORT: port, CONF_ADVANCED: {CONF_BIND_ADDRESS: "127.0.0.1"}}


async def test_a_new_name_renames_the_device_without_a_reload(
    hass: HomeAssistant, connect: TrackerFactory
) -> None:
    entry = make_entry()
    await load_entry(hass, entry)
    runtime = entry.runtime_data
    tracker = await connect(entry)
    await tracker.send(v1_frame(TRACKER_ID))
    await tracker.read_until(b"#")

    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], reconfigure_input(entry.data[CONF_PORT], "Van")
    )
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.title == "Van"
    assert entry.runtime_data is runtime  # not reloaded
    (device,) = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
    assert device.name == "Van"
    assert tracker.writer.transport.is_closing() is False
    await tracker.send(v1_frame(TRACKER_ID))  # the same connection is still served
    await tracker.read_until(b"#")


async def test_an_entry_waiting_for_its_port_is_set_up_on_a_new_one(
    hass: HomeAssistant,
) -> None:
    with occupied_port() as busy:
        entry = make_entry(port=busy)
        await setup_entry(hass, entry)
        assert entry.state is ConfigEntryState.SETUP_RETRY

        new_port = free_port()
        result = await entry.start_reconfigure_flow(hass)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], reconfigure_input(new_port, "Car")
        )
        await hass.async_block_till_done()

    assert result["type"] is FlowResultType.ABORT
    assert entry.data[CONF_PORT] == new_port
    assert state_of(entry) is ConfigEntryState.LOADED
    assert await port_accepts(new_port)
