"""The config flow: add a tracker, adopt a discovered one, reconfigure it, change its options.

Every test runs the flow through Home Assistant's flow manager, as the UI does, with real
listeners on 127.0.0.1; only the source-IP lookup of the network integration (a UDP socket
towards the internet) is replaced.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast
from unittest.mock import AsyncMock

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import (
    SOURCE_INTEGRATION_DISCOVERY,
    ConfigEntryState,
    ConfigFlowResult,
)
from homeassistant.const import CONF_NAME, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sinotrack.const import (
    CONF_ADVANCED,
    CONF_ALLOW_ENGINE_COMMANDS,
    CONF_ALLOW_INVALID_FIX,
    CONF_ALLOWED_NETWORKS,
    CONF_BIND_ADDRESS,
    CONF_JT808_UTC_OFFSET,
    CONF_OFFLINE_TIMEOUT,
    CONF_STOP_TIME,
    CONF_TRACKER_ID,
    DOMAIN,
)
from custom_components.sinotrack.options_flow import nest_options
from custom_components.sinotrack.runtime import SinotrackConfigEntry
from tests.support.defaults import DEFAULT_PORT, LOOPBACK
from tests.support.frames import OTHER_ID
from tests.support.hass import (
    DEFAULT_OPTIONS,
    TRACKER_ID,
    load_entry,
    make_entry,
    setup_entry,
    wait_for,
)
from tests.support.net import free_port, occupied_port, port_accepts

from .conftest import SOURCE_IP, TrackerFactory
from .flow_helpers import assert_flow_title, assert_translated, start_tracker_flow, v1_frame

pytestmark = pytest.mark.usefixtures("source_ip")


def user_input(
    tracker_id: str = TRACKER_ID,
    port: int | None = None,
    host: str = LOOPBACK,
    name: str = "Car",
) -> dict[str, Any]:
    return {
        CONF_NAME: name,
        CONF_TRACKER_ID: tracker_id,
        CONF_PORT: free_port() if port is None else port,
        CONF_ADVANCED: {CONF_BIND_ADDRESS: host},
    }


def reconfigure_input(port: int, host: str = LOOPBACK, name: str = "Car") -> dict[str, Any]:
    return {CONF_NAME: name, CONF_PORT: port, CONF_ADVANCED: {CONF_BIND_ADDRESS: host}}


async def start_user_flow(hass: HomeAssistant) -> ConfigFlowResult:
    result = await start_tracker_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert not result["errors"]
    assert_translated(result)
    return result


async def submit(
    hass: HomeAssistant, result: ConfigFlowResult, data: dict[str, Any]
) -> ConfigFlowResult:
    result = await hass.config_entries.flow.async_configure(result["flow_id"], data)
    await hass.async_block_till_done()
    assert_translated(result)
    return result


async def submit_user(
    hass: HomeAssistant, result: ConfigFlowResult, data: dict[str, Any]
) -> ConfigFlowResult:
    """Submit the user form; once it is accepted, choose "Finish now" in the next step."""
    result = await submit(hass, result, data)
    if result["type"] is FlowResultType.MENU:
        assert result["step_id"] == "connect"
        assert result["menu_options"] == ["wait", "finish"]
        result = await submit(hass, result, {"next_step_id": "finish"})
    return result


def entry_of(result: ConfigFlowResult) -> SinotrackConfigEntry:
    """The entry a flow created (a real ConfigEntry, which ``connect`` accepts as well)."""
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry: SinotrackConfigEntry = result["result"]
    assert entry.domain == DOMAIN
    return entry


# -- user step --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "tracker_id"),
    [
        ("4210051415", "4210051415"),  # the 10-digit ID on the label
        (" 421-005 1415 ", "4210051415"),  # spaces and dashes as copied from an SMS
        ("868120145233604", "868120145233604"),  # 15-digit IMEI
        ("13912345678", "13912345678"),  # 11-digit JT/T 808 terminal number
        ("009180271064", "9180271064"),  # 12-digit BCD terminal number, zero padded
        ("00000000004210051415", "4210051415"),  # 20-digit terminal number, zero padded
    ],
)
async def test_user_creates_entry(hass: HomeAssistant, typed: str, tracker_id: str) -> None:
    """Name, ID and port → an entry whose unique ID is the normalised tracker ID."""
    result = await start_user_flow(hass)
    port = free_port()

    result = await submit_user(hass, result, user_input(typed, port))

    entry = entry_of(result)
    assert result["title"] == "Car"
    assert result["data"] == {
        CONF_TRACKER_ID: tracker_id,
        CONF_PORT: port,
        CONF_BIND_ADDRESS: "127.0.0.1",
    }
    assert result["options"] == DEFAULT_OPTIONS
    assert entry.unique_id == tracker_id
    # What to do next: forward the port to Home Assistant and point the tracker at it.
    assert result["description_placeholders"] == {
        "host": SOURCE_IP,
        "port": str(port),
        "tracker_id": tracker_id,
    }
    assert entry.state is ConfigEntryState.LOADED
    assert await port_accepts(port)


async def test_user_entry_receives_its_tracker(
    hass: HomeAssistant, connect: TrackerFactory
) -> None:
    """The ID as typed by the user matches the ID the tracker sends."""
    result = await start_user_flow(hass)
    entry = entry_of(await submit_user(hass, result, user_input("421-005-1415")))

    tracker = await connect(cast("MockConfigEntry", entry))
    await tracker.send(v1_frame(TRACKER_ID))
    assert (await tracker.read_until(b"#")).startswith(b"*HQ,4210051415,V4,V1,")
    await hass.async_block_till_done()

    assert entry.runtime_data.state.last_seen is not None
    assert hass.config_entries.flow.async_progress() == []  # not "discovered" as unknown


async def test_create_entry_without_source_ip(hass: HomeAssistant, source_ip: AsyncMock) -> None:
    """If Home Assistant's address cannot be found, the text still tells what to forward."""
    source_ip.side_effect = HomeAssistantError("no IPv4 address")
    result = await start_user_flow(hass)

    result = await submit_user(hass, result, user_input())

    assert result["type"] is FlowResultType.CREATE_ENTRY
    placeholders = result["description_placeholders"]
    assert placeholders is not None
    assert placeholders["host"] == "<Home Assistant's IP address>"


