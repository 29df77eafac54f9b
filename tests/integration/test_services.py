"""Actions round-trip with a simulated device on a real connection: the command the tracker
receives, its answer, the response data, and the errors a user sees."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import timedelta
import re
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_STATE_CHANGED
from homeassistant.core import Event, HomeAssistant, ServiceResponse, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sinotrack.const import DOMAIN
from tests.support.client import Client, Jt808Device
from tests.support.frames import (
    H02_ID,
    JT808_ID,
    T0,
    h02_position,
    h02_v1,
    jt808_location,
    mileage_item,
)
from tests.support.hass import fix_time, make_entry, report, state, tracker_device

from .conftest import TrackerFactory

MINUTE = timedelta(minutes=1)
CLOCK = r"\d{6}"
"""The server's UTC hhmmss in H02 commands."""


def call(
    hass: HomeAssistant, service: str, target: dict[str, str], **data: Any
) -> asyncio.Task[ServiceResponse]:
    """Start an action (with response data); the test plays the device meanwhile."""
    return hass.async_create_task(
        hass.services.async_call(
            DOMAIN, service, {**target, **data}, blocking=True, return_response=True
        )
    )


async def result(task: asyncio.Task[ServiceResponse]) -> dict[str, Any]:
    """The response data of a finished action."""
    response = await task
    assert isinstance(response, dict)
    return response


def entry_target(entry: MockConfigEntry) -> dict[str, str]:
    return {"config_entry_id": entry.entry_id}


async def command(tracker: Client) -> str:
    """The next H02 command the tracker receives."""
    return (await tracker.read_until(b"#")).decode()


async def h02_tracker(connect: TrackerFactory, entry: MockConfigEntry) -> Client:
    tracker = await connect(entry)
    await report(tracker, h02_v1(T0))
    return tracker


async def standing(tracker: Client) -> None:
    """A fresh report of the vehicle standing still (an engine stop goes out at once)."""
    await report(tracker, h02_v1(dt_util.utcnow(), knots=0.0))


async def jt808_standing(device: Jt808Device) -> None:
    """A fresh JT/T 808 report of the vehicle standing still."""
    await device.location(jt808_location(dt_util.utcnow(), speed=0.0))


async def jt808_setup(
    hass: HomeAssistant, connect: TrackerFactory, **options: Any
) -> tuple[MockConfigEntry, Jt808Device]:
    entry = make_entry(JT808_ID, **options)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    device = Jt808Device(await connect(entry))
    await device.login()
    await device.location(jt808_location(T0))
    return entry, device


async def error_of[E: HomeAssistantError](kind: type[E], awaitable: Awaitable[Any]) -> E:
    """The exception ``awaitable`` raises; exactly of type ``kind``."""
    with pytest.raises(kind) as caught:
        await awaitable
    assert type(caught.value) is kind
    return caught.value


# -- H02 -------------------------------------------------------------------------------------


async def test_send_command_h02(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, connect: TrackerFactory
) -> None:
    """The payload goes out between ``*HQ,<ID>,`` and ``#``; the V4 answer comes back."""
    tracker = await h02_tracker(connect, loaded_entry)
    task = call(hass, "send_command", entry_target(loaded_entry), payload=" S71,000000,22,30 ")
    assert await command(tracker) == f"*HQ,{H02_ID},S71,000000,22,30#"
    await tracker.send(f"*HQ,{H02_ID},V4,S71,22,30,000000#".encode())
    response = await result(task)
    assert response["response"] == "S71,22,30"
    assert response["reply"]["command.code"] == "S71"
    assert response["reply"]["message.type"] == "V4"


async def test_send_command_h02_sms_answer(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, connect: TrackerFactory
) -> None:
    """A command the tracker answers like an SMS: the text is the response."""
    tracker = await h02_tracker(connect, loaded_entry)
    task = call(hass, "send_command", entry_target(loaded_entry), payload="RCONF")
    assert await command(tracker) == f"*HQ,{H02_ID},RCONF#"
    await tracker.send(f"*HQ,{H02_ID},SMS,ID:{H02_ID};IP:203.0.113.5:5013;APN:internet#".encode())
    response = await result(task)
    assert response["response"] == f"ID:{H02_ID};IP:203.0.113.5:5013;APN:internet"


