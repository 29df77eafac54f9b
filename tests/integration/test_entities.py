"""Entities of a tracker after real frames through the listener: H02 text, H02 binary, JT/T 808."""

from __future__ import annotations

from datetime import datetime, timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.sinotrack.const import CONF_TRACKER_ID, DOMAIN
from tests.support.client import Jt808Device
from tests.support.frames import (
    H02_BINARY,
    H02_BINARY_ID,
    H02_ID,
    JT808_ACC_FIXED,
    JT808_ID,
    T0,
    h02_status,
    h02_v1,
    item,
    jt808_location,
    mileage_item,
)
from tests.support.hass import (
    enable_all,
    enable_before_setup,
    make_entry,
    report,
    state,
    states_of,
    tracker_device,
    wait_state,
)

from .conftest import TrackerFactory

SENSORS = (
    "sensor.car_battery",
    "sensor.car_speed",
    "sensor.car_distance_counted",
    "sensor.car_mobile_country_code",
    "sensor.car_mobile_network_code",
    "sensor.car_location_area_code",
    "sensor.car_cell_id",
    "sensor.car_external_voltage",
    "sensor.car_battery_voltage",
    "sensor.car_vehicle_state",
    "sensor.car_last_seen",
)
BINARY_SENSORS = (
    "binary_sensor.car_ignition",
    "binary_sensor.car_sos",
    "binary_sensor.car_power_cut",
    "binary_sensor.car_crash",
    "binary_sensor.car_rollover",
    "binary_sensor.car_overspeeding",
    "binary_sensor.car_fatigue_driving",
    "binary_sensor.car_low_battery",
    "binary_sensor.car_position_valid",
    "binary_sensor.car_moving",
    "binary_sensor.car_connected",
)
REPORTED_ONLY = (
    "binary_sensor.car_crash",
    "binary_sensor.car_rollover",
    "binary_sensor.car_fatigue_driving",
    "binary_sensor.car_low_battery",
)
"""Created once the tracker first reports them: never for an H02 tracker's frames here."""
RAISED_ONLY = (
    "binary_sensor.car_crash",
    "binary_sensor.car_rollover",
    "binary_sensor.car_fatigue_driving",
)
"""Created once the tracker first raises them: a JT/T 808 tracker reports them always."""
JT808_BINARY_SENSORS = tuple(e for e in BINARY_SENSORS if e not in RAISED_ONLY)
H02_BINARY_SENSORS = tuple(e for e in BINARY_SENSORS if e not in REPORTED_ONLY)
REPORTED_VALUES = (
    "sensor.car_mobile_country_code",
    "sensor.car_mobile_network_code",
    "sensor.car_location_area_code",
    "sensor.car_cell_id",
    "sensor.car_external_voltage",
    "sensor.car_battery_voltage",
)
"""Disabled by default, and created (registered) once the tracker first reports the value."""
VALUE_SENSORS = tuple(e for e in SENSORS if e not in REPORTED_VALUES)
DISABLED_BY_DEFAULT = {
    "binary_sensor.car_position_valid",
    "binary_sensor.car_moving",
    "sensor.car_last_seen",
}
"""Registered before the tracker reports anything, disabled (besides ``REPORTED_VALUES``)."""
DIAGNOSTIC = {
    "sensor.car_last_seen",
    "binary_sensor.car_position_valid",
    "binary_sensor.car_connected",
}
"""Diagnostic among the entities registered before the tracker reports anything."""


async def setup_all_enabled(hass: HomeAssistant, entry: MockConfigEntry) -> MockConfigEntry:
    """Set the entry up with every entity enabled."""
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    await enable_all(hass, entry)
    return entry


def iso(when: datetime) -> str:
    return when.isoformat()


async def reported_values(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, str]:
    """The disabled-by-default value sensors the tracker's reports created, enabled (the
    entry reloaded): their states."""
    await enable_all(hass, entry)
    registry = er.async_get(hass)
    return {
        entity_id: state(hass, entity_id).state
        for entity_id in REPORTED_VALUES
        if registry.async_is_registered(entity_id)
    }