@pytest.mark.parametrize(
    "bad_id",
    [
        "",
        "421005141",  # 9 digits
        "123456789012345678901",  # 21 digits
        "42100514AB",
        "+4210051415",
        "4210.051415",
    ],
)
async def test_user_invalid_id_then_fixed(hass: HomeAssistant, bad_id: str) -> None:
    result = await start_user_flow(hass)

    result = await submit_user(hass, result, user_input(bad_id))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_TRACKER_ID: "invalid_id"}

    result = await submit_user(hass, result, user_input(TRACKER_ID))
    assert entry_of(result).unique_id == TRACKER_ID


@pytest.mark.parametrize("bad_address", ["localhost", "300.1.1.1", "", "127.0.0.1:5013"])
async def test_user_invalid_bind_address_then_fixed(hass: HomeAssistant, bad_address: str) -> None:
    result = await start_user_flow(hass)

    result = await submit_user(hass, result, user_input(host=bad_address))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_ADVANCED: "invalid_address"}

    result = await submit_user(hass, result, user_input(host=" 127.0.0.1 "))
    assert entry_of(result).data[CONF_BIND_ADDRESS] == "127.0.0.1"


async def test_user_port_in_use_then_other_port(hass: HomeAssistant) -> None:
    """A port another program listens on is refused; another port works."""
    result = await start_user_flow(hass)
    with occupied_port() as busy:
        result = await submit_user(hass, result, user_input(port=busy))
        assert result["type"] is FlowResultType.FORM
        assert result["errors"] == {CONF_PORT: "cannot_bind"}

        port = free_port()
        result = await submit_user(hass, result, user_input(port=port))
    entry = entry_of(result)
    assert entry.data[CONF_PORT] == port
    assert entry.state is ConfigEntryState.LOADED


