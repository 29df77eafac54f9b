"""The trip archive: older trips in storage by month, read on demand, bounded, corrected by
late fixes, with the detector holding only the recent ones in memory."""

from __future__ import annotations

from dataclasses import replace
import json
import math
from typing import Any

import pytest

from custom_components.sinotrack.model.trip_archive import (
    ArchiveIndex,
    part_data,
    part_key,
    part_trips,
)
from custom_components.sinotrack.model.trip_data import Stop, Trip, TripEnded, TripUpdated
from custom_components.sinotrack.model.trips import (
    MAX_TRIPS,
    MEMORY_S,
    MEMORY_TRIPS,
    TripDetector,
)

from .test_trips import T0, Route

DAY = 86400.0
EVERYTHING = (-math.inf, math.inf)


def same(trips: list[Trip], expected: list[Trip]) -> None:
    """The same trips, but for the rounding of the stored form (1 m a point)."""
    assert [(t.uid, t.start, t.end, t.end_reason, len(t.track)) for t in trips] == [
        (t.uid, t.start, t.end, t.end_reason, len(t.track)) for t in expected
    ]
    for trip, reference in zip(trips, expected, strict=True):
        assert trip.distance_km == pytest.approx(reference.distance_km, abs=0.01)


def unbounded() -> TripDetector:
    """A detector that keeps every trip in memory (the reference)."""
    return TripDetector(memory_trips=10**9, memory_s=math.inf)


class Storage:
    """The trip log's archive steps on a dict of JSON parts (no Home Assistant)."""

    def __init__(self, detector: TripDetector) -> None:
        self.detector = detector
        self.parts: dict[str, str] = {}
        self.writes: list[tuple[str, int]] = []
        """(part, bytes) of every part saved."""

    def load(self, key: str) -> list[Trip]:
        """A part's trips, as stored."""
        return part_trips(json.loads(self.parts[key])) if key in self.parts else []

    def save(self, key: str, trips: list[Trip]) -> None:
        """Write a part."""
        self.parts[key] = json.dumps(part_data(trips), allow_nan=False)
        self.writes.append((key, len(self.parts[key])))

    def archive(self) -> None:
        """Write the trips that left memory, then apply the bound (``_async_archive``)."""
        detector = self.detector
        due = detector.archive_due()
        if not due:
            return
        stored = {part_key(trip.start): self.load(part_key(trip.start)) for trip in due}
        for key, trips in detector.archive.written(due, stored).items():
            self.save(key, trips)
        detector.archived(due)
        for key in detector.bounded():
            del self.parts[key]

    def place_late(self) -> list[TripUpdated]:
        """Correct archived trips with the late fixes memory could not place."""
        detector = self.detector
        index = detector.archive
        updates = []
        for fix in detector.take_unplaced():
            key = index.key_for_late(fix.time, detector.gap_time)
            if key is None:
                continue
            trips = self.load(key)
            updated = detector.correct_archived(key, trips, fix)
            if updated is not None:
                self.save(key, trips)
                index.note(key, trips)
                updates.append(TripUpdated(updated))
        return updates

    def read(self, start: float, end: float) -> tuple[list[Trip], list[Stop]]:
        """The trips and stops of a window, archived parts read for it (``async_history``)."""
        detector = self.detector
        parts = {key: self.load(key) for key in detector.archive.keys_between(start, end)}
        return detector.history(parts, start, end)


class ArchivedRoute(Route):
    """A route whose detector's older trips go to a ``Storage`` after every fix."""

    def __init__(self, detector: TripDetector, *, seed: int = 7) -> None:
        super().__init__(detector, seed=seed)
        self.storage = Storage(detector)

    def send(self, fix: Any) -> list[Any]:
        """Feed one fix, then do what the trip log does."""
        events = super().send(fix)
        self.storage.archive()
        updates = self.storage.place_late()
        self.events.extend(updates)
        return events + updates


def commute(route: Route, days: int) -> None:
    """``days`` days of two trips a day: out at 8, back at 17."""
    start = route.time
    for day in range(days):
        route.time = start + day * DAY + 8 * 3600
        route.park(120)
        route.drive(900, heading=90)
        route.park(600)
        route.time = start + day * DAY + 17 * 3600
        route.park(120)
        route.drive(900, heading=270)
        route.park(600)


