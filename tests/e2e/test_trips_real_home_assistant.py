"""Trips in a real Home Assistant: the simulator drives its loop once (parked at home, a
red light on the way, back home and parked), and the trip shows in the calendar, read over
REST as the calendar panel reads it, and in the ``get_trips`` action's response."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
import time
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from tests.support.gpx import assert_valid_gpx
from tools.devhass import TRACKER_ID
from tools.simulator import Fix, Route, SimulatedTracker

from .browser import ARTIFACTS, VIEWPORT, UserPage, chromium
from .harness import WAIT, Instance
from .test_browser import log_in
from .test_real_home_assistant import onboard_and_add_tracker, stop_and_check

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

STEP = 10
"""Seconds of device time between two reports: the route's own sampling."""


@pytest.fixture
async def user(instance: Instance) -> AsyncIterator[UserPage]:
    """A browser tab on the instance's frontend; its screenshots under ``trips/`` of the
    browser tests' folder."""
    folder = ARTIFACTS / "trips"
    folder.mkdir(parents=True, exist_ok=True)
    async with chromium() as browser:
        page = await browser.new_page(viewport=VIEWPORT)  # type: ignore[arg-type]
        yield UserPage(page, instance.url, folder)


class RouteClock:
    """Device time that moves ``STEP`` seconds at every reading, from far enough in the
    past that a whole loop stays behind the server's clock."""

    def __init__(self, span: int) -> None:
        self.now = int(time.time()) - span * STEP - 120

    def __call__(self) -> float:
        self.now += STEP
        return float(self.now)


async def calendar_events(instance: Instance, entity_id: str) -> list[dict[str, Any]]:
    """The calendar's events of the last two days, over REST (as the calendar panel asks)."""
    now = datetime.now(UTC)
    events: list[dict[str, Any]] = await instance.client.get(
        f"/api/calendars/{entity_id}",
        params={
            "start": (now - timedelta(days=1)).isoformat(),
            "end": (now + timedelta(days=1)).isoformat(),
        },
    )
    return events


async def drive_a_loop(instance: Instance, route: Route) -> SimulatedTracker:
    """The simulator, connected, drives the route's loop once and parks; its trip is in
    the calendar once this returns. The tracker is the caller's to stop."""
    sent: list[Fix] = []
    tracker = SimulatedTracker(
        TRACKER_ID,
        "h02",
        "127.0.0.1",
        instance.tracker_port,
        interval=3600,  # positions are sent by the test, one at a time
        heartbeat=None,
        clock=RouteClock(len(route) + 5),
        on_sent=sent.append,
    )
    tracker.start()
    async with asyncio.timeout(WAIT):
        await tracker.wait_connected()
    while len(sent) < len(route) + 2:  # the loop, and back in the parking place
        tracker.send_position()
        await asyncio.sleep(0.01)
    return tracker


async def wait_events(instance: Instance, calendar: str) -> list[dict[str, Any]]:
    """The calendar's events, once there are some."""
    events: list[dict[str, Any]] = []
    async with asyncio.timeout(WAIT):
        while not events:
            events = await calendar_events(instance, calendar)
            await asyncio.sleep(0.2)
    return events


async def test_a_loop_of_the_route_is_a_trip(instance: Instance) -> None:
    client = instance.client
    _, device_id, ids = await onboard_and_add_tracker(instance)
    calendar = ids["trips"]
    assert calendar.startswith("calendar.")
    route = Route.builtin()
    tracker = await drive_a_loop(instance, route)
    try:
        (event,) = await wait_events(instance, calendar)
        home = await client.state("zone.home")
        assert home is not None
        home_name = home["attributes"]["friendly_name"]
        assert event["summary"].startswith(f"{home_name} -> {home_name}, ")
        assert float(event["summary"].rsplit(", ", 1)[1].removesuffix(" km")) == pytest.approx(
            route.length_km, rel=0.05
        )
        assert "Max speed: " in event["description"]
        left = datetime.fromisoformat(event["start"]["dateTime"])
        parked = datetime.fromisoformat(event["end"]["dateTime"])
        assert timedelta(minutes=5) < parked - left < timedelta(minutes=20)

        response = await client.call_service(
            "sinotrack", "get_trips", {"device_id": device_id}, return_response=True
        )
        (trip,) = response["trips"]
        assert datetime.fromisoformat(trip["start"]) == left
        assert trip["distance_km"] == pytest.approx(route.length_km, rel=0.05)
        assert trip["start_position"]["zone_entity_id"] == "zone.home"
        assert trip["end_position"]["zone_entity_id"] == "zone.home"
        assert trip["track"]["type"] == "LineString"
        assert len(trip["track"]["coordinates"]) > 10
        assert response["stops"][-1]["end"] is None  # parked at home since

        gpx = await client.call_service(
            "sinotrack",
            "get_trips",
            {"device_id": device_id, "format": "gpx"},
            return_response=True,
        )
        assert_valid_gpx(gpx["gpx"])
        root = ET.fromstring(gpx["gpx"])  # noqa: S314 - the integration's own document
        assert root.tag == "{http://www.topografix.com/GPX/1/1}gpx"
        assert len(root.findall("{http://www.topografix.com/GPX/1/1}trk")) == 1

        last = await client.state(ids["last_trip_distance"])
        assert last is not None
        assert float(last["state"]) == pytest.approx(trip["distance_km"], abs=0.01)
        await stop_and_check(instance, tracker)
    finally:
        await tracker.stop()


@pytest.mark.browser
async def test_the_calendar_panel_shows_the_trip(instance: Instance, user: UserPage) -> None:
    """Calendar in the sidebar: the trip in the month, named from home to home (the
    README's calendar screenshot)."""
    client = instance.client
    _, _, ids = await onboard_and_add_tracker(instance)
    route = Route.builtin()
    tracker = await drive_a_loop(instance, route)
    try:
        await wait_events(instance, ids["trips"])
        await log_in(user)
        await user.goto("/calendar")
        home = await client.state("zone.home")
        assert home is not None
        await user.check("calendar-trips", "Trips", f"{home['attributes']['friendly_name']} ->")
    finally:
        await tracker.stop()