async def test_user_port_shared_with_another_tracker(
    hass: HomeAssistant, connect: TrackerFactory
) -> None:
    """A port this integration listens on already is fine: both trackers use it."""
    first = make_entry()
    await load_entry(hass, first)
    port = first.data[CONF_PORT]

    result = await start_user_flow(hass)
    result = await submit_user(hass, result, user_input(OTHER_ID, port, name="Van"))
    second = entry_of(result)
    assert second.data[CONF_PORT] == port
    assert second.state is ConfigEntryState.LOADED

    for entry, tracker_id in ((first, TRACKER_ID), (second, OTHER_ID)):
        tracker = await connect(cast("MockConfigEntry", entry))
        await tracker.send(v1_frame(tracker_id))
        await tracker.read_until(b"#")
    await hass.async_block_till_done()
    assert first.runtime_data.state.connected
    assert second.runtime_data.state.connected
    assert first.runtime_data.state.last_seen is not None
    assert second.runtime_data.state.last_seen is not None


async def test_user_second_tracker_joins_port_whatever_the_form_address(
    hass: HomeAssistant, connect: TrackerFactory
) -> None:
    """The first tracker listens on 127.0.0.1; a second one added on its port with the
    form's default bind address joins it (the form says which address the port uses)."""
    first = make_entry()
    await load_entry(hass, first)
    port = first.data[CONF_PORT]

    result = await start_user_flow(hass)
    placeholders = result["description_placeholders"]
    assert placeholders is not None
    assert placeholders["ports_in_use"] == f"{port} on 127.0.0.1"
    schema = result["data_schema"]
    assert schema is not None
    form_default = schema({CONF_TRACKER_ID: OTHER_ID, CONF_ADVANCED: {}})[CONF_ADVANCED]
    assert form_default == {CONF_BIND_ADDRESS: "::"}  # the default: every address

    result = await submit_user(
        hass, result, {**user_input(OTHER_ID, port, name="Van"), CONF_ADVANCED: form_default}
    )

    second = entry_of(result)
    assert second.data[CONF_BIND_ADDRESS] == "127.0.0.1"
    assert second.state is ConfigEntryState.LOADED
    assert second.runtime_data.listener is first.runtime_data.listener
    tracker = await connect(cast("MockConfigEntry", second))
    await tracker.send(v1_frame(OTHER_ID))
    await tracker.read_until(b"#")
    await hass.async_block_till_done()
    assert second.runtime_data.state.last_seen is not None


async def test_user_form_offers_the_address_in_use_on_the_default_port(
    hass: HomeAssistant,
) -> None:
    make_entry(port=DEFAULT_PORT).add_to_hass(hass)  # stored on 127.0.0.1, not running

    result = await start_user_flow(hass)

    schema = result["data_schema"]
    assert schema is not None
    shown = schema({CONF_TRACKER_ID: OTHER_ID, CONF_ADVANCED: {}})
    assert shown[CONF_ADVANCED] == {CONF_BIND_ADDRESS: "127.0.0.1"}


async def test_user_every_error_at_once_and_none_left_when_fixed(hass: HomeAssistant) -> None:
    """One submit shows the error of every wrong field; a corrected field loses its error."""
    result = await start_user_flow(hass)

    result = await submit_user(hass, result, user_input("42100", host="my-server"))
    assert result["errors"] == {CONF_TRACKER_ID: "invalid_id", CONF_ADVANCED: "invalid_address"}

    with occupied_port() as busy:
        result = await submit_user(hass, result, user_input("42100", port=busy))
        assert result["errors"] == {CONF_TRACKER_ID: "invalid_id", CONF_PORT: "cannot_bind"}

        result = await submit_user(hass, result, user_input(TRACKER_ID, port=busy))
        assert result["errors"] == {CONF_PORT: "cannot_bind"}

    result = await submit_user(hass, result, user_input(TRACKER_ID))
    assert entry_of(result).unique_id == TRACKER_ID


@pytest.mark.parametrize("typed", ["4210051415", "0421-005-1415"])
async def test_user_already_configured(hass: HomeAssistant, typed: str) -> None:
    make_entry().add_to_hass(hass)
    result = await start_user_flow(hass)

    result = await submit_user(hass, result, user_input(typed))

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1


