"""The safe engine stop, with a simulated tracker on a real listener socket: refused or held
while the vehicle moves, sent at the first fresh report of it standing, one held command,
expiry, cancel, engine resume, a restart, raw payloads and the guard's own stop."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
import re
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import EVENT_STATE_CHANGED
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from tests.support.client import Client
from tests.support.frames import H02_ID, h02_status, h02_v1
from tests.support.hass import (
    ALARM,
    enable_before_setup,
    make_entry,
    report,
    state,
    wait_for,
)

from .conftest import TrackerFactory
from .test_services import call, entry_target, error_of, result

PENDING = "binary_sensor.car_engine_stop_pending"
STOP = re.compile(rf"\*HQ,{H02_ID},S20,(\d{{6}}),1,1#")
RESUME = re.compile(rf"\*HQ,{H02_ID},S20,(\d{{6}}),1,0#")


async def engine_car(
    hass: HomeAssistant, connect: TrackerFactory, **options: Any
) -> tuple[MockConfigEntry, Client]:
    entry = make_entry(allow_engine_commands=True, **options)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry, await connect(entry)


async def drive(tracker: Client, knots: float, when: datetime | None = None, **kw: Any) -> None:
    """A report at ``knots`` (now, unless ``when``)."""
    await report(tracker, h02_v1(when or dt_util.utcnow(), knots=knots, **kw))


async def answer(tracker: Client, pattern: re.Pattern[str]) -> None:
    """Read the engine command the tracker receives and answer it."""
    sent = (await tracker.read_until(b"#")).decode()
    match = pattern.fullmatch(sent)
    assert match is not None, sent
    await tracker.send(f"*HQ,{H02_ID},V4,S20,DONE,{match.group(1)}#".encode())


async def nothing_sent(tracker: Client) -> None:
    """The next thing the tracker receives is the answer to its own report."""
    assert (await report(tracker, h02_v1(dt_util.utcnow(), knots=30.0))).startswith(
        f"*HQ,{H02_ID},V4,V1,".encode()
    )


def expired_events(hass: HomeAssistant) -> list[dict[str, Any]]:
    fired: list[dict[str, Any]] = []

    @callback
    def record(event: Event[Any]) -> None:
        new = event.data["new_state"]
        if (
            event.data["entity_id"] == ALARM
            and new is not None
            and new.attributes.get("event_type") == "command_expired"
        ):
            fired.append(dict(new.attributes))

    hass.bus.async_listen(EVENT_STATE_CHANGED, record)
    return fired


async def test_sent_at_once_while_standing(hass: HomeAssistant, connect: TrackerFactory) -> None:
    entry, tracker = await engine_car(hass, connect)
    await drive(tracker, 0.0)
    task = call(hass, "engine_stop", entry_target(entry))
    await answer(tracker, STOP)
    response = await result(task)
    assert response["status"] == "sent"
    assert response["reply"]["command.code"] == "S20"
    assert state(hass, PENDING).state == "off"


async def test_now_is_refused_while_moving_or_without_a_fresh_report(
    hass: HomeAssistant, connect: TrackerFactory
) -> None:
    entry, tracker = await engine_car(hass, connect)
    for knots, age in ((30.0, 0), (0.0, 180)):
        await drive(tracker, knots, dt_util.utcnow() - timedelta(seconds=age))
        error = await error_of(
            ServiceValidationError, call(hass, "engine_stop", entry_target(entry), when="now")
        )
        assert error.translation_key == "engine_stop_refused"
    assert state(hass, PENDING).state == "off"
    await nothing_sent(tracker)


async def test_held_while_moving_then_sent_when_standing(
    hass: HomeAssistant, connect: TrackerFactory
) -> None:
    """Held (the sensor says so), replaced by a second call, sent once at the first fresh
    report of the vehicle standing; an old report of it standing is not enough."""
    entry, tracker = await engine_car(hass, connect)
    await drive(tracker, 40.0)
    assert (await result(call(hass, "engine_stop", entry_target(entry))))["status"] == "held"
    assert state(hass, PENDING).state == "on"
    assert (await result(call(hass, "engine_stop", entry_target(entry))))["status"] == "replaced"
    await nothing_sent(tracker)
    await drive(tracker, 0.0, dt_util.utcnow() - timedelta(minutes=5), latitude=9.5)
    assert state(hass, PENDING).state == "on"
    await drive(tracker, 0.0)
    await answer(tracker, STOP)
    await hass.async_block_till_done()
    assert state(hass, PENDING).state == "off"
    await drive(tracker, 0.0)
    await nothing_sent(tracker)  # once


async def test_raw_engine_payload_takes_the_same_path(
    hass: HomeAssistant, connect: TrackerFactory
) -> None:
    entry, tracker = await engine_car(hass, connect)
    await drive(tracker, 40.0)
    task = call(hass, "send_command", entry_target(entry), payload="S20,000000,1,1")
    assert (await result(task))["status"] == "held"
    error = await error_of(
        ServiceValidationError,
        call(hass, "send_command", entry_target(entry), payload="S20,000000,1,1", when="now"),
    )
    assert error.translation_key == "engine_stop_refused"
    await drive(tracker, 0.0)
    sent = (await tracker.read_until(b"#")).decode()
    assert sent == f"*HQ,{H02_ID},S20,000000,1,1#"


async def test_held_command_expires(
    hass: HomeAssistant, connect: TrackerFactory, freezer: FrozenDateTimeFactory
) -> None:
    """After an hour, ``command_expired`` fires; the vehicle standing then sends nothing."""
    fired = expired_events(hass)
    start = dt_util.utcnow()
    freezer.move_to(start)
    entry, tracker = await engine_car(hass, connect)
    await drive(tracker, 40.0)
    assert (await result(call(hass, "engine_stop", entry_target(entry))))["status"] == "held"
    freezer.move_to(start + timedelta(minutes=59))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert fired == []
    freezer.move_to(start + timedelta(minutes=61))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert [event["command"] for event in fired] == ["engine_stop"]
    assert state(hass, PENDING).state == "off"
    tracker = await connect(entry)  # the listener closed the idle connection meanwhile
    await drive(tracker, 0.0)
    await nothing_sent(tracker)


async def test_cancel_commands(hass: HomeAssistant, connect: TrackerFactory) -> None:
    """Cancels the held engine stop and the queued commands; says how many."""
    entry, tracker = await engine_car(hass, connect)
    await drive(tracker, 40.0)
    await result(call(hass, "engine_stop", entry_target(entry)))
    await tracker.close()
    await wait_for(hass, lambda: not entry.runtime_data.state.connected)
    queued = call(hass, "query_mileage", entry_target(entry), queue_if_offline=True)
    for _ in range(500):  # not block_till_done: the queued call waits for the tracker
        if entry.runtime_data.commands.waiting:
            break
        await asyncio.sleep(0.01)
    response = await result(call(hass, "cancel_commands", entry_target(entry)))
    assert response == {"cancelled": 2}
    error = await error_of(HomeAssistantError, queued)
    assert error.translation_key == "command_cancelled"
    assert state(hass, PENDING).state == "off"
    assert await result(call(hass, "cancel_commands", entry_target(entry))) == {"cancelled": 0}
    tracker = await connect(entry)
    await drive(tracker, 0.0)
    await nothing_sent(tracker)


async def test_engine_resume_cancels_the_held_stop(
    hass: HomeAssistant, connect: TrackerFactory
) -> None:
    entry, tracker = await engine_car(hass, connect)
    await drive(tracker, 40.0)
    await result(call(hass, "engine_stop", entry_target(entry)))
    task = call(hass, "engine_resume", entry_target(entry))
    await answer(tracker, RESUME)
    await result(task)
    assert state(hass, PENDING).state == "off"
    await drive(tracker, 0.0)
    await nothing_sent(tracker)


async def test_held_command_survives_a_restart(
    hass: HomeAssistant, connect: TrackerFactory
) -> None:
    entry, tracker = await engine_car(hass, connect)
    await drive(tracker, 40.0)
    await result(call(hass, "engine_stop", entry_target(entry)))
    await tracker.close()
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert state(hass, PENDING).state == "on"
    tracker = await connect(entry)
    await drive(tracker, 0.0)
    await answer(tracker, STOP)
    await hass.async_block_till_done()
    assert state(hass, PENDING).state == "off"


@pytest.mark.parametrize("allowed", [True, False])
async def test_guard_stops_the_engine_only_when_opted_in_and_standing(
    hass: HomeAssistant, connect: TrackerFactory, allowed: bool
) -> None:
    """The guard triggers while the car is towed: the stop is held, and sent once the car
    stands. Without the engine option, nothing is held or sent."""
    entry, tracker = await engine_car(hass, connect, guard_stop_engine=True)
    hass.config_entries.async_update_entry(
        entry, options={**entry.options, "allow_engine_commands": allowed}
    )
    await hass.async_block_till_done()
    await drive(tracker, 0.0)
    await hass.services.async_call(
        "alarm_control_panel",
        "alarm_arm_away",
        {"entity_id": "alarm_control_panel.car_guard"},
        blocking=True,
    )
    await drive(tracker, 20.0, status=h02_status())
    assert state(hass, "alarm_control_panel.car_guard").state == "triggered"
    assert state(hass, PENDING).state == ("on" if allowed else "off")
    await drive(tracker, 0.0, latitude=9.95)
    if allowed:
        await answer(tracker, STOP)
    await nothing_sent(tracker)


async def test_pending_sensor_only_while_engine_commands_are_allowed(
    hass: HomeAssistant, connect: TrackerFactory
) -> None:
    """Without engine commands no command is ever held: no "engine stop pending" entity
    (one left by an earlier version is removed); allowing them adds it at once."""
    entry = make_entry()
    enable_before_setup(hass, entry, PENDING)  # registered by an earlier version
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    registry = er.async_get(hass)
    assert not registry.async_is_registered(PENDING)
    assert hass.states.get(PENDING) is None

    hass.config_entries.async_update_entry(
        entry, options={**entry.options, "allow_engine_commands": True}
    )
    await hass.async_block_till_done()
    assert registry.async_is_registered(PENDING)
    assert state(hass, PENDING).state == "off"
    tracker = await connect(entry)
    await drive(tracker, 30.0)
    assert (await result(call(hass, "engine_stop", entry_target(entry))))["status"] == "held"
    assert state(hass, PENDING).state == "on"