def test_memory_holds_two_days_of_trips_and_the_history_stays_readable() -> None:
    archived, reference = ArchivedRoute(TripDetector()), Route(unbounded())
    commute(archived, 70)
    commute(reference, 70)
    detector = archived.detector

    assert len(detector.trips(*EVERYTHING)) <= 2 * MEMORY_S / DAY + 1
    assert detector.archive_due() == []
    assert sorted(archived.storage.parts) == sorted(
        {part_key(t.start) for t in everything(reference)}
    )
    for start, end in [EVERYTHING, (T0 + 10 * DAY, T0 + 40 * DAY), (T0 + 69 * DAY, math.inf)]:
        trips, stops = archived.storage.read(start, end)
        same(trips, reference.detector.trips(start, end))
        assert stops == reference.detector.stops(start, end)  # across the boundary too
    assert detector.last_trip == reference.detector.last_trip
    assert detector.parked_since == reference.detector.parked_since


def everything(route: Route) -> list[Trip]:
    """Every trip the reference holds."""
    return route.detector.trips(*EVERYTHING)


def test_a_stop_that_spans_a_month_boundary_starts_in_the_older_part() -> None:
    archived, reference = ArchivedRoute(TripDetector()), Route(unbounded())
    for route in (archived, reference):
        commute(route, 1)
        route.time += 45 * DAY  # parked for six weeks
        commute(route, 5)
    parked = reference.detector.trips(*EVERYTHING)[1]
    window_start = parked.end + 40 * DAY  # in the month after the one it parked in
    trips, stops = archived.storage.read(window_start, window_start + DAY)
    assert trips == []
    assert stops == [Stop(parked.end, stops[0].end, parked.end_position)]
    assert stops == reference.detector.stops(window_start, window_start + DAY)


def test_only_the_part_of_the_trips_month_is_written() -> None:
    route = ArchivedRoute(TripDetector())
    commute(route, 70)
    writes = route.storage.writes
    assert len(writes) == 2 * 70 - len(route.detector.trips(*EVERYTHING))  # one per trip
    assert all(key == part_key(T0) or key > part_key(T0) for key, _ in writes)
    whole = sum(len(data) for data in route.storage.parts.values())
    largest = max(size for _, size in writes)
    assert largest < whole / 2  # a month, not the history


def test_the_bound_keeps_the_last_thousand_trips_over_all_parts() -> None:
    route = ArchivedRoute(TripDetector())
    route.park(60)
    for _ in range(MAX_TRIPS + 205):
        route.drive(60, speed=60, interval=20)
        route.park(90, ignition=False)
        route.time += 3 * 3600  # about six trips a day: the history spans seven months
    ended = route.of(TripEnded)
    assert len(ended) == MAX_TRIPS + 205
    trips, stops = route.storage.read(*EVERYTHING)
    same(trips, ended[205:])
    assert len(route.detector.trips(*EVERYTHING)) <= MEMORY_TRIPS
    assert stops[0].start == ended[205].end  # the stop before the first kept one is unknown
    stored = sum(len(part_trips(json.loads(data))) for data in route.storage.parts.values())
    assert MAX_TRIPS <= stored < MAX_TRIPS + 31 * 6  # whole old parts dropped
    assert min(route.storage.parts) == part_key(ended[205].start)

    restarted = Storage(TripDetector.from_dict(json.loads(json.dumps(route.detector.as_dict()))))
    restarted.parts = route.storage.parts
    same(restarted.read(*EVERYTHING)[0], ended[205:])


def test_the_bound_keeps_a_year_over_all_parts() -> None:
    route = ArchivedRoute(TripDetector())
    commute(route, 3)
    route.time += 380 * DAY
    commute(route, 3)
    trips, _stops = route.storage.read(*EVERYTHING)
    assert len(trips) == 6
    assert trips[0].start > route.time - 10 * DAY
    assert len(route.storage.parts) == 1