async def test_user_adds_tracker_while_it_is_discovered(hass: HomeAssistant) -> None:
    """Adding a tracker by hand while its discovery waits for confirmation works."""
    port = free_port()
    discovered = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_INTEGRATION_DISCOVERY},
        data=discovery_data(OTHER_ID, port),
    )
    assert discovered["type"] is FlowResultType.FORM

    result = await start_user_flow(hass)
    result = await submit_user(hass, result, user_input(OTHER_ID, port))

    assert entry_of(result).unique_id == OTHER_ID
    assert hass.config_entries.flow.async_progress() == []


# -- discovery --------------------------------------------------------------------------------


def discovery_data(tracker_id: str, port: int, protocol: str = "h02") -> dict[str, Any]:
    return {
        CONF_TRACKER_ID: tracker_id,
        CONF_PORT: port,
        CONF_BIND_ADDRESS: "127.0.0.1",
        "protocol": protocol,
    }


async def test_discovery_confirmed(hass: HomeAssistant) -> None:
    port = free_port()
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_INTEGRATION_DISCOVERY},
        data=discovery_data(OTHER_ID, port),
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "discovery_confirm"
    assert result["description_placeholders"] == {
        "tracker_id": OTHER_ID,
        "port": str(port),
        "protocol": "H02",
    }
    assert_translated(result)
    (progress,) = hass.config_entries.flow.async_progress()
    assert assert_flow_title(progress) == f"Sinotrack tracker {OTHER_ID}"

    result = await submit(hass, result, {CONF_NAME: "Van"})

    entry = entry_of(result)
    assert entry.title == "Van"
    assert entry.unique_id == OTHER_ID
    assert entry.data == {
        CONF_TRACKER_ID: OTHER_ID,
        CONF_PORT: port,
        CONF_BIND_ADDRESS: "127.0.0.1",
    }
    assert entry.options == DEFAULT_OPTIONS
    assert entry.state is ConfigEntryState.LOADED


async def test_discovery_of_configured_tracker(hass: HomeAssistant) -> None:
    entry = make_entry()
    entry.add_to_hass(hass)

    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_INTEGRATION_DISCOVERY},
        data=discovery_data("0" + TRACKER_ID, entry.data[CONF_PORT], "jt808"),
    )

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert_translated(result)


async def test_discovery_already_in_progress(hass: HomeAssistant) -> None:
    """The same tracker found on a second port: one confirmation, not two."""
    for _ in range(2):
        result = await hass.config_entries.flow.async_init(
            DOMAIN,
            context={"source": SOURCE_INTEGRATION_DISCOVERY},
            data=discovery_data(OTHER_ID, free_port()),
        )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_in_progress"
    assert_translated(result)
    assert len(hass.config_entries.flow.async_progress()) == 1


async def test_unknown_tracker_is_discovered(
    hass: HomeAssistant, connect: TrackerFactory, freezer: FrozenDateTimeFactory
) -> None:
    """A tracker no entry owns connects to a running listener and keeps reporting for 30 s
    (the listener's discovery delay): Home Assistant offers it."""
    entry = make_entry()
    await load_entry(hass, entry)
    tracker = await connect(entry)
    await tracker.send(v1_frame(OTHER_ID))
    await tracker.read_until(b"#")
    freezer.tick(timedelta(seconds=31))
    await tracker.send(v1_frame(OTHER_ID))
    await tracker.read_until(b"#")

    def discovered() -> list[Any]:
        return [
            flow
            for flow in hass.config_entries.flow.async_progress()
            if flow["context"].get("unique_id") == OTHER_ID
        ]

    await wait_for(hass, lambda: bool(discovered()))
    (flow,) = discovered()
    assert flow["context"]["source"] == SOURCE_INTEGRATION_DISCOVERY
    assert flow["step_id"] == "discovery_confirm"
    assert assert_flow_title(flow) == f"Sinotrack tracker {OTHER_ID}"
    assert entry.runtime_data.state.last_seen is None  # another tracker's frame

    result = await hass.config_entries.flow.async_configure(flow["flow_id"], {CONF_NAME: "Van"})
    await hass.async_block_till_done()
    new = entry_of(result)
    assert new.data[CONF_PORT] == entry.data[CONF_PORT]
    assert new.state is ConfigEntryState.LOADED
    # The tracker is still connected and now belongs to the new entry.
    assert new.runtime_data.state.connected
    await tracker.send(v1_frame(OTHER_ID))
    await tracker.read_until(b"#")
    await hass.async_block_till_done()
    assert new.runtime_data.state.last_seen is not None