async def test_query_mileage_h02(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, connect: TrackerFactory
) -> None:
    """S32 returns the tracker's mileage in km, with the time it answered and the decoded
    reply; the odometer takes it as its first value (the distance counted before, 14 km
    here, stays its own sensor: the odometer never jumps from one source to the other)."""
    odometer: list[str] = []

    @callback
    def record(event: Event[Any]) -> None:
        if event.data["entity_id"] == "sensor.car_odometer" and event.data["new_state"]:
            odometer.append(event.data["new_state"].state)

    hass.bus.async_listen(EVENT_STATE_CHANGED, record)
    tracker = await h02_tracker(connect, loaded_entry)
    await report(tracker, h02_v1(T0 + 20 * MINUTE, latitude=9.939781666 + 14 / 111.195, knots=20))
    assert float(state(hass, "sensor.car_distance_counted").state) == pytest.approx(14, abs=0.01)
    assert hass.states.get("sensor.car_odometer") is None

    before = dt_util.utcnow()
    task = call(hass, "query_mileage", entry_target(loaded_entry))
    assert await command(tracker) == f"*HQ,{H02_ID},S32,000000,1#"
    await tracker.send(f"*HQ,{H02_ID},V4,S32,15873.2,000000,{h02_position(T0)}#".encode())
    response = await result(task)
    assert set(response) == {"mileage_km", "time", "reply"}
    assert response["mileage_km"] == 15873.2
    answered = dt_util.parse_datetime(response["time"])
    assert answered is not None
    assert before <= answered <= dt_util.utcnow()
    assert response["reply"]["command.code"] == "S32"
    assert response["reply"]["vehicle.mileage"] == 15873.2
    assert state(hass, "sensor.car_odometer").state == "15873.2"
    assert odometer == ["15873.2"]
    assert float(state(hass, "sensor.car_distance_counted").state) == pytest.approx(14, abs=0.01)


async def test_request_position_h02(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, connect: TrackerFactory
) -> None:
    """CR asks for a position; the answer's position moves the tracker."""
    tracker = await h02_tracker(connect, loaded_entry)
    task = call(hass, "request_position", entry_target(loaded_entry))
    assert await command(tracker) == f"*HQ,{H02_ID},CR#"
    await tracker.send(
        f"*HQ,{H02_ID},V4,CR,000000,{h02_position(T0 + MINUTE, latitude=9.95)}#".encode()
    )
    response = await result(task)
    assert response["reply"]["command.code"] == "CR"
    assert state(hass, "device_tracker.car").attributes["latitude"] == pytest.approx(9.95)
    assert fix_time(hass) == (T0 + MINUTE).isoformat()


async def test_request_position_of_a_parked_tracker(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, connect: TrackerFactory
) -> None:
    """A parked tracker's reports within a few metres do not move it; the position it
    sends when asked does (with its fix time): whoever asked wants to see it."""
    tracker = await h02_tracker(connect, loaded_entry)
    nearby = 9.939781666 + 5 / 111_195  # 5 m north: GPS jitter
    await report(tracker, h02_v1(T0 + MINUTE, latitude=nearby, knots=0))
    assert fix_time(hass) == T0.isoformat()
    task = call(hass, "request_position", entry_target(loaded_entry))
    assert await command(tracker) == f"*HQ,{H02_ID},CR#"
    position = h02_position(T0 + 2 * MINUTE, latitude=nearby, knots=0)
    await tracker.send(f"*HQ,{H02_ID},V4,CR,000000,{position}#".encode())
    await result(task)
    assert fix_time(hass) == (T0 + 2 * MINUTE).isoformat()
    assert state(hass, "device_tracker.car").attributes["latitude"] == pytest.approx(nearby)


async def test_set_interval_h02(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, connect: TrackerFactory
) -> None:
    tracker = await h02_tracker(connect, loaded_entry)
    task = call(hass, "set_interval", entry_target(loaded_entry), interval=30)
    sent = await command(tracker)
    assert re.fullmatch(rf"\*HQ,{H02_ID},S71,({CLOCK}),22,30#", sent)
    await tracker.send(f"*HQ,{H02_ID},V4,S71,22,30,{sent[19:25]}#".encode())
    response = await result(task)
    assert response["response"] == "S71,22,30"
    assert response["reply"]["command.code"] == "S71"


