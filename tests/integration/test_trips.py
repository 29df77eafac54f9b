"""Trips in Home Assistant: real H02 frames over the listener's socket make a trip that
shows in the calendar, the trip event, the trip sensors and the ``get_trips`` action."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
import itertools
import json
import math
from typing import Any
from xml.etree import ElementTree as ET

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import EVENT_STATE_CHANGED, EVENT_STATE_REPORTED
from homeassistant.core import Context, Event, HomeAssistant, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockUser,
    async_fire_time_changed,
)

from custom_components.sinotrack.const import CONF_NOMINATIM_URL, DOMAIN
from custom_components.sinotrack.model.track import TrackPoint
from custom_components.sinotrack.model.trip_archive import part_key
from custom_components.sinotrack.model.trip_data import Position, Trip
from custom_components.sinotrack.model.trips import MAX_TRIPS, MEMORY_TRIPS
from custom_components.sinotrack.trip_log import LATE_INTERVAL, PROGRESS_SAVE_S, TAIL_POINTS
from tests.location.helpers import ANYWHERE, FakeService
from tests.support.client import Client
from tests.support.frames import T0, h02_status, h02_v1
from tests.support.gpx import assert_valid_gpx
from tests.support.hass import FiredEvents, make_entry, report, state

from .conftest import TrackerFactory
from .location_helpers import config_dir, load_location, service

__all__ = ["config_dir", "service"]

STEP = timedelta(seconds=10)
METER_LATITUDE = 1 / 111_195
KNOTS = 27.0
"""50 km/h: 139 m every 10 s."""
GPX = "{http://www.topografix.com/GPX/1/1}"


class Car:
    """A car that parks at home, drives north with a red light, and parks again."""

    def __init__(self, hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
        self.hass = hass
        self.freezer = freezer
        self.latitude = hass.config.latitude
        self.longitude = hass.config.longitude
        self.when = T0
        self.tracker: Client | None = None

    async def fix(self, knots: float, *, acc: bool, every: timedelta = STEP) -> None:
        """One report, ``every`` after the last, the car having driven at ``knots``."""
        assert self.tracker is not None
        self.when += every
        self.latitude += knots * 1.852 * 1000 * METER_LATITUDE * every.total_seconds() / 3600
        self.freezer.move_to(self.when)
        frame = h02_v1(
            self.when,
            latitude=self.latitude,
            longitude=self.longitude,
            knots=knots,
            status=h02_status(acc=acc),
        )
        await report(self.tracker, frame)
        await self.hass.async_block_till_done()

    async def park(self, minutes: int) -> None:
        """Parked, ignition off, a report a minute."""
        for _ in range(minutes):
            await self.fix(0, acc=False, every=timedelta(minutes=1))

    async def drive(self, reports: int) -> None:
        """Driving, a report every 10 s."""
        for _ in range(reports):
            await self.fix(KNOTS, acc=True)

    async def red_light(self) -> None:
        """A minute at a red light, engine on."""
        for _ in range(6):
            await self.fix(0, acc=True)


async def start(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, entry: MockConfigEntry | None = None
) -> tuple[MockConfigEntry, Car]:
    """Zones and the entry loaded at T0."""
    freezer.move_to(T0)
    assert await async_setup_component(hass, "zone", {})
    entry = entry or make_entry()
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry, Car(hass, freezer)


async def one_trip(car: Car, connect: TrackerFactory, entry: MockConfigEntry) -> None:
    """Parked at home 3 min, 5 min driving, a red light, 3 min driving, parked 7 min."""
    car.tracker = await connect(entry)
    await car.park(3)
    await car.drive(30)
    await car.red_light()
    await car.drive(18)
    await car.fix(0, acc=True)  # stopped
    await car.park(7)


async def calendar_events(hass: HomeAssistant, start: datetime, end: datetime) -> list[Any]:
    """The trips calendar's events between ``start`` and ``end`` (``calendar.get_events``)."""
    response = await hass.services.async_call(
        "calendar",
        "get_events",
        {
            "entity_id": "calendar.car_trips",
            "start_date_time": start.isoformat(),
            "end_date_time": end.isoformat(),
        },
        blocking=True,
        return_response=True,
    )
    assert response is not None
    events: Any = response["calendar.car_trips"]
    return list(events["events"])


async def get_trips(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    data: dict[str, str] | None = None,
    *,
    context: Context | None = None,
) -> dict[str, Any]:
    response = await hass.services.async_call(
        DOMAIN,
        "get_trips",
        {"config_entry_id": entry.entry_id, **(data or {})},
        blocking=True,
        return_response=True,
        context=context,
    )
    assert response is not None
    return dict(response)