# -- reconfigure ------------------------------------------------------------------------------


async def start_reconfigure(hass: HomeAssistant, entry: MockConfigEntry) -> ConfigFlowResult:
    result = await entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"
    placeholders = result["description_placeholders"]
    assert placeholders is not None
    assert placeholders["tracker_id"] == TRACKER_ID
    port = entry.data[CONF_PORT]
    assert f"{port} on {entry.data[CONF_BIND_ADDRESS]}" in placeholders["ports_in_use"]
    assert_translated(result)
    return result


async def test_reconfigure_name_and_port(hass: HomeAssistant, connect: TrackerFactory) -> None:
    """The listener moves to the new port: the old one closes, the new one serves."""
    entry = make_entry()
    await load_entry(hass, entry)
    old_port = entry.data[CONF_PORT]
    new_port = free_port()

    result = await start_reconfigure(hass, entry)
    result = await submit(hass, result, reconfigure_input(new_port, name="Van"))

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.title == "Van"
    assert entry.data == {
        CONF_TRACKER_ID: TRACKER_ID,
        CONF_PORT: new_port,
        CONF_BIND_ADDRESS: "127.0.0.1",
    }
    assert entry.state is ConfigEntryState.LOADED
    (device,) = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
    assert device.name == "Van"
    assert not await port_accepts(old_port)
    tracker = await connect(entry)
    await tracker.send(v1_frame(TRACKER_ID))
    await tracker.read_until(b"#")
    await hass.async_block_till_done()
    assert entry.runtime_data.state.last_seen is not None


async def test_reconfigure_bind_address_on_same_port(hass: HomeAssistant) -> None:
    """The entry's own listener does not stop it from listening on another address."""
    entry = make_entry()
    await load_entry(hass, entry)
    port = entry.data[CONF_PORT]

    result = await start_reconfigure(hass, entry)
    result = await submit(hass, result, reconfigure_input(port, host="0.0.0.0"))

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_BIND_ADDRESS] == "0.0.0.0"
    assert entry.state is ConfigEntryState.LOADED
    assert await port_accepts(port)


async def test_reconfigure_address_of_shared_port_moves_every_tracker(
    hass: HomeAssistant, connect: TrackerFactory
) -> None:
    """A new bind address for a port other trackers share: a second step names them; once
    confirmed, the port listens on the new address for all of them."""
    entry = make_entry()
    await load_entry(hass, entry)
    port = entry.data[CONF_PORT]
    other = make_entry(OTHER_ID, port)
    await load_entry(hass, other)
    hass.config_entries.async_update_entry(other, title="Van")
    elsewhere = make_entry("4210051417")
    await load_entry(hass, elsewhere)

    result = await start_reconfigure(hass, entry)
    result = await submit(hass, result, reconfigure_input(port, host="::", name="Car 2"))

    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure_shared"
    assert result["description_placeholders"] == {
        "port": str(port),
        "old_host": "127.0.0.1",
        "host": "::",
        "trackers": "Van",
    }
    assert entry.data[CONF_BIND_ADDRESS] == "127.0.0.1"  # nothing changed yet

    result = await submit(hass, result, {})

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.title == "Car 2"
    for moved in (entry, other):
        assert moved.data[CONF_BIND_ADDRESS] == "::"
        assert moved.state is ConfigEntryState.LOADED
    listener = entry.runtime_data.listener
    assert listener is not None
    assert listener is other.runtime_data.listener
    assert listener.config.host == "::"
    assert elsewhere.data[CONF_BIND_ADDRESS] == "127.0.0.1"  # another port: untouched
    tracker = await connect(other)
    await tracker.send(v1_frame(OTHER_ID))
    await tracker.read_until(b"#")
    await hass.async_block_till_done()
    assert other.runtime_data.state.last_seen is not None


