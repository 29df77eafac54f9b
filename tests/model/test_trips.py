"""Trip detection: the trips and stops a user would see from a day of fixes."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
import json
import math
import random

import pytest

from custom_components.sinotrack.model.geo import haversine_km
from custom_components.sinotrack.model.trip_data import (
    Fix,
    Trip,
    TripEnded,
    TripEvent,
    TripStarted,
    TripUpdated,
)
from custom_components.sinotrack.model.trips import TripDetector

from .helpers import unnumbered

T0 = 1_790_000_000.0
HOME = (22.5431, 114.0579)
KM_PER_DEGREE = 111.195


class Route:
    """A vehicle that parks and drives, feeding its fixes to a detector."""

    def __init__(self, detector: TripDetector, *, seed: int = 7) -> None:
        self.detector = detector
        self.time = T0
        self.latitude, self.longitude = HOME
        self.events: list[TripEvent] = []
        self.rng = random.Random(seed)

    def fix(self, **changes: object) -> Fix:
        """A fix where the vehicle is now."""
        fix = Fix(time=self.time, latitude=self.latitude, longitude=self.longitude, speed_kmh=0.0)
        return replace(fix, **changes)  # type: ignore[arg-type]

    def send(self, fix: Fix) -> list[TripEvent]:
        """Feed one fix (arriving 2 s after it was taken)."""
        events = self.detector.add(fix, now=fix.time + 2.0)
        self.events.extend(events)
        return events

    def tick(self, now: float) -> list[TripEvent]:
        """The caller's periodic check."""
        events = self.detector.tick(now)
        self.events.extend(events)
        return events

    def park(
        self,
        seconds: float,
        *,
        interval: float = 30.0,
        ignition: bool | None = False,
        jitter_m: float = 8.0,
        send: bool = True,
    ) -> list[Fix]:
        """Stand still with GPS jitter around the spot, one fix every ``interval``."""
        fixes = []
        for _ in range(round(seconds / interval)):
            self.time += interval
            north = self.rng.uniform(-jitter_m, jitter_m) / 1000 / KM_PER_DEGREE
            east = self.rng.uniform(-jitter_m, jitter_m) / 1000 / KM_PER_DEGREE
            fix = self.fix(
                latitude=self.latitude + north,
                longitude=self.longitude + east / math.cos(math.radians(self.latitude)),
                speed_kmh=self.rng.uniform(0.0, 2.0),
                ignition=ignition,
            )
            fixes.append(fix)
            if send:
                self.send(fix)
        return fixes

    def drive(
        self,
        seconds: float,
        *,
        speed: float = 40.0,
        heading: float = 90.0,
        interval: float = 10.0,
        ignition: bool | None = True,
        send: bool = True,
        **changes: object,
    ) -> list[Fix]:
        """Drive straight at ``speed`` towards ``heading`` (degrees from north)."""
        fixes = []
        step_km = speed * interval / 3600
        for _ in range(round(seconds / interval)):
            self.time += interval
            self.latitude += step_km * math.cos(math.radians(heading)) / KM_PER_DEGREE
            self.longitude += (
                step_km
                * math.sin(math.radians(heading))
                / (KM_PER_DEGREE * math.cos(math.radians(self.latitude)))
            )
            fix = self.fix(speed_kmh=speed, ignition=ignition, **changes)
            fixes.append(fix)
            if send:
                self.send(fix)
        return fixes

    def of(self, kind: type[TripEvent]) -> list[Trip]:
        """The trips of the events of one kind, in order."""
        return [event.trip for event in self.events if isinstance(event, kind)]


def everything(detector: TripDetector) -> list[Trip]:
    """Every finished trip."""
    return detector.trips(0.0, 1e12)


