"""Trip detection on any sequence of fixes: it never fails, and what it keeps makes sense."""

from __future__ import annotations

from collections.abc import Iterator
import copy
import itertools
import json
import math
from unittest.mock import patch

from hypothesis import given, settings, strategies as st

from custom_components.sinotrack.model import trips
from custom_components.sinotrack.model.trip_data import Fix, TripEnded, TripStarted
from custom_components.sinotrack.model.trips import MIN_TRIP_KM, MIN_TRIP_S, TripDetector

from .helpers import unnumbered
from .test_trips import HOME, KM_PER_DEGREE, T0

step = st.tuples(
    st.floats(1, 1200),  # seconds since the last fix
    st.floats(0, 2000),  # metres moved
    st.floats(0, 360),  # heading
    st.one_of(st.none(), st.floats(0, 120), st.just(math.nan), st.just(-5.0)),  # speed
    st.sampled_from([None, True, False]),  # ignition
    st.sampled_from(["gps"] * 8 + ["cell", "invalid"]),
    st.one_of(st.just(0.0), st.floats(0, 3600)),  # how much older than "now" (late)
    st.sampled_from([15.0, 5.0, 80.0, math.inf]),  # accuracy
    st.sampled_from([False] * 5 + [True]),  # tick after it
)


type Step = tuple[float, float, float, float | None, bool | None, str, float, float, bool]


def fixes(steps: list[Step]) -> Iterator[tuple[Fix, float, bool]]:
    """The fixes (and ticks) of a random walk from home."""
    time, latitude, longitude = T0, *HOME
    for seconds, metres, heading, speed, ignition, kind, age, accuracy, tick in steps:
        time += seconds
        km = metres / 1000
        latitude += km * math.cos(math.radians(heading)) / KM_PER_DEGREE
        longitude += km * math.sin(math.radians(heading)) / KM_PER_DEGREE
        yield (
            Fix(
                time=time - age,
                latitude=latitude,
                longitude=longitude,
                speed_kmh=speed,
                ignition=ignition,
                valid=kind != "invalid",
                accuracy_m=accuracy,
                mileage_km=time / 100,
                source="cell" if kind == "cell" else "gps",
                late=age > 0,
            ),
            time,
            tick,
        )


@settings(max_examples=150, deadline=None, database=None, print_blob=True)
@given(st.lists(step, max_size=120), st.integers(0, 119))
def test_any_fixes_give_sensible_trips(steps: list[Step], restart_at: int) -> None:
    detector = TripDetector()
    started: set[str] = set()
    for index, (fix, now, tick) in enumerate(fixes(steps)):
        if index == restart_at:
            stored = json.loads(json.dumps(detector.as_dict(), allow_nan=False))
            detector = TripDetector.from_dict(stored)
            assert unnumbered(detector.as_dict()) == unnumbered(stored)
        events = detector.add(fix, now=now)
        if tick:
            events += detector.tick(now + 600)
        for event in events:
            if isinstance(event, TripStarted):
                started.add(event.trip.uid)
            if isinstance(event, TripEnded):
                assert event.trip.uid in started  # no end without a start
    trips = detector.trips(-math.inf, math.inf)
    for trip in trips:
        assert trip.distance_km >= MIN_TRIP_KM
        assert trip.duration_s >= MIN_TRIP_S
        assert 2 <= len(trip.track) <= 500
        assert trip.track[0].time == trip.start
        assert trip.track[-1].time <= trip.end
        times = [point.time for point in trip.track]
        assert times == sorted(times)
        assert 0 <= trip.moving_s <= trip.duration_s + 1e-6
        assert math.isfinite(trip.max_speed_kmh)
    for before, after in itertools.pairwise(trips):
        assert before.end <= after.start
    stops = detector.stops(-math.inf, math.inf)
    assert all(stop.end is not None for stop in stops[:-1])
    json.dumps(detector.as_dict(), allow_nan=False)


parked_step = st.tuples(
    st.one_of(st.floats(1, 60), st.floats(1, 1200)),  # seconds since the last fix
    st.one_of(st.floats(0, 15), st.floats(0, 15), st.floats(0, 150)),  # metres: mostly jitter
    st.floats(0, 360),  # heading
    st.one_of(st.none(), st.floats(0, 4.9), st.floats(0, 4.9), st.floats(0, 30)),  # speed
    st.sampled_from([None, True, False]),  # ignition
    st.sampled_from(["gps"] * 18 + ["cell", "invalid"]),
    st.sampled_from([0.0] * 9 + [30.0, 600.0]),  # how much older than "now" (late)
    st.sampled_from([15.0] * 6 + [5.0, 80.0, math.inf]),  # accuracy
    st.sampled_from([False] * 9 + [True]),  # tick after it
)

driving_step = st.tuples(
    st.one_of(st.floats(5, 30), st.floats(1, 1200)),  # seconds since the last fix
    st.one_of(st.floats(30, 400), st.floats(0, 40)),  # metres: mostly on the way
    st.one_of(st.floats(0, 20), st.floats(0, 360)),  # heading: mostly one way
    st.one_of(st.floats(5, 130), st.floats(5, 130), st.none(), st.floats(0, 5)),  # speed
    st.sampled_from([True] * 6 + [None, False]),  # ignition
    st.sampled_from(["gps"] * 18 + ["cell", "invalid"]),
    st.sampled_from([0.0] * 9 + [30.0, 600.0]),  # how much older than "now" (late)
    st.sampled_from([15.0] * 6 + [5.0, 80.0, math.inf]),  # accuracy
    st.sampled_from([False] * 9 + [True]),  # tick after it
)