async def test_reconfigure_errors_then_fixed(hass: HomeAssistant) -> None:
    entry = make_entry()
    await load_entry(hass, entry)
    result = await start_reconfigure(hass, entry)

    with occupied_port() as busy:
        result = await submit(hass, result, reconfigure_input(busy))
        assert result["type"] is FlowResultType.FORM
        assert result["errors"] == {CONF_PORT: "cannot_bind"}

    result = await submit(hass, result, reconfigure_input(free_port(), host="my-server"))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_ADVANCED: "invalid_address"}

    new_port = free_port()
    result = await submit(hass, result, reconfigure_input(new_port))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_PORT] == new_port
    assert entry.state is ConfigEntryState.LOADED
    assert await port_accepts(new_port)


async def test_reconfigure_onto_shared_port(hass: HomeAssistant) -> None:
    entry = make_entry()
    await load_entry(hass, entry)
    other = make_entry(OTHER_ID)
    await load_entry(hass, other)

    result = await start_reconfigure(hass, entry)
    result = await submit(hass, result, reconfigure_input(other.data[CONF_PORT]))

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.listener is other.runtime_data.listener


async def test_reconfigure_unchanged_port_is_not_checked(hass: HomeAssistant) -> None:
    """Renaming a tracker whose port is taken right now is allowed (no bind check)."""
    with occupied_port() as busy:
        entry = make_entry(port=busy)
        await setup_entry(hass, entry)
        assert entry.state is ConfigEntryState.SETUP_RETRY

        result = await start_reconfigure(hass, entry)
        result = await submit(hass, result, reconfigure_input(busy, name="Van"))

        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "reconfigure_successful"
        assert entry.title == "Van"
        assert entry.state is ConfigEntryState.SETUP_RETRY


# -- options ----------------------------------------------------------------------------------

NEW_OPTIONS = {
    CONF_OFFLINE_TIMEOUT: 5,
    CONF_JT808_UTC_OFFSET: -3.5,
    CONF_ALLOW_INVALID_FIX: True,
    CONF_ALLOW_ENGINE_COMMANDS: True,
}
INVALID_FIX = (
    b"*HQ,4210051415,V1,164649,V,1000.0000,N,08400.0000,W,000.00,000,221215,FFFFFBFF,712,01,0,0,6#"
)


async def change_options(hass: HomeAssistant, entry: MockConfigEntry) -> ConfigFlowResult:
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "init"
    assert_translated(result, "options")
    schema = result["data_schema"]
    assert schema is not None
    shown = {str(key) for key in schema.schema}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        nest_options({key: value for key, value in NEW_OPTIONS.items() if key in shown}),
    )
    await hass.async_block_till_done()
    assert_translated(result, "options")
    assert result["type"] is FlowResultType.CREATE_ENTRY
    return result


async def test_options_apply_without_reload(hass: HomeAssistant, connect: TrackerFactory) -> None:
    entry = make_entry()
    await load_entry(hass, entry)
    runtime = entry.runtime_data
    assert not runtime.allow_engine_commands  # off by default
    tracker = await connect(entry)
    await tracker.send(v1_frame(TRACKER_ID))
    await tracker.read_until(b"#")

    await change_options(hass, entry)

    # The tracker reported in H02: the JT/T 808 time zone was not shown and stays as it was.
    assert entry.options == {
        **NEW_OPTIONS,
        CONF_JT808_UTC_OFFSET: 8.0,
        CONF_ALLOWED_NETWORKS: [],
        CONF_STOP_TIME: 5,  # the form's default
    }
    assert entry.runtime_data is runtime  # not reloaded
    assert tracker.writer.transport.is_closing() is False
    assert runtime.offline_timeout == timedelta(minutes=5)
    assert runtime.jt808_utc_offset == 8.0
    assert runtime.allow_invalid_fix
    assert runtime.allow_engine_commands
    # An invalid fix now moves the tracker, on the connection that stayed open.
    await tracker.send(INVALID_FIX)
    await tracker.read_until(b"#")
    await hass.async_block_till_done()
    assert runtime.state.latitude == pytest.approx(10.0)


async def test_options_of_entry_not_loaded(hass: HomeAssistant) -> None:
    """Options saved while the entry is not loaded are used when it loads."""
    entry = make_entry()
    entry.add_to_hass(hass)

    await change_options(hass, entry)
    assert entry.state is ConfigEntryState.NOT_LOADED

    await load_entry(hass, entry)
    assert entry.runtime_data.offline_timeout == timedelta(minutes=5)
    assert entry.runtime_data.allow_engine_commands


