"""Only news is written: a parked tracker reporting every 10 s writes (almost) nothing, and
the logbook (Activity) gets no line per report, parked or driving.

The logbook's own rule decides what counts as a line: Home Assistant's logbook shows a
state change of an entity (not an attribute change), except for sensors with a unit, a
state class or a numeric device class (``logbook.helpers._is_state_filtered``).
"""

from __future__ import annotations

from datetime import timedelta
import math
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.logbook.helpers import _is_state_filtered
from homeassistant.const import EVENT_STATE_CHANGED, EVENT_STATE_REPORTED
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.sinotrack.const import DOMAIN
from custom_components.sinotrack.protocol.connection import Decoded, TrackerConnection
from custom_components.sinotrack.runtime import SinotrackRuntime
from tests.support.frames import BIT_SOS, T0, h02_status, h02_v1
from tests.support.hass import enable_all, state

REPORT_EVERY = timedelta(seconds=10)
SECOND = timedelta(seconds=1)
TEN_MINUTES = 60
"""Reports in ten minutes, one every 10 s."""
METER_LATITUDE = 1 / 111_195
START = T0 + timedelta(minutes=1)
"""Device time of the first report."""


class Tracker:
    """Real H02 frames, decoded by the codec and handed to the tracker's runtime as the
    listener does (the clock moves ten minutes: no socket timeouts in the way)."""

    def __init__(self, runtime: SinotrackRuntime) -> None:
        self.runtime = runtime
        self.codec = TrackerConnection(protocol="h02")
        runtime.connection_changed(True, "127.0.0.1")

    def report(self, frame: bytes, now: float) -> None:
        for event in self.codec.feed(frame, now):
            if isinstance(event, Decoded) and event.messages:
                self.runtime.handle_messages(event.messages)


class Recorded:
    """State writes of the tracker's entities (what the recorder stores, and the reported
    ones that only touch ``last_reported``) and the logbook lines they make."""

    def __init__(self, hass: HomeAssistant) -> None:
        self.writes: list[str] = []
        self.lines: list[str] = []

        @callback
        def ours(data: Any) -> bool:
            return str(data["entity_id"]).split(".")[1].startswith("car")

        @callback
        def changed(event: Event[Any]) -> None:
            self.writes.append(event.data["entity_id"])
            old, new = event.data["old_state"], event.data["new_state"]
            if (
                old is not None
                and new is not None
                and not _is_state_filtered(new, old)
                # The trip calendar's on/off goes with the trip event's line; whether the
                # logbook shows it differs between Home Assistant versions.
                and new.domain != "calendar"
            ):
                self.lines.append(f"{new.entity_id}: {old.state} -> {new.state}")

        @callback
        def reported(event: Event[Any]) -> None:
            self.writes.append(event.data["entity_id"])

        hass.bus.async_listen(EVENT_STATE_CHANGED, changed, ours)
        hass.bus.async_listen(EVENT_STATE_REPORTED, reported, ours)

    def take(self) -> tuple[list[str], list[str]]:
        taken = (list(self.writes), list(self.lines))
        self.writes.clear()
        self.lines.clear()
        return taken


async def ten_minutes(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    *,
    knots: float,
) -> tuple[list[str], list[str]]:
    """One report, then ten minutes of reports every 10 s (parked: the fix wanders a few
    metres, as GPS fixes do; driving: north at ``knots``): the writes and logbook lines of
    those ten minutes."""
    freezer.move_to(T0)  # before the listener starts: its clocks never go back
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    await enable_all(hass, entry)
    # Home Assistant reloads the entry again 30 s after entities were enabled: let it.
    freezer.tick(timedelta(seconds=31))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    start = START
    freezer.move_to(start)
    tracker = Tracker(entry.runtime_data)
    latitude = 9.9
    status = h02_status(acc=knots > 0)
    tracker.report(h02_v1(start, latitude=latitude, knots=knots, status=status), start.timestamp())
    await hass.async_block_till_done()
    recorded = Recorded(hass)
    for index in range(1, TEN_MINUTES + 1):
        when = start + index * REPORT_EVERY
        freezer.move_to(when)
        async_fire_time_changed(hass)
        if knots:
            latitude += knots * 1.852 * 1000 * METER_LATITUDE * REPORT_EVERY.total_seconds() / 3600
            wander = 0.0
        else:
            wander = 8 * METER_LATITUDE * math.sin(index)  # within 8 m of where it parked
        frame = h02_v1(when, latitude=latitude + wander, knots=knots, status=status)
        tracker.report(frame, when.timestamp())
        await hass.async_block_till_done()
    await hass.async_block_till_done()
    return recorded.take()


