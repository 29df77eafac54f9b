"""Set-up and unloading of entries: shared listeners, repair issues, removal, shutdown."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
import re
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.sinotrack.const import CONF_BIND_ADDRESS, DOMAIN, SETUP_URL
from tests.support.frames import JT808_ID, OTHER_ID, jt808_register
from tests.support.hass import TRACKER_ID, load_entry, make_entry, setup_entry
from tests.support.net import occupied_port, port_accepts

from .conftest import TrackerFactory
from .flow_helpers import TRANSLATIONS, assert_issue_translated, state_of, v1_frame

REPLY = re.compile(rb"\*HQ,(\d+),V4,V1,\d{14}#")


async def report(
    connect: TrackerFactory, entry: MockConfigEntry, tracker_id: str
) -> Callable[[], Awaitable[None]]:
    """Tracker ``tracker_id`` connects to ``entry``'s port and sends a position; returns
    how to send another one on that connection."""
    tracker = await connect(entry)

    async def send() -> None:
        await tracker.send(v1_frame(tracker_id))
        reply = REPLY.fullmatch(await tracker.read_until(b"#"))
        assert reply is not None
        assert reply.group(1).decode() == tracker_id

    await send()
    return send


def port_issue(issue_registry: ir.IssueRegistry, entry: MockConfigEntry) -> ir.IssueEntry | None:
    return issue_registry.async_get_issue(DOMAIN, f"port_unavailable_{entry.entry_id}")


def never_connected_issue(
    issue_registry: ir.IssueRegistry, entry: MockConfigEntry
) -> ir.IssueEntry | None:
    return issue_registry.async_get_issue(DOMAIN, f"never_connected_{entry.entry_id}")


async def test_loaded_entry_serves_its_tracker(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, connect: TrackerFactory
) -> None:
    assert loaded_entry.state is ConfigEntryState.LOADED

    await report(connect, loaded_entry, TRACKER_ID)
    await hass.async_block_till_done()

    state = loaded_entry.runtime_data.state
    assert state.connected
    assert state.latitude == pytest.approx(9.93978, abs=1e-5)
    assert state.longitude == pytest.approx(-84.11178, abs=1e-5)


async def test_entries_share_a_port(hass: HomeAssistant, connect: TrackerFactory) -> None:
    """Two trackers on one port; the port stays open until the last entry unloads."""
    first = make_entry()
    await load_entry(hass, first)
    second = make_entry(OTHER_ID, first.data[CONF_PORT])
    await load_entry(hass, second)
    assert first.runtime_data.listener is second.runtime_data.listener

    await report(connect, first, TRACKER_ID)
    resend = await report(connect, second, OTHER_ID)
    await hass.async_block_till_done()
    assert first.runtime_data.state.last_seen is not None
    assert second.runtime_data.state.last_seen is not None

    assert await hass.config_entries.async_unload(first.entry_id)
    await hass.async_block_till_done()
    assert first.state is ConfigEntryState.NOT_LOADED
    # The other tracker still reports on the same port (on its connection: while it is
    # alive, another connection claiming its ID would be refused).
    second.runtime_data.state.last_seen = None
    await resend()
    await hass.async_block_till_done()
    assert second.runtime_data.state.last_seen is not None

    assert await hass.config_entries.async_unload(second.entry_id)
    await hass.async_block_till_done()
    assert not await port_accepts(second.data[CONF_PORT])


async def test_unload_closes_the_port_and_connections(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, connect: TrackerFactory
) -> None:
    tracker = await connect(loaded_entry)
    await tracker.send(v1_frame(TRACKER_ID))
    await tracker.read_until(b"#")

    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    await hass.async_block_till_done()

    assert await tracker.reader.read() == b""  # the server closed the connection
    assert not await port_accepts(loaded_entry.data[CONF_PORT])


@pytest.mark.parametrize("how", ["retry", "reload"])
async def test_port_unavailable(
    hass: HomeAssistant, issue_registry: ir.IssueRegistry, how: str
) -> None:
    """A port in use: set-up is retried and a repair issue says why, until the port is free."""
    with occupied_port() as busy:
        entry = make_entry(port=busy)
        await setup_entry(hass, entry)

        assert entry.state is ConfigEntryState.SETUP_RETRY
        issue = port_issue(issue_registry, entry)
        assert issue is not None
        assert issue.translation_key == "port_unavailable"
        assert issue.severity is ir.IssueSeverity.ERROR
        assert not issue.is_fixable
        placeholders = issue.translation_placeholders
        assert placeholders is not None
        assert placeholders["port"] == str(busy)
        assert placeholders["host"] == "127.0.0.1"
        assert "in use" in placeholders["error"]
        assert_issue_translated(issue)
        # The reason shown on the entry itself.
        assert entry.error_reason_translation_key == "port_unavailable"
        message = TRANSLATIONS["exceptions"]["port_unavailable"]["message"]
        assert message.format(**(entry.error_reason_translation_placeholders or {}))

    # The other program is gone.
    if how == "retry":
        async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=1))
    else:
        await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)

    assert state_of(entry) is ConfigEntryState.LOADED
    assert port_issue(issue_registry, entry) is None
    assert await port_accepts(busy)


async def test_failed_setup_releases_the_port(hass: HomeAssistant) -> None:
    """If the platforms fail to set up, the port is not left open."""
    entry = make_entry()
    with patch(
        "homeassistant.config_entries.ConfigEntries.async_forward_entry_setups",
        side_effect=RuntimeError("platform failure"),
    ):
        await setup_entry(hass, entry)

    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert not await port_accepts(entry.data[CONF_PORT])


# -- "waiting for its first connection" repair issue -----------------------------------------


async def test_waiting_issue_at_once_until_first_frame(
    hass: HomeAssistant, issue_registry: ir.IssueRegistry, connect: TrackerFactory
) -> None:
    """A tracker that never reported: the repair issue says so as soon as the entry is set
    up (not a day later), links to the set-up steps, and goes at the first frame."""
    entry = make_entry()
    await load_entry(hass, entry)

    issue = never_connected_issue(issue_registry, entry)
    assert issue is not None
    assert issue.translation_key == "never_connected"
    assert issue.severity is ir.IssueSeverity.WARNING
    assert issue.learn_more_url == SETUP_URL
    assert issue.translation_placeholders == {
        "name": "Car",
        "tracker_id": TRACKER_ID,
        "port": str(entry.data[CONF_PORT]),
    }
    assert_issue_translated(issue)
    assert "waiting for its first connection" in TRANSLATIONS["issues"]["never_connected"]["title"]

    await report(connect, entry, TRACKER_ID)
    await hass.async_block_till_done()
    assert never_connected_issue(issue_registry, entry) is None


async def test_no_waiting_issue_after_restart(
    hass: HomeAssistant,
    issue_registry: ir.IssueRegistry,
    connect: TrackerFactory,
) -> None:
    """A tracker that reported once is remembered across a restart (reload)."""
    entry = make_entry()
    await load_entry(hass, entry)
    await report(connect, entry, TRACKER_ID)
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()

    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    assert entry.runtime_data.state.last_seen is not None
    assert never_connected_issue(issue_registry, entry) is None


# -- the device's model -------------------------------------------------------------------------


async def test_model_shown_only_once_reported(
    hass: HomeAssistant, device_registry: dr.DeviceRegistry, connect: TrackerFactory
) -> None:
    """No invented model: an H02 tracker reports none; a JT/T 808 registration names one."""
    entry = make_entry(JT808_ID)
    await load_entry(hass, entry)
    (device,) = dr.async_entries_for_config_entry(device_registry, entry.entry_id)
    assert device.model is None

    tracker = await connect(entry)
    await tracker.send(jt808_register())
    await tracker.recv_jt808()
    await hass.async_block_till_done()

    (device,) = dr.async_entries_for_config_entry(device_registry, entry.entry_id)
    assert device.model == "MODEL123"

    # After a restart the model stays (from the saved state), not replaced by a guess.
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    (device,) = dr.async_entries_for_config_entry(device_registry, entry.entry_id)
    assert device.model == "MODEL123"


# -- one bind address per port, and the upgrade ----------------------------------------------


async def test_old_all_addresses_entry_migrates_to_dual_stack(hass: HomeAssistant) -> None:
    """An entry stored with 0.0.0.0 (the old "all addresses", IPv4 only) becomes :: (every
    IPv4 and IPv6 address) and still serves IPv4 trackers; another address is kept."""
    old = make_entry()
    old = MockConfigEntry(
        domain=DOMAIN,
        title="Car",
        unique_id=TRACKER_ID,
        version=1,
        minor_version=1,
        data={**old.data, CONF_BIND_ADDRESS: "0.0.0.0"},
        options=dict(old.options),
    )
    kept = make_entry(OTHER_ID)
    kept = MockConfigEntry(
        domain=DOMAIN,
        title="Van",
        unique_id=OTHER_ID,
        version=1,
        minor_version=1,
        data=dict(kept.data),
        options=dict(kept.options),
    )
    await load_entry(hass, old)
    await load_entry(hass, kept)

    assert (old.version, old.minor_version) == (1, 2)
    assert old.data[CONF_BIND_ADDRESS] == "::"
    assert old.runtime_data.listener is not None
    assert old.runtime_data.listener.config.host == "::"
    assert await port_accepts(old.data[CONF_PORT])  # IPv4 on the dual-stack socket
    assert (kept.version, kept.minor_version) == (1, 2)
    assert kept.data[CONF_BIND_ADDRESS] == "127.0.0.1"


async def test_entry_from_a_newer_version_is_not_loaded(hass: HomeAssistant) -> None:
    entry = make_entry()
    newer = MockConfigEntry(
        domain=DOMAIN, title="Car", unique_id=TRACKER_ID, version=2, data=dict(entry.data)
    )
    await setup_entry(hass, newer)
    assert newer.state is ConfigEntryState.MIGRATION_ERROR


async def test_entry_joins_the_bind_address_in_use_on_its_port(
    hass: HomeAssistant, connect: TrackerFactory
) -> None:
    """Two entries stored with different bind addresses on one port (an upgrade from a
    version that allowed it): the second joins the first's listener instead of failing,
    and stores the address in use."""
    first = make_entry()
    await load_entry(hass, first)
    port = first.data[CONF_PORT]
    stored = make_entry(OTHER_ID, port)
    second = MockConfigEntry(
        domain=DOMAIN,
        title="Van",
        unique_id=OTHER_ID,
        version=1,
        minor_version=2,
        data={**stored.data, CONF_BIND_ADDRESS: "::"},
        options=dict(stored.options),
    )
    await load_entry(hass, second)

    assert second.runtime_data.listener is first.runtime_data.listener
    assert second.data[CONF_BIND_ADDRESS] == "127.0.0.1"
    await report(connect, second, OTHER_ID)
    await hass.async_block_till_done()
    assert second.runtime_data.state.last_seen is not None


# -- removal and shutdown ---------------------------------------------------------------------


async def test_remove_entry_cleans_up(
    hass: HomeAssistant,
    issue_registry: ir.IssueRegistry,
    hass_storage: dict[str, Any],
) -> None:
    """Removing a tracker removes its repair issue and its saved state."""
    entry = make_entry()
    await load_entry(hass, entry)
    assert never_connected_issue(issue_registry, entry) is not None
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    store_key = f"{DOMAIN}.{entry.entry_id}"
    assert store_key in hass_storage

    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()

    assert never_connected_issue(issue_registry, entry) is None
    assert store_key not in hass_storage


async def test_remove_entry_waiting_for_port(
    hass: HomeAssistant, issue_registry: ir.IssueRegistry
) -> None:
    with occupied_port() as busy:
        entry = make_entry(port=busy)
        await setup_entry(hass, entry)
        assert port_issue(issue_registry, entry) is not None

        await hass.config_entries.async_remove(entry.entry_id)
        await hass.async_block_till_done()

    assert port_issue(issue_registry, entry) is None


async def test_stop_closes_listeners_and_saves_state(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    connect: TrackerFactory,
    hass_storage: dict[str, Any],
) -> None:
    tracker = await connect(loaded_entry)
    await tracker.send(v1_frame(TRACKER_ID))
    await tracker.read_until(b"#")

    await hass.async_stop()

    assert await tracker.reader.read() == b""
    assert not await port_accepts(loaded_entry.data[CONF_PORT])
    saved = hass_storage[f"{DOMAIN}.{loaded_entry.entry_id}"]["data"]
    assert saved["last_seen"] is not None
    assert saved["latitude"] == pytest.approx(9.93978, abs=1e-5)
