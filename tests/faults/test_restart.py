"""Restart: Home Assistant stops while trackers are connected and sending, then starts again.

A first Home Assistant (the test harness's ``hass``) serves two simulated trackers on one
port and has a command queued (``queue_if_offline``) for a third, offline tracker. It is
stopped while they report; a second Home Assistant starts on the same storage (the
harness's ``hass_storage``) with the same config entries. Then:

* every entity state is restored from storage before any tracker reports again;
* the trackers reconnect by themselves and are served (the fixes they made meanwhile are
  replayed and delivered);
* the queued command survives: it is queued again and sent when its tracker connects;
* the SOS alarm the tracker still reports was already reported: no second event.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
import contextlib
from dataclasses import dataclass, field
from typing import Any

from homeassistant import loader
from homeassistant.const import EVENT_STATE_CHANGED
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er, frame
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_test_home_assistant,
)

from custom_components.sinotrack.command_store import get_command_store
from custom_components.sinotrack.const import (
    DOMAIN,
)
from custom_components.sinotrack.protocol import Message, message as p
from custom_components.sinotrack.runtime import SinotrackRuntime
from tests.support.defaults import WAIT
from tests.support.hass import make_entry
from tests.support.net import free_port
from tests.support.wait import until
from tools.simulator import AlarmKind, SimulatedTracker, WireProtocol

H02 = "4210051480"
JT808 = "13912340081"
OFFLINE = "4210051482"
RESTORED = ("tracker", "speed", "battery", "distance_counted", "sos", "vehicle_state")


@pytest.fixture(autouse=True)
def _custom_integrations(enable_custom_integrations: None) -> None:
    """Let the first Home Assistant load custom_components/sinotrack."""


def entries(port: int) -> list[MockConfigEntry]:
    """The three trackers' entries, the same in both runs (same entry ids)."""
    return [
        make_entry(ident, port, entry_id=f"entry{ident}", title=title)
        for ident, title in ((H02, "Car"), (JT808, "Van"), (OFFLINE, "Boat"))
    ]


@dataclass
class Watch:
    """Entity ids of the trackers, and the alarm events fired."""

    hass: HomeAssistant
    alarms: list[tuple[str, str]] = field(default_factory=list)
    """(tracker id, event type) of every alarm event."""
    _unsub: Callable[[], None] | None = None

    def entity_id(self, ident: str, key: str) -> str:
        registry = er.async_get(self.hass)
        for domain in ("device_tracker", "sensor", "binary_sensor", "event"):
            entity_id = registry.async_get_entity_id(domain, DOMAIN, f"{ident}_{key}")
            if entity_id is not None:
                return entity_id
        raise KeyError(f"{ident}_{key}")

    def states(self, ident: str) -> dict[str, tuple[str, dict[str, Any]]]:
        result = {}
        for key in RESTORED:
            state = self.hass.states.get(self.entity_id(ident, key))
            assert state is not None
            result[key] = (state.state, dict(state.attributes))
        return result

    def start(self) -> None:
        events = {self.entity_id(ident, "alarm"): ident for ident in (H02, JT808, OFFLINE)}

        @callback
        def on_state(event: Event[EventStateChangedData]) -> None:
            ident = events.get(event.data["entity_id"])
            new = event.data["new_state"]
            if ident is not None and new is not None and "event_type" in new.attributes:
                old = event.data["old_state"]
                if old is None or old.state != new.state:  # a new event, not a restore
                    self.alarms.append((ident, str(new.attributes["event_type"])))

        self._unsub = self.hass.bus.async_listen(EVENT_STATE_CHANGED, on_state)


@contextlib.asynccontextmanager
async def second_home_assistant(config_dir: str) -> AsyncIterator[HomeAssistant]:
    """Another Home Assistant on the same (mocked) storage: the restart."""
    async with async_test_home_assistant(config_dir=config_dir) as hass:
        hass.data.pop(loader.DATA_CUSTOM_COMPONENTS, None)
        frame.async_setup(hass)
        try:
            yield hass
        finally:
            for entry in hass.config_entries.async_entries(DOMAIN):
                await hass.config_entries.async_unload(entry.entry_id)
            await hass.async_stop(force=True)