async def test_parked_tracker_writes_almost_nothing(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Parked, reporting every 10 s for ten minutes, every entity enabled: at most two
    state writes in all, and no logbook line."""
    writes, lines = await ten_minutes(hass, config_entry, freezer, knots=0)
    assert len(writes) <= 2, writes
    assert lines == []
    assert state(hass, "device_tracker.car").attributes["latitude"] == pytest.approx(9.9)
    assert state(hass, "device_tracker.car").attributes["fix_time"] == START.isoformat()
    assert state(hass, "sensor.car_distance_counted").state == "0.0"


async def test_driving_tracker_logs_no_line_per_report(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Driving at a steady 50 km/h for ten minutes: the position, the distance counted
    follow each report, but the logbook gets no line per report: only the trip that
    started (once it covered 200 m and a minute)."""
    writes, lines = await ten_minutes(hass, config_entry, freezer, knots=27)
    trip_at = START + timedelta(minutes=1)
    assert lines == [
        f"event.car_trip: unknown -> {trip_at.isoformat(timespec='milliseconds')}",
        f"sensor.car_parked_since: {START.isoformat()} -> unknown",
    ]
    assert writes.count("device_tracker.car") == TEN_MINUTES
    assert "sensor.car_last_fix" not in writes
    # Position and distance counted with each report, "distance today" and "current trip
    # distance" per 0.1 km (each report at 50 km/h), one "last seen", and the trip start
    # (calendar, event, trips today, parked since).
    assert len(writes) <= 4 * TEN_MINUTES + 5, writes
    assert (
        state(hass, "device_tracker.car").attributes["fix_time"]
        == (START + TEN_MINUTES * REPORT_EVERY).isoformat()
    )


async def test_logbook_shows_what_a_person_reads(
    hass: HomeAssistant, config_entry: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """Parked at home, ignition on, driving away for five minutes, an SOS: the logbook
    has a line for each of those, and none for the 60 reports in between."""
    assert await async_setup_component(hass, "zone", {})
    home_latitude, home_longitude = hass.config.latitude, hass.config.longitude
    freezer.move_to(T0)
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    tracker = Tracker(config_entry.runtime_data)
    first = h02_v1(T0, latitude=home_latitude, longitude=home_longitude, knots=0)
    tracker.report(first, T0.timestamp())
    await hass.async_block_till_done()
    assert state(hass, "device_tracker.car").state == "home"
    recorded = Recorded(hass)
    latitude = home_latitude
    for index in range(1, 60):
        when = T0 + index * REPORT_EVERY
        freezer.move_to(when)
        async_fire_time_changed(hass)
        driving = index >= 20
        if driving:
            latitude += 50 * 1000 * METER_LATITUDE * REPORT_EVERY.total_seconds() / 3600
        status = h02_status(*((BIT_SOS,) if index >= 50 else ()), acc=index >= 10)
        frame = h02_v1(
            when,
            latitude=latitude,
            longitude=home_longitude,
            knots=27 if driving else 0,
            status=status,
        )
        tracker.report(frame, when.timestamp())
        await hass.async_block_till_done()
    _, lines = recorded.take()
    sos_at = T0 + 50 * REPORT_EVERY  # the event entity's state: when it fired
    trip_at = T0 + 25 * REPORT_EVERY  # the trip left at report 19: a minute later
    assert sorted(lines) == [
        "binary_sensor.car_ignition: off -> on",
        "binary_sensor.car_sos: off -> on",
        "device_tracker.car: home -> not_home",
        f"event.car_alarm: unknown -> {sos_at.isoformat(timespec='milliseconds')}",
        f"event.car_trip: unknown -> {trip_at.isoformat(timespec='milliseconds')}",
        f"sensor.car_parked_since: {T0.isoformat()} -> unknown",
        "sensor.car_vehicle_state: idling -> moving",
        "sensor.car_vehicle_state: parked -> idling",
    ]


async def test_a_traffic_light_is_no_news(
    hass: HomeAssistant, config_entry: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """Driving with a one-minute stop at a traffic light: still moving, no logbook line.
    Standing still for two minutes with the engine on: idling. Ignition off: parked at once."""
    freezer.move_to(T0)
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    tracker = Tracker(config_entry.runtime_data)
    latitude = 9.9
    index = 0

    async def drive(reports: int, knots: float, *, acc: bool = True) -> None:
        nonlocal latitude, index
        for _ in range(reports):
            index += 1
            when = T0 + index * REPORT_EVERY
            freezer.move_to(when)
            async_fire_time_changed(hass)
            latitude += knots * 1.852 * 1000 * METER_LATITUDE * REPORT_EVERY.total_seconds() / 3600
            frame = h02_v1(when, latitude=latitude, knots=knots, status=h02_status(acc=acc))
            tracker.report(frame, when.timestamp())
            await hass.async_block_till_done()

    await drive(5, 27)
    assert state(hass, "sensor.car_vehicle_state").state == "moving"
    recorded = Recorded(hass)
    await drive(6, 0)  # a minute at the light
    await drive(5, 27)
    trip_at = T0 + 12 * REPORT_EVERY  # the trip started a minute after it left
    assert sorted(recorded.take()[1]) == [  # one frame writes both: in either order
        f"event.car_trip: unknown -> {trip_at.isoformat(timespec='milliseconds')}",
        f"sensor.car_parked_since: {(T0 + REPORT_EVERY).isoformat()} -> unknown",
    ]

    await drive(11, 0)  # stopped, engine running: 110 s
    assert state(hass, "sensor.car_vehicle_state").state == "moving"
    await drive(2, 0)  # 130 s
    assert state(hass, "sensor.car_vehicle_state").state == "idling"
    await drive(1, 0, acc=False)
    assert state(hass, "sensor.car_vehicle_state").state == "parked"
    assert sorted(recorded.take()[1]) == [
        "binary_sensor.car_ignition: on -> off",
        "sensor.car_vehicle_state: idling -> parked",
        "sensor.car_vehicle_state: moving -> idling",
    ]


async def test_a_parked_tracker_is_saved_every_ten_minutes(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The runtime's store (what survives a restart) is written 30 s after news, but only
    every 10 minutes while nothing but the time of the last frame changes."""
    key = f"{DOMAIN}.{config_entry.entry_id}"
    freezer.move_to(T0)
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    tracker = Tracker(config_entry.runtime_data)
    saved: list[float] = []
    for index in range(80):
        when = T0 + index * REPORT_EVERY
        freezer.move_to(when)
        async_fire_time_changed(hass)
        await hass.async_block_till_done()
        if key in hass_storage and (newest := hass_storage[key]["data"]["newest"]) not in saved:
            saved.append(newest)
        tracker.report(h02_v1(when, latitude=9.9, knots=0), when.timestamp())
        await hass.async_block_till_done()
    # News at 0 s, saved at 30 s (with the frame of 30 s); then only the frames' times:
    # saved 10 minutes later, not every 30 s.
    assert saved == [(T0 + 30 * SECOND).timestamp(), (T0 + 630 * SECOND).timestamp()]