async def test_h02_v1(hass: HomeAssistant, connect: TrackerFactory) -> None:
    """A V1 report sets the position and every value it carries; the rest stays unknown."""
    entry = await setup_all_enabled(hass, make_entry())
    assert state(hass, "device_tracker.car").state == "unknown"
    assert state(hass, "binary_sensor.car_connected").state == "off"

    before = dt_util.utcnow()
    tracker = await connect(entry)
    await tracker.send(h02_v1(T0, knots=10.0, course=90))
    await wait_state(hass, "binary_sensor.car_connected", "on")

    location = state(hass, "device_tracker.car")
    assert location.state == "not_home"
    assert location.attributes["latitude"] == pytest.approx(9.939781666)
    assert location.attributes["longitude"] == pytest.approx(-84.11178)
    assert location.attributes["gps_accuracy"] == 15  # H02 sends no HDOP: the default
    assert location.attributes["fix_time"] == iso(T0)
    assert location.attributes["source_type"] == "gps"

    values = states_of(hass, VALUE_SENSORS)
    last_seen = dt_util.parse_datetime(values.pop("sensor.car_last_seen"))
    assert last_seen is not None
    assert before.replace(microsecond=0) <= last_seen <= dt_util.utcnow()
    assert values == {
        "sensor.car_battery": "100",  # the tail's battery scale 6
        "sensor.car_speed": "18.52",  # 10 knots
        "sensor.car_distance_counted": "0.0",
        "sensor.car_vehicle_state": "towing",  # moving with the ignition off
    }
    # H02 V1 reports carry no mileage: no odometer until the tracker answers a query.
    assert hass.states.get("sensor.car_odometer") is None
    assert states_of(hass, H02_BINARY_SENSORS) == {
        "binary_sensor.car_ignition": "off",
        "binary_sensor.car_sos": "off",
        "binary_sensor.car_power_cut": "off",
        "binary_sensor.car_overspeeding": "off",
        "binary_sensor.car_position_valid": "on",
        "binary_sensor.car_moving": "on",
        "binary_sensor.car_connected": "on",
    }
    assert all(hass.states.get(entity_id) is None for entity_id in REPORTED_ONLY)
    assert state(hass, "sensor.car_speed").attributes["unit_of_measurement"] == "km/h"
    assert state(hass, "sensor.car_distance_counted").attributes["unit_of_measurement"] == "km"
    assert state(hass, "event.car_alarm").state == "unknown"
    # No altitude, satellites, HDOP or voltages in a V1 report: no entity for them.
    assert location.attributes["course"] == 90  # the fix's figures: attributes
    assert "altitude" not in location.attributes
    assert await reported_values(hass, entry) == {
        "sensor.car_mobile_country_code": "712",
        "sensor.car_mobile_network_code": "1",
        "sensor.car_location_area_code": "0",
        "sensor.car_cell_id": "0",
    }


async def test_h02_binary(hass: HomeAssistant, connect: TrackerFactory) -> None:
    """A 32-byte ``$`` frame: position, speed, course, battery and status flags."""
    entry = await setup_all_enabled(hass, make_entry(H02_BINARY_ID))
    tracker = await connect(entry)
    await tracker.send(H02_BINARY)  # a lone first $ frame is decoded once the line is quiet
    await wait_state(hass, "binary_sensor.car_connected", "on")

    location = state(hass, "device_tracker.car")
    assert location.attributes["latitude"] == pytest.approx(50.58855)
    assert location.attributes["longitude"] == pytest.approx(4.53035)
    values = states_of(hass, VALUE_SENSORS)
    del values["sensor.car_last_seen"]
    assert values == {
        "sensor.car_battery": "100",
        "sensor.car_speed": "0.0",
        "sensor.car_distance_counted": "0.0",
        "sensor.car_vehicle_state": "parked",
    }
    assert location.attributes["fix_time"] == "2016-11-13T12:45:43+00:00"
    assert states_of(hass, H02_BINARY_SENSORS) == {
        "binary_sensor.car_ignition": "off",
        "binary_sensor.car_sos": "off",
        "binary_sensor.car_power_cut": "off",
        "binary_sensor.car_overspeeding": "off",
        "binary_sensor.car_position_valid": "on",
        "binary_sensor.car_moving": "off",
        "binary_sensor.car_connected": "on",
    }
    assert all(hass.states.get(entity_id) is None for entity_id in REPORTED_ONLY)
    assert location.attributes["course"] == 0
    assert await reported_values(hass, entry) == {}