@pytest.mark.parametrize(
    ("service", "body"),
    [
        ("engine_stop", "S20,{clock},1,1"),
        ("engine_resume", "S20,{clock},1,0"),
        ("arm", "SCF,{clock},0,0"),
        ("disarm", "SCF,{clock},1,1"),
    ],
)
async def test_relay_and_alarm_commands_h02(
    hass: HomeAssistant, connect: TrackerFactory, service: str, body: str
) -> None:
    """Engine stop/resume (allowed in the options) and arm/disarm: command and V4 answer."""
    entry = make_entry(allow_engine_commands=True)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    tracker = await h02_tracker(connect, entry)
    await standing(tracker)
    task = call(hass, service, entry_target(entry), timeout=5)
    sent = await command(tracker)
    assert re.fullmatch(rf"\*HQ,{H02_ID},{body.format(clock=CLOCK)}#", sent)
    code = body[:3]
    await tracker.send(f"*HQ,{H02_ID},V4,{code},DONE,{sent[19:25]}#".encode())
    response = await result(task)
    assert response["response"] == f"{code},DONE"
    assert response["reply"]["command.code"] == code  # the same key in every response


@pytest.mark.parametrize("service", ["engine_stop", "engine_resume"])
async def test_engine_commands_refused_by_default(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, connect: TrackerFactory, service: str
) -> None:
    """Engine commands are refused unless allowed in the options; nothing reaches the tracker."""
    tracker = await h02_tracker(connect, loaded_entry)
    error = await error_of(ServiceValidationError, call(hass, service, entry_target(loaded_entry)))
    assert error.translation_key == "engine_commands_disabled"
    assert "options" in str(error)
    # The next thing the tracker receives is the answer to its own report.
    assert (await report(tracker, h02_v1(T0 + MINUTE))).startswith(f"*HQ,{H02_ID},V4,V1,".encode())


async def test_target_by_device(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, connect: TrackerFactory
) -> None:
    """An action can target the tracker's device instead of its entry."""
    tracker = await h02_tracker(connect, loaded_entry)
    device = tracker_device(hass, loaded_entry)
    task = call(hass, "request_position", {"device_id": device.id})
    assert await command(tracker) == f"*HQ,{H02_ID},CR#"
    await tracker.send(f"*HQ,{H02_ID},V4,CR,000000#".encode())
    assert await task is not None


async def test_without_response_data(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, connect: TrackerFactory
) -> None:
    """Called from an automation (no response wanted), an action still waits for the answer."""
    tracker = await h02_tracker(connect, loaded_entry)
    for service, data, code in (
        ("send_command", {"payload": "RCONF"}, "RCONF"),
        ("query_mileage", {}, "S32"),
        ("set_interval", {"interval": 60}, "S71"),
        ("request_position", {}, "CR"),
    ):
        task = hass.async_create_task(
            hass.services.async_call(
                DOMAIN, service, {**entry_target(loaded_entry), **data}, blocking=True
            )
        )
        assert (await command(tracker)).startswith(f"*HQ,{H02_ID},{code}")
        result = "12.5" if code == "S32" else "OK"
        await tracker.send(f"*HQ,{H02_ID},V4,{code},{result},000000#".encode())
        assert await task is None
    assert state(hass, "sensor.car_odometer").state == "12.5"


# -- JT/T 808 --------------------------------------------------------------------------------


async def test_send_command_jt808(hass: HomeAssistant, connect: TrackerFactory) -> None:
    """A JT/T 808 text message (0x8300): acknowledged (0x0001), then answered in text.
    (RELAY is an engine command: it needs the engine option.)"""
    entry, device = await jt808_setup(hass, connect, allow_engine_commands=True)
    await jt808_standing(device)
    task = call(hass, "send_command", entry_target(entry), payload="RELAY,1#")
    msg_id, serial, body = await device.read()
    assert (msg_id, body) == (0x8300, b"\x01RELAY,1#")
    await device.respond(msg_id, serial)
    await device.send(0x6006, b"\x00" + b"RELAY:1 OK")
    response = await result(task)
    assert response["response"] == "RELAY:1 OK"


async def test_query_mileage_jt808(hass: HomeAssistant, connect: TrackerFactory) -> None:
    """A position query (0x8201) whose answer (0x0201) carries item 0x01, the mileage."""
    entry, device = await jt808_setup(hass, connect)
    task = call(hass, "query_mileage", entry_target(entry))
    msg_id, serial, body = await device.read()
    assert (msg_id, body) == (0x8201, b"")
    await device.send(0x0201, serial.to_bytes(2) + jt808_location(T0, items=mileage_item(4321.7)))
    response = await result(task)
    assert response["mileage_km"] == 4321.7
    assert response["reply"]["vehicle.mileage"] == 4321.7
    assert state(hass, "sensor.car_odometer").state == "4321.7"


