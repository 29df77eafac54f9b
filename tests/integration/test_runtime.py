"""Tracker behaviour a user notices: alarm events, stale and invalid fixes, writes, restarts,
availability and the odometer. Real frames through the listener; time driven where it matters.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
import logging
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import EVENT_STATE_CHANGED, EVENT_STATE_REPORTED
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.sinotrack.const import CONF_OFFLINE_TIMEOUT, DOMAIN
from custom_components.sinotrack.options_flow import nest_options
from tests.support.client import Jt808Device
from tests.support.defaults import JT808_OFFSET
from tests.support.frames import (
    BIT_GEOFENCE_IN,
    BIT_GEOFENCE_OUT,
    BIT_POWER_CUT,
    BIT_SOS,
    H02_ID,
    JT808_CRASH,
    JT808_FATIGUE,
    JT808_ID,
    JT808_LOW_BATTERY,
    JT808_OVERSPEED,
    JT808_POWER_CUT,
    JT808_ROLLOVER,
    JT808_SOS,
    T0,
    area_item,
    h02_heartbeat,
    h02_status,
    h02_v1,
    jt808_location,
    mileage_item,
)
from tests.support.hass import (
    ALARM,
    FiredEvents,
    enable_all,
    enable_before_setup,
    fix_time,
    make_entry,
    report,
    state,
    wait_fix,
    wait_for,
    wait_state,
)

from .conftest import TrackerFactory

SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)


class Writes:
    """The entities written (changed or only reported) since the last ``take``."""

    def __init__(self, hass: HomeAssistant) -> None:
        self.written: list[str] = []

        @callback
        def ours(data: Any) -> bool:
            return str(data["entity_id"]).split(".")[1].startswith("car")

        @callback
        def record(event: Event[Any]) -> None:
            self.written.append(event.data["entity_id"])

        hass.bus.async_listen(EVENT_STATE_CHANGED, record, ours)
        hass.bus.async_listen(EVENT_STATE_REPORTED, record, ours)

    def take(self) -> set[str]:
        written = set(self.written)
        self.written.clear()
        return written


async def setup(hass: HomeAssistant, entry: MockConfigEntry) -> MockConfigEntry:
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


async def jt808_tracker(
    hass: HomeAssistant, connect: TrackerFactory, **options: Any
) -> Jt808Device:
    entry = await setup(hass, make_entry(JT808_ID, **options))
    device = Jt808Device(await connect(entry))
    await device.login()
    return device


def assert_at(hass: HomeAssistant, latitude: float, longitude: float) -> None:
    """The tracker is at ``latitude``, ``longitude``."""
    attributes = state(hass, "device_tracker.car").attributes
    where = (attributes["latitude"], attributes["longitude"])
    assert where == pytest.approx((latitude, longitude))


# -- alarm events ------------------------------------------------------------------------------


async def test_sos_fires_once_per_occurrence(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    connect: TrackerFactory,
    freezer: FrozenDateTimeFactory,
) -> None:
    """An SOS frame fires one event; repeats fire none; clearing and raising fires again."""
    now = dt_util.parse_datetime("2026-01-02T03:05:00+00:00")
    assert now is not None
    freezer.move_to(now)
    alarms = FiredEvents(hass, ALARM)
    tracker = await connect(loaded_entry)
    await report(tracker, h02_v1(T0))
    assert alarms.fired == []

    await report(tracker, h02_v1(T0 + SECOND, knots=10, status=h02_status(BIT_SOS)))
    assert alarms.fired == [
        {
            "event_types": alarms.fired[0]["event_types"],
            "event_type": "sos",
            "latitude": pytest.approx(9.939781666),
            "longitude": pytest.approx(-84.11178),
            "position_valid": True,
            "speed": 18.52,
            "time": (T0 + SECOND).isoformat(),
            "friendly_name": "Car Alarm",
        }
    ]
    assert "sos" in alarms.fired[0]["event_types"]
    alarm = state(hass, ALARM)
    assert alarm.state == now.isoformat(timespec="milliseconds")
    assert state(hass, "binary_sensor.car_sos").state == "on"

    for second in (2, 3):  # the tracker keeps reporting the SOS
        await report(tracker, h02_v1(T0 + second * SECOND, status=h02_status(BIT_SOS)))
    assert alarms.types == ["sos"]
    assert state(hass, "binary_sensor.car_sos").state == "on"

    await report(tracker, h02_v1(T0 + 4 * SECOND))
    assert state(hass, "binary_sensor.car_sos").state == "off"
    assert alarms.types == ["sos"]

    freezer.tick(MINUTE)
    await report(tracker, h02_v1(T0 + 5 * SECOND, status=h02_status(BIT_SOS)))
    assert alarms.types == ["sos", "sos"]
    assert state(hass, ALARM).state == (now + MINUTE).isoformat(timespec="milliseconds")
    assert alarms.fired[1]["time"] == (T0 + 5 * SECOND).isoformat()


async def test_several_alarms_in_one_frame(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, connect: TrackerFactory
) -> None:
    """SOS and power cut in one frame: one event each, both binary sensors on."""
    alarms = FiredEvents(hass, ALARM)
    tracker = await connect(loaded_entry)
    await report(tracker, h02_v1(status=h02_status(BIT_SOS, BIT_POWER_CUT)))
    assert sorted(alarms.types) == ["power_cut", "sos"]
    assert state(hass, "binary_sensor.car_sos").state == "on"
    assert state(hass, "binary_sensor.car_power_cut").state == "on"
    assert state(hass, ALARM).attributes["event_type"] in {"power_cut", "sos"}


@pytest.mark.parametrize(
    ("bit", "binary_sensor", "event_type"),
    [
        (JT808_SOS, "sos", "sos"),
        (JT808_OVERSPEED, "overspeeding", "overspeed"),
        (JT808_FATIGUE, "fatigue_driving", "fatigue"),
        (JT808_LOW_BATTERY, "low_battery", "low_battery"),
        (JT808_POWER_CUT, "power_cut", "power_cut"),
        (JT808_CRASH, "crash", "crash"),
        (JT808_ROLLOVER, "rollover", "rollover"),
    ],
)
async def test_jt808_alarm_bits(
    hass: HomeAssistant, connect: TrackerFactory, bit: int, binary_sensor: str, event_type: str
) -> None:
    """Each JT/T 808 alarm bit sets its binary sensor and fires its event once."""
    alarms = FiredEvents(hass, ALARM)
    device = await jt808_tracker(hass, connect)
    await device.location(jt808_location(T0, alarm=bit))
    await wait_state(hass, f"binary_sensor.car_{binary_sensor}", "on")
    await device.location(jt808_location(T0 + SECOND, alarm=bit))
    await device.location(jt808_location(T0 + 2 * SECOND))
    await wait_state(hass, f"binary_sensor.car_{binary_sensor}", "off")
    assert alarms.types == [event_type]
    assert alarms.fired[0]["time"] == T0.isoformat()
    assert alarms.fired[0]["speed"] == 34.5


async def test_a_crash_sensor_exists_once_raised_and_stays(
    hass: HomeAssistant, connect: TrackerFactory
) -> None:
    """JT/T 808 reports the crash, rollover and fatigue bits in every report: their binary
    sensors appear only once raised (most trackers have no such sensor), and one that
    appeared stays after a restart, off."""
    device = await jt808_tracker(hass, connect)
    await device.location(jt808_location(T0))
    await wait_state(hass, "binary_sensor.car_sos", "off")
    for name in ("crash", "rollover", "fatigue_driving"):
        assert hass.states.get(f"binary_sensor.car_{name}") is None
    await device.location(jt808_location(T0 + SECOND, alarm=JT808_CRASH))
    await wait_state(hass, "binary_sensor.car_crash", "on")
    await device.location(jt808_location(T0 + 2 * SECOND))
    await wait_state(hass, "binary_sensor.car_crash", "off")

    (entry,) = hass.config_entries.async_entries(DOMAIN)
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert state(hass, "binary_sensor.car_crash").state == "off"
    assert hass.states.get("binary_sensor.car_rollover") is None


async def test_jt808_several_alarms(hass: HomeAssistant, connect: TrackerFactory) -> None:
    """A crash with a rollover and a power cut: three events from one report."""
    alarms = FiredEvents(hass, ALARM)
    device = await jt808_tracker(hass, connect)
    await device.location(jt808_location(alarm=JT808_CRASH | JT808_ROLLOVER | JT808_POWER_CUT))
    await wait_state(hass, "binary_sensor.car_crash", "on")
    assert sorted(alarms.types) == ["crash", "power_cut", "rollover"]


async def test_h02_geofence(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, connect: TrackerFactory
) -> None:
    """H02 status bits 4 and 7: geofence entered and left."""
    alarms = FiredEvents(hass, ALARM)
    tracker = await connect(loaded_entry)
    await report(tracker, h02_v1(T0))
    await report(tracker, h02_v1(T0 + SECOND, status=h02_status(BIT_GEOFENCE_IN)))
    await report(tracker, h02_v1(T0 + 2 * SECOND, status=h02_status(BIT_GEOFENCE_IN)))
    await report(tracker, h02_v1(T0 + 3 * SECOND, status=h02_status(BIT_GEOFENCE_OUT)))
    assert alarms.types == ["geofence_enter", "geofence_exit"]


async def test_jt808_geofence(
    hass: HomeAssistant, connect: TrackerFactory, freezer: FrozenDateTimeFactory
) -> None:
    """JT/T 808 item 0x12 (area id, in or out): one event per crossing (the same crossing
    again fires after the 30 s alarm event limit)."""
    alarms = FiredEvents(hass, ALARM)
    device = await jt808_tracker(hass, connect)
    await device.location(jt808_location(T0, items=area_item(enter=True)))
    await device.location(jt808_location(T0 + SECOND))
    await device.location(jt808_location(T0 + 2 * SECOND, items=area_item(enter=False)))
    await device.location(jt808_location(T0 + 3 * SECOND))
    freezer.tick(31 * SECOND)
    await device.location(jt808_location(T0 + 4 * SECOND, items=area_item(enter=True)))
    await wait_fix(hass, (T0 + 4 * SECOND))
    assert alarms.types == ["geofence_enter", "geofence_exit", "geofence_enter"]


async def test_alarm_without_position(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    connect: TrackerFactory,
    freezer: FrozenDateTimeFactory,
) -> None:
    """An H02 ALRM frame (no position): the event carries the time it arrived."""
    now = dt_util.parse_datetime("2026-01-02T03:05:00+00:00")
    assert now is not None
    freezer.move_to(now)
    alarms = FiredEvents(hass, ALARM)
    tracker = await connect(loaded_entry)
    await report(tracker, h02_v1(T0))
    await tracker.send(f"*HQ,{H02_ID},ALRM,1#".encode())  # not answered
    await report(tracker, h02_heartbeat())  # answered after the ALRM was handled
    assert alarms.types == ["sos"]
    assert "latitude" not in alarms.fired[0]
    assert "speed" not in alarms.fired[0]
    assert alarms.fired[0]["time"] == now.isoformat()
    assert state(hass, "binary_sensor.car_sos").state == "on"


async def test_alarm_with_the_event_entity_disabled(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    connect: TrackerFactory,
    entity_registry: er.EntityRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With the alarm event entity disabled, the SOS binary sensor still turns on."""
    caplog.set_level(logging.INFO)
    entity_registry.async_update_entity(ALARM, disabled_by=er.RegistryEntryDisabler.USER)
    assert await hass.config_entries.async_reload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    tracker = await connect(loaded_entry)
    await report(tracker, h02_v1(T0, status=h02_status(BIT_SOS)))
    assert state(hass, "binary_sensor.car_sos").state == "on"
    assert hass.states.get(ALARM) is None
    assert f"{H02_ID}: sos alarm" in caplog.text


