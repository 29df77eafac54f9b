"""From decoded messages to trip detection's fixes, and the local day of "distance today"."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from custom_components.sinotrack.model.trip_feed import day_window, trip_fix, trip_fixes
from custom_components.sinotrack.model.trips import TripDetector
from custom_components.sinotrack.protocol import Message, message as p

T0 = 1_790_000_000


def position(when: int, latitude: float, **extra: object) -> Message:
    message: dict[str, object] = {
        p.TIMESTAMP: when,
        p.LATITUDE: latitude,
        p.LONGITUDE: 114.0,
        p.SPEED: 50.0,
        p.VALID: True,
        **extra,
    }
    return message  # type: ignore[return-value]


def test_a_position_message_is_a_fix_with_its_figures() -> None:
    fix = trip_fix(position(T0, 22.5, **{p.IGNITION: True, p.HDOP: 2.0, p.MILEAGE: 1234.5}), T0 + 3)
    assert fix is not None
    assert (fix.time, fix.latitude, fix.longitude, fix.speed_kmh) == (T0, 22.5, 114.0, 50.0)
    assert fix.ignition is True
    assert fix.accuracy_m == 10.0  # HDOP 2
    assert fix.mileage_km == 1234.5
    assert not fix.late


def test_messages_without_a_position_bring_no_fix() -> None:
    heartbeat: Message = {p.TIMESTAMP: T0}
    assert trip_fix(heartbeat, T0) is None
    assert trip_fixes([heartbeat, position(T0, 22.5)], T0) == [trip_fix(position(T0, 22.5), T0)]


def test_an_archived_fix_is_late_and_an_invalid_one_is_kept_as_invalid() -> None:
    archived = trip_fix(position(T0, 22.5, **{p.ARCHIVE: True}), T0 + 3600)
    assert archived is not None
    assert archived.late
    invalid = trip_fix(position(T0, 22.5, **{p.VALID: False}), T0)
    assert invalid is not None
    assert not invalid.usable


def test_a_blind_area_batch_corrects_the_trip_it_belongs_to() -> None:
    """Fixes the tracker kept in a tunnel arrive after newer ones: the trip's distance
    grows by the detour they show (the device tracker would ignore them)."""
    detector = TripDetector()
    km_per_degree = 111.195
    step = 0.5 / km_per_degree  # 500 m

    def feed(when: int, latitude: float, **extra: object) -> None:
        for fix in trip_fixes([position(when, latitude, **extra)], when):
            detector.add(fix, when)

    feed(T0, 22.5, **{p.SPEED: 0.0})
    for index in range(1, 11):
        feed(T0 + index * 30, 22.5 + index * step)
    for index in range(1, 12):
        feed(T0 + 300 + index * 60, 22.5 + 10 * step, **{p.SPEED: 0.0})
    (trip,) = detector.trips(T0, T0 + 3600)
    straight = trip.distance_km
    # A detour 1 km east between two fixes 500 m apart, kept and sent later (archived).
    when = T0 + 165
    for fix in trip_fixes(
        [position(when, 22.5 + 5.5 * step, **{p.ARCHIVE: True, p.LONGITUDE: 114.01})], T0 + 2000
    ):
        detector.add(fix, T0 + 2000)
    (corrected,) = detector.trips(T0, T0 + 3600)
    # The finished trip's straight track was simplified to its ends: the detour adds the
    # way from them through the late fix, 0.4 km.
    assert corrected.distance_km > straight + 0.35
    assert corrected.max_speed_kmh == 50.0


def test_the_local_day_is_midnight_to_midnight_even_when_clocks_change() -> None:
    paris = ZoneInfo("Europe/Paris")
    start, end = day_window(datetime(2026, 3, 29, 15, 0, tzinfo=paris))  # clocks go forward
    assert start == datetime(2026, 3, 29, tzinfo=paris).timestamp()
    assert end - start == 23 * 3600
    start, end = day_window(datetime(2026, 6, 1, 0, 0, 1, tzinfo=paris))
    assert end - start == 24 * 3600
    assert datetime.fromtimestamp(start, paris).hour == 0
