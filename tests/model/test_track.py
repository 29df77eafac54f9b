"""Track simplification: the shape kept at street scale, the size bounded."""

from __future__ import annotations

import math
import random

import pytest

from custom_components.sinotrack.model.track import (
    TrackPoint,
    douglas_peucker,
    path_km,
    simplify_track,
)

METRE = 1 / 111_195  # degrees of latitude


def line(count: int, *, step_m: float = 10.0) -> list[TrackPoint]:
    """Points every ``step_m`` northwards, a second apart."""
    return [TrackPoint(float(i), 22.5 + i * step_m * METRE, 114.0, 36.0) for i in range(count)]


def test_a_straight_road_keeps_its_two_ends() -> None:
    points = line(200)
    assert simplify_track(points) == [points[0], points[-1]]


def test_a_corner_and_a_detour_beyond_the_tolerance_are_kept() -> None:
    points = line(50)
    corner = [
        TrackPoint(50.0 + i, points[-1].latitude, 114.0 + i * 10 * METRE, 36.0)
        for i in range(1, 50)
    ]
    detour = list(points)
    detour[20] = detour[20]._replace(longitude=114.0 + 20 * METRE)  # 20 m off the road
    detour[30] = detour[30]._replace(longitude=114.0 + 3 * METRE)  # 3 m: GPS noise
    kept = simplify_track(detour + corner, tolerance_m=5.0)
    assert detour[20] in kept
    assert detour[30] not in kept
    assert points[-1] in kept  # the corner
    assert kept[0] == detour[0]
    assert kept[-1] == corner[-1]


def test_kept_points_keep_their_times_and_speeds() -> None:
    points = [
        TrackPoint(float(i), 22.5 + (i % 2) * 50 * METRE, 114.0 + i * 20 * METRE, float(i))
        for i in range(20)
    ]
    assert simplify_track(points) == points  # a zigzag of 50 m: every point matters


@pytest.mark.parametrize("bound", [2, 50, 500])
def test_the_tolerance_grows_until_the_track_fits(bound: int) -> None:
    rng = random.Random(5)
    points = []
    latitude, longitude, heading = 22.5, 114.0, 0.0
    for second in range(5000):
        heading += rng.uniform(-0.3, 0.3)
        latitude += 10 * METRE * math.cos(heading)
        longitude += 10 * METRE * math.sin(heading) / math.cos(math.radians(latitude))
        points.append(TrackPoint(float(second), latitude, longitude, 36.0))
    assert len(douglas_peucker(points, 5.0)) > 500
    kept = simplify_track(points, max_points=bound)
    assert 2 <= len(kept) <= bound
    assert (kept[0], kept[-1]) == (points[0], points[-1])
    assert [p.time for p in kept] == sorted(p.time for p in kept)
    if bound == 500:  # still the same way, give or take a few per cent
        assert path_km(kept) == pytest.approx(path_km(points), rel=0.05)


def test_a_bound_under_two_points_is_refused() -> None:
    with pytest.raises(ValueError, match="two ends"):
        simplify_track(line(10), max_points=1)


def test_short_tracks_are_kept_as_they_are() -> None:
    assert simplify_track([]) == []
    assert simplify_track(line(1)) == line(1)
    assert simplify_track(line(2)) == line(2)