async def test_jt808_location(hass: HomeAssistant, connect: TrackerFactory) -> None:
    """A 0x0200 report after registration: basic block plus mileage, satellites, battery."""
    entry = await setup_all_enabled(hass, make_entry(JT808_ID))
    device = Jt808Device(await connect(entry))
    await device.login()
    items = (
        mileage_item(1234.5)
        + item(0x30, b"\x14")
        + item(0x31, b"\x09")
        + item(0xE4, b"\x00\x4d")
        + item(0xF1, (12450).to_bytes(4))
    )
    await device.location(jt808_location(T0, status=JT808_ACC_FIXED, items=items))
    await wait_state(hass, "sensor.car_odometer", "1234.5")

    location = state(hass, "device_tracker.car")
    assert location.attributes["latitude"] == pytest.approx(22.54321)
    assert location.attributes["longitude"] == pytest.approx(114.05789)
    values = states_of(hass, VALUE_SENSORS)
    del values["sensor.car_last_seen"]
    assert values == {
        "sensor.car_battery": "77",
        "sensor.car_speed": "34.5",
        "sensor.car_distance_counted": "0.0",  # one fix: nothing counted yet
        "sensor.car_vehicle_state": "moving",
    }
    assert state(hass, "sensor.car_odometer").state == "1234.5"  # the tracker's own mileage
    assert location.attributes["fix_time"] == iso(T0)  # sent as GMT+8 local time
    assert location.attributes["gps_accuracy"] == 15  # no HDOP in JT/T 808 either
    assert all(hass.states.get(entity_id) is None for entity_id in RAISED_ONLY)
    assert states_of(hass, JT808_BINARY_SENSORS) == {
        "binary_sensor.car_ignition": "on",
        "binary_sensor.car_sos": "off",
        "binary_sensor.car_power_cut": "off",
        "binary_sensor.car_overspeeding": "off",
        "binary_sensor.car_low_battery": "off",
        "binary_sensor.car_position_valid": "on",
        "binary_sensor.car_moving": "on",
        "binary_sensor.car_connected": "on",
    }
    assert await reported_values(hass, entry) == {"sensor.car_external_voltage": "12.45"}
    # The fix's figures: attributes of the location, not recorded.
    location = state(hass, "device_tracker.car")
    assert (location.attributes["course"], location.attributes["altitude"]) == (90, 12)
    assert location.attributes["satellites"] == 9


@pytest.mark.parametrize(
    ("knots", "acc", "vehicle_state", "moving"),
    [
        (0.0, False, "parked", "off"),
        (0.0, True, "idling", "off"),
        (2.0, True, "idling", "off"),  # 3.7 km/h: GPS jitter, not moving
        (10.0, True, "moving", "on"),
        (10.0, False, "towing", "on"),
    ],
)
async def test_vehicle_state(
    hass: HomeAssistant,
    connect: TrackerFactory,
    knots: float,
    acc: bool,
    vehicle_state: str,
    moving: str,
) -> None:
    """Vehicle state from speed and ignition ("moving", disabled by default, enabled)."""
    tracker = await connect(await setup_all_enabled(hass, make_entry()))
    await tracker.send(h02_v1(knots=knots, status=h02_status(acc=acc)))
    await wait_state(hass, "sensor.car_vehicle_state", vehicle_state)
    assert state(hass, "binary_sensor.car_moving").state == moving
    assert state(hass, "binary_sensor.car_ignition").state == ("on" if acc else "off")


async def test_invalid_jt808_fix_flags(hass: HomeAssistant, connect: TrackerFactory) -> None:
    """A JT/T 808 report without the fix bit: position not valid, southern/western hemisphere."""
    entry = await setup_all_enabled(hass, make_entry(JT808_ID, allow_invalid_fix=True))
    device = Jt808Device(await connect(entry))
    await device.login()
    await device.location(jt808_location(T0, status=0b1100))  # south, west, no fix
    await wait_state(hass, "binary_sensor.car_position_valid", "off")
    location = state(hass, "device_tracker.car")
    assert location.attributes["latitude"] == pytest.approx(-22.54321)
    assert location.attributes["longitude"] == pytest.approx(-114.05789)


TRIP_ENTITIES = {
    "calendar.car_trips",
    "event.car_trip",
    "sensor.car_distance_today",
    "sensor.car_trips_today",
    "sensor.car_last_trip_distance",
    "sensor.car_last_trip_duration",
    "sensor.car_parked_since",
    "sensor.car_current_trip_distance",
}