def test_a_drive_with_a_red_light_is_one_trip() -> None:
    route = Route(TripDetector())
    route.park(600, ignition=False)
    left = route.time
    route.drive(300, speed=40, ignition=True)
    route.park(90, interval=10, ignition=True)  # a red light, engine running
    route.drive(300, speed=40, ignition=True)
    arrival = route.park(600, ignition=False)

    started, ended = route.of(TripStarted), route.of(TripEnded)
    assert len(started) == 1
    assert len(ended) == 1
    trip = ended[0]
    assert everything(route.detector) == [trip]
    assert route.detector.last_trip == trip
    assert trip.start == left  # the last fix where it was parked
    assert haversine_km(*trip.start_position, *HOME) < 0.015  # where it was parked
    assert trip.end == arrival[0].time  # when it stopped, not when the stop was confirmed
    assert trip.end_reason == "ignition"
    assert trip.distance_km == pytest.approx(40 * 600 / 3600, rel=0.02)
    assert trip.duration_s == pytest.approx(300 + 90 + 300 + 30, abs=1)
    assert trip.moving_s == pytest.approx(600, abs=20)  # the red light is not moving time
    assert trip.max_speed_kmh == 40
    assert trip.avg_speed_kmh == pytest.approx(trip.distance_km / trip.duration_s * 3600)
    assert not trip.in_progress
    assert started[0].in_progress
    assert started[0].uid == trip.uid
    assert route.detector.parked_since == trip.end
    stops = route.detector.stops(0.0, 1e12)
    assert [(s.start, s.end) for s in stops] == [(T0 + 30, trip.start), (trip.end, None)]


def test_the_trip_ended_event_comes_a_minute_after_ignition_off() -> None:
    route = Route(TripDetector())
    route.park(120)
    route.drive(300, ignition=True)
    stop = route.park(40, interval=10, ignition=False)
    assert route.of(TripEnded) == []
    assert route.detector.current is not None
    route.park(30, interval=10, ignition=False)  # 60 s after the first fix with ignition off
    [trip] = route.of(TripEnded)
    assert trip.end == stop[0].time
    assert route.detector.current is None


def test_jitter_while_parked_is_no_trip() -> None:
    route = Route(TripDetector())
    route.park(4 * 3600, ignition=False, jitter_m=30)
    # A wild fix, 90 m off, and one 150 m off with an accuracy of 80 m.
    route.send(route.fix(time=route.time + 10, latitude=HOME[0] + 0.09 / KM_PER_DEGREE))
    route.send(
        route.fix(time=route.time + 20, latitude=HOME[0] + 0.15 / KM_PER_DEGREE, accuracy_m=80)
    )
    route.time += 20
    route.park(600, ignition=False, jitter_m=30)

    assert route.events == []
    assert everything(route.detector) == []
    assert route.detector.current is None
    [stop] = route.detector.stops(0.0, 1e12)
    assert stop.start == T0 + 30
    assert stop.end is None
    assert route.detector.parked_since == T0 + 30


def test_moving_the_car_across_the_car_park_is_no_trip() -> None:
    route = Route(TripDetector())
    route.park(300, ignition=False)
    route.drive(50, speed=10, interval=10, ignition=True)  # 140 m, then parked again
    route.park(900, ignition=False)
    assert route.events == []
    assert everything(route.detector) == []


def test_idling_with_the_engine_on_is_no_trip() -> None:
    route = Route(TripDetector())
    route.park(300, ignition=True)
    route.park(1800, ignition=True, jitter_m=20)
    assert route.events == []


def test_a_tracker_without_an_ignition_wire() -> None:
    """Ignition off forever: the trip starts on displacement and ends on standing still."""
    route = Route(TripDetector())
    route.park(600, ignition=False)
    departure = route.time
    route.drive(300, speed=50, ignition=False)
    route.park(120, interval=10, ignition=False)  # a long red light: still one trip
    route.drive(300, speed=50, ignition=False)
    arrival = route.park(290, interval=10, ignition=False)
    assert route.of(TripEnded) == []  # not before the stop time
    route.park(20, interval=10, ignition=False)

    assert not route.detector.wired
    [trip] = route.of(TripEnded)
    assert route.of(TripStarted)[0].uid == trip.uid
    assert trip.start == departure
    assert trip.end == arrival[0].time
    assert trip.end_reason == "stopped"
    assert trip.distance_km == pytest.approx(50 * 600 / 3600, rel=0.02)


