"""The simulated vehicle's route: a loop of fixes one report apart.

The built-in route is a 7.7 km loop through Futian, Shenzhen (where Sinotrack is based):
parked with the ignition off at the start for a minute, then city driving at 0-80 km/h
with a stop at a red light (shorter than a trip's stop time: it stays part of the trip),
slowing down for the corners, and back to the start, where it parks again, ignition off:
31 reports in all with the minute at the start (5 minutes at a 10 s interval, the default
stop time; 90 s at ``make run``'s 3 s, where the ignition off for a minute ends the trip).
Each loop is one trip. It is
sampled every :data:`SAMPLE_SECONDS` of driving time, and a tracker moves one sample per
report whatever its report interval, so a short interval in a test still moves the vehicle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
import math
from typing import Final

from custom_components.sinotrack.model.geo import haversine_km

SAMPLE_SECONDS: Final = 10
"""Driving time between two points of the built-in route."""


def bearing(lat1: float, lon1: float, lat2: float, lon2: float) -> int:
    """Initial course from the first point to the second, whole degrees 0-359."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dlambda = math.radians(lon2 - lon1)
    x = math.sin(dlambda) * math.cos(phi2)
    y = math.cos(phi1) * math.sin(phi2) - math.sin(phi1) * math.cos(phi2) * math.cos(dlambda)
    return round(math.degrees(math.atan2(x, y))) % 360


@dataclass(frozen=True, slots=True)
class RoutePoint:
    """One point of a route: where the vehicle is at one report."""

    latitude: float
    longitude: float
    speed_kmh: float
    course: int
    ignition: bool
    step_km: float = 0.0
    """Distance driven from the previous point (the last point for the first one)."""


class Route:
    """A closed loop of points; the point after the last one is the first one."""

    __slots__ = ("length_km", "points")

    def __init__(self, points: Sequence[RoutePoint]) -> None:
        if not points:
            raise ValueError("a route needs at least one point")
        count = len(points)
        linked = []
        for index, point in enumerate(points):
            before = points[index - 1] if count > 1 else point
            step = haversine_km(before.latitude, before.longitude, point.latitude, point.longitude)
            linked.append(
                RoutePoint(
                    point.latitude,
                    point.longitude,
                    point.speed_kmh,
                    point.course,
                    point.ignition,
                    step,
                )
            )
        self.points: tuple[RoutePoint, ...] = tuple(linked)
        self.length_km = sum(point.step_km for point in self.points)

    def __len__(self) -> int:
        return len(self.points)

    def __getitem__(self, index: int) -> RoutePoint:
        return self.points[index % len(self.points)]

    @classmethod
    def stationary(cls, latitude: float, longitude: float, *, ignition: bool = False) -> Route:
        """A vehicle that does not move."""
        return cls([RoutePoint(latitude, longitude, 0.0, 0, ignition)])

    @classmethod
    def builtin(cls) -> Route:
        """The built-in loop through Futian, Shenzhen (the same object on every call)."""
        return _builtin()


# Corners of the loop (latitude, longitude) and the cruising speed (km/h) of the street
# that leaves each corner. The loop closes back to the first corner.
_CORNERS: Final = (
    (22.54050, 114.05450, 40.0),
    (22.54050, 114.06400, 50.0),
    (22.53300, 114.06450, 70.0),
    (22.53250, 114.07900, 60.0),
    (22.54400, 114.08000, 80.0),
    (22.54550, 114.06000, 40.0),
    (22.54550, 114.05450, 30.0),
)
_PARKED_SAMPLES: Final = 6
"""Reports parked at the start with the ignition off (a minute at the usual interval)."""
_ARRIVED_SAMPLES: Final = 24
"""Reports parked at the end of the loop with the ignition off (with the ones at the start,
the vehicle stands long enough for a trip to end)."""
_RED_LIGHT_SAMPLES: Final = 3
_RED_LIGHT_AT: Final = 0.45
"""Where along the loop (fraction of its length) the red light is."""
_CORNER_KMH: Final = 18.0
_ACCELERATION: Final = 1.5  # m/s^2
_BRAKING: Final = 2.0  # m/s^2


@cache
def _builtin() -> Route:
    """Drive the loop in one-second steps and keep a point every SAMPLE_SECONDS."""
    corners = [(lat, lon) for lat, lon, _ in _CORNERS]
    corners.append(corners[0])
    legs = [
        haversine_km(*corners[index], *corners[index + 1]) * 1000.0
        for index in range(len(_CORNERS))
    ]
    starts = [0.0]
    for leg in legs:
        starts.append(starts[-1] + leg)
    total = starts[-1]
    courses = [bearing(*corners[index], *corners[index + 1]) for index in range(len(_CORNERS))]

    def locate(distance: float) -> tuple[float, float, int]:
        leg = 0
        while leg < len(legs) - 1 and distance >= starts[leg + 1]:
            leg += 1
        share = (distance - starts[leg]) / legs[leg]
        (lat1, lon1), (lat2, lon2) = corners[leg], corners[leg + 1]
        return lat1 + (lat2 - lat1) * share, lon1 + (lon2 - lon1) * share, leg

    points: list[RoutePoint] = []
    start_lat, start_lon = corners[0]
    points.extend(
        RoutePoint(start_lat, start_lon, 0.0, courses[0], ignition=False)
        for _ in range(_PARKED_SAMPLES)
    )
    corner_speed = _CORNER_KMH / 3.6
    light_at = total * _RED_LIGHT_AT
    waited_at_light = False
    distance = 0.0
    speed = 0.0  # m/s
    second = 0
    while distance < total - 0.5:
        latitude, longitude, leg = locate(distance)
        to_corner = starts[leg + 1] - distance
        # The last corner is the start: stop there. Slow down for the other corners.
        end_speed = 0.0 if leg == len(legs) - 1 else corner_speed
        limit = min(_CORNERS[leg][2] / 3.6, math.sqrt(end_speed**2 + 2 * _BRAKING * to_corner))
        if not waited_at_light:
            limit = min(limit, math.sqrt(2 * _BRAKING * max(0.0, light_at - distance)))
        speed = min(limit, speed + _ACCELERATION)
        if not waited_at_light and light_at - distance < 1.0:
            waited_at_light = True
            speed = 0.0
            course = courses[leg]
            points.extend(
                RoutePoint(latitude, longitude, 0.0, course, ignition=True)
                for _ in range(_RED_LIGHT_SAMPLES)
            )
        distance = min(total, distance + max(speed, 0.5))
        second += 1
        if second % SAMPLE_SECONDS == 0:
            latitude, longitude, leg = locate(min(distance, total - 1e-6))
            points.append(
                RoutePoint(latitude, longitude, round(speed * 3.6, 1), courses[leg], ignition=True)
            )
    # Arrive, then park: the ignition goes off with the vehicle back at the start.
    points.append(RoutePoint(start_lat, start_lon, 0.0, courses[-1], ignition=True))
    points.extend(
        RoutePoint(start_lat, start_lon, 0.0, courses[-1], ignition=False)
        for _ in range(_ARRIVED_SAMPLES)
    )
    return Route(points)
