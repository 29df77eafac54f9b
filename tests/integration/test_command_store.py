"""Queued commands kept across restarts (``command_store.py``): what is kept, what is not."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from homeassistant.const import CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sinotrack.command_store import get_command_store
from custom_components.sinotrack.const import (
    CONF_ALLOW_ENGINE_COMMANDS,
    DOMAIN,
)
from tests.support.hass import load_entry, make_entry as shared_make_entry
from tests.support.wait import until
from tools.simulator import SimulatedTracker

IDENT = "4210051470"


def make_entry(**options: Any) -> MockConfigEntry:
    """The entry ``queued`` of tracker IDENT, with exactly ``options``."""
    return shared_make_entry(IDENT, entry_id="queued", options=options)


def stored(hass_storage: dict[str, Any], commands: dict[str, Any]) -> None:
    key = f"{DOMAIN}.queued.queue"
    hass_storage[key] = {
        "version": 1,
        "minor_version": 1,
        "key": key,
        "data": {"commands": commands},
    }


async def test_stored_commands_expired_disallowed_or_unreadable_are_dropped(
    hass: HomeAssistant, hass_storage: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    now = time.time()
    stored(
        hass_storage,
        {
            "expired": {"kind": "mileage", "expires": now - 1},
            "engine": {"kind": "engine_stop", "expires": now + 600},
            "broken": {"kind": "no such command", "expires": now + 600},
            "kept": {"kind": "custom", "payload": "S71,22,30", "expires": now + 600},
        },
    )
    entry = make_entry(**{CONF_ALLOW_ENGINE_COMMANDS: False})
    await load_entry(hass, entry)
    queue = get_command_store(hass, "queued")
    assert queue.waiting == 1  # only "kept" waits for the tracker
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("dropping the queued mileage command (expired)" in m for m in messages)
    assert any("engine_stop command (engine commands are not allowed)" in m for m in messages)
    assert any("unreadable queued command" in m for m in messages)

    # The tracker connects: the kept command is sent, answered, and forgotten.
    tracker = SimulatedTracker(IDENT, "h02", "127.0.0.1", entry.data[CONF_PORT])
    tracker.start()
    try:
        await until(lambda: tracker.commands_answered == 1)
        await until(lambda: queue.waiting == 0)
    finally:
        await tracker.stop()
    await hass.async_block_till_done()
    assert "the queued custom command was answered" in caplog.text


async def test_an_action_call_given_up_forgets_its_command(hass: HomeAssistant) -> None:
    """Cancelled while Home Assistant runs (the caller gave up): not kept for later."""
    await load_entry(hass, make_entry())
    queue = get_command_store(hass, "queued")
    call = hass.async_create_task(
        hass.services.async_call(
            DOMAIN,
            "request_position",
            {"config_entry_id": "queued", "queue_if_offline": True},
            blocking=True,
        )
    )
    await until(lambda: queue.waiting == 1)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert queue.waiting == 0


async def test_a_command_sent_at_once_is_not_kept(hass: HomeAssistant) -> None:
    """``queue_if_offline`` for a tracker that is online: sent now, nothing stays stored."""
    entry = make_entry()
    await load_entry(hass, entry)
    tracker = SimulatedTracker(IDENT, "h02", "127.0.0.1", entry.data[CONF_PORT], interval=3600)
    tracker.start()
    try:
        await asyncio.wait_for(tracker.wait_connected(), 10)
        await until(lambda: entry.runtime_data.state.connected)
        response = await hass.services.async_call(
            DOMAIN,
            "query_mileage",
            {"config_entry_id": "queued", "queue_if_offline": True},
            blocking=True,
            return_response=True,
        )
        assert response is not None
        assert get_command_store(hass, "queued").waiting == 0
        # Offline and not queued: refused at once, nothing stored.
        tracker.disconnect(offline=60)
        with pytest.raises(HomeAssistantError):
            await hass.services.async_call(
                DOMAIN, "request_position", {"config_entry_id": "queued"}, blocking=True
            )
        assert get_command_store(hass, "queued").waiting == 0
    finally:
        await tracker.stop()


async def test_removing_the_entry_forgets_its_commands(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    stored(hass_storage, {"kept": {"kind": "mileage", "expires": time.time() + 600}})
    entry = make_entry()
    await load_entry(hass, entry)
    assert get_command_store(hass, "queued").waiting == 1
    assert await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert f"{DOMAIN}.queued.queue" not in hass_storage


async def test_removing_an_entry_never_loaded_forgets_its_commands(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    """An entry deleted while it could not start (its port taken, say) leaves nothing."""
    stored(hass_storage, {"kept": {"kind": "mileage", "expires": time.time() + 600}})
    entry = make_entry()
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert f"{DOMAIN}.queued.queue" not in hass_storage


async def test_a_resumed_command_whose_tracker_hangs_up_is_not_sent_again(
    hass: HomeAssistant, hass_storage: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """Sent after the restart, then the tracker hangs up before answering: the failure is
    logged and the command forgotten (the tracker may have executed it)."""
    stored(hass_storage, {"kept": {"kind": "position", "expires": time.time() + 600}})
    entry = make_entry()
    await load_entry(hass, entry)
    queue = get_command_store(hass, "queued")
    reader, writer = await asyncio.open_connection("127.0.0.1", entry.data[CONF_PORT])
    try:
        writer.write(
            f"*HQ,{IDENT},V1,120000,A,2235.1777,N,11357.8913,E,0.00,0,010126,FFFFFBFF#".encode()
        )
        await writer.drain()
        await asyncio.wait_for(reader.readuntil(b"#"), 5)  # the V4 acknowledgement
        assert await asyncio.wait_for(reader.readuntil(b"#"), 5) == f"*HQ,{IDENT},CR#".encode()
    finally:
        writer.close()
    await until(lambda: queue.waiting == 0)
    await until(lambda: "the queued position command failed" in caplog.text)