async def test_query_mileage_without_mileage(hass: HomeAssistant, connect: TrackerFactory) -> None:
    """A tracker whose answer has no mileage: the action says so."""
    entry, device = await jt808_setup(hass, connect)
    task = call(hass, "query_mileage", entry_target(entry))
    _, serial, _ = await device.read()
    await device.send(0x0201, serial.to_bytes(2) + jt808_location(T0))
    error = await error_of(HomeAssistantError, task)
    assert error.translation_key == "no_mileage"
    assert error.translation_placeholders == {"tracker_id": JT808_ID}


async def test_request_position_jt808(hass: HomeAssistant, connect: TrackerFactory) -> None:
    entry, device = await jt808_setup(hass, connect)
    task = call(hass, "request_position", entry_target(entry))
    msg_id, serial, _ = await device.read()
    assert msg_id == 0x8201
    await device.send(0x0201, serial.to_bytes(2) + jt808_location(T0 + MINUTE, latitude=22.6))
    response = await result(task)
    assert response["reply"]["position.latitude"] == pytest.approx(22.6)
    assert state(hass, "device_tracker.car").attributes["latitude"] == pytest.approx(22.6)


@pytest.mark.parametrize(
    ("service", "data", "msg_id", "body"),
    [
        (
            "set_interval",
            {"interval": 45},
            0x8103,
            b"\x01" + (0x0029).to_bytes(4) + b"\x04" + (45).to_bytes(4),
        ),
        ("engine_stop", {}, 0x8105, b"\xf0"),
        ("engine_resume", {}, 0x8105, b"\xf1"),
    ],
)
async def test_jt808_commands(
    hass: HomeAssistant,
    connect: TrackerFactory,
    service: str,
    data: dict[str, Any],
    msg_id: int,
    body: bytes,
) -> None:
    """Set parameters and terminal control, acknowledged by a general response."""
    entry, device = await jt808_setup(hass, connect, allow_engine_commands=True)
    await jt808_standing(device)
    task = call(hass, service, entry_target(entry), **data)
    received = await device.read()
    assert (received[0], received[2]) == (msg_id, body)
    await device.respond(msg_id, received[1])
    response = await result(task)
    assert response["response"] == "success"


@pytest.mark.parametrize("service", ["arm", "disarm"])
async def test_arm_refused_for_jt808(
    hass: HomeAssistant, connect: TrackerFactory, service: str
) -> None:
    """JT/T 808 has no standard arm command: refused with an explanation, nothing sent."""
    entry, device = await jt808_setup(hass, connect)
    error = await error_of(ServiceValidationError, call(hass, service, entry_target(entry)))
    assert error.translation_key == "invalid_command"
    assert "JT/T 808" in (error.translation_placeholders or {})["error"]
    await device.location(jt808_location(T0 + MINUTE))  # the next downlink is its 0x8001


# -- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize("payload", ["", "   ", "héllo", "x" * 300])
async def test_invalid_payload(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, payload: str
) -> None:
    """A payload no tracker accepts is refused before anything is sent (even offline)."""
    error = await error_of(
        ServiceValidationError,
        call(hass, "send_command", entry_target(loaded_entry), payload=payload),
    )
    assert error.translation_key == "invalid_command"


async def test_invalid_h02_payload(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, connect: TrackerFactory
) -> None:
    """An H02 payload cannot contain the frame markers."""
    await h02_tracker(connect, loaded_entry)
    error = await error_of(
        ServiceValidationError,
        call(hass, "send_command", entry_target(loaded_entry), payload="S71#"),
    )
    assert error.translation_key == "invalid_command"
    assert "'#'" in (error.translation_placeholders or {})["error"]


async def test_no_target(hass: HomeAssistant, loaded_entry: MockConfigEntry) -> None:
    error = await error_of(ServiceValidationError, call(hass, "request_position", {}))
    assert error.translation_key == "no_target"


async def test_unknown_device(hass: HomeAssistant, loaded_entry: MockConfigEntry) -> None:
    error = await error_of(
        ServiceValidationError, call(hass, "request_position", {"device_id": "nope"})
    )
    assert error.translation_key == "unknown_device"
    assert error.translation_placeholders == {"device_id": "nope"}


async def test_device_of_another_integration(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, device_registry: dr.DeviceRegistry
) -> None:
    other = MockConfigEntry(domain="other", title="Lamp")
    other.add_to_hass(hass)
    lamp = device_registry.async_get_or_create(
        config_entry_id=other.entry_id, identifiers={("other", "lamp")}
    )
    error = await error_of(
        ServiceValidationError, call(hass, "request_position", {"device_id": lamp.id})
    )
    assert error.translation_key == "unknown_tracker"
    for entry_id in (other.entry_id, "missing"):
        error = await error_of(
            ServiceValidationError, call(hass, "request_position", {"config_entry_id": entry_id})
        )
        assert error.translation_key == "unknown_tracker"