def test_a_wired_tracker_ignores_ignition_until_it_was_seen_on() -> None:
    """Ignition off without ever being on does not end a trip after a minute."""
    route = Route(TripDetector())
    route.park(300, ignition=None)
    route.drive(600, ignition=None)
    route.park(120, interval=10, ignition=False)
    assert route.of(TripEnded) == []
    route.drive(300, ignition=True)
    route.park(120, interval=10, ignition=False)
    [trip] = route.of(TripEnded)
    assert trip.end_reason == "ignition"


def test_cell_and_invalid_fixes_neither_start_nor_end_a_trip() -> None:
    route = Route(TripDetector())
    route.park(600)
    route.send(route.fix(time=route.time + 10, latitude=HOME[0] + 0.02, source="cell"))
    route.send(route.fix(time=route.time + 20, latitude=HOME[0] + 0.03, valid=False))
    route.time += 20
    route.park(300)
    assert route.events == []

    route.drive(300, ignition=None)
    for _ in range(40):  # 400 s of cell positions of a car standing in a street
        route.time += 10
        route.send(route.fix(source="cell", speed_kmh=0.0))
    assert route.of(TripEnded) == []
    assert route.detector.current is not None


def test_late_batch_fixes_correct_a_finished_trip() -> None:
    route = Route(TripDetector())
    route.park(300)
    route.drive(300, heading=90)
    # No network for 4 minutes: the tracker keeps these for a blind-area upload.
    batch = route.drive(120, heading=0, send=False) + route.drive(120, heading=90, send=False)
    route.drive(300, heading=90)
    route.park(600)
    [before] = route.of(TripEnded)
    true_km = 40 * 840 / 3600
    assert before.distance_km < true_km * 0.95  # the gap counted as a straight line

    for fix in batch:
        route.send(replace(fix, late=True))

    updates = route.of(TripUpdated)
    assert len(updates) == len(batch)
    after = updates[-1]
    assert after.uid == before.uid
    assert (after.start, after.end) == (before.start, before.end)
    assert after.distance_km == pytest.approx(true_km, rel=0.02)
    assert after.moving_s > before.moving_s - 1
    corner = batch[11]
    assert (
        min(
            haversine_km(p.latitude, p.longitude, corner.latitude, corner.longitude)
            for p in after.track
        )
        < 0.01
    )
    assert everything(route.detector) == [after]
    assert route.of(TripStarted)[0].uid == after.uid  # no second trip


def test_late_fixes_go_into_the_trip_in_progress() -> None:
    route = Route(TripDetector())
    route.park(300)
    route.drive(200, heading=90)
    hidden = route.drive(200, heading=0, send=False) + route.drive(200, heading=90, send=False)
    route.drive(200, heading=90)
    for fix in hidden:
        assert route.send(replace(fix, late=True)) == []
    current = route.detector.current
    assert current is not None
    assert current.distance_km == pytest.approx(40 * 800 / 3600, rel=0.02)


def test_a_late_fix_during_a_stop_changes_nothing() -> None:
    route = Route(TripDetector())
    route.park(300)
    route.drive(600)
    route.park(1200)
    [trip] = route.of(TripEnded)
    stray = route.fix(time=trip.end + 600, latitude=HOME[0] + 0.01, late=True)
    assert route.send(stray) == []
    assert everything(route.detector) == [trip]


def test_a_short_gap_in_coverage_does_not_split_the_trip() -> None:
    route = Route(TripDetector())
    route.park(300)
    route.drive(300)
    route.drive(300, send=False)  # a tunnel
    route.drive(300)
    route.park(600)
    [trip] = route.of(TripEnded)
    assert trip.distance_km == pytest.approx(40 * 900 / 3600, rel=0.01)


def test_a_long_gap_in_coverage_ends_the_trip_where_it_was_last_seen() -> None:
    detector = TripDetector()
    route = Route(detector)
    route.park(300)
    last = route.drive(600)[-1]
    # Into an underground car park: nothing for two hours.
    assert route.tick(last.time + 2 + 899) == []
    [trip] = route.tick(last.time + 2 + 900)
    assert isinstance(trip, TripEnded)
    assert trip.trip.end_reason == "gap"
    assert trip.trip.end == last.time
    assert trip.trip.end_position == last.position
    assert detector.parked_since == last.time

    route.time += 7200
    route.drive(600, heading=180)
    route.park(600)
    first, second = route.of(TripEnded)
    assert first == trip.trip
    assert second.start > last.time + 7000
    assert second.start_position == last.position  # from where it was last seen
    stops = detector.stops(last.time, 1e12)
    assert [(s.start, s.end) for s in stops] == [(last.time, second.start), (second.end, None)]


