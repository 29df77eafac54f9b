"""Trips in a real Home Assistant: the simulator drives its loop once (parked at home, a
red light on the way, back home and parked), and the trip shows in the calendar, read over
REST as the calendar panel reads it, and in the ``get_trips`` action's response."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
import time
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from tools.devhass import TRACKER_ID
from tools.simulator import Fix, Route, SimulatedTracker

from .harness import WAIT, Instance
from .test_real_home_assistant import onboard_and_add_tracker, stop_and_check

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

STEP = 10
"""Seconds of device time between two reports: the route's own sampling."""


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


async def test_a_loop_of_the_route_is_a_trip(instance: Instance) -> None:
    client = instance.client
    _, device_id, ids = await onboard_and_add_tracker(instance)
    calendar = ids["trips"]
    assert calendar.startswith("calendar.")
    route = Route.builtin()
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
    try:
        tracker.start()
        async with asyncio.timeout(WAIT):
            await tracker.wait_connected()
        while len(sent) < len(route) + 2:  # the loop, and back in the parking place
            tracker.send_position()
            await asyncio.sleep(0.01)

        events: list[dict[str, Any]] = []
        async with asyncio.timeout(WAIT):
            while not events:
                events = await calendar_events(instance, calendar)
                await asyncio.sleep(0.2)
        (event,) = events
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
        root = ET.fromstring(gpx["gpx"])  # noqa: S314 - the integration's own document
        assert root.tag == "{http://www.topografix.com/GPX/1/1}gpx"
        assert len(root.findall("{http://www.topografix.com/GPX/1/1}trk")) == 1

        state = await client.state(ids["trips_today"])
        assert state is not None
        assert state["state"] in ("1", "0")  # 0 only if the loop started before midnight
        await stop_and_check(instance, tracker)
    finally:
        await tracker.stop()