async def test_entry_not_loaded(hass: HomeAssistant, loaded_entry: MockConfigEntry) -> None:
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    assert loaded_entry.state is ConfigEntryState.NOT_LOADED
    error = await error_of(
        ServiceValidationError, call(hass, "query_mileage", entry_target(loaded_entry))
    )
    assert error.translation_key == "tracker_not_loaded"
    assert error.translation_placeholders == {"name": "Car"}


async def test_tracker_offline(hass: HomeAssistant, loaded_entry: MockConfigEntry) -> None:
    """No connection: a HomeAssistantError that says the tracker is not connected."""
    error = await error_of(
        HomeAssistantError, call(hass, "query_mileage", entry_target(loaded_entry), timeout=1)
    )
    assert error.translation_key == "tracker_offline"
    assert (error.translation_placeholders or {})["tracker_id"] == H02_ID
    assert "not connected" in str(error)


async def test_reply_timeout(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, connect: TrackerFactory
) -> None:
    """A tracker that receives the command but never answers."""
    tracker = await h02_tracker(connect, loaded_entry)
    task = call(hass, "request_position", entry_target(loaded_entry), timeout=1)
    assert await command(tracker) == f"*HQ,{H02_ID},CR#"
    error = await error_of(HomeAssistantError, task)
    assert error.translation_key == "command_timeout"
    assert error.translation_placeholders == {"tracker_id": H02_ID, "timeout": "1"}
    assert "did not answer within 1 seconds" in str(error)


async def test_disconnected_before_the_answer(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, connect: TrackerFactory
) -> None:
    tracker = await h02_tracker(connect, loaded_entry)
    task = call(hass, "request_position", entry_target(loaded_entry), timeout=5)
    await command(tracker)
    await tracker.close()
    error = await error_of(HomeAssistantError, task)
    assert error.translation_key == "tracker_disconnected"


async def test_queue_if_offline(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, connect: TrackerFactory
) -> None:
    """A queued command waits for the tracker and goes out after its first frame."""
    task = call(hass, "query_mileage", entry_target(loaded_entry), queue_if_offline=True, timeout=5)
    await asyncio.sleep(0.05)
    assert not task.done()
    tracker = await connect(loaded_entry)
    await tracker.send(h02_v1(T0))
    assert (await tracker.read_until(b"#")).startswith(f"*HQ,{H02_ID},V4,V1,".encode())
    assert await command(tracker) == f"*HQ,{H02_ID},S32,000000,1#"
    await tracker.send(f"*HQ,{H02_ID},V4,S32,321.0,000000#".encode())
    response = await result(task)
    assert response["mileage_km"] == 321.0


async def test_queued_command_expires(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """A queued command for a tracker that stays away expires after an hour."""
    task = call(hass, "request_position", entry_target(loaded_entry), queue_if_offline=True)
    for _ in range(5):
        await asyncio.sleep(0)
    assert not task.done()
    freezer.tick(timedelta(minutes=59))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not task.done()
    freezer.tick(timedelta(minutes=2))
    error = await error_of(HomeAssistantError, task)
    assert error.translation_key == "command_expired"


async def test_queued_command_fails_when_the_entry_unloads(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """A command still waiting for its tracker fails when the integration stops listening."""
    task = call(hass, "request_position", entry_target(loaded_entry), queue_if_offline=True)
    await asyncio.sleep(0.05)
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    error = await error_of(HomeAssistantError, task)
    assert error.translation_key == "command_failed"


async def test_query_mileage_reply_with_an_older_fix_still_sets_the_odometer(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, connect: TrackerFactory
) -> None:
    """The S32 answer may carry the fix the tracker had when it answered, older than the
    newest report: the mileage is news all the same."""
    tracker = await connect(loaded_entry)
    await report(tracker, h02_v1(T0 + timedelta(minutes=5)))
    task = call(hass, "query_mileage", entry_target(loaded_entry))
    assert await command(tracker) == f"*HQ,{H02_ID},S32,000000,1#"
    await tracker.send(f"*HQ,{H02_ID},V4,S32,2001.5,000000,{h02_position(T0)}#".encode())
    response = await result(task)
    assert response["mileage_km"] == 2001.5
    assert state(hass, "sensor.car_odometer").state == "2001.5"
    # The older fix did not move the tracker back.
    assert fix_time(hass) == (T0 + timedelta(minutes=5)).isoformat()