async def test_device_and_registry(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> None:
    """One SinoTrack ST-903 device per tracker; categories and disabled-by-default entities."""
    device = tracker_device(hass, loaded_entry)
    assert device.identifiers == {(DOMAIN, H02_ID)}
    assert device.name == "Car"
    assert device.manufacturer == "SinoTrack"
    assert device.model is None  # until the tracker reports one (JT/T 808 registration)
    assert device.serial_number == H02_ID

    entities = er.async_entries_for_config_entry(entity_registry, loaded_entry.entry_id)
    assert {entity.device_id for entity in entities} == {device.id}
    by_id = {entity.entity_id: entity for entity in entities}
    # Before the tracker reports anything, the conditions only some trackers report
    # (crash, rollover, fatigue, low battery) have no entity yet.
    # Nor the values only some trackers report (altitude, voltages...), nor the engine
    # stop's pending command while engine commands are not allowed.
    assert set(by_id) == {
        *VALUE_SENSORS,
        *H02_BINARY_SENSORS,
        "device_tracker.car",
        "event.car_alarm",
        "alarm_control_panel.car_guard",
        *TRIP_ENTITIES,
    }
    assert {e for e, entity in by_id.items() if entity.disabled_by is not None} == (
        DISABLED_BY_DEFAULT
    )
    assert {
        e for e, entity in by_id.items() if entity.entity_category is EntityCategory.DIAGNOSTIC
    } == DIAGNOSTIC
    # The tracker is on the map and in dashboards, not hidden as a diagnostic entity.
    assert by_id["device_tracker.car"].entity_category is None
    assert by_id["device_tracker.car"].unique_id == f"{H02_ID}_tracker"
    assert by_id["sensor.car_battery"].unique_id == f"{H02_ID}_battery"


async def test_two_trackers_one_port(hass: HomeAssistant, connect: TrackerFactory) -> None:
    """Two entries on one port: each tracker's frames reach only its own device."""
    car = make_entry()
    car.add_to_hass(hass)
    van = MockConfigEntry(
        domain=DOMAIN,
        title="Van",
        unique_id=H02_BINARY_ID,
        data={**car.data, CONF_TRACKER_ID: H02_BINARY_ID},
        options=car.options,
    )
    van.add_to_hass(hass)
    assert await hass.config_entries.async_setup(car.entry_id)  # sets up both
    await hass.async_block_till_done()

    tracker = await connect(van)
    await tracker.send(H02_BINARY)
    await wait_state(hass, "binary_sensor.van_connected", "on")
    assert state(hass, "device_tracker.van").attributes["latitude"] == pytest.approx(50.58855)
    assert state(hass, "device_tracker.car").state == "unknown"
    assert state(hass, "binary_sensor.car_connected").state == "off"
    assert tracker_device(hass, van).serial_number == H02_BINARY_ID
    assert tracker_device(hass, car).serial_number == H02_ID


async def test_last_seen(
    hass: HomeAssistant, connect: TrackerFactory, freezer: FrozenDateTimeFactory
) -> None:
    """ "Last seen" (disabled by default, enabled) is exact when the tracker comes online and
    when it goes offline; while it keeps reporting (which "Connected" says), it is written
    at most every 15 minutes."""
    start = dt_util.parse_datetime("2026-03-01T10:00:00+00:00")
    assert start is not None
    freezer.move_to(start)
    entry = make_entry()
    enable_before_setup(hass, entry, "sensor.car_last_seen")
    assert await hass.config_entries.async_setup(entry.entry_id)
    tracker = await connect(entry)
    await report(tracker, h02_v1(T0))
    assert state(hass, "sensor.car_last_seen").state == iso(start)

    for minute in range(1, 15):
        freezer.move_to(start + timedelta(minutes=minute))
        await report(tracker, h02_v1(T0 + timedelta(minutes=minute)))
    assert state(hass, "sensor.car_last_seen").state == iso(start)

    freezer.move_to(start + timedelta(minutes=15))
    await report(tracker, h02_v1(T0 + timedelta(minutes=15)))
    assert state(hass, "sensor.car_last_seen").state == iso(start + timedelta(minutes=15))

    last = start + timedelta(minutes=17)
    freezer.move_to(last)
    await report(tracker, h02_v1(T0 + timedelta(minutes=17)))
    assert state(hass, "sensor.car_last_seen").state == iso(start + timedelta(minutes=15))
    freezer.tick(timedelta(minutes=31))  # the offline timeout is 30 minutes
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert state(hass, "binary_sensor.car_connected").state == "off"
    assert state(hass, "sensor.car_last_seen").state == iso(last)  # its last frame