# -- stale and invalid fixes -------------------------------------------------------------------


async def test_older_h02_fix_is_ignored(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, connect: TrackerFactory
) -> None:
    """A frame older than the newest one (a late upload) moves nothing and changes nothing."""
    alarms = FiredEvents(hass, ALARM)
    tracker = await connect(loaded_entry)
    await report(tracker, h02_v1(T0 + MINUTE))
    writes = Writes(hass)
    reply = await report(
        tracker,
        h02_v1(
            T0,
            latitude=10.5,
            longitude=-84.5,
            knots=50,
            tail="712,01,0,0,3",
            status=h02_status(BIT_SOS),
        ),
    )
    assert reply.startswith(b"*HQ,4210051415,V4,V1,")  # still acknowledged
    await hass.async_block_till_done()
    assert writes.take() == set()
    assert_at(hass, 9.939781666, -84.11178)
    assert state(hass, "sensor.car_speed").state == "18.52"
    assert state(hass, "sensor.car_battery").state == "100"
    assert state(hass, "binary_sensor.car_sos").state == "off"
    assert fix_time(hass) == (T0 + MINUTE).isoformat()
    assert alarms.fired == []


async def test_older_jt808_batch_is_ignored(hass: HomeAssistant, connect: TrackerFactory) -> None:
    """A 0x0704 blind-area upload of older fixes changes nothing; a newer fix in it applies."""
    device = await jt808_tracker(hass, connect)
    await device.location(jt808_location(T0 + MINUTE, items=mileage_item(100)))
    await wait_state(hass, "sensor.car_odometer", "100.0")

    older = jt808_location(T0, latitude=23.0, longitude=115.0, speed=80.0, items=mileage_item(90))
    serial = await device.send(0x0704, (1).to_bytes(2) + b"\x01" + len(older).to_bytes(2) + older)
    assert (await device.read())[2] == serial.to_bytes(2) + b"\x07\x04\x00"
    await hass.async_block_till_done()
    assert_at(hass, 22.54321, 114.05789)
    assert state(hass, "sensor.car_speed").state == "34.5"
    assert state(hass, "sensor.car_odometer").state == "100.0"
    assert fix_time(hass) == (T0 + MINUTE).isoformat()

    newer = jt808_location(T0 + 2 * MINUTE, latitude=23.0, longitude=115.0, speed=0.0)
    batch = (2).to_bytes(2) + b"\x00"
    for body in (older, newer):
        batch += len(body).to_bytes(2) + body
    await device.send(0x0704, batch)
    await device.read()
    await wait_state(hass, "sensor.car_speed", "0.0")
    assert_at(hass, 23.0, 115.0)
    assert fix_time(hass) == (T0 + 2 * MINUTE).isoformat()


