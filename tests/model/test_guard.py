"""The parked-car guard's rules: each trigger, what must not trigger, delays, auto-arm, the
stored form."""

from __future__ import annotations

from datetime import timedelta
import math
import random
from typing import Any

import pytest

from custom_components.sinotrack.model.guard import (
    ARMED_AWAY,
    ARMING,
    DISARMED,
    PENDING,
    SOURCE_CELL,
    TRIGGERED,
    Change,
    Guard,
    GuardOptions,
    guard_report,
)
from custom_components.sinotrack.protocol import message as p

from .helpers import METER_LATITUDE, T0, fix, status

MINUTE = timedelta(minutes=1)
LAT, LON = 9.9, -84.1


def feed(guard: Guard, message: Any, minutes: float, source: str = "gps") -> Change:
    """One frame with ``message`` at T0 + ``minutes`` (device and server time)."""
    now = T0 + timedelta(minutes=minutes)
    guard.frame(now)
    return guard.observe(guard_report(message, now, source), now)


def parked(minutes: float, north_m: float = 0.0, **extra: Any) -> Any:
    at = T0 + timedelta(minutes=minutes)
    return fix(
        at,
        latitude=LAT + north_m * METER_LATITUDE,
        longitude=LON,
        speed=0.0,
        extra={p.IGNITION: False, **extra},
    )


def armed_guard(**options: Any) -> Guard:
    guard = Guard(GuardOptions(**options))
    feed(guard, parked(0), 0)
    assert guard.arm(T0).state_changed
    assert guard.state == ARMED_AWAY
    return guard


def test_displaced_beyond_the_radius_triggers_once() -> None:
    guard = armed_guard()
    assert feed(guard, parked(1, north_m=90), 1).fired is None
    change = feed(guard, parked(2, north_m=300), 2)
    assert change.fired is not None
    assert change.fired.reason == "displaced"
    assert change.fired.data()["latitude"] == pytest.approx(LAT + 300 * METER_LATITUDE)
    assert guard.state == TRIGGERED
    # Farther still, and the ignition on: still the same triggering, no second event.
    assert feed(guard, parked(3, north_m=600, **{p.IGNITION: True}), 3).fired is None
    assert guard.state == TRIGGERED


def test_radius_is_never_less_than_twice_the_accuracy() -> None:
    """At HDOP 20 (100 m accuracy) a fix 150 m away is no displacement; 250 m is."""
    guard = armed_guard()
    assert feed(guard, parked(1, north_m=150, **{p.HDOP: 20.0}), 1).fired is None
    change = feed(guard, parked(2, north_m=250, **{p.HDOP: 20.0}), 2)
    assert change.fired is not None
    assert change.fired.reason == "displaced"


def test_cell_positions_and_invalid_fixes_never_displace() -> None:
    guard = armed_guard()
    assert feed(guard, parked(1, north_m=2000), 1, source=SOURCE_CELL).fired is None
    far_invalid = fix(T0 + MINUTE, latitude=LAT + 0.1, longitude=LON, valid=False, speed=0.0)
    assert feed(guard, far_invalid, 2).fired is None
    assert guard.state == ARMED_AWAY


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (parked(1, **{p.IGNITION: True}), "ignition"),
        (
            fix(T0 + MINUTE, latitude=LAT, longitude=LON, speed=12.0, extra={p.IGNITION: False}),
            "towing",
        ),
        (status(T0 + MINUTE, **{p.POWER_CUT: True}), "power_cut"),
        (status(T0 + MINUTE, **{p.VIBRATION: True}), "vibration"),
        (status(T0 + MINUTE, **{p.SOS: True}), "sos"),
        (status(T0 + MINUTE, **{p.THEFT: True}), "theft"),
        (status(T0 + MINUTE, **{p.ILLEGAL_DISPLACEMENT: True}), "displaced"),
    ],
)
def test_each_trigger(message: Any, reason: str) -> None:
    guard = armed_guard()
    change = feed(guard, message, 1)
    assert change.fired is not None
    assert change.fired.reason == reason
    assert guard.state == TRIGGERED


def test_nothing_triggers_while_disarmed() -> None:
    guard = Guard()
    assert feed(guard, parked(0, **{p.IGNITION: True, p.SOS: True}), 0).fired is None
    assert feed(guard, parked(1, north_m=5000), 1).fired is None
    assert guard.state == DISARMED


def test_an_alarm_already_set_when_armed_does_not_trigger_until_it_rises_again() -> None:
    guard = Guard()
    feed(guard, parked(0, **{p.POWER_CUT: True}), 0)
    guard.arm(T0)
    assert feed(guard, parked(1, **{p.POWER_CUT: True}), 1).fired is None
    assert feed(guard, parked(2, **{p.POWER_CUT: False}), 2).fired is None
    change = feed(guard, parked(3, **{p.POWER_CUT: True}), 3)
    assert change.fired is not None
    assert change.fired.reason == "power_cut"


def test_parked_car_with_gps_wander_never_triggers() -> None:
    """An hour of fixes every 10 s wandering 30 m at HDOP 3, speeds up to 3 km/h."""
    rng = random.Random(13)
    guard = armed_guard(radius_m=100.0)
    for step in range(360):
        minutes = step / 6
        angle = rng.uniform(0, 2 * math.pi)
        meters = rng.uniform(0, 30)
        message = fix(
            T0 + timedelta(minutes=minutes),
            latitude=LAT + meters * math.cos(angle) * METER_LATITUDE,
            longitude=LON + meters * math.sin(angle) * METER_LATITUDE / math.cos(math.radians(LAT)),
            speed=rng.uniform(0, 3),
            extra={p.IGNITION: False, p.HDOP: 3.0},
        )
        assert feed(guard, message, minutes).fired is None
        assert guard.tick(T0 + timedelta(minutes=minutes, seconds=5)).fired is None
    assert guard.state == ARMED_AWAY


