"""The position shown (jitter, invalid fixes, accuracy) and the distance counted."""

from __future__ import annotations

from datetime import timedelta

import pytest

from custom_components.sinotrack.model import (
    DEFAULT_ACCURACY_M,
    KEY_DISTANCE,
    KEY_POSITION,
    Tracker,
    fix_accuracy,
)
from custom_components.sinotrack.protocol import message as p

from .helpers import METER_LATITUDE, SECOND, T0, fix, new_tracker

MINUTE = timedelta(minutes=1)


def parked(latitude: float = 9.9) -> Tracker:
    """A tracker whose position is shown, standing still."""
    tracker = new_tracker()
    tracker.apply([fix(T0, latitude=latitude, speed=0.0)], T0)
    return tracker


def test_the_first_valid_fix_is_shown_with_its_device_time() -> None:
    tracker = new_tracker()
    update = tracker.apply([fix(T0 - MINUTE, latitude=9.9, longitude=-84.1)], T0)
    assert {KEY_POSITION, KEY_DISTANCE} <= update.changed
    state = tracker.state
    assert (state.latitude, state.longitude) == (9.9, -84.1)
    assert state.fix_time == T0 - MINUTE
    assert state.accuracy == DEFAULT_ACCURACY_M


def test_an_invalid_fix_keeps_the_position() -> None:
    tracker = parked()
    update = tracker.apply([fix(T0 + MINUTE, latitude=10.0, valid=False)], T0 + MINUTE)
    assert KEY_POSITION not in update.changed
    assert tracker.state.latitude == 9.9
    assert tracker.state.values[p.VALID] is False  # the value itself is reported


def test_an_invalid_fix_moves_the_position_when_allowed_but_counts_no_distance() -> None:
    tracker = parked()
    tracker.allow_invalid_fix = True
    update = tracker.apply([fix(T0 + MINUTE, latitude=10.0, valid=False)], T0 + MINUTE)
    assert KEY_POSITION in update.changed
    assert KEY_DISTANCE not in update.changed
    assert tracker.state.latitude == 10.0
    assert tracker.state.distance == 0.0


def test_a_parked_trackers_wandering_fix_is_no_news() -> None:
    tracker = parked()
    update = tracker.apply([fix(T0 + MINUTE, latitude=9.9 + 12 * METER_LATITUDE)], T0 + MINUTE)
    assert KEY_POSITION not in update.changed
    assert tracker.state.latitude == 9.9
    assert tracker.state.fix_time == T0


def test_a_parked_tracker_moves_beyond_the_jitter() -> None:
    """Not moving: 50 m (or twice the accuracy) is the jitter radius; beyond it, news."""
    tracker = parked()
    update = tracker.apply([fix(T0 + MINUTE, latitude=9.9 + 60 * METER_LATITUDE)], T0 + MINUTE)
    assert KEY_POSITION in update.changed


def test_a_parked_trackers_wander_is_neither_shown_nor_counted() -> None:
    """A day of fixes wandering 25-40 m around a parked car (HDOP 1-3): no position
    written and no distance counted (20 m steps used to add kilometres a day)."""
    tracker = parked()
    before = tracker.state.distance
    for minute in range(1, 24 * 60, 5):
        north = (25 + minute % 16) * (1 if minute % 2 else -1)
        when = T0 + minute * MINUTE
        update = tracker.apply(
            [fix(when, latitude=9.9 + north * METER_LATITUDE, extra={p.HDOP: 1 + minute % 3})],
            when,
        )
        assert KEY_POSITION not in update.changed
    assert tracker.state.distance == before


def test_a_parked_tracker_stays_within_its_accuracy() -> None:
    """HDOP 10: 50 m accuracy; a fix 30 m away is within it."""
    tracker = parked()
    update = tracker.apply(
        [fix(T0 + MINUTE, latitude=9.9 + 30 * METER_LATITUDE, extra={p.HDOP: 10.0})], T0 + MINUTE
    )
    assert KEY_POSITION not in update.changed


def test_a_moving_vehicle_moves_by_every_fix() -> None:
    tracker = new_tracker()
    tracker.apply([fix(T0, latitude=9.9, speed=30.0)], T0)
    update = tracker.apply(
        [fix(T0 + SECOND, latitude=9.9 + 5 * METER_LATITUDE, speed=30.0)], T0 + SECOND
    )
    assert KEY_POSITION in update.changed


def test_a_requested_position_is_always_shown() -> None:
    tracker = parked()
    reply = fix(T0 + MINUTE, latitude=9.9 + 2 * METER_LATITUDE, extra={p.COMMAND_CODE: "V1"})
    update = tracker.apply([reply], T0 + MINUTE)
    assert KEY_POSITION in update.changed
    assert tracker.state.fix_time == T0 + MINUTE


@pytest.mark.parametrize(
    ("hdop", "accuracy"), [(None, DEFAULT_ACCURACY_M), (0.5, 5.0), (1.0, 5.0), (2.4, 12.0)]
)
def test_accuracy_from_hdop(hdop: float | None, accuracy: float) -> None:
    assert fix_accuracy(hdop) == pytest.approx(accuracy)


def test_the_distance_counts_slow_driving_from_the_last_counted_fix() -> None:
    """Steps of 15 m each (under the 20 m jitter) still add up: every other one counts
    the way from the last counted fix."""
    tracker = new_tracker()
    for step in range(11):
        at = T0 + step * 10 * SECOND
        tracker.apply([fix(at, latitude=9.9 + step * 15 * METER_LATITUDE, speed=5.0)], at)
    assert tracker.state.distance == pytest.approx(0.150, abs=0.002)


def test_jitter_is_not_counted() -> None:
    tracker = parked()
    for step in range(1, 10):
        at = T0 + step * MINUTE
        wander = (step % 3) * 6 * METER_LATITUDE
        update = tracker.apply([fix(at, latitude=9.9 + wander)], at)
        assert KEY_DISTANCE not in update.changed
    assert tracker.state.distance == 0.0


def test_a_jump_no_vehicle_makes_is_not_counted() -> None:
    """100 km in a minute: one of the two fixes is wrong. Counting goes on from the new fix."""
    tracker = parked()
    jump = T0 + MINUTE
    update = tracker.apply([fix(jump, latitude=10.8)], jump)
    assert KEY_DISTANCE not in update.changed
    assert tracker.state.distance == 0.0
    later = jump + 2 * MINUTE
    tracker.apply([fix(later, latitude=10.81, speed=40.0)], later)
    assert tracker.state.distance == pytest.approx(1.112, abs=0.002)


def test_an_invalid_fix_counts_no_distance() -> None:
    tracker = parked()
    tracker.apply([fix(T0 + MINUTE, latitude=9.91, valid=False)], T0 + MINUTE)
    assert tracker.state.distance == 0.0
    assert tracker.state.anchor is not None
    assert tracker.state.anchor[0] == 9.9
