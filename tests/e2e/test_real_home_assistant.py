"""The integration in a real Home Assistant, as a user runs it.

One ``hass`` process with a fresh config folder: onboarded over its REST API, the tracker
added through the config flow's REST API, the simulator connected (H02, the ST-903's
protocol). Then, over REST and the websocket API: the device and its entities, positions and
sensors equal to what the simulator sent, one alarm event for an SOS however long the tracker
keeps reporting it, the mileage query's response, and nothing left once Home Assistant stops.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib
import math
import os
from pathlib import Path
import time
from typing import Any, Final

import pytest

from tests.support.net import port_accepts
from tools.devhass import (
    DEV_NAME,
    DEV_PASSWORD,
    DEV_USERNAME,
    HOME_LATITUDE,
    HOME_LONGITUDE,
    TRACKER_ID,
    HassClient,
    HassWebsocket,
)
from tools.devhass.setup import find_device, tracker_form
from tools.simulator import Fix, SimulatedTracker, haversine_km

from .harness import WAIT, Clock, Instance, integration_warnings, unexpected_errors, wait_state

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

NAME: Final = "Car"
BATTERY: Final = 80
"""Percent; H02 positions carry it on the 1-6 scale, where 5 means 80 %."""
MILEAGE: Final = 1234.5

EXPECTED_ENTITIES: Final = {
    "tracker": "device_tracker",
    "battery": "sensor",
    "speed": "sensor",
    "distance_counted": "sensor",
    "vehicle_state": "sensor",
    "last_seen": "sensor",
    "ignition": "binary_sensor",
    "sos": "binary_sensor",
    "power_cut": "binary_sensor",
    "moving": "binary_sensor",
    "connected": "binary_sensor",
    "position_valid": "binary_sensor",
    "alarm": "event",
}
"""Entity description keys (unique id ``<tracker id>_<key>``) -> platform; not every one
("last seen", "moving" and "position valid" are registered disabled)."""


def shows(fix: Fix) -> Callable[[dict[str, Any]], bool]:
    """The device tracker's state is at ``fix``."""

    def check(state: dict[str, Any]) -> bool:
        attributes = state["attributes"]
        return math.isclose(
            attributes.get("latitude") or 0, fix.latitude, abs_tol=1e-5
        ) and math.isclose(attributes.get("longitude") or 0, fix.longitude, abs_tol=1e-5)

    return check


def away_km(fix: Fix) -> float:
    return haversine_km(HOME_LATITUDE, HOME_LONGITUDE, fix.latitude, fix.longitude)