async def test_a_date_in_the_future_does_not_hold_back_later_fixes(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    connect: TrackerFactory,
    freezer: FrozenDateTimeFactory,
) -> None:
    """One frame with a corrupt date a year ahead (or a JT/T 808 clock zone corrected in
    the options) must not make every later frame look old."""
    freezer.move_to(T0 + MINUTE)
    tracker = await connect(loaded_entry)
    await report(tracker, h02_v1(T0))
    await report(tracker, h02_v1(T0 + timedelta(days=365), latitude=9.95))
    freezer.tick(2 * MINUTE)
    await report(tracker, h02_v1(T0 + 3 * MINUTE, latitude=9.96))
    assert_at(hass, 9.96, -84.11178)
    assert fix_time(hass) == (T0 + 3 * MINUTE).isoformat()
    # Late uploads of fixes older than the newest real one are still ignored.
    await report(tracker, h02_v1(T0 + 2 * MINUTE, latitude=9.97))
    assert_at(hass, 9.96, -84.11178)


async def test_invalid_fix_keeps_the_position(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, connect: TrackerFactory
) -> None:
    """A fix marked invalid (V) does not move the tracker; it says the position is not valid
    ("position valid", disabled by default, enabled)."""
    await enable_all(hass, loaded_entry)
    tracker = await connect(loaded_entry)
    await report(tracker, h02_v1(T0))
    await report(tracker, h02_v1(T0 + SECOND, valid=False, latitude=10.5, longitude=-85.0))
    assert state(hass, "binary_sensor.car_position_valid").state == "off"
    assert_at(hass, 9.939781666, -84.11178)
    assert fix_time(hass) == T0.isoformat()
    assert state(hass, "sensor.car_distance_counted").state == "0.0"