async def test_a_drive_with_a_red_light_is_one_trip_everywhere(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, connect: TrackerFactory
) -> None:
    """The trip event fires started then ended with the trip's figures; the calendar
    holds it for its window; the sensors show it."""
    entry, car = await start(hass, freezer)
    events = FiredEvents(hass, "event.car_trip")
    await one_trip(car, connect, entry)

    assert events.types == ["started", "ended"]
    ended = events.fired[1]
    left = T0 + timedelta(minutes=3)  # the last report at home
    stopped = left + 55 * STEP  # 30 reports, the light, 18 reports, stopped
    assert datetime.fromisoformat(ended["start"]) == left
    assert datetime.fromisoformat(ended["end"]) == stopped
    assert ended["duration_s"] == 550
    assert ended["distance_km"] == pytest.approx(48 * 0.1389, rel=0.02)
    assert ended["max_speed_kmh"] == pytest.approx(50.0, abs=0.1)
    assert ended["moving_s"] == pytest.approx(480, abs=10)  # the light left out
    home = state(hass, "zone.home").name  # the location's name
    assert ended["start_position"]["zone"] == home
    assert ended["start_position"]["zone_entity_id"] == "zone.home"
    assert ended["end_position"]["zone"] is None
    assert ended["summary"].startswith(f"{home} -> ")
    assert "track" not in ended  # the recorder keeps event data: no track in it

    (event,) = await calendar_events(hass, T0, T0 + timedelta(hours=1))
    assert datetime.fromisoformat(event["start"]) == left
    assert datetime.fromisoformat(event["end"]) == stopped
    assert event["summary"] == f"{home} -> {car.latitude:.4f}, {car.longitude:.4f}, 6.7 km"
    assert "Duration: 9 min" in event["description"]
    assert "Max speed: 50 km/h" in event["description"]
    assert f"From: {home}" in event["description"]
    # A window before the trip holds nothing.
    assert await calendar_events(hass, T0 - timedelta(hours=2), T0) == []
    assert state(hass, "calendar.car_trips").state == "off"  # no trip in progress

    assert float(state(hass, "sensor.car_distance_today").state) == pytest.approx(
        ended["distance_km"], abs=0.01
    )
    assert state(hass, "sensor.car_trips_today").state == "1"
    assert float(state(hass, "sensor.car_last_trip_distance").state) == pytest.approx(
        ended["distance_km"], abs=0.01
    )
    assert float(state(hass, "sensor.car_last_trip_duration").state) == pytest.approx(550 / 60)
    assert state(hass, "sensor.car_parked_since").state == stopped.isoformat()
    assert state(hass, "sensor.car_current_trip_distance").state == "unknown"


async def test_the_trip_in_progress(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, connect: TrackerFactory
) -> None:
    """While driving: the calendar's current event, current trip distance written at most
    once a minute and only after 0.1 km more (not per report), parked since unknown."""
    entry, car = await start(hass, freezer)
    car.tracker = await connect(entry)
    await car.park(3)
    await car.drive(10)

    calendar = state(hass, "calendar.car_trips")
    assert calendar.state == "on"
    assert calendar.attributes["message"].startswith(f"{state(hass, 'zone.home').name} -> ")
    assert state(hass, "sensor.car_parked_since").state == "unknown"
    current = float(state(hass, "sensor.car_current_trip_distance").state)
    assert 0.5 < current <= 10 * 0.1389 + 0.15  # written when the trip started, not since

    writes: list[str] = []

    @callback
    def written(event: Event[Any]) -> None:
        if event.data["entity_id"] == "sensor.car_current_trip_distance":
            writes.append(event.data["new_state"].state)

    hass.bus.async_listen("state_changed", written)
    for _ in range(12):  # 2 minutes crawling in a queue at 1 km/h: 3 m per report
        await car.fix(0.54, acc=True)
    assert len(writes) <= 1  # the way before the queue, once a minute had passed
    writes.clear()
    for _ in range(12):  # 2 more minutes in the queue
        await car.fix(0.54, acc=True)
    assert writes == []  # not 0.1 km further
    for _ in range(12):  # 2 minutes at 10 km/h: 28 m per report
        await car.fix(5.4, acc=True)
    # At most once a minute, not on each of the 12 reports; the last write is current.
    assert 1 <= len(writes) <= 2, writes
    assert float(writes[-1]) == pytest.approx(
        float(state(hass, "sensor.car_current_trip_distance").state)
    )