def processes_using(path: Path) -> list[str]:
    """Command lines of the processes that mention ``path`` (e.g. a config folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            if str(path) in command:
                found.append(f"{entry.name}: {command}")
    return found


async def refuses(port: int) -> bool:
    """Nothing listens on 127.0.0.1:``port`` any more."""
    return not await port_accepts(port)


async def onboard_and_add_tracker(instance: Instance) -> tuple[str, str, dict[str, str]]:
    """Onboard, add the tracker; (entry id, device id, description key -> entity id)."""
    client = instance.client
    assert not any((await client.onboarding()).values()), "a fresh instance is not onboarded"
    await client.onboard(name=DEV_NAME, username=DEV_USERNAME, password=DEV_PASSWORD)
    assert all((await client.onboarding()).values())
    config = await client.wait_running()
    assert "sinotrack" not in config["components"]  # not set up before it is added

    result = await client.config_flow(
        "sinotrack", tracker_form(instance.tracker_port, "127.0.0.1", name=NAME)
    )
    assert result["type"] == "create_entry", result
    assert result["title"] == NAME
    assert result["result"]["state"] == "loaded", result
    entry_id: str = result["result"]["entry_id"]

    async with client.websocket() as ws:
        device = await find_device(ws)
        assert device is not None, "no device for the tracker"
        assert (device["name"], device["manufacturer"], device["model"]) == (
            NAME,
            "SinoTrack",
            None,  # an H02 tracker never says its model: none is invented
        )
        assert device["serial_number"] == TRACKER_ID
        assert entry_id in device["config_entries"]
        registry: list[dict[str, Any]] = await ws.command("config/entity_registry/list")
    entities = {
        entity["unique_id"].removeprefix(f"{TRACKER_ID}_"): entity
        for entity in registry
        if entity["device_id"] == device["id"]
    }
    assert {entity["platform"] for entity in entities.values()} == {"sinotrack"}
    missing = {key for key in EXPECTED_ENTITIES if key not in entities}
    assert not missing, f"entities missing: {missing}; there are {sorted(entities)}"
    for key, platform in EXPECTED_ENTITIES.items():
        assert entities[key]["entity_id"].startswith(f"{platform}."), entities[key]
    return entry_id, device["id"], {key: entities[key]["entity_id"] for key in entities}


async def count_events(events: asyncio.Queue[dict[str, Any]], entity_id: str) -> list[str]:
    """The event types fired by event entity ``entity_id`` among the queued state changes."""
    fired = []
    while not events.empty():
        data = events.get_nowait()["data"]
        old, new = data.get("old_state"), data.get("new_state")
        if data["entity_id"] != entity_id or new is None:
            continue
        if new["state"] not in ("unknown", "unavailable") and (
            old is None or old["state"] != new["state"]
        ):
            fired.append(new["attributes"].get("event_type"))
    return fired


async def test_real_home_assistant(instance: Instance) -> None:
    client = instance.client
    _, device_id, ids = await onboard_and_add_tracker(instance)
    sent: list[Fix] = []
    tracker = SimulatedTracker(
        TRACKER_ID,
        "h02",
        "127.0.0.1",
        instance.tracker_port,
        interval=3600,  # positions are sent by the test, one at a time
        heartbeat=None,
        mileage_km=MILEAGE,
        battery=BATTERY,
        clock=Clock(),
        on_sent=sent.append,
    )
    try:
        async with client.websocket() as ws:
            await drive(client, ws, tracker, sent, ids, device_id)
        await stop_and_check(instance, tracker)
    finally:
        await tracker.stop()


async def drive(
    client: HassClient,
    ws: HassWebsocket,
    tracker: SimulatedTracker,
    sent: list[Fix],
    ids: dict[str, str],
    device_id: str,
) -> None:
    """Positions, an SOS and the mileage query, checked against what Home Assistant shows."""
    events = await ws.subscribe_events("state_changed")
    tracker.start()
    async with asyncio.timeout(WAIT):
        await tracker.wait_connected()
    await wait_state(client, ids["connected"], lambda state: state["state"] == "on")

    # Parked at the start of the route, which is home; then driving away.
    first = sent[-1]
    assert (first.latitude, first.longitude) == (HOME_LATITUDE, HOME_LONGITUDE)
    assert first.speed_kmh == 0
    assert not first.ignition
    state = await wait_state(client, ids["tracker"], shows(first))
    assert state["state"] == "home"
    assert state["attributes"]["source_type"] == "gps"
    await wait_state(client, ids["ignition"], lambda state: state["state"] == "off")
    battery = await wait_state(client, ids["battery"], lambda state: state["state"] != "unknown")
    assert float(battery["state"]) == BATTERY
    while sent[-1].speed_kmh < 20 or away_km(sent[-1]) < 0.3:  # the home zone is 100 m
        fix = tracker.send_position()
        await wait_state(client, ids["tracker"], shows(fix))
    fix = sent[-1]
    speed = await wait_state(
        client,
        ids["speed"],
        lambda state: math.isclose(float(state["state"]), fix.speed_kmh, abs_tol=0.1),
    )
    assert speed["attributes"]["unit_of_measurement"] == "km/h"
    await wait_state(client, ids["ignition"], lambda state: state["state"] == "on")
    await wait_state(client, ids["vehicle_state"], lambda state: state["state"] == "moving")
    assert (await wait_state(client, ids["tracker"], shows(fix)))["state"] == "not_home"

    # SOS: raised once, then held in two more reports, then cleared: one alarm event.
    sos_fix_count = len(sent)
    assert await tracker.raise_alarm("sos")
    await wait_state(client, ids["sos"], lambda state: state["state"] == "on")
    for _ in range(3):
        await wait_state(client, ids["tracker"], shows(tracker.send_position()))
    assert all("sos" in fix.alarms for fix in sent[sos_fix_count : sos_fix_count + 3])
    assert "sos" not in sent[-1].alarms
    await wait_state(client, ids["sos"], lambda state: state["state"] == "off")
    event = await wait_state(client, ids["alarm"], lambda state: state["state"] != "unknown")
    assert event["attributes"]["event_type"] == "sos"
    sos = sent[sos_fix_count]
    assert math.isclose(event["attributes"]["latitude"], sos.latitude, abs_tol=1e-5)
    assert math.isclose(event["attributes"]["longitude"], sos.longitude, abs_tol=1e-5)
    assert await count_events(events, ids["alarm"]) == ["sos"]

    # The mileage query answers with the tracker's odometer, which the sensor then shows.
    response = await client.call_service(
        "sinotrack", "query_mileage", {"device_id": device_id}, return_response=True
    )
    assert math.isclose(response["mileage_km"], round(tracker.mileage_km, 1), abs_tol=0.05), (
        response
    )
    assert tracker.commands_answered == 1
    await wait_state(
        client,
        "sensor.car_odometer",  # created once the tracker reported its mileage
        lambda state: math.isclose(float(state["state"]), response["mileage_km"], abs_tol=0.05),
    )
    # The same over the websocket API.
    result = await ws.command(
        "call_service",
        domain="sinotrack",
        service="query_mileage",
        service_data={"device_id": device_id},
        return_response=True,
    )
    assert math.isclose(result["response"]["mileage_km"], response["mileage_km"], abs_tol=0.05)


async def stop_and_check(instance: Instance, tracker: SimulatedTracker) -> None:
    """Stop Home Assistant with SIGTERM: it exits cleanly and leaves nothing behind."""
    pid = instance.hass.pid
    started = time.monotonic()
    code = await instance.hass.stop()
    assert code == 0, f"Home Assistant exited with {code}:\n{instance.hass.log_tail()}"
    assert time.monotonic() - started < 60
    assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert processes_using(instance.config_dir) == []
    assert await refuses(instance.http_port), "the HTTP port is still open"
    assert await refuses(instance.tracker_port), "the tracker port is still open"
    async with asyncio.timeout(WAIT):
        while tracker.connected:  # noqa: ASYNC110 - until Home Assistant closed the connection
            await asyncio.sleep(0.05)

    log = instance.log()
    unexpected = unexpected_errors(log)
    assert unexpected == [], "\n\n".join(unexpected)
    warnings = integration_warnings(log)
    assert warnings == [], "Home Assistant warns about the integration:\n" + "\n\n".join(warnings)