standing_step = st.tuples(
    st.one_of(st.floats(5, 60), st.floats(1, 120)),  # seconds since the last fix
    st.one_of(st.floats(0, 10), st.floats(0, 10), st.floats(0, 80)),  # metres: mostly none
    st.floats(0, 360),  # heading
    st.one_of(st.floats(0, 4.9), st.floats(0, 4.9), st.none(), st.floats(0, 30)),  # speed
    st.sampled_from([True] * 12 + [None, False]),  # ignition: the engine mostly on
    st.sampled_from(["gps"] * 18 + ["cell", "invalid"]),
    st.sampled_from([0.0] * 9 + [30.0, 600.0]),  # how much older than "now" (late)
    st.sampled_from([15.0] * 6 + [5.0, 40.0, math.inf]),  # accuracy
    st.sampled_from([False] * 9 + [True]),  # tick after it
)
"""A vehicle standing during a trip (a red light, a queue, a stop that ends it)."""


@settings(max_examples=200, deadline=None, database=None, print_blob=True)
@given(
    st.lists(
        st.one_of(
            st.lists(parked_step, min_size=5, max_size=40),
            st.lists(driving_step, min_size=5, max_size=60),
            st.lists(standing_step, min_size=3, max_size=40),
            st.lists(step, max_size=5),
        ),
        max_size=8,
    ).map(lambda blocks: list(itertools.chain.from_iterable(blocks)))
)
def test_reports_taken_by_their_figures_as_by_the_full_rules(steps: list[Step]) -> None:
    """``add`` and ``add_values`` decide a parked report, and one at speed or standing on
    during a trip, at once; every rule applied in full to the same fixes gives the same
    events, trips and state."""
    full, by_fix, by_values = TripDetector(), TripDetector(), TripDetector()
    for fix, now, tick in fixes(steps):
        expected = full._add(fix, now)
        assert by_fix.add(fix, now) == expected
        if fix.source == "gps":
            figures = (fix.time, fix.latitude, fix.longitude, fix.speed_kmh, fix.ignition)
            found = by_values.add_values(
                *figures, fix.valid, fix.accuracy_m, fix.mileage_km, fix.late, now
            )
        else:
            found = by_values.add(fix, now)
        assert found == expected
        if tick:
            assert by_fix.tick(now + 600) == by_values.tick(now + 600) == full.tick(now + 600)
        assert by_fix.as_dict() == by_values.as_dict() == full.as_dict()
    assert by_values.trips(-math.inf, math.inf) == full.trips(-math.inf, math.inf)


def _written_afresh(detector: TripDetector) -> dict[str, object]:
    """``detector``'s stored form with nothing of an earlier one reused."""
    if detector._open is not None:
        detector._open._stored = None
    return detector.as_dict()


@settings(max_examples=200, deadline=None, database=None, print_blob=True)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.lists(driving_step, min_size=5, max_size=60), st.lists(step, max_size=5)),
            st.booleans(),  # saved after the block
        ),
        max_size=8,
    ),
    st.integers(4, 40),
)
def test_a_save_writes_what_a_first_one_would(
    blocks: list[tuple[list[Step], bool]], open_limit: int
) -> None:
    """A save reuses the text it wrote of the track of the trip in progress: after any
    fixes, late ones inserted, the track thinned, trips ended and archived, it writes what
    a save with nothing to reuse writes."""
    saved, reference = TripDetector(memory_trips=2), TripDetector(memory_trips=2)
    steps = [(step, save) for block, save in blocks for step in block]
    with patch.object(trips, "OPEN_TRACK_LIMIT", open_limit):  # thinned within the test
        for (fix, now, tick), (_step, save) in zip(
            fixes([s for s, _ in steps]), steps, strict=True
        ):
            saved.add(fix, now)
            reference.add(fix, now)
            if tick:
                saved.tick(now + 600)
                reference.tick(now + 600)
            if save:
                assert unnumbered(saved.as_dict()) == unnumbered(_written_afresh(reference))
            saved.archived(saved.archive_due())
            reference.archived(reference.archive_due())
    assert unnumbered(saved.as_dict()) == unnumbered(_written_afresh(reference))


@settings(max_examples=200, deadline=None, database=None, print_blob=True)
@given(
    st.lists(
        st.tuples(
            st.one_of(
                st.lists(parked_step, min_size=1, max_size=20),
                st.lists(driving_step, min_size=1, max_size=40),
                st.lists(standing_step, min_size=1, max_size=20),
                st.lists(step, max_size=5),
            ),
            st.sampled_from(["", "progress", "progress", "whole"]),  # saved after the block
        ),
        max_size=8,
    )
)
def test_a_restart_finds_the_newest_of_both_saves(blocks: list[tuple[list[Step], str]]) -> None:
    """The trip log saves the whole detector after every trip event (and when the trip in
    progress has many points since), and its progress now and then (with the tracker's
    state): restored from the last of each, the detector is as it was when the newer of
    the two was saved."""
    detector = TripDetector()

    def saved(form: dict[str, object]) -> dict[str, object]:
        return dict(json.loads(json.dumps(form, allow_nan=False)))

    def state_now() -> dict[str, object]:
        return saved(copy.deepcopy(detector).as_dict())  # the whole form, not marked saved

    whole = expected = saved(detector.as_dict())
    progress = saved(detector.progress_dict())
    steps = [(step, save) for block, save in blocks for step in block]
    for (fix, now, tick), (_step, save) in zip(fixes([s for s, _ in steps]), steps, strict=True):
        events = detector.add(fix, now)
        if tick:
            events += detector.tick(now + 600)
        if events or save == "whole":
            whole = expected = saved(detector.as_dict())
        if save == "progress":
            progress = saved(detector.progress_dict())
            expected = state_now()
    restored = TripDetector.from_dict(whole)
    restored.restore_progress(progress)
    assert unnumbered(restored.as_dict()) == unnumbered(expected)