async def test_the_calendar_follows_the_trip_in_progress(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, connect: TrackerFactory
) -> None:
    """The current event lasts until five minutes from now and is rewritten then (not
    with every report): it shows the way driven at most five minutes before."""
    entry, car = await start(hass, freezer)
    car.tracker = await connect(entry)
    await car.park(3)
    await car.drive(10)
    calendar = state(hass, "calendar.car_trips")
    end = dt_util.parse_datetime(calendar.attributes["end_time"])
    assert end is not None
    ahead = end.replace(tzinfo=dt_util.get_default_time_zone()) - dt_util.as_local(car.when)
    assert timedelta(minutes=4) < ahead <= timedelta(minutes=5)

    await car.drive(42)  # seven minutes more
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    calendar = state(hass, "calendar.car_trips")
    assert calendar.state == "on"
    km = float(calendar.attributes["message"].rsplit(", ", 1)[1].removesuffix(" km"))
    assert (52 - 30) * 0.1389 - 0.05 <= km <= 52 * 0.1389 + 0.05  # at most 5 minutes old
    assert f"Distance: {km:.1f} km" in calendar.attributes["description"]  # both rewritten
    later = dt_util.parse_datetime(calendar.attributes["end_time"])
    assert later is not None
    assert later - end >= timedelta(minutes=5)

    for _ in range(12):  # 12 minutes without a report (coverage lost): still on its way
        freezer.tick(timedelta(minutes=1))
        async_fire_time_changed(hass)
        await hass.async_block_till_done()
        assert state(hass, "calendar.car_trips").state == "on"


async def test_the_next_trip_is_the_calendars_own_event(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, connect: TrackerFactory
) -> None:
    """The current event of the trip after another is that trip's: its own start and
    figures, not the last trip's event carried on."""
    entry, car = await start(hass, freezer)
    await one_trip(car, connect, entry)
    first = state(hass, "calendar.car_trips")
    assert first.state == "off"
    await car.drive(12)  # the next trip, from where the first ended
    calendar = state(hass, "calendar.car_trips")
    assert calendar.state == "on"
    (second, _first) = (await get_trips(hass, entry, {"start": T0.isoformat()}))["trips"][::-1]
    begin = dt_util.parse_datetime(calendar.attributes["start_time"])
    assert begin is not None
    assert begin.replace(tzinfo=dt_util.get_default_time_zone()) == dt_util.parse_datetime(
        second["start"]
    )
    km = float(calendar.attributes["message"].rsplit(", ", 1)[1].removesuffix(" km"))
    assert 0.2 <= km <= second["distance_km"]  # as it stood when written, not 6.7 km
    assert calendar.attributes["description"].startswith("In progress\n")


TRIP_ENTITIES = (
    "calendar.car_trips",
    "event.car_trip",
    "sensor.car_distance_today",
    "sensor.car_trips_today",
    "sensor.car_last_trip_distance",
    "sensor.car_last_trip_duration",
    "sensor.car_parked_since",
    "sensor.car_current_trip_distance",
)
THROTTLED = {"sensor.car_distance_today", "sensor.car_current_trip_distance"}


class Writes:
    """The trip entities' state writes (a changed state, or the same one reported again)."""

    def __init__(self, hass: HomeAssistant) -> None:
        self.entities: list[str] = []

        @callback
        def ours(data: Mapping[str, Any]) -> bool:
            return data["entity_id"] in TRIP_ENTITIES

        @callback
        def written(event: Event[Any]) -> None:
            self.entities.append(event.data["entity_id"])

        hass.bus.async_listen(EVENT_STATE_CHANGED, written, event_filter=ours)
        hass.bus.async_listen(EVENT_STATE_REPORTED, written, event_filter=ours)

    def take(self) -> list[str]:
        """The writes since the last call."""
        taken, self.entities = self.entities, []
        return taken


async def test_a_parked_tracker_writes_no_trip_entity(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, connect: TrackerFactory
) -> None:
    """Parked, before and after a trip: the reports (and the minutes between them) write
    none of the trip entities."""
    entry, car = await start(hass, freezer)
    car.tracker = await connect(entry)
    writes = Writes(hass)
    await car.fix(0, acc=False)
    assert writes.take() == ["sensor.car_parked_since"]  # known from the first fix on
    for _ in range(12):  # parked with the engine off, then on
        await car.fix(0, acc=False)
    await car.fix(0, acc=True)
    async_fire_time_changed(hass, car.when + timedelta(minutes=2))
    await hass.async_block_till_done()
    assert writes.take() == []

    await car.drive(30)
    await car.fix(0, acc=True)
    await car.park(7)  # the trip ends: its entities are written once
    writes.take()
    for _ in range(20):
        await car.fix(0, acc=False, every=timedelta(seconds=30))
    assert writes.take() == []


