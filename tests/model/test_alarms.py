"""Alarm events: one per rising edge, rate-limited per type, the geofence rule, their data."""

from __future__ import annotations

from datetime import datetime, timedelta

from custom_components.sinotrack.model import (
    ALARM_EVENT_INTERVAL,
    ALARM_EVENTS,
    EVENT_TYPES,
    KEY_ALARM,
    AlarmRateLimit,
    Tracker,
)
from custom_components.sinotrack.protocol import Message, message as p

from .helpers import SECOND, T0, fix, new_tracker, status

INTERVAL = timedelta(seconds=ALARM_EVENT_INTERVAL)


def types(tracker: Tracker, message: Message, at: datetime) -> list[str]:
    """The alarm events that rose when ``message`` came at ``at``."""
    update = tracker.apply([message], at)
    return [event.type for event in update.alarms]


def test_an_alarm_fires_once_per_occurrence() -> None:
    tracker = new_tracker()
    assert types(tracker, status(T0, **{p.SOS: True}), T0) == ["sos"]
    later = T0 + 10 * SECOND
    assert types(tracker, status(later, **{p.SOS: True}), later) == []  # still set
    later += 10 * SECOND
    assert types(tracker, status(later, **{p.SOS: False}), later) == []
    later += INTERVAL
    assert types(tracker, status(later, **{p.SOS: True}), later) == ["sos"]  # again


def test_a_message_without_the_flag_keeps_it() -> None:
    tracker = new_tracker()
    tracker.apply([status(T0, **{p.SOS: True})], T0)
    tracker.apply([status(T0 + SECOND, **{p.BATTERY_LEVEL: 50})], T0 + SECOND)
    assert tracker.state.alarms[p.SOS] is True
    assert types(tracker, status(T0 + INTERVAL, **{p.SOS: True}), T0 + INTERVAL) == []


def test_the_update_names_the_alarm_key_only_when_an_event_rose() -> None:
    tracker = new_tracker()
    assert KEY_ALARM in tracker.apply([status(T0, **{p.SOS: True})], T0).changed
    update = tracker.apply([status(T0 + SECOND, **{p.SOS: True})], T0 + SECOND)
    assert KEY_ALARM not in update.changed


def test_several_alarms_in_one_frame_fire_in_order() -> None:
    tracker = new_tracker()
    message = status(T0, **{p.SOS: True, p.POWER_CUT: True, p.OVERSPEED: False})
    assert types(tracker, message, T0) == ["sos", "power_cut"]


def test_a_flag_toggled_fast_fires_once_per_interval_and_is_counted() -> None:
    tracker = new_tracker()
    fired: list[str] = []
    suppressed: list[str] = []
    for step in range(20):  # on and off every second for 20 s
        at = T0 + step * SECOND
        update = tracker.apply([status(at, **{p.SOS: step % 2 == 0})], at)
        fired += [event.type for event in update.alarms]
        suppressed += update.suppressed
    assert fired == ["sos"]
    assert suppressed == ["sos"] * 9
    assert tracker.alarm_limit.suppressed == {"sos": 9}
    assert tracker.state.alarms[p.SOS] is False  # the flags follow every frame


def test_the_rate_limit_counts_server_time_not_device_time() -> None:
    limit = AlarmRateLimit()
    assert limit.allow("sos", 1000.0)
    assert not limit.allow("sos", 1000.0 + ALARM_EVENT_INTERVAL - 0.1)
    assert limit.allow("power_cut", 1001.0)  # each type has its own window
    assert limit.allow("sos", 1000.0 + ALARM_EVENT_INTERVAL)
    assert limit.allow("sos", 10.0)  # a clock set back holds nothing back
    assert limit.suppressed_total == 1


def test_a_geofence_alarm_with_its_direction_is_one_event() -> None:
    tracker = new_tracker()
    message = status(T0, **{p.GEOFENCE: True, p.GEOFENCE_IN: True})
    assert types(tracker, message, T0) == ["geofence_enter"]
    assert tracker.state.alarms[p.GEOFENCE] is True


def test_a_bare_geofence_alarm_fires_as_such() -> None:
    tracker = new_tracker()
    assert types(tracker, status(T0, **{p.GEOFENCE: True}), T0) == ["geofence"]


def test_an_older_message_raises_no_alarm() -> None:
    tracker = new_tracker()
    tracker.apply([status(T0 + 60 * SECOND)], T0)
    assert types(tracker, status(T0, **{p.SOS: True}), T0 + SECOND) == []
    assert tracker.state.alarms == {}


def test_event_data_with_a_position() -> None:
    tracker = new_tracker()
    message = fix(T0 - 5 * SECOND, latitude=9.9, longitude=-84.1, speed=42.0, extra={p.SOS: True})
    (event,) = tracker.apply([message], T0).alarms
    assert event.type == "sos"
    assert dict(event.data) == {
        "time": (T0 - 5 * SECOND).isoformat(),
        "latitude": 9.9,
        "longitude": -84.1,
        "position_valid": True,
        "speed": 42.0,
    }


def test_event_data_without_position_or_date() -> None:
    tracker = new_tracker()
    (event,) = tracker.apply([{p.MESSAGE_TYPE: "ALRM", p.POWER_CUT: True}], T0).alarms
    assert dict(event.data) == {"time": T0.isoformat()}


def test_every_alarm_flag_has_an_event_type() -> None:
    assert sorted(set(ALARM_EVENTS.values())) == EVENT_TYPES
    assert len(EVENT_TYPES) == len(ALARM_EVENTS)
