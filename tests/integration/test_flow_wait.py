"""The user flow's last steps: "Wait for the tracker" (a progress step showing what arrives on
the port) or "Finish now"; and what a tracker that has not connected yet shows afterwards.

Real listeners on 127.0.0.1 and real frames, through Home Assistant's flow manager as the
frontend drives it (it asks for the flow again whenever the flow says it changed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import ConfigEntryState, ConfigFlowResult
from homeassistant.const import CONF_NAME, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, UnknownFlow
from homeassistant.helpers import issue_registry as ir
import pytest

from custom_components.sinotrack.const import (
    CONF_ADVANCED,
    CONF_BIND_ADDRESS,
    CONF_TRACKER_ID,
    DOMAIN,
    SETUP_URL,
)
from custom_components.sinotrack.runtime import SinotrackConfigEntry
from tests.support.client import Client
from tests.support.defaults import LOOPBACK
from tests.support.frames import OTHER_ID
from tests.support.hass import TRACKER_ID, load_entry, make_entry
from tests.support.net import free_port, port_accepts
from tests.support.wait import until

from .conftest import SOURCE_IP, TrackerFactory
from .flow_helpers import (
    assert_issue_translated,
    assert_translated,
    start_tracker_flow,
    v1_frame,
)

pytestmark = pytest.mark.usefixtures("source_ip")


async def menu_after_form(hass: HomeAssistant, port: int) -> ConfigFlowResult:
    """The user form filled in and accepted: the "connect" menu."""
    result = await start_tracker_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            CONF_NAME: "Car",
            CONF_TRACKER_ID: TRACKER_ID,
            CONF_PORT: port,
            CONF_ADVANCED: {CONF_BIND_ADDRESS: LOOPBACK},
        },
    )
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "connect"
    assert result["menu_options"] == ["wait", "finish"]
    assert result["description_placeholders"] == {
        "host": SOURCE_IP,
        "port": str(port),
        "tracker_id": TRACKER_ID,
    }
    assert_translated(result)
    return result


async def choose(hass: HomeAssistant, result: ConfigFlowResult, option: str) -> ConfigFlowResult:
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": option}
    )
    await hass.async_block_till_done()
    assert_translated(result)
    return result


async def current(hass: HomeAssistant, flow_id: str) -> ConfigFlowResult | None:
    """The flow as the frontend fetches it again, or None once it has ended."""
    try:
        result = await hass.config_entries.flow.async_configure(flow_id)
    except UnknownFlow:
        return None
    assert_translated(result)
    return result


async def shown_when(
    hass: HomeAssistant, flow_id: str, condition: Callable[[ConfigFlowResult | None], bool]
) -> ConfigFlowResult | None:
    """Fetch the flow as the frontend does (after each change it is told of) until
    ``condition`` holds for what it shows."""
    shown = await current(hass, flow_id)

    async def refresh() -> None:
        nonlocal shown
        await hass.async_block_till_done()
        shown = await current(hass, flow_id)

    await until(lambda: condition(shown), settle=refresh)
    return shown


def entries(hass: HomeAssistant) -> list[SinotrackConfigEntry]:
    return hass.config_entries.async_entries(DOMAIN)


async def open_tracker(port: int) -> Client:
    """A tracker connection to ``port`` that no fixture closes (the flow's port closes)."""
    return await Client.connect(port)


async def test_wait_shows_other_ids_then_creates_the_entry(hass: HomeAssistant) -> None:
    """While waiting, the port is open; a frame from another ID is shown with that ID (a
    typo is obvious); the tracker's first frame creates the entry, which keeps the
    tracker's connection."""
    port = free_port()
    result = await choose(hass, await menu_after_form(hass, port), "wait")
    flow_id = result["flow_id"]
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    assert result["step_id"] == "wait"
    assert result["progress_action"] == "wait"
    assert result["description_placeholders"] == {
        "tracker_id": TRACKER_ID,
        "port": str(port),
        "host": "127.0.0.1",
        "other_ids": "",
    }
    assert await port_accepts(port)
    assert entries(hass) == []

    stranger = await open_tracker(port)
    tracker = await open_tracker(port)
    try:
        await stranger.send(v1_frame(OTHER_ID))
        await stranger.read_until(b"#")  # answered, as any tracker is
        shown = await shown_when(
            hass, flow_id, lambda r: r is not None and r["progress_action"] == "wait_other_ids"
        )
        assert shown is not None
        placeholders = shown["description_placeholders"]
        assert placeholders is not None
        assert placeholders["other_ids"] == f"{OTHER_ID} (H02)"
        assert entries(hass) == []

        await tracker.send(v1_frame(TRACKER_ID))
        await tracker.read_until(b"#")
        assert await shown_when(hass, flow_id, lambda r: r is None) is None  # entry created
        (entry,) = entries(hass)
        assert entry.title == "Car"
        assert entry.data == {
            CONF_TRACKER_ID: TRACKER_ID,
            CONF_PORT: port,
            CONF_BIND_ADDRESS: "127.0.0.1",
        }
        assert entry.state is ConfigEntryState.LOADED
        runtime = entry.runtime_data
        assert runtime.state.connected  # the connection the flow saw, adopted by the entry
        issues = ir.async_get(hass)
        assert issues.async_get_issue(DOMAIN, f"never_connected_{entry.entry_id}") is None
        await tracker.send(v1_frame(TRACKER_ID))
        await tracker.read_until(b"#")
        await hass.async_block_till_done()
        assert runtime.state.last_seen is not None
        assert await port_accepts(port)
    finally:
        await stranger.close()
        await tracker.close()


async def test_wait_times_out_then_finish_now(hass: HomeAssistant) -> None:
    """Nothing arrives: the flow says so and still lets the user wait again or finish; the
    entry created shows at once that the tracker is waiting for its first connection."""
    port = free_port()
    with patch("custom_components.sinotrack.tracker_wait.WAIT_FOR_TRACKER", 0.0):
        result = await choose(hass, await menu_after_form(hass, port), "wait")
        flow_id = result["flow_id"]
        result_now = await shown_when(
            hass, flow_id, lambda r: r is not None and r["type"] is FlowResultType.MENU
        )
        assert result_now is not None
        assert result_now["step_id"] == "not_connected"
        assert result_now["menu_options"] == ["wait", "finish"]
        assert not await port_accepts(port)  # given back while the user decides

        again = await choose(hass, result_now, "wait")  # waits again (and times out again)
        assert again["type"] in (FlowResultType.SHOW_PROGRESS, FlowResultType.MENU)
        result_now = await shown_when(
            hass, flow_id, lambda r: r is not None and r["type"] is FlowResultType.MENU
        )
        assert result_now is not None
        assert result_now["step_id"] == "not_connected"

    result = await choose(hass, result_now, "finish")

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result.get("description") is None  # the default text: the set-up steps
    entry: SinotrackConfigEntry = result["result"]
    assert entry.state is ConfigEntryState.LOADED
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"never_connected_{entry.entry_id}")
    assert issue is not None
    assert issue.learn_more_url == SETUP_URL
    assert_issue_translated(issue)
    assert await port_accepts(port)


