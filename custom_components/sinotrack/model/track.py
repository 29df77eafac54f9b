"""Track points and their simplification (Douglas-Peucker) to a bounded number of points.

Pure code (no Home Assistant import). Distances are measured in metres on a local
equirectangular projection around the track's first point: exact enough at street scale
for tracks of a few hundred kilometres.
"""

from __future__ import annotations

from collections.abc import Sequence
import itertools
import math
from typing import Final, NamedTuple

from .geo import EARTH_RADIUS_KM, haversine_km

TRACK_TOLERANCE_M: Final = 5.0
"""Douglas-Peucker tolerance (m) a stored track starts with: street scale (a lane's width)."""

MAX_TRACK_POINTS: Final = 500
"""At most this many points per stored track; the tolerance grows until the track fits."""

TOLERANCE_STEP: Final = 1.5
"""Factor by which the tolerance grows while a track has more than its bound."""

_METRES_PER_RADIAN: Final = EARTH_RADIUS_KM * 1000.0


class TrackPoint(NamedTuple):
    """One point of a track: epoch seconds, degrees, and the reported speed (km/h) if any."""

    time: float
    latitude: float
    longitude: float
    speed_kmh: float | None = None


def _projected(points: Sequence[TrackPoint]) -> list[tuple[float, float]]:
    """The points as (x, y) metres from the first point (east, north)."""
    lat0 = math.radians(points[0].latitude)
    lon0 = math.radians(points[0].longitude)
    scale = math.cos(lat0) * _METRES_PER_RADIAN
    return [
        (
            (math.radians(point.longitude) - lon0) * scale,
            (math.radians(point.latitude) - lat0) * _METRES_PER_RADIAN,
        )
        for point in points
    ]


def _offset(
    point: tuple[float, float], start: tuple[float, float], end: tuple[float, float]
) -> float:
    """Distance (m) from ``point`` to the segment from ``start`` to ``end``."""
    px, py = point
    ax, ay = start
    dx, dy = end[0] - ax, end[1] - ay
    length2 = dx * dx + dy * dy
    if length2 == 0.0:
        return math.hypot(px - ax, py - ay)
    ratio = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length2))
    return math.hypot(px - ax - ratio * dx, py - ay - ratio * dy)


def douglas_peucker(points: Sequence[TrackPoint], tolerance_m: float) -> list[int]:
    """Indices of the points Douglas-Peucker keeps at ``tolerance_m`` (first and last always)."""
    count = len(points)
    if count <= 2:
        return list(range(count))
    xy = _projected(points)
    keep = [False] * count
    keep[0] = keep[-1] = True
    stack = [(0, count - 1)]
    while stack:
        first, last = stack.pop()
        worst, worst_index = -1.0, -1
        for index in range(first + 1, last):
            offset = _offset(xy[index], xy[first], xy[last])
            if offset > worst:
                worst, worst_index = offset, index
        if worst > tolerance_m:
            keep[worst_index] = True
            stack.append((first, worst_index))
            stack.append((worst_index, last))
    return [index for index, kept in enumerate(keep) if kept]


def simplify_track(
    points: Sequence[TrackPoint],
    *,
    max_points: int = MAX_TRACK_POINTS,
    tolerance_m: float = TRACK_TOLERANCE_M,
) -> list[TrackPoint]:
    """The track simplified at ``tolerance_m``, the tolerance raised until it has at most
    ``max_points`` points. Kept points keep their time and speed."""
    if max_points < 2:
        raise ValueError("a track keeps at least its two ends")
    kept = douglas_peucker(points, tolerance_m)
    while len(kept) > max_points:
        tolerance_m *= TOLERANCE_STEP
        kept = douglas_peucker(points, tolerance_m)
    return [points[index] for index in kept]


def path_km(points: Sequence[TrackPoint]) -> float:
    """Length (km) of the polyline through ``points`` (great-circle segments)."""
    return sum(
        haversine_km(a.latitude, a.longitude, b.latitude, b.longitude)
        for a, b in itertools.pairwise(points)
    )