async def test_a_driving_report_writes_at_most_the_two_throttled_sensors(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, connect: TrackerFactory
) -> None:
    """During a trip a report writes at most "distance today" and "current trip distance",
    each at most once a minute (a report every 10 s at 50 km/h: one report in six); the
    calendar rewrites its current event when it ends, once a minute, not per report."""
    entry, car = await start(hass, freezer)
    car.tracker = await connect(entry)
    await car.park(3)
    await car.drive(10)  # the trip started
    assert state(hass, "calendar.car_trips").state == "on"
    writes = Writes(hass)
    calendar = 0
    written_at: dict[str, list[datetime]] = {entity: [] for entity in THROTTLED}

    async def drive(reports: int, knots: float = KNOTS) -> list[str]:
        nonlocal calendar
        throttled: list[str] = []
        for _ in range(reports):
            await car.fix(knots, acc=True)
            written = writes.take()
            calendar += written.count("calendar.car_trips")
            written = [entity for entity in written if entity != "calendar.car_trips"]
            assert set(written) <= THROTTLED, written
            assert len(written) == len(set(written)), written
            for entity in written:
                written_at[entity].append(car.when)
            throttled += written
        return throttled

    await drive(24)  # 4 minutes
    assert calendar <= 5
    for times in written_at.values():
        assert 3 <= len(times) <= 4, times
    # A red light, shorter than the stop time and a minute: at most the way before the
    # light, once, when a minute had passed since the last write.
    written = await drive(5, knots=0)
    for entity in THROTTLED:
        assert written.count(entity) <= 1
    await drive(12)  # 2 more minutes
    for times in written_at.values():
        assert 5 <= len(times) <= 7, times
        assert all(b - a >= timedelta(minutes=1) for a, b in itertools.pairwise(times))


async def test_get_trips_geojson_and_gpx(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    connect: TrackerFactory,
    hass_read_only_user: MockUser,
) -> None:
    """The action's response: GeoJSON-style data, or one GPX 1.1 document; any user."""
    entry, car = await start(hass, freezer)
    await one_trip(car, connect, entry)
    window = {
        "start": (T0 - timedelta(hours=1)).isoformat(),
        "end": (T0 + timedelta(hours=1)).isoformat(),
    }
    user = Context(user_id=hass_read_only_user.id)  # not an administrator: it only reads

    data = json.loads(json.dumps(await get_trips(hass, entry, window, context=user)))
    (trip,) = data["trips"]
    assert set(trip) == {
        "start",
        "end",
        "distance_km",
        "duration_s",
        "max_speed_kmh",
        "avg_speed_kmh",
        "start_position",
        "end_position",
        "track",
    }
    assert trip["start_position"] == {
        "latitude": pytest.approx(hass.config.latitude, abs=1e-5),
        "longitude": pytest.approx(hass.config.longitude, abs=1e-5),
        "zone": state(hass, "zone.home").name,
        "zone_entity_id": "zone.home",
    }
    assert trip["end_position"]["zone"] is None
    assert trip["avg_speed_kmh"] == pytest.approx(trip["distance_km"] / 550 * 3600, abs=0.1)
    track = trip["track"]
    assert track["type"] == "LineString"
    assert len(track["coordinates"]) >= 2
    for longitude, latitude in track["coordinates"]:  # GeoJSON order: [lon, lat]
        assert longitude == pytest.approx(hass.config.longitude, abs=1e-5)
        assert hass.config.latitude - 1e-5 <= latitude <= car.latitude + 1e-5
    assert track["coordinates"][-1][1] == pytest.approx(car.latitude, abs=1e-4)
    before, after = data["stops"]
    assert before["end"] == trip["start"]
    assert before["position"]["zone_entity_id"] == "zone.home"
    assert after["start"] == trip["end"]
    assert after["end"] is None  # still parked

    gpx = (await get_trips(hass, entry, {**window, "format": "gpx"}, context=user))["gpx"]
    assert set(await get_trips(hass, entry, {**window, "format": "gpx"})) == {"gpx"}
    assert_valid_gpx(gpx)
    root = ET.fromstring(gpx)  # noqa: S314 - our own document
    assert root.tag == f"{GPX}gpx"
    assert root.get("version") == "1.1"
    (trk,) = root.findall(f"{GPX}trk")
    points = trk.findall(f"{GPX}trkseg/{GPX}trkpt")
    assert len(points) == len(track["coordinates"])
    first = points[0]
    assert float(first.get("lat", "nan")) == pytest.approx(hass.config.latitude, abs=1e-5)
    assert float(first.get("lon", "nan")) == pytest.approx(hass.config.longitude, abs=1e-5)
    assert first.findtext(f"{GPX}time") == T0.replace(minute=7).strftime("%Y-%m-%dT%H:%M:%SZ")

    # A window that ends before the trip: nothing.
    assert await get_trips(hass, entry, {"end": T0.isoformat()}) == {"trips": [], "stops": []}