def test_the_blind_area_batch_carries_a_gap_ended_trip_on() -> None:
    route = Route(TripDetector())
    route.park(300)
    route.drive(300)
    buffered = route.drive(300, send=False)  # no network: kept by the tracker
    arrival = route.park(600, send=False)
    [ended] = route.tick(buffered[0].time + 1000)
    assert isinstance(ended, TripEnded)
    assert ended.trip.end_reason == "gap"

    for fix in buffered + arrival:  # uploaded on reconnection, oldest first
        route.send(replace(fix, late=True))
    [trip] = everything(route.detector)
    assert trip.uid == ended.trip.uid
    assert trip.end == buffered[-1].time
    assert trip.distance_km == pytest.approx(40 * 600 / 3600, rel=0.02)
    assert route.of(TripStarted)[0].uid == trip.uid
    assert len(route.of(TripStarted)) == 1


def test_a_restart_during_a_trip_continues_it() -> None:
    reference = Route(TripDetector(), seed=3)
    fixes = reference.park(300, send=False) + reference.drive(600, send=False)
    later = reference.park(60, interval=10, send=False, ignition=True)
    later += reference.drive(600, send=False) + reference.park(600, send=False)

    whole = Route(TripDetector())
    for fix in fixes + later:
        whole.send(fix)

    before = Route(TripDetector())
    for fix in fixes:
        before.send(fix)
    assert before.detector.current is not None
    stored = json.loads(json.dumps(before.detector.as_dict()))
    restarted = Route(TripDetector.from_dict(stored))
    assert restarted.detector.current == before.detector.current
    for fix in later:
        restarted.send(fix)

    assert restarted.events == [e for e in whole.events if not isinstance(e, TripStarted)]
    assert everything(restarted.detector) == everything(whole.detector)
    [trip] = everything(whole.detector)
    assert trip.distance_km == pytest.approx(40 * 1200 / 3600, rel=0.02)


def test_finished_trips_survive_a_restart() -> None:
    route = Route(TripDetector())
    for _ in range(3):
        route.park(900)
        route.drive(600)
    route.park(900)
    stored = json.loads(json.dumps(route.detector.as_dict(), allow_nan=False))
    restored = TripDetector.from_dict(stored)
    assert unnumbered(restored.as_dict()) == unnumbered(stored)
    for old, new in zip(everything(route.detector), everything(restored), strict=True):
        assert new.uid == old.uid
        assert (new.start, new.end) == (old.start, old.end)
        assert new.distance_km == pytest.approx(old.distance_km, abs=1e-3)
        assert len(new.track) == len(old.track)
    assert restored.parked_since == route.detector.parked_since


def _saved(data: dict[str, object]) -> dict[str, object]:
    """``data`` as a store gives it back."""
    return dict(json.loads(json.dumps(data, allow_nan=False)))


def test_the_progress_saved_after_the_whole_form_is_put_back_over_it() -> None:
    """The whole form is saved when the trip starts, the progress later (with the
    tracker's state): restored from both, the trip goes on from where the progress left it."""
    route = Route(TripDetector())
    route.park(300)
    route.drive(120)
    assert route.of(TripStarted)
    whole = _saved(route.detector.as_dict())
    route.drive(600)
    progress = _saved(route.detector.progress_dict())

    restored = TripDetector.from_dict(whole)
    assert restored.restore_progress(progress)
    assert unnumbered(restored.as_dict()) == unnumbered(route.detector.as_dict())
    assert restored.current == route.detector.current


