"""The stored form of a tracker's state: round trip, JSON, and the older forms it reads."""

from __future__ import annotations

from dataclasses import astuple
from datetime import timedelta
import json
from typing import Any

import pytest

from custom_components.sinotrack.model import Tracker, TrackerState, holds_counted_odometer
from custom_components.sinotrack.protocol import message as p

from .helpers import SECOND, T0, fix, new_tracker, status


def driven() -> Tracker:
    """A tracker that drove, stopped at a light, reported its mileage and an SOS."""
    tracker = new_tracker()
    tracker.set_connected(True, "192.0.2.1:4000", T0)
    tracker.apply([fix(T0, latitude=9.9, speed=40.0, extra={p.IGNITION: True})], T0)
    at = T0 + 60 * SECOND
    tracker.apply(
        [fix(at, latitude=9.91, speed=0.0, extra={p.MILEAGE: 812.5, p.SOS: True, p.HDOP: 1.2})], at
    )
    return tracker


def test_round_trip() -> None:
    state = driven().state
    data = json.loads(json.dumps(state.as_dict(), allow_nan=False))
    restored = TrackerState.from_dict(data)
    # The session (connected, online, peer) is not stored: it starts closed.
    restored.connected, restored.online, restored.peer = state.connected, state.online, state.peer
    assert astuple(restored) == astuple(state)
    assert restored.stopped_since is not None
    assert restored.vehicle_state == "moving"
    assert restored.distance == state.distance


def test_stored_alarm_flags_fire_no_second_event_after_a_restart() -> None:
    restored = new_tracker(TrackerState.from_dict(driven().state.as_dict()))
    at = T0 + 120 * SECOND
    assert restored.apply([status(at, **{p.SOS: True})], at).alarms == ()


def test_an_empty_state_round_trips() -> None:
    assert TrackerState.from_dict(TrackerState().as_dict()) == TrackerState()


def test_an_odometer_stored_before_the_distance_counted_was_is_dropped() -> None:
    """Earlier versions kept the distance counted in "odometer" until the tracker reported
    a mileage ("device_mileage" false): it is no mileage."""
    old: dict[str, Any] = {"odometer": 123.4, "computed_km": 123.4}
    assert holds_counted_odometer(old)
    state = TrackerState.from_dict(old)
    assert state.odometer is None
    assert state.computed_km == 123.4
    mileage = {"odometer": 812.5, "device_mileage": True}
    assert not holds_counted_odometer(mileage)
    assert TrackerState.from_dict(mileage).odometer == 812.5


@pytest.mark.parametrize(
    ("speed", "moving", "vehicle_state"),
    [(30.0, True, "moving"), (0.0, False, "parked"), (None, None, None)],
)
def test_moving_stored_before_it_was_comes_from_the_speed(
    speed: float | None, moving: bool | None, vehicle_state: str | None
) -> None:
    values = {} if speed is None else {p.SPEED: speed}
    state = TrackerState.from_dict({"values": values})
    assert state.moving is moving
    assert state.vehicle_state == vehicle_state


def test_what_cannot_be_read_is_left_out() -> None:
    state = TrackerState.from_dict(
        {
            "values": {p.BATTERY_LEVEL: 50, p.SATELLITES: 10**300, p.SPEED: float("nan")},
            "anchor": [1.0, 2.0],
            "fix_time": "yesterday",
            "last_seen": 12,
            "stopped_since": "soon",
            "alarms": {p.SOS: 1},
        }
    )
    assert state.values == {p.BATTERY_LEVEL: 50}
    assert state.anchor is None
    assert state.fix_time is None
    assert state.last_seen is None
    assert state.stopped_since is None
    assert state.alarms == {p.SOS: True}


def test_a_time_stored_without_offset_is_utc() -> None:
    naive = (T0 + timedelta(hours=1)).replace(tzinfo=None).isoformat()
    assert TrackerState.from_dict({"last_seen": naive}).last_seen == T0 + timedelta(hours=1)