@pytest.mark.parametrize(
    ("data", "key"),
    [
        (
            {"start": "2026-01-02T10:00:00+00:00", "end": "2026-01-02T09:00:00+00:00"},
            "end_before_start",
        ),
        (
            {"start": "2025-01-01T00:00:00+00:00", "end": "2026-01-03T00:00:00+00:00"},
            "range_too_long",
        ),
        ({"format": "kml"}, "unknown_format"),
    ],
)
async def test_get_trips_refuses_bad_input(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, data: dict[str, str], key: str
) -> None:
    """End before start, over 366 days, an unknown format: a translated validation error."""
    entry, _ = await start(hass, freezer)
    with pytest.raises(ServiceValidationError) as raised:
        await get_trips(hass, entry, data)
    assert raised.value.translation_key == key


async def test_a_restart_during_a_trip(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, connect: TrackerFactory
) -> None:
    """Home Assistant restarts (the entry reloads) in the middle of a trip: the trip goes
    on as one, started once and ended once."""
    entry, car = await start(hass, freezer)
    events = FiredEvents(hass, "event.car_trip")
    car.tracker = await connect(entry)
    await car.park(3)
    await car.drive(30)
    assert state(hass, "calendar.car_trips").state == "on"

    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert state(hass, "calendar.car_trips").state == "on"  # restored
    car.tracker = await connect(entry)
    await car.red_light()
    await car.drive(18)
    await car.fix(0, acc=True)  # stopped
    await car.park(7)

    assert events.types == ["started", "ended"]
    (trip,) = (await get_trips(hass, entry, {"start": T0.isoformat()}))["trips"]
    assert trip["duration_s"] == 550
    assert trip["distance_km"] == pytest.approx(48 * 0.1389, rel=0.02)


async def test_today_starts_again_at_local_midnight(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, connect: TrackerFactory
) -> None:
    """Distance and trips today go back to 0 at midnight in Home Assistant's time zone;
    the last trip stays."""
    entry, car = await start(hass, freezer)
    await one_trip(car, connect, entry)
    assert state(hass, "sensor.car_trips_today").state == "1"
    midnight = dt_util.start_of_local_day(dt_util.as_local(car.when) + timedelta(days=1))
    freezer.move_to(midnight + timedelta(seconds=1))
    async_fire_time_changed(hass, midnight + timedelta(seconds=1))
    await hass.async_block_till_done()
    assert state(hass, "sensor.car_trips_today").state == "0"
    assert state(hass, "sensor.car_distance_today").state == "0.0"
    assert state(hass, "sensor.car_trips_today").attributes["last_reset"] == (midnight.isoformat())
    assert float(state(hass, "sensor.car_last_trip_distance").state) > 6


async def test_a_trip_across_midnight_counts_today_its_way_since(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, connect: TrackerFactory
) -> None:
    """Driving across local midnight: distance today is the way since midnight (written
    at most a minute behind), never the way before; current trip distance the whole way."""
    entry, car = await start(hass, freezer)
    midnight = dt_util.start_of_local_day(dt_util.as_local(T0) + timedelta(days=1))
    car.when = midnight - timedelta(minutes=6)
    car.tracker = await connect(entry)
    await car.park(2)
    await car.drive(24)  # to midnight
    async_fire_time_changed(hass, midnight)
    await hass.async_block_till_done()
    assert state(hass, "sensor.car_distance_today").state == "0.0"
    minute = 6 * 0.1389
    for reports in range(1, 31):
        await car.drive(1)
        today = float(state(hass, "sensor.car_distance_today").state)
        assert reports * 0.1389 - minute - 0.02 <= today <= reports * 0.1389 + 0.02
    whole = float(state(hass, "sensor.car_current_trip_distance").state)
    assert 54 * 0.1389 - minute - 0.2 <= whole <= 54 * 0.1389 + 0.2


async def _progress_saved(hass: HomeAssistant, when: datetime) -> None:
    """Let the progress's planned save (``PROGRESS_SAVE_S`` after a report at ``when`` or
    before) and its store's write run."""
    for _ in range(2):
        async_fire_time_changed(hass, when + timedelta(seconds=PROGRESS_SAVE_S))
        await hass.async_block_till_done()


