"""Moving and the vehicle state: derived once per message, a stop is not the end of a trip."""

from __future__ import annotations

from datetime import timedelta

from custom_components.sinotrack.model import (
    KEY_MOVING,
    KEY_VEHICLE_STATE,
    STOP_DELAY,
    VEHICLE_STATES,
    Tracker,
)
from custom_components.sinotrack.protocol import message as p

from .helpers import SECOND, T0, fix, new_tracker, status

STOP = timedelta(seconds=STOP_DELAY)


def driving(ignition: bool = True) -> Tracker:
    tracker = new_tracker()
    tracker.apply([fix(T0, speed=50.0, extra={p.IGNITION: ignition})], T0)
    return tracker


def test_unknown_until_a_speed_or_the_ignition_is_known() -> None:
    tracker = new_tracker()
    tracker.apply([status(T0, **{p.BATTERY_LEVEL: 90})], T0)
    assert tracker.state.vehicle_state is None
    assert tracker.state.moving is None


def test_parked_then_moving() -> None:
    tracker = new_tracker()
    update = tracker.apply([fix(T0, speed=0.0, extra={p.IGNITION: False})], T0)
    assert {KEY_MOVING, KEY_VEHICLE_STATE} <= update.changed
    assert (tracker.state.vehicle_state, tracker.state.moving) == ("parked", False)
    update = tracker.apply([fix(T0 + SECOND, speed=30.0, extra={p.IGNITION: True})], T0 + SECOND)
    assert {KEY_MOVING, KEY_VEHICLE_STATE} <= update.changed
    assert (tracker.state.vehicle_state, tracker.state.moving) == ("moving", True)
    assert set(VEHICLE_STATES) >= {"parked", "moving"}


def test_a_red_light_is_no_stop() -> None:
    tracker = driving()
    stop = T0 + 10 * SECOND
    update = tracker.apply([fix(stop, speed=0.0, extra={p.IGNITION: True})], stop)
    assert KEY_MOVING not in update.changed
    assert tracker.state.moving
    almost = stop + STOP - SECOND
    tracker.apply([fix(almost, speed=0.0, extra={p.IGNITION: True})], almost)
    assert tracker.state.vehicle_state == "moving"
    again = almost + SECOND
    update = tracker.apply([fix(again, speed=20.0, extra={p.IGNITION: True})], again)
    assert tracker.state.moving
    assert KEY_MOVING not in update.changed


def test_standing_still_for_the_stop_delay_ends_moving() -> None:
    tracker = driving()
    stop = T0 + 10 * SECOND
    tracker.apply([fix(stop, speed=0.0, extra={p.IGNITION: True})], stop)
    later = stop + STOP
    update = tracker.apply([status(later, **{p.SPEED: 0.0})], later)
    assert {KEY_MOVING, KEY_VEHICLE_STATE} <= update.changed
    assert (tracker.state.vehicle_state, tracker.state.moving) == ("idling", False)


def test_the_tick_ends_moving_of_a_tracker_that_stopped_reporting() -> None:
    tracker = driving()
    stop = T0 + 10 * SECOND
    tracker.apply([fix(stop, speed=0.0, extra={p.IGNITION: True})], stop)
    assert tracker.tick(stop + STOP - SECOND).changed == frozenset()
    update = tracker.tick(stop + STOP)
    assert update.changed == {KEY_MOVING, KEY_VEHICLE_STATE}
    assert not tracker.state.moving


def test_the_ignition_off_stops_at_once() -> None:
    tracker = driving()
    off = T0 + 10 * SECOND
    update = tracker.apply([fix(off, speed=0.0, extra={p.IGNITION: False})], off)
    assert {KEY_MOVING, KEY_VEHICLE_STATE} <= update.changed
    assert (tracker.state.vehicle_state, tracker.state.moving) == ("parked", False)


def test_moving_with_the_ignition_off_is_towing() -> None:
    tracker = driving(ignition=False)
    assert tracker.state.vehicle_state == "towing"


def test_stopped_with_the_engine_on_is_idling() -> None:
    tracker = new_tracker()
    tracker.apply([fix(T0, speed=0.0, extra={p.IGNITION: True})], T0)
    assert tracker.state.vehicle_state == "idling"
