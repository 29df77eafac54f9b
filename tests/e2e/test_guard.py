"""The parked-car guard in a real Home Assistant: armed over REST, the simulated car moved
300 m, the panel goes triggered and one ``guard_triggered`` event fires."""

from __future__ import annotations

import asyncio
import math
from typing import Final

import pytest

from tools.devhass import HOME_LATITUDE, HOME_LONGITUDE, TRACKER_ID
from tools.simulator import Route, SimulatedTracker

from .harness import WAIT, Clock, Instance, unexpected_errors, wait_state
from .test_real_home_assistant import count_events, onboard_and_add_tracker

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

GUARD: Final = "alarm_control_panel.car_guard"
NORTH_300_M: Final = 300 / 111_195
"""300 metres north, in degrees of latitude."""


async def test_guard_triggers_when_the_car_is_moved(instance: Instance) -> None:
    client = instance.client
    _, _, ids = await onboard_and_add_tracker(instance)
    tracker = SimulatedTracker(
        TRACKER_ID,
        "h02",
        "127.0.0.1",
        instance.tracker_port,
        interval=3600,  # positions are sent by the test, one at a time
        heartbeat=None,
        route=Route.stationary(HOME_LATITUDE, HOME_LONGITUDE),
        clock=Clock(),
    )
    try:
        async with client.websocket() as ws:
            events = await ws.subscribe_events("state_changed")
            tracker.start()
            async with asyncio.timeout(WAIT):
                await tracker.wait_connected()
            await wait_state(client, ids["connected"], lambda state: state["state"] == "on")
            await wait_state(client, GUARD, lambda state: state["state"] == "disarmed")

            await client.call_service("alarm_control_panel", "alarm_arm_away", {"entity_id": GUARD})
            await wait_state(client, GUARD, lambda state: state["state"] == "armed_away")
            tracker.send_position()  # still at home: nothing happens
            # Carried off 300 m, ignition off (a tow truck's flatbed): displaced.
            tracker.route = Route.stationary(HOME_LATITUDE + NORTH_300_M, HOME_LONGITUDE)
            fix = tracker.send_position()
            await wait_state(client, GUARD, lambda state: state["state"] == "triggered")
            event = await wait_state(
                client,
                ids["alarm"],
                lambda state: state["attributes"].get("event_type") == "guard_triggered",
            )
            assert event["attributes"]["reason"] == "displaced"
            assert math.isclose(event["attributes"]["latitude"], fix.latitude, abs_tol=1e-5)
            for _ in range(3):  # more reports away: still one event
                tracker.send_position()
            await asyncio.sleep(1)
            assert (await client.state(GUARD) or {}).get("state") == "triggered"
            assert await count_events(events, ids["alarm"]) == ["guard_triggered"]
    finally:
        await tracker.stop()
    assert unexpected_errors(instance.log()) == []
