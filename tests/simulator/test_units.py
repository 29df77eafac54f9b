"""The simulator's pieces without a network: route, frames, alarm schedules, the buffer."""

from __future__ import annotations

import itertools

import pytest

from custom_components.sinotrack.model.trip_data import Fix as TripFix, TripEnded
from custom_components.sinotrack.model.trips import TripDetector
from custom_components.sinotrack.protocol import TrackerConnection, h02, jt808
from custom_components.sinotrack.protocol.message import battery_from_scale
from tests.support.frames import NOW
from tools.simulator import (
    AlarmKind,
    Fix,
    Route,
    ScheduledAlarm,
    SimulatedTracker,
    battery_scale,
    frames,
    haversine_km,
)
from tools.simulator.cli import tracker_ids
from tools.simulator.route import bearing


def test_builtin_route_is_a_plausible_loop() -> None:
    route = Route.builtin()
    points = route.points
    assert 40 <= len(points) <= 120
    assert 5.0 < route.length_km < 10.0
    assert all(0.0 <= point.speed_kmh <= 80.0 for point in points)
    assert max(point.speed_kmh for point in points) >= 70.0
    # Parked with the ignition off at the start, then driving with it on.
    assert not points[0].ignition
    assert points[0].speed_kmh == 0.0
    assert any(point.ignition and point.speed_kmh > 30 for point in points)
    # A stop at a red light with the ignition on.
    # (The last 25 points: arrived, then parked with the ignition off.)
    assert any(point.ignition and point.speed_kmh == 0.0 for point in points[7:-25])
    assert not any(point.ignition for point in points[-24:])
    # It is a loop: no jump from the last point to the first.
    assert (
        haversine_km(
            points[-1].latitude, points[-1].longitude, points[0].latitude, points[0].longitude
        )
        < 0.05
    )
    # No point is farther from the previous than 80 km/h allows in ten seconds.
    assert max(point.step_km for point in points) < 80 / 360 + 0.01
    # Headings follow the movement: along a street, the course is where the vehicle goes.
    for before, after in itertools.pairwise(points):
        if after.step_km > 0.05 and before.course == after.course:
            course = bearing(before.latitude, before.longitude, after.latitude, after.longitude)
            assert min(abs(course - after.course), 360 - abs(course - after.course)) <= 2
    assert len({point.course for point in points}) >= 5


@pytest.mark.parametrize("interval", [10, 3])
def test_builtin_route_makes_one_trip_per_loop(interval: int) -> None:
    """Reported every 10 s (the parking lasts the stop time) or every 3 s (``make run``:
    the ignition off for a minute ends the trip), each loop is one trip, red light
    included, that starts and ends at the start."""
    route = Route.builtin()
    detector = TripDetector()
    ended = []
    for index in range(3 * len(route)):
        point = route[index]
        when = float(NOW + index * interval)
        fix = TripFix(
            when,
            point.latitude,
            point.longitude,
            speed_kmh=point.speed_kmh,
            ignition=point.ignition,
        )
        ended += [e.trip for e in detector.add(fix, when) if isinstance(e, TripEnded)]
    assert len(ended) >= 2
    for trip in ended:
        assert trip.distance_km == pytest.approx(route.length_km, rel=0.05)
        assert haversine_km(*trip.start_position, *trip.end_position) < 0.05


def test_mileage_accumulates_the_distance_driven() -> None:
    route = Route.builtin()
    tracker = SimulatedTracker("4210051415", "h02", route=route, mileage_km=1000.0)
    fixes = [tracker.send_position() for _ in range(len(route) + 5)]  # offline: buffered
    driven = sum(route[index].step_km for index in range(1, len(route) + 6))
    assert tracker.mileage_km == pytest.approx(1000.0 + driven)
    for before, after in itertools.pairwise(fixes):
        step = haversine_km(before.latitude, before.longitude, after.latitude, after.longitude)
        assert after.mileage_km - before.mileage_km == pytest.approx(step, abs=2e-3)
    assert fixes[-1].mileage_km == pytest.approx(tracker.mileage_km, abs=1e-3)


def test_offline_buffer_is_bounded_and_keeps_the_latest() -> None:
    tracker = SimulatedTracker("4210051415", "jt808", buffer_size=3)
    fixes = [tracker.send_position() for _ in range(10)]
    assert list(tracker.buffer) == fixes[-3:]
    assert [fix.seq for fix in tracker.buffer] == [8, 9, 10]