async def test_the_trip_log_is_saved_at_trip_events_and_the_trip_in_progress_apart(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
    connect: TrackerFactory,
) -> None:
    """A trip that started or ended is in the trip log's store at once (no restart needed
    to keep it); between trip events the trip in progress is saved in its own store,
    ``PROGRESS_SAVE_S`` after a report, and a parked tracker's reports do not rewrite the
    trip log's store."""
    entry, car = await start(hass, freezer)
    key, progress_key = (
        f"{DOMAIN}.{entry.entry_id}.trips",
        f"{DOMAIN}.{entry.entry_id}.trip_progress",
    )
    car.tracker = await connect(entry)
    await car.park(3)
    await car.drive(30)
    async_fire_time_changed(hass)  # the store's write, due now
    await hass.async_block_till_done()
    at_start = hass_storage[key]["data"]
    assert at_start["open"]["confirmed"]  # saved when the trip started
    await car.drive(12)  # two minutes more
    await _progress_saved(hass, car.when)
    progress = hass_storage[progress_key]["data"]
    assert progress["newest"] == car.when.timestamp()
    # The track's points since the trip log's store was written, not its whole track.
    assert progress["open"]["base"] == len(at_start["open"]["points"].split(";"))
    assert 12 <= len(progress["open"]["tail"].split(";")) <= 42
    assert hass_storage[key]["data"] == at_start  # not written between trip events

    await car.fix(0, acc=True)
    await car.park(2)  # the ignition off for a minute: the trip ends
    async_fire_time_changed(hass)  # the store's write, due now
    await hass.async_block_till_done()
    assert len(hass_storage[key]["data"]["trips"]) == 1
    await _progress_saved(hass, car.when)  # planned during the trip
    saved = dict(hass_storage[key]["data"])
    progress = hass_storage[progress_key]
    for _ in range(15):  # reports of a parked tracker, a minute apart
        await car.park(1)
        async_fire_time_changed(hass)
        await hass.async_block_till_done()
    assert hass_storage[key]["data"] == saved
    assert hass_storage[progress_key] == progress  # nor the progress's


async def test_a_long_trip_is_saved_whole_every_half_hour(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
    connect: TrackerFactory,
) -> None:
    """The trip in progress's points since the trip log's store was written stay few: once
    there are ``TAIL_POINTS`` of them, the store is written again with the whole track."""
    entry, car = await start(hass, freezer)
    key, progress_key = (
        f"{DOMAIN}.{entry.entry_id}.trips",
        f"{DOMAIN}.{entry.entry_id}.trip_progress",
    )
    car.tracker = await connect(entry)
    await car.park(3)
    await car.drive(12)
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    at_start = len(hass_storage[key]["data"]["open"]["points"].split(";"))
    await car.drive(TAIL_POINTS + 20)
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    whole = len(hass_storage[key]["data"]["open"]["points"].split(";"))
    assert whole >= at_start + TAIL_POINTS
    await _progress_saved(hass, car.when)
    progress = hass_storage[progress_key]["data"]["open"]
    assert progress["base"] == whole
    assert len(progress["tail"].split(";")) < 30


async def test_a_crash_during_a_trip(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
    connect: TrackerFactory,
) -> None:
    """Home Assistant dies in the middle of a trip (nothing saved at the stop): the trip
    goes on from the progress saved last (at most ``PROGRESS_SAVE_S`` before), not from
    its start."""
    entry, car = await start(hass, freezer)
    events = FiredEvents(hass, "event.car_trip")
    car.tracker = await connect(entry)
    await car.park(3)
    await car.drive(30)
    await car.red_light()
    await car.drive(9)
    await _progress_saved(hass, car.when)  # the progress, 39 reports into the drive
    await car.drive(9)  # a minute and a half lost
    keys = (
        f"{DOMAIN}.{entry.entry_id}.trips",
        f"{DOMAIN}.{entry.entry_id}.trip_progress",
        f"{DOMAIN}.{entry.entry_id}",
    )
    stored = json.loads(json.dumps({key: hass_storage[key] for key in keys}))

    assert await hass.config_entries.async_unload(entry.entry_id)
    hass_storage.update(stored)  # what was on disk when it died
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    (current,) = (await get_trips(hass, entry, {"start": T0.isoformat()}))["trips"]
    assert current["distance_km"] == pytest.approx(39 * 0.1389, abs=0.2)  # not 1 km

    car.tracker = await connect(entry)
    await car.fix(0, acc=True)  # stopped
    await car.park(7)
    assert events.types == ["started", "ended"]
    (trip,) = (await get_trips(hass, entry, {"start": T0.isoformat()}))["trips"]
    # The reports lost in the crash: the way to the first one after it counts as driven,
    # so the car stood still from the report after (a minute later), not from its stop.
    assert trip["duration_s"] == 550 + 60
    assert trip["distance_km"] == pytest.approx(48 * 0.1389, rel=0.02)