async def test_leaving_the_wait_closes_the_port(hass: HomeAssistant) -> None:
    """The port opened for the wait closes when the user closes the dialog."""
    port = free_port()
    result = await choose(hass, await menu_after_form(hass, port), "wait")
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    assert await port_accepts(port)

    hass.config_entries.flow.async_abort(result["flow_id"])
    await hass.async_block_till_done()

    assert entries(hass) == []
    assert not await port_accepts(port)


async def test_finish_now_creates_the_entry_with_the_setup_steps(hass: HomeAssistant) -> None:
    port = free_port()
    result = await choose(hass, await menu_after_form(hass, port), "finish")

    assert result["type"] is FlowResultType.CREATE_ENTRY
    placeholders: dict[str, Any] = dict(result["description_placeholders"] or {})
    assert placeholders == {"host": SOURCE_IP, "port": str(port), "tracker_id": TRACKER_ID}
    assert result["result"].state is ConfigEntryState.LOADED


async def test_wait_ends_at_once_for_a_tracker_connected_already(
    hass: HomeAssistant, connect: TrackerFactory
) -> None:
    """A tracker reporting on a shared port before it is added (not offered yet): waiting
    for it finds it at once, and the new entry adopts its connection."""
    first = make_entry()
    await load_entry(hass, first)
    port = first.data[CONF_PORT]
    tracker = await connect(first)
    await tracker.send(v1_frame(OTHER_ID))
    await tracker.read_until(b"#")

    result = await start_tracker_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            CONF_NAME: "Van",
            CONF_TRACKER_ID: OTHER_ID,
            CONF_PORT: port,
            CONF_ADVANCED: {CONF_BIND_ADDRESS: LOOPBACK},
        },
    )
    result = await choose(hass, result, "wait")

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result.get("description") == "connected"
    entry: SinotrackConfigEntry = result["result"]
    assert entry.runtime_data.state.connected
    await tracker.send(v1_frame(OTHER_ID))
    await tracker.read_until(b"#")
    await hass.async_block_till_done()
    assert entry.runtime_data.state.last_seen is not None