def test_the_progress_holds_the_points_after_the_whole_form() -> None:
    """Saved every 30 s, the progress holds only the track points since the whole form
    was saved (the track of a long trip is not rewritten each time), every point once the
    track changed otherwise (a late fix)."""
    route = Route(TripDetector())
    route.park(300)
    fixes = route.drive(600)
    assert route.detector.tail_points == len(route.detector.as_dict()["open"]["points"].split(";"))
    assert route.detector.tail_points == 0  # the whole form was made
    route.drive(60)
    progress = route.detector.progress_dict()["open"]
    assert "points" not in progress
    assert len(progress["tail"].split(";")) == route.detector.tail_points == 6

    late = replace(fixes[-3], time=fixes[-3].time + 5)
    route.send(late)  # into the track: the progress holds every point again
    progress = route.detector.progress_dict()["open"]
    assert "tail" not in progress
    assert len(progress["points"].split(";")) == route.detector.tail_points > 60


def test_progress_with_a_late_fix_only_is_put_back_too() -> None:
    """A late fix goes into the trip in progress after the whole form was saved, and no
    newer fix came: the progress saved then is the newer save all the same."""
    route = Route(TripDetector())
    route.park(300)
    fixes = route.drive(300)
    whole = _saved(route.detector.as_dict())
    late = replace(fixes[-1], time=fixes[-1].time - 5, latitude=fixes[-1].latitude + 0.001)
    assert route.send(late) == []
    progress = _saved(route.detector.progress_dict())

    restored = TripDetector.from_dict(whole)
    assert restored.restore_progress(progress)
    assert restored.current == route.detector.current != TripDetector.from_dict(whole).current


def test_progress_older_than_the_whole_form_or_after_other_trips_is_not_taken() -> None:
    route = Route(TripDetector())
    route.park(300)
    route.drive(300)
    early = _saved(route.detector.progress_dict())
    route.park(600)  # the trip ended: the whole form is saved
    whole = _saved(route.detector.as_dict())

    restored = TripDetector.from_dict(whole)
    assert not restored.restore_progress(early)  # older
    assert unnumbered(restored.as_dict()) == unnumbered(whole)
    assert not restored.restore_progress({**early, "newest": T0 * 2})  # before the trip
    assert unnumbered(restored.as_dict()) == unnumbered(whole)
    assert restored.restore_progress(_saved(route.detector.progress_dict())) is False  # same


@pytest.mark.parametrize(
    "broken",
    [
        None,
        [],
        {"version": 99},
        {"version": 2, "newest": "soon"},
        {"version": 2, "newest": T0 * 2, "after": None, "open": {"start": "x"}},
        {"version": 2, "newest": T0 * 2, "after": None, "still": {"at": [1.0]}},
    ],
)
def test_broken_progress_changes_nothing(broken: object) -> None:
    route = Route(TripDetector())
    route.park(300)
    route.drive(300)
    before = unnumbered(route.detector.as_dict())
    assert not route.detector.restore_progress(broken)
    assert unnumbered(route.detector.as_dict()) == before


@pytest.mark.parametrize(
    "stored", [None, [], {"version": 99, "trips": []}, {"version": 1, "trips": [{}]}]
)
def test_unreadable_storage_starts_afresh(stored: object) -> None:
    detector = TripDetector.from_dict(stored)
    assert everything(detector) == []
    assert detector.current is None


def test_distance_today_across_local_midnight() -> None:
    tz = timezone(timedelta(hours=8))
    midnight = datetime(2026, 12, 3, tzinfo=tz).timestamp()
    day = 86400.0
    route = Route(TripDetector())
    route.time = midnight - 1200
    route.park(600)
    route.drive(1200, speed=60)  # 23:50 to 00:10
    detector = route.detector
    current = detector.current
    assert current is not None
    assert detector.distance_between(midnight, midnight + day) == pytest.approx(10.0, rel=0.03)
    route.park(600)
    [trip] = everything(detector)
    yesterday = detector.distance_between(midnight - day, midnight)
    today = detector.distance_between(midnight, midnight + day)
    assert yesterday == pytest.approx(10.0, rel=0.03)
    assert today == pytest.approx(10.0, rel=0.03)
    assert yesterday + today == pytest.approx(trip.distance_km)
    assert detector.distance_between(midnight + day, midnight + 2 * day) == 0.0
    assert detector.trips(midnight, midnight + day) == [trip]