async def test_invalid_fix_allowed(hass: HomeAssistant, connect: TrackerFactory) -> None:
    """With "allow invalid fixes" on, an invalid fix moves the tracker (not the odometer)."""
    entry = await setup(hass, make_entry(allow_invalid_fix=True))
    await enable_all(hass, entry)
    tracker = await connect(entry)
    await report(tracker, h02_v1(T0))
    await report(tracker, h02_v1(T0 + MINUTE, valid=False, latitude=9.95, longitude=-84.11178))
    assert_at(hass, 9.95, -84.11178)
    assert state(hass, "binary_sensor.car_position_valid").state == "off"
    assert fix_time(hass) == (T0 + MINUTE).isoformat()
    assert state(hass, "sensor.car_distance_counted").state == "0.0"


# -- writes ------------------------------------------------------------------------------------


async def test_only_changed_entities_are_written(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, connect: TrackerFactory
) -> None:
    """A frame that changes nothing writes nothing; a speed change writes speed and what
    derives from it, not the battery."""
    tracker = await connect(loaded_entry)
    await report(tracker, h02_v1(T0, knots=10))
    await hass.async_block_till_done()
    writes = Writes(hass)

    await report(tracker, h02_v1(T0, knots=10))
    await report(tracker, h02_heartbeat())
    await hass.async_block_till_done()
    assert writes.take() == set()

    await report(tracker, h02_v1(T0, knots=20))
    await hass.async_block_till_done()
    assert writes.take() == {"sensor.car_speed"}
    assert state(hass, "sensor.car_speed").state == "37.04"

    await report(tracker, h02_v1(T0, knots=0))
    await hass.async_block_till_done()
    assert writes.take() == {"sensor.car_speed", "sensor.car_vehicle_state"}

    await report(tracker, h02_v1(T0 + MINUTE, knots=0, latitude=9.95))
    await hass.async_block_till_done()
    # 1.1 km in a minute: a trip started (written once, with its figures; dated T0, not
    # today, it leaves "distance today" and "trips today" as they were: not written).
    assert writes.take() == {
        "device_tracker.car",
        "sensor.car_distance_counted",
        "calendar.car_trips",
        "event.car_trip",
        "sensor.car_parked_since",
        "sensor.car_current_trip_distance",
    }

    await report(tracker, h02_v1(T0 + 2 * MINUTE, knots=0, latitude=9.95, tail="712,01,0,0,3"))
    await hass.async_block_till_done()
    assert writes.take() == {"sensor.car_battery"}
    assert state(hass, "sensor.car_battery").state == "20"


