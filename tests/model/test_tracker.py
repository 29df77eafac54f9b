"""Applying a frame: ordering, what may be stored, the odometer, "last seen" and online."""

from __future__ import annotations

from datetime import timedelta
import math

import pytest

from custom_components.sinotrack.model import (
    FUTURE_TOLERANCE,
    KEY_CONNECTED,
    KEY_DISTANCE,
    KEY_LAST_SEEN,
    KEY_ODOMETER,
    KEY_ONLINE,
    KEY_POSITION,
    LAST_SEEN_RESOLUTION,
    Tracker,
    is_online,
)
from custom_components.sinotrack.protocol import message as p

from .helpers import SECOND, T0, fix, new_tracker, status

MINUTE = timedelta(minutes=1)


def connected_tracker() -> Tracker:
    tracker = Tracker(offline_timeout=30 * MINUTE)
    tracker.set_connected(True, "192.0.2.1:4000", T0)
    return tracker


# -- ordering ------------------------------------------------------------------------------


def test_a_newer_message_is_applied() -> None:
    tracker = new_tracker()
    tracker.apply([fix(T0, latitude=9.9, extra={p.BATTERY_LEVEL: 80})], T0)
    update = tracker.apply([fix(T0 + 60 * SECOND, latitude=9.95)], T0 + 60 * SECOND)
    assert KEY_POSITION in update.changed
    assert tracker.state.latitude == pytest.approx(9.95)
    assert tracker.state.newest == (T0 + 60 * SECOND).timestamp()


def test_an_older_message_changes_nothing() -> None:
    """Batch uploads arrive out of order: an older fix moves nothing and sets no value."""
    tracker = new_tracker()
    tracker.apply([fix(T0 + 60 * SECOND, latitude=9.95, extra={p.BATTERY_LEVEL: 80})], T0)
    update = tracker.apply(
        [fix(T0, latitude=9.9, extra={p.BATTERY_LEVEL: 20, p.SOS: True})], T0 + SECOND
    )
    assert update.stale == 1
    assert update.changed == frozenset()
    assert update.alarms == ()
    assert tracker.state.latitude == pytest.approx(9.95)
    assert tracker.state.values[p.BATTERY_LEVEL] == 80
    assert tracker.state.newest == (T0 + 60 * SECOND).timestamp()


def test_an_older_command_reply_still_brings_its_mileage() -> None:
    """The mileage query's reply answers now, whatever (older) fix it carries."""
    tracker = new_tracker()
    tracker.apply([fix(T0 + 60 * SECOND)], T0)
    reply = fix(T0, extra={p.COMMAND_CODE: "S32", p.MILEAGE: 1234.5})
    update = tracker.apply([reply], T0 + SECOND)
    assert update.stale == 1
    assert KEY_ODOMETER in update.changed
    assert tracker.state.odometer == 1234.5
    assert p.COMMAND_CODE not in tracker.state.values


def test_a_date_in_the_future_does_not_hold_back_later_messages() -> None:
    tracker = new_tracker()
    tracker.apply([fix(T0 + timedelta(days=365), latitude=9.9)], T0)
    assert tracker.state.newest == T0.timestamp() + FUTURE_TOLERANCE
    update = tracker.apply([fix(T0 + 2 * MINUTE, latitude=9.95)], T0 + 2 * MINUTE)
    assert update.stale == 0
    assert tracker.state.latitude == pytest.approx(9.95)


def test_undated_messages_always_apply() -> None:
    tracker = new_tracker()
    tracker.apply([fix(T0 + 60 * SECOND)], T0)
    update = tracker.apply([{p.MESSAGE_TYPE: "LINK", p.BATTERY_LEVEL: 55}], T0 + SECOND)
    assert update.changed >= {p.BATTERY_LEVEL}
    assert tracker.state.values[p.BATTERY_LEVEL] == 55


def test_only_changed_values_are_news() -> None:
    tracker = new_tracker()
    first = tracker.apply([status(T0, **{p.BATTERY_LEVEL: 80, p.IGNITION: False})], T0)
    assert {p.BATTERY_LEVEL, p.IGNITION} <= first.changed
    again = tracker.apply(
        [status(T0 + SECOND, **{p.BATTERY_LEVEL: 80, p.IGNITION: False})], T0 + SECOND
    )
    assert again.changed == {p.TIMESTAMP}


# -- what may be stored --------------------------------------------------------------------