def test_timestamps_never_go_back() -> None:
    times = iter([100.0, 90.0, 110.0])
    tracker = SimulatedTracker("4210051415", "h02", clock=lambda: next(times))
    assert [tracker.send_position().timestamp for _ in range(3)] == [100, 100, 110]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sos@30", ScheduledAlarm(AlarmKind.SOS, 30.0)),
        ("power_cut@60,repeat", ScheduledAlarm(AlarmKind.POWER_CUT, 60.0, repeat=True)),
        ("GEOFENCE_EXIT@0.5", ScheduledAlarm(AlarmKind.GEOFENCE_EXIT, 0.5)),
    ],
)
def test_scheduled_alarm_parse(text: str, expected: ScheduledAlarm) -> None:
    assert ScheduledAlarm.parse(text) == expected


@pytest.mark.parametrize(
    "text", ["sos", "fire@3", "sos@-1", "sos@x", "sos@5,again", "sos@0,repeat"]
)
def test_scheduled_alarm_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        ScheduledAlarm.parse(text)


def test_tracker_ids() -> None:
    assert tracker_ids(None, None) == ["4210051415"]
    assert tracker_ids(["1", "2"], None) == ["1", "2"]
    assert tracker_ids(["0000000098"], 3) == ["0000000098", "0000000099", "0000000100"]
    with pytest.raises(ValueError, match="--count"):
        tracker_ids(["1", "2"], 2)


def test_invalid_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="10-digit"):
        SimulatedTracker("123", "h02-binary")
    with pytest.raises(ValueError, match="ID"):
        SimulatedTracker("42 10", "h02")
    with pytest.raises(ValueError, match="digits"):
        SimulatedTracker("ABC", "jt808")


@pytest.mark.parametrize("percent", [0, 5, 10, 20, 50, 60, 75, 80, 95, 100])
def test_battery_scale_round_trip(percent: int) -> None:
    level = battery_from_scale(battery_scale(percent))
    assert level is not None
    assert abs(level - percent) <= 20


def _fix(**changes: object) -> Fix:
    values: dict[str, object] = {
        "timestamp": NOW,
        "latitude": -33.8688,
        "longitude": -151.2093,
        "speed_kmh": 55.56,
        "course": 359,
        "ignition": True,
        "mileage_km": 12.3,
        "battery": 100,
    }
    values.update(changes)
    return Fix(**values)  # type: ignore[arg-type]


def test_southern_western_hemispheres() -> None:
    fix = _fix()
    [text] = h02.decode_text(frames.h02_position("4210051415", fix), NOW)
    binary = h02.decode_binary(frames.h02_binary_position("4210051415", fix))
    body = frames.jt808_location_body(fix, 0.0)
    location = jt808.decode_location(body, "4210051415", 0.0, "0x0200")
    for message in (text, binary, location):
        assert message["position.latitude"] == pytest.approx(fix.latitude, abs=1e-5)
        assert message["position.longitude"] == pytest.approx(fix.longitude, abs=1e-5)
        assert message["timestamp"] == NOW
        assert message["position.direction"] == 359


def test_minutes_never_round_up_to_sixty() -> None:
    fix = _fix(latitude=22.99999999, longitude=113.99999999)
    [message] = h02.decode_text(frames.h02_position("4210051415", fix), NOW)
    assert message["position.latitude"] == pytest.approx(23.0, abs=1e-6)
    assert message["position.longitude"] == pytest.approx(114.0, abs=1e-6)
    assert b",2300.0000,N,11400.0000,E," in frames.h02_position("4210051415", fix)


def test_h02_status_word() -> None:
    parked = _fix(ignition=False)
    assert frames.h02_status(parked) == frames.H02_IDLE_STATUS == 0xFFFFFBFF
    assert frames.h02_status(_fix()) == 0xFFFFFFFF
    everything = _fix(
        alarms=frozenset(frames.H02_ALARMS), engine_blocked=True, armed=True, ignition=False
    )
    cleared = ~frames.h02_status(everything) & 0xFFFFFFFF
    assert cleared == (
        1 << 1 | 1 << 18 | 1 << 19 | 1 << 2 | 1 << 4 | 1 << 7 | 1 << 27 | 1 << 9 | 1 << 10
    )


def test_jt808_batches_fit_the_body_limit() -> None:
    fixes = [
        _fix(timestamp=NOW + index, alarms=frozenset({AlarmKind.GEOFENCE_EXIT}))
        for index in range(100)
    ]
    bodies = frames.jt808_batch_bodies(fixes, 8.0)
    assert len(bodies) > 1
    assert all(len(body) <= frames.MAX_BODY for body in bodies)
    connection = TrackerConnection()
    times: list[int] = []
    for serial, body in enumerate(bodies):
        frame = jt808.build_frame(0x0704, jt808.encode_terminal("4210051415"), serial, body)
        for event in connection.feed(frame, NOW):
            messages = getattr(event, "messages", [])
            assert messages, event
            times.extend(message["timestamp"] for message in messages)
            assert all(message["message.archive"] for message in messages)
            assert all(message["geofence.out.alarm"] for message in messages)
    assert times == [fix.timestamp for fix in fixes]