def test_a_late_fix_corrects_an_archived_trip_as_it_would_in_memory() -> None:
    def run(route: Route) -> list[Trip]:
        route.park(300)
        route.drive(300, heading=90)
        batch = route.drive(120, heading=0, send=False) + route.drive(120, heading=90, send=False)
        route.drive(300, heading=90)
        route.park(600)
        commute(route, 4)  # the first trip is archived by now
        for fix in batch:
            route.send(replace(fix, late=True))
        return route.of(TripUpdated)

    archived, reference = ArchivedRoute(TripDetector()), Route(unbounded())
    updates = run(archived)
    same(updates, run(reference))
    assert len(updates) == 24
    first = archived.storage.read(*EVERYTHING)[0][0]
    same([first, updates[-1]], reference.detector.trips(*EVERYTHING)[:1] * 2)
    assert first.distance_km == pytest.approx(40 * 840 / 3600, rel=0.02)


def test_a_late_fix_carries_an_archived_gap_ended_trip_on() -> None:
    def run(route: Route) -> list[Trip]:
        route.park(300)
        route.drive(300)
        buffered = route.drive(300, send=False)
        route.tick(buffered[0].time + 1000)
        route.time += 3 * DAY
        commute(route, 3)
        for fix in buffered:
            route.send(replace(fix, late=True))
        return route.of(TripUpdated)

    archived, reference = ArchivedRoute(TripDetector()), Route(unbounded())
    updates = run(archived)
    assert updates
    same(updates, run(reference))
    first = archived.storage.read(*EVERYTHING)[0][0]
    assert first.end_reason == "gap"
    assert first.distance_km == pytest.approx(40 * 600 / 3600, rel=0.02)


def test_a_version_1_store_with_every_trip_moves_the_old_ones_to_the_archive() -> None:
    reference = Route(unbounded())
    commute(reference, 60)
    stored = json.loads(json.dumps(reference.detector.as_dict()))
    stored["version"] = 1
    del stored["archive"]
    assert len(stored["trips"]) == 120

    detector = TripDetector.from_dict(stored)
    assert len(detector.trips(*EVERYTHING)) <= 2 * MEMORY_S / DAY + 1
    assert len(detector.archive_due()) + len(detector.trips(*EVERYTHING)) == 120
    kept = json.loads(json.dumps(detector.as_dict()))
    assert len(kept["trips"]) == 120  # until the archive has them
    storage = Storage(detector)
    storage.archive()
    assert len(detector.as_dict()["trips"]) == len(detector.trips(*EVERYTHING))
    trips, stops = storage.read(*EVERYTHING)
    same(trips, reference.detector.trips(*EVERYTHING))
    assert stops == reference.detector.stops(*EVERYTHING)
    restored = TripDetector.from_dict(json.loads(json.dumps(detector.as_dict())))
    assert restored.archive == detector.archive
    assert restored.archive_due() == []


def test_memory_holds_at_most_its_cap_of_trips() -> None:
    route = ArchivedRoute(TripDetector())
    route.park(60)
    for _ in range(MEMORY_TRIPS + 50):  # all within two days
        route.drive(60, speed=60, interval=20)
        route.park(90, ignition=False)
    assert len(route.detector.trips(*EVERYTHING)) == MEMORY_TRIPS
    same(route.storage.read(*EVERYTHING)[0], route.of(TripEnded))


@pytest.mark.parametrize("data", [None, [], {"parts": {"2026-01": ["x"]}}, {"parts": 3}])
def test_a_broken_index_is_an_empty_one(data: object) -> None:
    assert ArchiveIndex.from_dict(data).parts == {}


def test_a_broken_part_reads_as_empty() -> None:
    assert part_trips({"version": 99, "trips": []}) == []
    assert part_trips({"version": 1, "trips": [{}]}) == []
    assert part_key(math.inf) == "0000-00"


def test_memory_holds_at_most_its_budget_of_track_points() -> None:
    route = ArchivedRoute(TripDetector(memory_points=7))
    commute(route, 2)  # four straight trips of a few points each
    held = route.detector.trips(*EVERYTHING)
    assert 1 <= len(held) < 4
    assert sum(len(trip.track) for trip in held) <= 7
    same(route.storage.read(*EVERYTHING)[0], route.of(TripEnded))