async def test_options_form_shows_current_values(hass: HomeAssistant) -> None:
    entry = make_entry(offline_timeout=45, allow_invalid_fix=True)
    entry.add_to_hass(hass)

    result = await hass.config_entries.options.async_init(entry.entry_id)

    schema = result["data_schema"]
    assert schema is not None
    suggested = {
        str(key): key.description["suggested_value"]
        for key in schema.schema
        if key.description and "suggested_value" in key.description
    }
    assert suggested == {
        CONF_OFFLINE_TIMEOUT: 45,
        CONF_JT808_UTC_OFFSET: 8.0,
        CONF_ALLOW_INVALID_FIX: True,
        CONF_ALLOW_ENGINE_COMMANDS: False,
    }


def option_fields(result: ConfigFlowResult) -> set[str]:
    schema = result["data_schema"]
    assert schema is not None
    return {str(key) for key in schema.schema}


async def test_options_hide_the_jt808_zone_for_an_h02_tracker(
    hass: HomeAssistant, connect: TrackerFactory
) -> None:
    """Before the first report the JT/T 808 time zone is shown (its text says it applies to
    JT/T 808 only); once the tracker reported in H02 it is hidden."""
    entry = make_entry()
    await load_entry(hass, entry)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert CONF_JT808_UTC_OFFSET in option_fields(result)
    hass.config_entries.options.async_abort(result["flow_id"])

    tracker = await connect(entry)
    await tracker.send(v1_frame(TRACKER_ID))
    await tracker.read_until(b"#")
    await hass.async_block_till_done()

    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert_translated(result, "options")
    assert CONF_JT808_UTC_OFFSET not in option_fields(result)
    assert CONF_OFFLINE_TIMEOUT in option_fields(result)


async def test_options_show_the_jt808_zone_for_a_jt808_tracker(
    hass: HomeAssistant, connect: TrackerFactory
) -> None:
    entry = make_entry("51160004464")
    await load_entry(hass, entry)
    tracker = await connect(entry)
    await tracker.send(JT808_LOCATION)
    await tracker.recv_jt808()
    await hass.async_block_till_done()

    result = await hass.config_entries.options.async_init(entry.entry_id)

    assert CONF_JT808_UTC_OFFSET in option_fields(result)


@pytest.mark.parametrize("port", [0, 65536])
async def test_user_port_out_of_range(hass: HomeAssistant, port: int) -> None:
    """The form itself refuses a port outside 1-65535."""
    result = await start_user_flow(hass)

    with pytest.raises(InvalidData):
        await hass.config_entries.flow.async_configure(result["flow_id"], user_input(port=port))


# A JT/T 808 location report (0x0200) from terminal 051160004464, clock 2020-08-07 18:07:22.
JT808_LOCATION = bytes.fromhex(
    "7e02000048051160004464000d00000000000c00020159885e06cbf344000000000000200807180722"
    "01040000000130011c310109e4020063e50100e60100e7080000000000000000ee0a01cc01262c009a"
    "6743001e7e"
)


async def test_jt808_offset_applies_to_connected_tracker(
    hass: HomeAssistant, connect: TrackerFactory
) -> None:
    """A new JT/T 808 time zone applies to the tracker's next report, not its next connection."""
    entry = make_entry("51160004464")
    await load_entry(hass, entry)
    runtime = entry.runtime_data
    tracker = await connect(entry)
    await tracker.send(JT808_LOCATION)
    await tracker.recv_jt808()
    await hass.async_block_till_done()
    assert runtime.state.newest == datetime(2020, 8, 7, 10, 7, 22, tzinfo=UTC).timestamp()

    result = await hass.config_entries.options.async_init(entry.entry_id)
    await hass.config_entries.options.async_configure(
        result["flow_id"], nest_options({**entry.options, CONF_JT808_UTC_OFFSET: 0.0})
    )
    await tracker.send(JT808_LOCATION)
    await tracker.recv_jt808()
    await hass.async_block_till_done()

    assert runtime.state.newest == datetime(2020, 8, 7, 18, 7, 22, tzinfo=UTC).timestamp()
