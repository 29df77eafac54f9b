"""Values no store can keep never enter a tracker's state, and one failing entity does not
stop the others: through the real listener, and fed to the runtime directly (the runtime
is safe on its own, whatever the codec lets through)."""

from __future__ import annotations

from datetime import timedelta
import math
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_platform
from homeassistant.helpers.json import json_bytes
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sinotrack.const import DOMAIN
from custom_components.sinotrack.protocol import message as p
from tests.support.frames import H02_ID, T0, h02_position, h02_v1
from tests.support.hass import fix_time, report, state, wait_state

from .conftest import TrackerFactory
from .test_services import call, command, entry_target, error_of

SECOND = timedelta(seconds=1)
HUGE = "9" * 300


async def saved(hass: HomeAssistant, hass_storage: dict[str, Any], entry: MockConfigEntry) -> Any:
    """What the entry's store holds after the entry unloads (which writes it at once)."""
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    return hass_storage[f"{DOMAIN}.{entry.entry_id}"]["data"]


async def test_link_frame_with_300_digit_numbers(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    loaded_entry: MockConfigEntry,
    connect: TrackerFactory,
) -> None:
    """A LINK frame whose signal and satellite counts are 300-digit numbers: the state
    stays savable, later reports are saved and survive a restart."""
    tracker = await connect(loaded_entry)
    await report(tracker, h02_v1(T0))
    link = f"*HQ,{H02_ID},LINK,030406,{HUGE},{HUGE},67,0,0,020126,FFFFFBFF#"
    await tracker.send(link.encode())  # not answered
    await wait_state(hass, "sensor.car_battery", "67")  # the rest of the frame is taken
    await report(tracker, h02_v1(T0 + 10 * SECOND, latitude=9.95))

    data = await saved(hass, hass_storage, loaded_entry)
    assert data["latitude"] == pytest.approx(9.95)
    assert data["fix_time"] == (T0 + 10 * SECOND).isoformat()
    assert HUGE not in str(data)

    assert await hass.config_entries.async_setup(loaded_entry.entry_id)
    await hass.async_block_till_done()
    assert state(hass, "device_tracker.car").attributes["latitude"] == pytest.approx(9.95)


async def test_mileage_reply_with_400_digits(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, connect: TrackerFactory
) -> None:
    """A V4,S32 reply whose mileage is a 400-digit number: no odometer of infinity, the
    action says the tracker answered without a mileage, and the odometer keeps working."""
    tracker = await connect(loaded_entry)
    await report(tracker, h02_v1(T0))
    task = call(hass, "query_mileage", entry_target(loaded_entry))
    assert await command(tracker) == f"*HQ,{H02_ID},S32,000000,1#"
    await tracker.send(f"*HQ,{H02_ID},V4,S32,{'1' * 400},000000,{h02_position(T0)}#".encode())
    error = await error_of(HomeAssistantError, task)
    assert error.translation_key == "no_mileage"
    assert hass.states.get("sensor.car_odometer") is None  # no mileage reported yet
    assert loaded_entry.runtime_data.state.odometer is None

    task = call(hass, "query_mileage", entry_target(loaded_entry))
    await command(tracker)
    await tracker.send(f"*HQ,{H02_ID},V4,S32,1234.5,000000#".encode())
    await task
    assert state(hass, "sensor.car_odometer").state == "1234.5"


async def test_runtime_refuses_unstorable_values_on_its_own(
    hass: HomeAssistant, hass_storage: dict[str, Any], loaded_entry: MockConfigEntry
) -> None:
    """Messages fed to the runtime directly, with what no JSON writer keeps: huge
    integers, NaN and infinities, a timestamp no date can hold, a container, a non-text
    key. None of it is kept; the rest of each message is; the store writes."""
    runtime = loaded_entry.runtime_data
    base = {
        p.MESSAGE_TYPE: "V1",
        p.TIMESTAMP: T0.timestamp(),
        p.LATITUDE: 9.95,
        p.LONGITUDE: -84.1,
        p.VALID: True,
    }
    garbage: dict[Any, Any] = {
        **base,
        p.SATELLITES: 10**300,
        p.GSM_SIGNAL: -(2**64),
        p.SPEED: math.nan,
        p.MILEAGE: math.inf,
        p.BATTERY_LEVEL: 55,
        "extra.list": [1, 2],
        7: "seven",
    }
    far: dict[str, Any] = {
        p.MESSAGE_TYPE: "V1",
        p.TIMESTAMP: 1e300,
        p.LATITUDE: math.inf,
        p.LONGITUDE: 1.0,
    }
    runtime.handle_messages([garbage, far])
    await hass.async_block_till_done()
    values = runtime.state.values
    for key in (p.SATELLITES, p.GSM_SIGNAL, p.SPEED, p.MILEAGE, "extra.list", 7):
        assert key not in values
    assert values[p.BATTERY_LEVEL] == 55
    assert runtime.state.odometer is None  # not infinite
    assert runtime.state.distance == 0.0  # counted from the one valid fix
    assert runtime.state.latitude == pytest.approx(9.95)
    assert runtime.state.fix_time == T0
    assert runtime.values_refused == 8
    json_bytes(runtime.state.as_dict())  # raises for what the store cannot write
    assert state(hass, "sensor.car_battery").state == "55"

    data = await saved(hass, hass_storage, loaded_entry)
    assert data["values"][p.BATTERY_LEVEL] == 55


async def test_one_failing_entity_does_not_stop_the_others(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, connect: TrackerFactory
) -> None:
    """The distance counted's write raises on every update: the other entities still follow
    the tracker, and the failure is counted."""
    platform = next(
        platform
        for platform in entity_platform.async_get_platforms(hass, DOMAIN)
        if "sensor.car_distance_counted" in platform.entities
    )
    odometer = platform.entities["sensor.car_distance_counted"]

    def broken() -> None:
        raise ValueError("cannot write")

    odometer.async_write_ha_state = broken  # type: ignore[method-assign,misc]
    tracker = await connect(loaded_entry)
    await report(tracker, h02_v1(T0, latitude=9.9))
    await report(tracker, h02_v1(T0 + 60 * SECOND, latitude=9.95))
    assert state(hass, "device_tracker.car").attributes["latitude"] == pytest.approx(9.95)
    assert fix_time(hass) == (T0 + 60 * SECOND).isoformat()
    assert state(hass, "binary_sensor.car_connected").state == "on"
    assert loaded_entry.runtime_data.subscriber_errors >= 2
