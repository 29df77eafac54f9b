"""Cell positions and place names on a tracker: a V1 frame without a fix in a known cell
moves the tracker there (its range as the accuracy, "Position source" cell); a valid fix
wins; an unknown cell, or the option off, change nothing. Addresses from a Nominatim server
on 127.0.0.1, and the alarm events' ``address`` when it is already known."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.sinotrack.const import (
    CONF_GEOLOCATE_URL,
    CONF_NOMINATIM_URL,
)
from tests.location.helpers import FakeService
from tests.support.client import Client
from tests.support.frames import BIT_SOS, T0, h02_status, h02_v1
from tests.support.hass import TRACKER_ID, load_entry, make_entry, report, state, wait_for

from .conftest import TrackerFactory
from .location_helpers import (
    KNOWN,
    ONLINE_CELL,
    OTHER,
    cell_tail,
    config_dir,
    load_location,
    service,
    write_cells,
)

__all__ = ["config_dir", "service"]

pytestmark = pytest.mark.usefixtures("config_dir")

TRACKER = "device_tracker.car"
SOURCE = "sensor.car_position_source"
ADDRESS = "sensor.car_address"
FIX = {"latitude": 9.939781666, "longitude": -84.11178}
"""Where the frames' valid fixes are (Costa Rica: far from every cell of the tests)."""


def position(hass: HomeAssistant) -> tuple[float, float, float]:
    """Latitude, longitude and accuracy of the device tracker."""
    attributes = state(hass, TRACKER).attributes
    return attributes["latitude"], attributes["longitude"], attributes["gps_accuracy"]


async def tracker_with(
    hass: HomeAssistant, connect: TrackerFactory, *, on: bool = True
) -> tuple[MockConfigEntry, Client]:
    """The tracker (option on or off), connected, at its first valid fix in cell OTHER."""
    entry = make_entry(use_cell_position=on)
    await load_entry(hass, entry)
    tracker = await connect(entry)
    await report(tracker, h02_v1(T0, ident=TRACKER_ID, tail=cell_tail(OTHER.cell), knots=0))
    await hass.async_block_till_done()
    assert position(hass)[:2] == pytest.approx((FIX["latitude"], FIX["longitude"]))
    return entry, tracker


async def no_fix_in(hass: HomeAssistant, tracker: Client, cell: int, seconds: int) -> None:
    """A V1 without a fix (the last coordinates, marked invalid) from cell ``cell``."""
    frame = h02_v1(
        T0 + timedelta(seconds=seconds),
        ident=TRACKER_ID,
        tail=cell_tail(cell),
        valid=False,
        knots=0,
    )
    await report(tracker, frame)
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_no_fix_in_a_known_cell_moves_to_the_cell_then_a_fix_wins(
    hass: HomeAssistant, connect: TrackerFactory
) -> None:
    write_cells(hass, KNOWN, OTHER)
    await load_location(hass)
    _entry, tracker = await tracker_with(hass, connect)
    assert state(hass, SOURCE).state == "gps"

    await no_fix_in(hass, tracker, KNOWN.cell, 60)
    await wait_for(hass, lambda: state(hass, SOURCE).state == "cell")
    assert position(hass) == (KNOWN.lat, KNOWN.lon, KNOWN.range_m)
    source = state(hass, SOURCE)
    assert source.attributes["options"] == ["gps", "cell"]

    # A later valid fix wins over the cell at once.
    await report(tracker, h02_v1(T0 + timedelta(seconds=120), ident=TRACKER_ID, knots=0))
    await hass.async_block_till_done()
    latitude, longitude, accuracy = position(hass)
    assert (latitude, longitude) == pytest.approx((FIX["latitude"], FIX["longitude"]))
    assert accuracy == 15
    assert state(hass, SOURCE).state == "gps"


async def test_an_unknown_cell_changes_nothing(
    hass: HomeAssistant, connect: TrackerFactory
) -> None:
    write_cells(hass, KNOWN, OTHER)
    await load_location(hass)
    _entry, tracker = await tracker_with(hass, connect)
    before = position(hass)
    await no_fix_in(hass, tracker, 9999, 60)
    assert position(hass) == before
    assert state(hass, SOURCE).state == "gps"


async def test_the_option_off_changes_nothing(hass: HomeAssistant, connect: TrackerFactory) -> None:
    write_cells(hass, KNOWN, OTHER)
    await load_location(hass)
    _entry, tracker = await tracker_with(hass, connect, on=False)
    before = position(hass)
    await no_fix_in(hass, tracker, KNOWN.cell, 60)
    assert position(hass) == before
    assert hass.states.get(SOURCE) is None  # not even created


async def test_without_location_services_nothing_changes(
    hass: HomeAssistant, connect: TrackerFactory
) -> None:
    _entry, tracker = await tracker_with(hass, connect)
    before = position(hass)
    await no_fix_in(hass, tracker, KNOWN.cell, 60)
    assert position(hass) == before
    assert state(hass, SOURCE).state == "gps"