# -- restart -----------------------------------------------------------------------------------


async def test_state_is_saved_and_restored(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    loaded_entry: MockConfigEntry,
    connect: TrackerFactory,
) -> None:
    """Values and alarm flags are stored (delayed write) and survive a reload; a tracker
    still reporting the alarm it raised before does not fire it again."""
    key = f"{DOMAIN}.{loaded_entry.entry_id}"
    alarms = FiredEvents(hass, ALARM)
    tracker = await connect(loaded_entry)
    await report(tracker, h02_v1(T0, knots=10, status=h02_status(BIT_SOS)))
    await report(tracker, h02_v1(T0 + MINUTE, latitude=9.95, knots=10, status=h02_status(BIT_SOS)))
    assert alarms.types == ["sos"]
    assert key not in hass_storage  # written with a delay, not on every frame

    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=29))
    await hass.async_block_till_done()
    assert key not in hass_storage
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=31))
    await wait_for(hass, lambda: key in hass_storage)
    saved = hass_storage[key]["data"]
    assert saved["latitude"] == pytest.approx(9.95)
    assert saved["alarms"]["sos.alarm"] is True
    assert saved["values"]["battery.level"] == 100

    before = {
        entity_id: state(hass, entity_id)
        for entity_id in (
            "device_tracker.car",
            "sensor.car_speed",
            "sensor.car_battery",
            "sensor.car_distance_counted",
            "sensor.car_vehicle_state",
            "binary_sensor.car_sos",
            ALARM,
        )
    }
    assert await hass.config_entries.async_reload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    for entity_id, old in before.items():
        new = state(hass, entity_id)
        assert (new.state, new.attributes) == (old.state, old.attributes), entity_id
    assert state(hass, "binary_sensor.car_connected").state == "off"

    tracker = await connect(loaded_entry)  # the listener closed its connections on unload
    await report(tracker, h02_v1(T0 + 2 * MINUTE, latitude=9.95, status=h02_status(BIT_SOS)))
    await report(tracker, h02_v1(T0 + SECOND, latitude=10.5))  # older than the stored newest
    assert_at(hass, 9.95, -84.11178)
    assert alarms.types == ["sos"]
    await report(tracker, h02_v1(T0 + 3 * MINUTE, latitude=9.95))
    await report(tracker, h02_v1(T0 + 4 * MINUTE, latitude=9.95, status=h02_status(BIT_SOS)))
    assert alarms.types == ["sos", "sos"]