def test_a_long_winding_trip_keeps_at_most_500_track_points() -> None:
    route = Route(TripDetector())
    route.park(300)
    for leg in range(360):  # 3 hours of 30 s legs, turning every time, a fix a second
        route.drive(30, speed=50, interval=1, heading=(leg * 47) % 360)
    current = route.detector.current
    assert current is not None
    assert len(current.track) <= 2000  # the trip in progress is simplified too
    route.park(600)
    [trip] = route.of(TripEnded)
    assert len(trip.track) <= 500
    assert trip.track[0].time == trip.start
    assert trip.track[-1].time == trip.end
    assert trip.distance_km == pytest.approx(50 * 3, rel=0.01)


def test_mileage_difference_is_stored_with_the_distance() -> None:
    route = Route(TripDetector())
    route.park(300, ignition=False)
    mileage = 1234.0
    for fix in route.drive(600, send=False):
        mileage += 40 * 10 / 3600
        route.send(replace(fix, mileage_km=round(mileage, 1)))
    route.park(600)
    [trip] = route.of(TripEnded)
    assert trip.mileage_km == pytest.approx(trip.distance_km, abs=0.2)
    assert trip.mileage_start_km is not None
    assert trip.mileage_start_km < 1234.2


def test_a_stop_is_confirmed_by_time_when_no_fix_comes() -> None:
    route = Route(TripDetector())
    route.park(300)
    route.drive(600, ignition=None)
    [still] = route.park(10, interval=10, ignition=None)  # then the tracker goes to sleep
    assert route.tick(still.time + 2 + 299) == []
    [ended] = route.tick(still.time + 2 + 300)
    assert isinstance(ended, TripEnded)
    assert ended.trip.end == still.time
    assert ended.trip.end_reason == "stopped"
    assert route.tick(still.time + 2 + 900) == []


def test_ignition_off_without_a_gps_fix_ends_the_trip_a_minute_later() -> None:
    route = Route(TripDetector())
    route.park(300)
    last = route.drive(600, ignition=True)[-1]
    route.send(route.fix(time=last.time + 5, valid=False, ignition=False, speed_kmh=None))
    assert route.tick(last.time + 5 + 2 + 59) == []
    [ended] = route.tick(last.time + 5 + 2 + 60)
    assert isinstance(ended, TripEnded)
    assert ended.trip.end_reason == "ignition"
    assert ended.trip.end == last.time


def test_a_fix_from_a_broken_clock_does_not_hide_the_fixes_after_it() -> None:
    route = Route(TripDetector())
    route.park(300)
    wrong = route.fix(time=route.time + 40 * 86400)  # 40 days ahead of the server's clock
    assert route.detector.add(wrong, now=route.time + 2) == []
    route.drive(600)
    route.park(600)
    assert len(route.of(TripEnded)) == 1


def test_the_kept_fixes_stop_carrying_a_gap_ended_trip_at_the_first_stop() -> None:
    route = Route(TripDetector())
    route.park(300)
    route.drive(300)
    kept = route.drive(300, send=False) + route.park(600, send=False)
    kept += route.drive(300, heading=0, send=False) + route.park(600, send=False)
    route.tick(kept[0].time + 1000)
    for fix in kept:
        route.send(replace(fix, late=True))
    first, second = everything(route.detector)
    assert first.end_reason == "gap"
    assert first.distance_km == pytest.approx(40 * 600 / 3600, rel=0.02)
    assert second.distance_km == pytest.approx(40 * 300 / 3600, rel=0.02)
    assert second.start > first.end + 500


def test_a_batch_uploaded_an_hour_later_does_not_delay_the_gap() -> None:
    route = Route(TripDetector())
    route.park(300)
    route.drive(300)
    kept = route.drive(300, send=False)
    upload = kept[-1].time + 3600  # reconnected an hour later, in an underground car park
    for fix in kept:
        assert route.detector.add(replace(fix, late=True), now=upload) == []
    [ended] = route.tick(upload + 10)  # nothing live since: the trip ended where last seen
    assert isinstance(ended, TripEnded)
    assert ended.trip.end_reason == "gap"
    assert ended.trip.end == kept[-1].time
    assert ended.trip.distance_km == pytest.approx(40 * 600 / 3600, rel=0.02)