def test_values_the_store_cannot_keep_are_dropped_and_counted() -> None:
    tracker = new_tracker()
    message = fix(
        T0,
        extra={
            p.SATELLITES: 10**300,
            p.MILEAGE: math.inf,
            p.BATTERY_LEVEL: 55,
            "extra.list": [1, 2],
        },
    )
    update = tracker.apply([message], T0)
    assert update.dropped == tuple(sorted(("extra.list", p.SATELLITES, p.MILEAGE)))
    assert tracker.values_refused == 3
    values = tracker.state.values
    assert p.SATELLITES not in values
    assert values[p.BATTERY_LEVEL] == 55
    assert tracker.state.odometer is None  # not infinite


def test_a_timestamp_no_date_can_hold_makes_the_message_undated() -> None:
    tracker = new_tracker()
    update = tracker.apply([fix(T0, extra={p.TIMESTAMP: 1e300})], T0 + SECOND)
    assert update.dropped == (p.TIMESTAMP,)
    assert tracker.state.fix_time == T0 + SECOND  # the server's time
    assert tracker.state.newest is None


# -- odometer and distance counted ---------------------------------------------------------


def odometer(tracker: Tracker) -> float | None:
    return tracker.state.odometer


def test_the_odometer_is_the_trackers_mileage_only() -> None:
    tracker = new_tracker()
    update = tracker.apply([fix(T0, latitude=9.9)], T0)
    assert KEY_ODOMETER not in update.changed
    assert odometer(tracker) is None
    assert tracker.state.distance == 0.0  # counting starts at the first valid fix
    update = tracker.apply([fix(T0 + MINUTE, latitude=9.91, extra={p.MILEAGE: 500.0})], T0 + MINUTE)
    assert {KEY_ODOMETER, KEY_DISTANCE} <= update.changed
    assert odometer(tracker) == 500.0
    assert tracker.state.distance == pytest.approx(1.112, abs=0.002)
    update = tracker.apply([status(T0 + 2 * MINUTE, **{p.MILEAGE: 500.0})], T0 + 2 * MINUTE)
    assert KEY_ODOMETER not in update.changed


# -- last seen and online ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("connected", "last_seen_ago", "online"),
    [
        (True, timedelta(minutes=29), True),
        (True, timedelta(minutes=30), False),
        (False, timedelta(0), False),
        (True, None, False),
    ],
)
def test_online_rule(connected: bool, last_seen_ago: timedelta | None, online: bool) -> None:
    last_seen = None if last_seen_ago is None else T0 - last_seen_ago
    assert is_online(connected, last_seen, 30 * MINUTE, T0) is online


def test_connected_and_a_message_make_it_online() -> None:
    tracker = new_tracker()
    update = tracker.set_connected(True, "192.0.2.1:4000", T0)
    assert update.changed == {KEY_CONNECTED}  # no message yet
    assert tracker.state.peer == "192.0.2.1:4000"
    update = tracker.apply([status(T0)], T0)
    assert {KEY_ONLINE, KEY_LAST_SEEN} <= update.changed
    assert tracker.state.online
    assert tracker.set_connected(True, None, T0).changed == frozenset()


def test_offline_when_the_connection_closes() -> None:
    tracker = connected_tracker()
    tracker.apply([status(T0)], T0)
    update = tracker.set_connected(False, None, T0 + MINUTE)
    assert update.changed == {KEY_CONNECTED, KEY_ONLINE, KEY_LAST_SEEN}
    assert not tracker.state.online
    assert tracker.state.last_seen == T0  # the exact time of its last frame


def test_offline_after_the_timeout_by_the_tick() -> None:
    tracker = connected_tracker()
    tracker.apply([status(T0)], T0)
    assert tracker.tick(T0 + 29 * MINUTE).changed == frozenset()
    update = tracker.tick(T0 + 30 * MINUTE)
    assert update.changed == {KEY_ONLINE, KEY_LAST_SEEN}
    assert not tracker.state.online


def test_a_new_offline_timeout_applies_at_once() -> None:
    tracker = connected_tracker()
    tracker.apply([status(T0)], T0)
    tracker.offline_timeout = 5 * MINUTE
    assert tracker.refresh_online(T0 + 6 * MINUTE).changed == {KEY_ONLINE, KEY_LAST_SEEN}
    assert not tracker.state.online


def test_last_seen_is_news_at_most_every_resolution() -> None:
    tracker = connected_tracker()
    assert KEY_LAST_SEEN in tracker.apply([status(T0)], T0).changed
    later = T0 + LAST_SEEN_RESOLUTION - SECOND
    assert KEY_LAST_SEEN not in tracker.apply([status(later)], later).changed
    assert tracker.state.last_seen == later  # kept exact, written later
    later = T0 + LAST_SEEN_RESOLUTION
    assert KEY_LAST_SEEN in tracker.apply([status(later)], later).changed