async def test_a_cell_only_the_online_service_knows(
    hass: HomeAssistant, connect: TrackerFactory, service: tuple[FakeService, str]
) -> None:
    fake, url = service
    write_cells(hass, KNOWN)
    await load_location(hass, **{CONF_GEOLOCATE_URL: f"{url}/v1/geolocate"})
    _entry, tracker = await tracker_with(hass, connect)

    await no_fix_in(hass, tracker, ONLINE_CELL, 60)
    await wait_for(hass, lambda: state(hass, SOURCE).state == "cell")
    assert position(hass) == (22.6, 114.1, 2500.0)
    [request] = fake.geolocate_requests
    assert request.body["cellTowers"][0]["cellId"] == ONLINE_CELL
    assert request.body["considerIp"] is False

    # The cell known offline is never sent.
    await no_fix_in(hass, tracker, KNOWN.cell, 120)
    await wait_for(hass, lambda: position(hass)[2] == KNOWN.range_m)
    assert len(fake.geolocate_requests) == 1


async def test_the_address_sensor_and_alarm_events(
    hass: HomeAssistant, connect: TrackerFactory, service: tuple[FakeService, str]
) -> None:
    fake, url = service
    fake.places["22.5500,114.0500"] = "Futian, Shenzhen, Guangdong, China"
    fake.places["9.9398,-84.1118"] = "Calle 5, San José, Costa Rica"
    write_cells(hass, KNOWN, OTHER)
    await load_location(hass, **{CONF_NOMINATIM_URL: url})
    entry, tracker = await tracker_with(hass, connect)

    registry = er.async_get(hass)
    entity = registry.async_get(ADDRESS)
    assert entity is not None
    assert entity.disabled_by is er.RegistryEntryDisabler.INTEGRATION  # disabled by default
    registry.async_update_entity(ADDRESS, disabled_by=None)
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    await wait_for(hass, lambda: state(hass, ADDRESS).state == "Calle 5, San José, Costa Rica")
    request = fake.received[-1]
    assert request.headers["User-Agent"].startswith("sinotrack-ha/")

    tracker = await connect(entry)  # the reload closed the first connection
    await no_fix_in(hass, tracker, KNOWN.cell, 60)
    await wait_for(hass, lambda: state(hass, ADDRESS).state == "Futian, Shenzhen, Guangdong, China")

    # An SOS at a place already named carries its address; the alarm did not wait.
    events = async_capture_events(hass, "state_changed")
    sos = h02_v1(
        T0 + timedelta(seconds=90),
        ident=TRACKER_ID,
        tail=cell_tail(KNOWN.cell),
        valid=False,
        knots=0,
        status=h02_status(BIT_SOS),
    )
    await report(tracker, sos)
    await hass.async_block_till_done()
    fired: list[dict[str, Any]] = [
        dict(event.data["new_state"].attributes)
        for event in events
        if event.data["entity_id"] == "event.car_alarm"
    ]
    assert fired, "no alarm event"
    assert fired[-1]["event_type"] == "sos"
    assert fired[-1]["address"] == "Calle 5, San José, Costa Rica"  # the frame's coordinates


async def test_a_zone_name_wins_over_the_address(
    hass: HomeAssistant, connect: TrackerFactory, service: tuple[FakeService, str]
) -> None:
    fake, url = service
    fake.places["22.5500,114.0500"] = "Futian, Shenzhen, Guangdong, China"
    zone = {"name": "Depot", "latitude": 22.55, "longitude": 114.05, "radius": 300}
    assert await async_setup_component(hass, "zone", {"zone": [zone]})
    write_cells(hass, KNOWN, OTHER)
    await load_location(hass, **{CONF_NOMINATIM_URL: url})
    er.async_get(hass).async_get_or_create(
        "sensor", "sinotrack", f"{TRACKER_ID}_address", suggested_object_id="car_address"
    )  # enabled before the tracker's entry loads
    _entry, tracker = await tracker_with(hass, connect)

    await no_fix_in(hass, tracker, KNOWN.cell, 60)
    await wait_for(hass, lambda: state(hass, ADDRESS).state == "Depot")
    assert all(r.query.get("lat") != "22.5500" for r in fake.received)  # never asked


async def test_position_source_appears_when_the_option_is_turned_on(
    hass: HomeAssistant, connect: TrackerFactory
) -> None:
    write_cells(hass, KNOWN, OTHER)
    await load_location(hass)
    entry, tracker = await tracker_with(hass, connect, on=False)
    assert hass.states.get(SOURCE) is None
    hass.config_entries.async_update_entry(
        entry, options={**entry.options, "use_cell_position": True}
    )
    await hass.async_block_till_done()
    assert state(hass, SOURCE).state == "gps"
    assert entry.runtime_data.tracker.use_cell_position  # at once, no reload
    await no_fix_in(hass, tracker, KNOWN.cell, 60)  # the same connection
    await wait_for(hass, lambda: state(hass, SOURCE).state == "cell")