async def test_saved_while_the_tracker_keeps_reporting(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    loaded_entry: MockConfigEntry,
    connect: TrackerFactory,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A tracker reporting every 10 s does not postpone the save: it happens within 30 s,
    so an unclean restart loses at most that much."""
    key = f"{DOMAIN}.{loaded_entry.entry_id}"
    tracker = await connect(loaded_entry)
    for index in range(5):
        await report(tracker, h02_v1(T0 + index * 10 * SECOND, latitude=9.9 + index * 0.001))
        freezer.tick(10 * SECOND)
        async_fire_time_changed(hass)
        await hass.async_block_till_done()
        async_fire_time_changed(hass)
        await hass.async_block_till_done()
    assert hass_storage[key]["data"]["fix_time"] == (T0 + 20 * SECOND).isoformat()


async def test_restored_at_startup(
    hass: HomeAssistant, hass_storage: dict[str, Any], connect: TrackerFactory
) -> None:
    """A tracker stored by a previous run has its position and values before it reports."""
    entry = make_entry()
    key = f"{DOMAIN}.{entry.entry_id}"
    hass_storage[key] = {
        "version": 1,
        "minor_version": 1,
        "key": key,
        "data": {
            "values": {"battery.level": 60, "position.speed": 0.0, "sos.alarm": True},
            "latitude": 9.95,
            "longitude": -84.1,
            "accuracy": 0.0,
            "fix_time": T0.isoformat(),
            "last_seen": (T0 + SECOND).isoformat(),
            "newest": T0.timestamp(),
            "odometer": 12.5,
            "computed_km": 12.5,
            "device_mileage": False,
            "alarms": {"sos.alarm": True},
        },
    }
    alarms = FiredEvents(hass, ALARM)
    enable_before_setup(hass, entry, "sensor.car_last_seen")  # disabled by default
    await setup(hass, entry)
    assert_at(hass, 9.95, -84.1)
    assert state(hass, "sensor.car_battery").state == "60"
    # Stored by a version whose odometer held the distance counted: it is that distance.
    assert state(hass, "sensor.car_distance_counted").state == "12.5"
    assert hass.states.get("sensor.car_odometer") is None
    assert fix_time(hass) == T0.isoformat()
    assert state(hass, "sensor.car_last_seen").state == (T0 + SECOND).isoformat()
    assert state(hass, "binary_sensor.car_sos").state == "on"
    assert state(hass, "binary_sensor.car_connected").state == "off"

    tracker = await connect(entry)
    await report(
        tracker, h02_v1(T0 + MINUTE, latitude=9.95, longitude=-84.1, status=h02_status(BIT_SOS))
    )
    assert alarms.types == []
    assert state(hass, "sensor.car_battery").state == "100"


# -- availability ------------------------------------------------------------------------------


def online_logs(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith("custom_components.sinotrack")
        and record.levelno == logging.INFO
        and record.getMessage().startswith("Tracker ")
    ]


async def test_offline_after_timeout(
    hass: HomeAssistant,
    connect: TrackerFactory,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Connected turns off once nothing came for the offline timeout; the tracker keeps its
    position; "offline" and "online" are logged once per transition."""
    caplog.set_level(logging.INFO)
    entry = await setup(hass, make_entry(offline_timeout=5))
    tracker = await connect(entry)
    await report(tracker, h02_v1(T0))
    assert state(hass, "binary_sensor.car_connected").state == "on"
    assert online_logs(caplog) == [f"Tracker {H02_ID} is online"]

    freezer.tick(4 * MINUTE)
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert state(hass, "binary_sensor.car_connected").state == "on"

    for _ in range(3):
        freezer.tick(MINUTE)
        async_fire_time_changed(hass)
        await hass.async_block_till_done()
    assert state(hass, "binary_sensor.car_connected").state == "off"
    assert state(hass, "device_tracker.car").state == "not_home"
    assert_at(hass, 9.939781666, -84.11178)
    assert state(hass, "sensor.car_speed").state == "18.52"
    assert online_logs(caplog) == [f"Tracker {H02_ID} is online", f"Tracker {H02_ID} is offline"]

    await report(tracker, h02_heartbeat())
    assert state(hass, "binary_sensor.car_connected").state == "on"
    assert online_logs(caplog) == [
        f"Tracker {H02_ID} is online",
        f"Tracker {H02_ID} is offline",
        f"Tracker {H02_ID} is online",
    ]


async def test_offline_when_the_connection_closes(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    connect: TrackerFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Connected turns off when the TCP connection closes, at once; the position stays."""
    caplog.set_level(logging.INFO)
    tracker = await connect(loaded_entry)
    await report(tracker, h02_v1(T0))
    await tracker.close()
    await wait_state(hass, "binary_sensor.car_connected", "off")
    assert_at(hass, 9.939781666, -84.11178)
    assert online_logs(caplog) == [f"Tracker {H02_ID} is online", f"Tracker {H02_ID} is offline"]

    tracker = await connect(loaded_entry)
    await report(tracker, h02_heartbeat())
    assert state(hass, "binary_sensor.car_connected").state == "on"


async def test_offline_timeout_option_applies_at_once(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    connect: TrackerFactory,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Shortening the offline timeout in the options takes effect without a reload."""
    tracker = await connect(loaded_entry)
    await report(tracker, h02_v1(T0))
    freezer.tick(10 * MINUTE)
    result = await hass.config_entries.options.async_init(loaded_entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], nest_options({**loaded_entry.options, CONF_OFFLINE_TIMEOUT: 5})
    )
    await hass.async_block_till_done()
    assert state(hass, "binary_sensor.car_connected").state == "off"


# -- odometer ----------------------------------------------------------------------------------

KM_LATITUDE = 1 / 111.195
"""Degrees of latitude in one kilometre."""


async def test_odometer_adds_up_valid_fixes(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, connect: TrackerFactory
) -> None:
    """Without a device mileage the odometer is the distance between valid fixes."""
    tracker = await connect(loaded_entry)
    lat = 9.9
    await report(tracker, h02_v1(T0, latitude=lat))
    assert state(hass, "sensor.car_distance_counted").state == "0.0"
    await report(tracker, h02_v1(T0 + MINUTE, latitude=lat + KM_LATITUDE))
    assert float(state(hass, "sensor.car_distance_counted").state) == pytest.approx(1.0, abs=0.001)
    await report(tracker, h02_v1(T0 + 2 * MINUTE, latitude=lat + 2 * KM_LATITUDE))
    assert float(state(hass, "sensor.car_distance_counted").state) == pytest.approx(2.0, abs=0.001)
    # An invalid fix far away is not driven distance.
    await report(tracker, h02_v1(T0 + 3 * MINUTE, latitude=lat + 50 * KM_LATITUDE, valid=False))
    # Nor is a jump no car can make (100 km in a minute).
    await report(tracker, h02_v1(T0 + 4 * MINUTE, latitude=lat + 100 * KM_LATITUDE))
    await report(tracker, h02_v1(T0 + 5 * MINUTE, latitude=lat + 2 * KM_LATITUDE))
    assert float(state(hass, "sensor.car_distance_counted").state) == pytest.approx(2.0, abs=0.001)
    assert (
        state(hass, "sensor.car_distance_counted").attributes["state_class"] == "total_increasing"
    )


async def test_odometer_counts_slow_driving(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, connect: TrackerFactory
) -> None:
    """Fixes 10 m apart (a slow car reporting often) still add up; jitter when parked does not."""
    tracker = await connect(loaded_entry)
    lat = 9.9
    step = KM_LATITUDE / 100  # 10 m
    for index in range(101):
        await report(tracker, h02_v1(T0 + index * SECOND, latitude=lat + index * step, knots=10))
    assert float(state(hass, "sensor.car_distance_counted").state) == pytest.approx(1.0, abs=0.021)
    for index in range(20):  # parked: the fix wanders 5 m back and forth
        wobble = lat + 100 * step + (step / 2 if index % 2 else 0)
        await report(tracker, h02_v1(T0 + (200 + index) * SECOND, latitude=wobble, knots=0))
    assert float(state(hass, "sensor.car_distance_counted").state) == pytest.approx(1.0, abs=0.021)


class History:
    """Every numeric state an entity took, in order."""

    def __init__(self, hass: HomeAssistant, entity_id: str) -> None:
        self.values: list[float] = []

        @callback
        def record(event: Event[Any]) -> None:
            new = event.data["new_state"]
            if event.data["entity_id"] == entity_id and new is not None:
                with contextlib.suppress(ValueError):
                    self.values.append(float(new.state))

        hass.bus.async_listen(EVENT_STATE_CHANGED, record)


async def test_odometer_is_the_tracker_mileage_and_never_jumps(
    hass: HomeAssistant, connect: TrackerFactory
) -> None:
    """The odometer is the tracker's own mileage from its first value on: never the
    distance counted before the tracker reported one, so its statistics see no jump (a
    total_increasing sensor going from 1 km to 20,500 km counts 20,499 km driven). The
    distance counted is its own sensor and keeps counting."""
    odometer = History(hass, "sensor.car_odometer")
    counted = History(hass, "sensor.car_distance_counted")
    device = await jt808_tracker(hass, connect)
    await device.location(jt808_location(T0, latitude=22.5))
    await device.location(jt808_location(T0 + MINUTE, latitude=22.5 + KM_LATITUDE))
    await wait_fix(hass, T0 + MINUTE)
    assert hass.states.get("sensor.car_odometer") is None  # no mileage reported yet
    assert float(state(hass, "sensor.car_distance_counted").state) == pytest.approx(1.0, abs=0.001)

    await device.location(
        jt808_location(T0 + 2 * MINUTE, latitude=22.5 + KM_LATITUDE, items=mileage_item(20500.3))
    )
    await wait_state(hass, "sensor.car_odometer", "20500.3")
    await device.location(
        jt808_location(
            T0 + 3 * MINUTE, latitude=22.5 + 2 * KM_LATITUDE, items=mileage_item(20501.3)
        )
    )
    await wait_state(hass, "sensor.car_odometer", "20501.3")
    assert odometer.values == [20500.3, 20501.3]
    assert counted.values == [0.0, pytest.approx(1.0, abs=0.001), pytest.approx(2.0, abs=0.001)]
    odometer_state = state(hass, "sensor.car_odometer")
    assert odometer_state.attributes["state_class"] == "total_increasing"
    assert odometer_state.attributes["unit_of_measurement"] == "km"


async def test_counted_odometer_of_an_earlier_version_becomes_the_distance_counted(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    entity_registry: er.EntityRegistry,
    connect: TrackerFactory,
) -> None:
    """Upgrading: an odometer entity that held the distance counted (the tracker never
    reported a mileage) becomes the "distance counted" entity, its entity ID (and so its
    history) included; the odometer starts afresh with the tracker's first mileage. The
    removed "Last fix" sensor leaves no orphan in the registry."""
    entry = make_entry(JT808_ID)
    entry.add_to_hass(hass)
    key = f"{DOMAIN}.{entry.entry_id}"
    hass_storage[key] = {
        "version": 1,
        "minor_version": 1,
        "key": key,
        "data": {"values": {}, "odometer": 14.0, "computed_km": 14.0, "device_mileage": False},
    }
    for unique, entity_id in (
        ("odometer", "sensor.car_odometer"),
        ("last_fix", "sensor.car_last_fix"),
    ):
        entity_registry.async_get_or_create(
            "sensor",
            DOMAIN,
            f"{JT808_ID}_{unique}",
            config_entry=entry,
            suggested_object_id=entity_id.split(".")[1],
        )
    odometer = History(hass, "sensor.car_odometer")
    await setup(hass, entry)

    moved = entity_registry.async_get("sensor.car_distance_counted")
    assert moved is not None
    assert moved.unique_id == f"{JT808_ID}_distance_counted"
    assert state(hass, "sensor.car_distance_counted").state == "14.0"
    assert entity_registry.async_get("sensor.car_odometer") is None
    assert entity_registry.async_get("sensor.car_last_fix") is None

    device = Jt808Device(await connect(entry))
    await device.login()
    await device.location(jt808_location(T0, items=mileage_item(1267.0)))
    await wait_state(hass, "sensor.car_odometer", "1267.0")
    assert odometer.values == [1267.0]
    assert entity_registry.async_get("sensor.car_odometer").unique_id == f"{JT808_ID}_odometer"  # type: ignore[union-attr]


async def test_jt808_clock_offset_option(hass: HomeAssistant, connect: TrackerFactory) -> None:
    """The JT/T 808 clock zone option turns the tracker's local time into UTC."""
    device = await jt808_tracker(hass, connect, jt808_utc_offset=2.0)
    await device.location(jt808_location(T0 - JT808_OFFSET + timedelta(hours=2)))
    await wait_fix(hass, T0)


async def test_jt808_area_alarm_with_its_direction_fires_one_event(
    hass: HomeAssistant, connect: TrackerFactory
) -> None:
    """Alarm bit 20 (area) with item 0x12 (entering): one ``geofence_enter``, not two."""
    alarms = FiredEvents(hass, ALARM)
    device = await jt808_tracker(hass, connect)
    await device.location(jt808_location(T0, alarm=1 << 20, items=area_item(enter=True)))
    await wait_fix(hass, T0)
    assert alarms.types == ["geofence_enter"]