def test_exit_delay_then_armed_at_the_position_then() -> None:
    guard = Guard(GuardOptions(exit_delay=timedelta(seconds=60)))
    feed(guard, parked(0), 0)
    guard.arm(T0)
    assert guard.state == ARMING
    # The owner drives off during the exit delay: nothing triggers.
    assert feed(guard, parked(0.5, north_m=500, **{p.IGNITION: True}), 0.5).fired is None
    assert feed(guard, parked(0.9, north_m=500), 0.9).fired is None
    assert guard.tick(T0 + 2 * MINUTE).state_changed
    assert guard.state == ARMED_AWAY
    assert guard.armed_position is not None
    assert guard.armed_position[0] == pytest.approx(LAT + 500 * METER_LATITUDE)
    assert feed(guard, parked(3, north_m=520), 3).fired is None


def test_entry_delay_then_one_event() -> None:
    guard = armed_guard(entry_delay=timedelta(seconds=30))
    change = feed(guard, parked(1, **{p.IGNITION: True}), 1)
    assert change.fired is None
    assert guard.state == PENDING
    assert guard.tick(T0 + MINUTE + timedelta(seconds=10)).fired is None
    change = guard.tick(T0 + 2 * MINUTE)
    assert change.fired is not None
    assert change.fired.reason == "ignition"
    assert guard.state == TRIGGERED
    assert guard.tick(T0 + 3 * MINUTE).fired is None


def test_disarm_during_the_entry_delay_cancels() -> None:
    guard = armed_guard(entry_delay=timedelta(seconds=30))
    feed(guard, parked(1, **{p.IGNITION: True}), 1)
    guard.disarm()
    assert guard.tick(T0 + 5 * MINUTE).fired is None
    assert guard.state == DISARMED


def test_silent_tracker() -> None:
    """Reports every 2 minutes: silent after max(3 x 2 min, 10 min) = 10 minutes."""
    guard = armed_guard(silent=True)
    for minutes in (2, 4, 6, 8):
        feed(guard, parked(minutes), minutes)
    assert guard.silent_after() == timedelta(minutes=10)
    assert guard.tick(T0 + timedelta(minutes=17)).fired is None
    change = guard.tick(T0 + timedelta(minutes=18, seconds=1))
    assert change.fired is not None
    assert change.fired.reason == "silent"
    assert change.fired.latitude == pytest.approx(LAT)


def test_silent_rule_uses_three_median_gaps_and_is_optional() -> None:
    guard = armed_guard(silent=True)
    for minutes in (5, 10, 15, 20):
        feed(guard, parked(minutes), minutes)
    assert guard.silent_after() == timedelta(minutes=15)
    assert guard.tick(T0 + timedelta(minutes=34)).fired is None
    assert guard.tick(T0 + timedelta(minutes=36)).fired is not None
    off = armed_guard()
    for minutes in (5, 10, 15, 20):
        feed(off, parked(minutes), minutes)
    assert off.tick(T0 + timedelta(hours=5)).fired is None


def test_auto_arm_after_parked_and_not_again_in_the_same_parking() -> None:
    guard = Guard(GuardOptions(auto_arm=timedelta(minutes=10)))
    feed(guard, parked(0), 0)
    assert not guard.tick(T0 + 9 * MINUTE).armed
    assert guard.tick(T0 + 10 * MINUTE).armed
    assert guard.state == ARMED_AWAY
    guard.disarm()
    feed(guard, parked(20), 20)
    assert not guard.tick(T0 + timedelta(hours=2)).armed
    # A drive, a new parking: armed again ten minutes after it.
    feed(guard, parked(130, **{p.IGNITION: True}), 130)
    feed(guard, parked(140), 140)
    assert not guard.tick(T0 + timedelta(minutes=149)).armed
    assert guard.tick(T0 + timedelta(minutes=150)).armed


def test_auto_arm_is_off_by_default() -> None:
    guard = Guard()
    feed(guard, parked(0), 0)
    assert not guard.tick(T0 + timedelta(days=1)).armed


def test_armed_survives_the_stored_form() -> None:
    guard = armed_guard(silent=True)
    for minutes in (2, 4, 6):
        feed(guard, parked(minutes), minutes)
    restored = Guard.from_dict(guard.as_dict(), GuardOptions(silent=True))
    assert restored.state == ARMED_AWAY
    assert restored.armed_position == guard.armed_position
    assert restored.silent_after() == guard.silent_after()
    change = feed(restored, parked(7, north_m=300), 7)
    assert change.fired is not None
    assert change.fired.reason == "displaced"
    again = Guard.from_dict(restored.as_dict())
    assert again.state == TRIGGERED
    assert again.trigger == restored.trigger


@pytest.mark.parametrize("data", [None, "x", {"state": "bogus"}, {"state": "triggered"}])
def test_unreadable_stored_forms(data: Any) -> None:
    assert Guard.from_dict(data).state in (DISARMED, ARMED_AWAY)
    assert Guard.from_dict(data).trigger is None