def _old_trip(number: int, *, km: float = 1.1) -> Trip:
    """A stored 10-minute trip north, ``number`` times 8 hours before T0."""
    begin = T0.timestamp() - number * 28_800.0
    north = 32.87 + km / 111.195
    return Trip(
        uid=f"old-{number}",
        start=begin,
        end=begin + 600,
        start_position=Position(32.87, -117.22),
        end_position=Position(north, -117.22),
        distance_km=km,
        moving_s=600,
        max_speed_kmh=30,
        mileage_start_km=None,
        mileage_end_km=None,
        track=(
            TrackPoint(begin, 32.87, -117.22, 30.0),
            TrackPoint(begin + 600, north, -117.22, 30.0),
        ),
        end_reason="stopped",
    )


def _version_1_store(hass_storage: dict[str, Any], entry: MockConfigEntry, count: int) -> str:
    """The version-1 trip store (every trip in it) holding ``count`` trips up to T0."""
    key = f"{DOMAIN}.{entry.entry_id}.trips"
    hass_storage[key] = {
        "version": 1,
        "minor_version": 1,
        "key": key,
        "data": {
            "version": 1,
            "newest": T0.timestamp(),
            "trips": [_old_trip(number).as_dict() for number in range(count, 0, -1)],
        },
    }
    return key


def _local(epoch: float) -> str:
    """An epoch time as the calendar and ``get_trips`` write it (local, ISO)."""
    return dt_util.as_local(datetime.fromtimestamp(epoch, UTC)).isoformat()


def _parts(hass_storage: dict[str, Any], key: str) -> dict[str, Any]:
    """The archive parts in the store: part key -> its stored dict."""
    return {name: value for name, value in hass_storage.items() if name.startswith(f"{key}.")}


async def test_a_full_history_is_archived_and_read_on_demand(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
    connect: TrackerFactory,
) -> None:
    """A version-1 store with 1,000 trips loads: the older trips move to monthly parts and
    leave memory, yet the calendar and ``get_trips`` show them; a new trip keeps the last
    1,000 (the oldest goes), and only its month's part is rewritten."""
    entry = make_entry()
    key = _version_1_store(hass_storage, entry, MAX_TRIPS)
    entry, car = await start(hass, freezer, entry)
    async_fire_time_changed(hass)  # the main store's write, due now
    await hass.async_block_till_done()

    log = entry.runtime_data.trips
    assert len(log.detector.trips(-math.inf, math.inf)) <= MEMORY_TRIPS
    main = hass_storage[key]["data"]
    assert len(main["trips"]) == 6  # the last two days
    parts = _parts(hass_storage, key)
    archived = [_old_trip(number) for number in range(MAX_TRIPS, 6, -1)]
    assert sorted(parts) == sorted({f"{key}.{part_key(trip.start)}" for trip in archived})
    assert sum(len(part["data"]["trips"]) for part in parts.values()) == MAX_TRIPS - 6
    sizes = [len(json.dumps(part["data"])) for part in parts.values()]
    assert max(sizes) < sum(sizes) / 8  # a save rewrites a month, not the history

    month_ago = T0 - timedelta(days=30, hours=1)
    events = await calendar_events(hass, month_ago, month_ago + timedelta(days=1))
    first, last = month_ago.timestamp(), (month_ago + timedelta(days=1)).timestamp()
    expected = [
        _local(trip.start)
        for trip in map(_old_trip, range(MAX_TRIPS, 0, -1))
        if trip.start < last and trip.end > first
    ]
    assert len(expected) == 3
    assert [event["start"] for event in events] == expected
    assert events[0]["summary"].endswith(", 1.1 km")
    response = await get_trips(
        hass,
        entry,
        {"start": month_ago.isoformat(), "end": (month_ago + timedelta(days=1)).isoformat()},
    )
    assert [trip["start"] for trip in response["trips"]] == expected
    assert len(response["stops"]) == 4  # across the window's edges too
    assert len(log.detector.trips(-math.inf, math.inf)) <= MEMORY_TRIPS  # nothing kept

    before = {name: id(value) for name, value in _parts(hass_storage, key).items()}
    await one_trip(car, connect, entry)
    await hass.async_block_till_done()
    after = _parts(hass_storage, key)
    rewritten = [name for name in after if before.get(name) != id(after[name])]
    oldest = f"{key}.{part_key(_old_trip(MAX_TRIPS).start)}"
    assert rewritten == [f"{key}.{part_key(_old_trip(6).start)}"]  # one trip left memory
    assert oldest in after  # passed over by reads until the whole month goes

    year = await get_trips(
        hass, entry, {"start": (T0 - timedelta(days=366)).isoformat(), "end": T0.isoformat()}
    )
    assert len(year["trips"]) == MAX_TRIPS - 1  # the oldest gone, the new one after T0
    whole = await calendar_events(hass, T0 - timedelta(days=366), T0 + timedelta(hours=1))
    assert len(whole) == MAX_TRIPS
    assert whole[0]["start"] == _local(_old_trip(MAX_TRIPS - 1).start)

    await _progress_saved(hass, car.when)
    progress_key = f"{DOMAIN}.{entry.entry_id}.trip_progress"
    assert progress_key in hass_storage
    assert await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert key not in hass_storage
    assert _parts(hass_storage, key) == {}  # every part deleted with the entry
    assert progress_key not in hass_storage