class Delivered:
    """Positions the trackers' runtimes were handed, per tracker ID (a spy on the sink)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.positions: dict[str, int] = {}
        original = SinotrackRuntime.handle_messages
        delivered = self.positions

        def handle_messages(runtime: SinotrackRuntime, messages: list[Message]) -> None:
            count = sum(1 for message in messages if p.LATITUDE in message)
            delivered[runtime.ident] = delivered.get(runtime.ident, 0) + count
            original(runtime, messages)

        monkeypatch.setattr(SinotrackRuntime, "handle_messages", handle_messages)


async def test_restart_while_trackers_report(
    hass: HomeAssistant, hass_storage: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    first = entries(port)
    for entry in first:
        entry.add_to_hass(hass)
    assert await async_setup_component(hass, DOMAIN, {})
    await hass.async_block_till_done()
    watch = Watch(hass)
    watch.start()

    trackers = {
        ident: SimulatedTracker(
            ident,
            protocol,
            "127.0.0.1",
            port,
            interval=0.1,
            heartbeat=None,
            reconnect_delay=0.05,
            max_reconnect_delay=0.2,
            first_connect_attempts=1,
        )
        for ident, protocol in ((H02, WireProtocol.H02), (JT808, WireProtocol.JT808))
    }
    try:
        for tracker in trackers.values():
            tracker.start()
        async with asyncio.timeout(WAIT):
            for tracker in trackers.values():
                await tracker.wait_connected()
        # The car raises SOS and keeps reporting it (held until cleared): one event.
        assert await trackers[H02].raise_alarm(AlarmKind.SOS, hold=0)
        await until(lambda: watch.alarms == [(H02, "sos")])
        count = trackers[H02].positions_sent
        await until(lambda: trackers[H02].positions_sent >= count + 5)
        await hass.async_block_till_done()
        assert watch.alarms == [(H02, "sos")]

        # A mileage query for the boat, offline: queued (the user asked for it).
        call = hass.async_create_task(
            hass.services.async_call(
                DOMAIN,
                "query_mileage",
                {"config_entry_id": f"entry{OFFLINE}", "queue_if_offline": True},
                blocking=True,
                return_response=True,
            )
        )
        await until(lambda: get_command_store(hass, f"entry{OFFLINE}").waiting == 1)
        assert not call.done()

        # Stop Home Assistant while the trackers report.
        await hass.async_stop()
        with pytest.raises(HomeAssistantError):
            await call  # the action call ends with Home Assistant
        before = {ident: watch.states(ident) for ident in trackers}
        stored = hass_storage[f"{DOMAIN}.entry{OFFLINE}.queue"]["data"]["commands"]
        assert [item["kind"] for item in stored.values()] == ["mileage"]
        assert all(not tracker.connected for tracker in trackers.values())
        # The trackers keep making fixes (buffered) and retry; the port is closed.
        await until(lambda: all(len(t.buffer) >= 3 for t in trackers.values()))
        sent = {ident: (t.positions_sent, t.fixes_replayed) for ident, t in trackers.items()}
        delivered = Delivered(monkeypatch)

        async with second_home_assistant(hass.config.config_dir) as hass2:
            for entry in entries(port):
                entry.add_to_hass(hass2)
            watch2 = Watch(hass2)
            assert await async_setup_component(hass2, DOMAIN, {})
            await hass2.async_block_till_done()
            watch2.start()
            # Restored before anything new came (the runtime's store, not the tracker).
            for ident, tracker in trackers.items():
                restored = watch2.states(ident)
                for key, (state, attributes) in before[ident].items():
                    if tracker.connected:
                        break  # too late to compare: new frames are coming in
                    assert restored[key][0] == state, (ident, key)
                    assert restored[key][1] == attributes, (ident, key)

            # The trackers reconnect, replay what they buffered, and are served.
            async with asyncio.timeout(WAIT):
                for tracker in trackers.values():
                    await tracker.wait_connected()
            for tracker in trackers.values():
                assert tracker.connects == 2
                assert tracker.fixes_replayed >= 3
            location = watch2.entity_id(H02, "tracker")
            last = hass2.states.get(location)
            assert last is not None
            await until(
                lambda: (
                    (state := hass2.states.get(location)) is not None
                    and state.attributes.get("fix_time") != last.attributes.get("fix_time")
                )
            )

            # The queued command is sent when the boat connects, and answered.
            boat = SimulatedTracker(
                OFFLINE, "h02", "127.0.0.1", port, interval=3600, heartbeat=None, mileage_km=321.0
            )
            boat.start()
            try:
                await until(lambda: boat.commands_answered == 1)
                await until(lambda: get_command_store(hass2, f"entry{OFFLINE}").waiting == 0)
                await until(
                    lambda: (
                        (state := hass2.states.get("sensor.boat_odometer")) is not None
                        and state.state == "321.0"
                    )
                )
            finally:
                await boat.stop()

            # The SOS still reported after the restart fires no second event...
            sent_now = trackers[H02].positions_sent
            await until(lambda: trackers[H02].positions_sent >= sent_now + 5)
            await hass2.async_block_till_done()
            assert watch2.alarms == []
            # ...while a new one does.
            await trackers[H02].clear_alarm(AlarmKind.SOS)
            await trackers[H02].raise_alarm(AlarmKind.SOS, hold=0)
            await until(lambda: watch2.alarms == [(H02, "sos")])
            # Nothing the trackers sent since the restart was lost.
            for tracker in trackers.values():
                await tracker.stop()
            for ident, tracker in trackers.items():
                live, replayed = sent[ident]
                expected = tracker.positions_sent - live + tracker.fixes_replayed - replayed
                await until(lambda: delivered.positions.get(ident) == expected)  # noqa: B023
    finally:
        for tracker in trackers.values():
            await tracker.stop()