async def test_a_late_fix_corrects_an_archived_trip_in_the_calendar(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
    connect: TrackerFactory,
) -> None:
    """A blind-area fix for a trip three days ago (archived, not in memory) corrects it:
    the calendar shows the corrected distance and the calendar entity is written."""
    entry = make_entry()
    _version_1_store(hass_storage, entry, 12)
    entry, car = await start(hass, freezer, entry)
    old = _old_trip(9)  # three days before T0
    assert old not in entry.runtime_data.trips.detector.trips(-math.inf, math.inf)
    window = (
        datetime.fromtimestamp(old.start - 60, UTC),
        datetime.fromtimestamp(old.end + 60, UTC),
    )
    [event] = await calendar_events(hass, *window)
    assert event["summary"].endswith(", 1.1 km")

    car.tracker = await connect(entry)
    await car.park(1)
    writes = Writes(hass)
    middle = datetime.fromtimestamp(old.start + 300, UTC)
    late = h02_v1(middle, latitude=32.875, longitude=-117.21, knots=16, status=h02_status(acc=True))
    await report(car.tracker, late)
    await hass.async_block_till_done()

    [event] = await calendar_events(hass, *window)
    assert event["start"] == _local(old.start)
    assert event["summary"].endswith(", 2.2 km")  # by way of the late fix, 0.9 km east
    assert "calendar.car_trips" in writes.take()

    # More fixes that old wait for the next correction, LATE_INTERVAL after this one: a
    # tracker that keeps sending them costs one part read and write per interval.
    older = _old_trip(10)
    older_window = (
        datetime.fromtimestamp(older.start - 60, UTC),
        datetime.fromtimestamp(older.end + 60, UTC),
    )
    for minutes in (3, 5):
        middle = datetime.fromtimestamp(older.start + minutes * 60, UTC)
        late = h02_v1(
            middle, latitude=32.875, longitude=-117.21, knots=16, status=h02_status(acc=True)
        )
        await report(car.tracker, late)
    await hass.async_block_till_done()
    [event] = await calendar_events(hass, *older_window)
    assert event["summary"].endswith(", 1.1 km")  # not yet
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=LATE_INTERVAL))
    await hass.async_block_till_done()
    [event] = await calendar_events(hass, *older_window)
    assert event["summary"].endswith(", 2.2 km")  # both fixes, 0.9 km east, in one go


@pytest.mark.usefixtures("config_dir")
async def test_trips_name_their_places_from_the_location_services(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    connect: TrackerFactory,
    service: tuple[FakeService, str],
) -> None:
    """Where no zone is, a trip's end is named by the Location services' Nominatim server,
    looked up once the trip ended (in the background: the event does not wait)."""
    fake, url = service
    fake.places[ANYWHERE] = "Calle 5, San Jose"
    await load_location(hass, **{CONF_NOMINATIM_URL: url})
    entry, car = await start(hass, freezer)
    events = FiredEvents(hass, "event.car_trip")
    car.tracker = await connect(entry)
    await car.park(3)
    await car.drive(30)
    await car.fix(0, acc=True)  # stopped
    await car.park(2)  # the ignition off for a minute ends the trip
    assert events.types == ["started", "ended"]
    assert events.fired[1]["summary"].endswith(", 4.2 km")  # the event did not wait
    await hass.async_block_till_done(wait_background_tasks=True)  # the clock stands still

    (event,) = await calendar_events(hass, T0, T0 + timedelta(hours=1))
    home = state(hass, "zone.home").name
    assert event["summary"] == f"{home} -> Calle 5, San Jose, 4.2 km"
    assert [request.path for request in fake.received] == ["/reverse"]  # the zone needs none
