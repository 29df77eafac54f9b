"""The pieces trip detection is built of: the trip in progress and track arithmetic.

Pure code (no Home Assistant import); ``trips.TripDetector`` is the public face.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
import itertools
import math
from typing import Any, Final

from .geo import EARTH_RADIUS_KM, haversine_km
from .track import TrackPoint, simplify_track
from .trip_data import Fix, Position, Trip

SHORT_STEP_DEG: Final = 0.1
"""Steps shorter than this (degrees, about 11 km, both ways) away from the poles are
measured on a local flat projection around their middle: against the great circle, off by
less than one part in a million (a millimetre a kilometre), at half its cost."""
_FLAT_LATITUDE: Final = 80.0
_RADIANS: Final = math.pi / 180.0
KM_PER_DEGREE: Final = EARTH_RADIUS_KM * _RADIANS
"""Km per degree of a great circle."""
DEFAULT_ACCURACY_M: Final = 15.0
"""The accuracy (m) taken for a fix that has none that makes sense."""
STILL_RADIUS_M: Final = 50.0
"""Metres (or twice the accuracy) within which a vehicle stands still."""


def km_between(a: TrackPoint | Position, b: TrackPoint | Position) -> float:
    """Km between two points: great-circle, or for a short step its flat equivalent."""
    return degrees_km(a.latitude, a.longitude, b.latitude, b.longitude)


def degrees_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """``km_between`` for two points given by their degrees."""
    dlat, dlon = lat2 - lat1, lon2 - lon1
    if (
        -SHORT_STEP_DEG < dlat < SHORT_STEP_DEG
        and -SHORT_STEP_DEG < dlon < SHORT_STEP_DEG
        and -_FLAT_LATITUDE < lat1 < _FLAT_LATITUDE
    ):
        east = dlon * math.cos((lat1 + lat2) * (_RADIANS / 2))
        return EARTH_RADIUS_KM * _RADIANS * math.sqrt(dlat * dlat + east * east)
    return haversine_km(lat1, lon1, lat2, lon2)


def segment(a: TrackPoint, b: TrackPoint, threshold: float) -> tuple[float, float, float]:
    """(km, moving seconds, speed implied in km/h) of the way from ``a`` to ``b``.

    With both speeds reported, the time counts as moving when both are at the threshold
    or more, half of it when one is (it started or stopped on the way); else it counts when
    the speed implied by the way and the time reaches the threshold.
    """
    km = km_between(a, b)
    seconds = b.time - a.time
    if seconds <= 0:
        return km, 0.0, 0.0
    implied = km / seconds * 3600.0
    if a.speed_kmh is not None and b.speed_kmh is not None:
        share = ((a.speed_kmh >= threshold) + (b.speed_kmh >= threshold)) / 2
    else:
        share = 1.0 if implied >= threshold else 0.0
    return km, seconds * share, implied


def to_point(fix: Fix) -> TrackPoint:
    """The fix as a track point."""
    return TrackPoint(fix.time, fix.latitude, fix.longitude, fix.speed_kmh)


@dataclass(slots=True)
class OpenTrip:
    """The trip in progress (or a candidate not yet confirmed): full-resolution track."""

    start: float
    start_position: Position
    points: list[TrackPoint] = field(default_factory=list)
    distance_km: float = 0.0
    moving_s: float = 0.0
    max_speed: float = 0.0
    mileage_start: tuple[float, float] | None = None
    mileage_end: tuple[float, float] | None = None
    confirmed: bool = False
    by_ignition: bool = False
    """Started by ignition and speed (not by a fix away from the parking place)."""
    _stored: tuple[list[TrackPoint], int, str] | None = field(
        default=None, repr=False, compare=False
    )
    """(``points``, how many of them, their stored text): what ``as_dict`` wrote last, so
    that the next one encodes only the points added since. The points change only by
    ``extend``, ``insert`` and ``simplify``."""
    _base: tuple[list[TrackPoint], int, int] | None = field(default=None, repr=False, compare=False)
    """(``points``, how many of them, the length of their text) in the last whole form
    (``as_dict``): the progress form holds only the points after them (``tail_points``)."""

    def extend(self, point: TrackPoint, threshold: float) -> None:
        """Append ``point`` (newer than the last one) and count the way to it."""
        if self.points:
            last = self.points[-1]
            if point.time <= last.time:
                return
            km, moving, implied = segment(last, point, threshold)
            self.distance_km += km
            self.moving_s += moving
            speed = point.speed_kmh if point.speed_kmh is not None else implied
        else:
            speed = point.speed_kmh or 0.0
        self.max_speed = max(self.max_speed, speed)
        self.points.append(point)

    def insert(self, point: TrackPoint, threshold: float) -> bool:
        """Insert ``point`` inside the track's time span and count the way through it
        (False: outside the span, or a time already there)."""
        added = inserted(self.points, point, threshold)
        if added is None:
            return False
        self._stored = self._base = None
        self.distance_km += added[0]
        self.moving_s = max(0.0, self.moving_s + added[1])
        self.max_speed = max(self.max_speed, added[2])
        return True

    def simplify(self, max_points: int) -> None:
        """Thin the track to at most ``max_points`` (its totals stay as they are)."""
        self.points = simplify_track(self.points, max_points=max_points)
        self._stored = self._base = None

    def mileage(self, time: float, km: float | None) -> None:
        """Note the tracker's odometer ``km`` reported at ``time``."""
        if km is None:
            return
        if self.mileage_start is None or time < self.mileage_start[0]:
            self.mileage_start = (time, km)
        if self.mileage_end is None or time > self.mileage_end[0]:
            self.mileage_end = (time, km)

    def snapshot(self, uid: str, end: float, *, in_progress: bool, track: bool = True) -> Trip:
        """The trip as it stands, ending at ``end`` (its last point there or before);
        without ``track``, its track left empty (not copied)."""
        index = bisect.bisect_right(self.points, end, key=lambda p: p.time)
        last = self.points[max(0, index - 1)]
        return Trip(
            uid=uid,
            start=self.start,
            end=end,
            start_position=self.start_position,
            end_position=Position(last.latitude, last.longitude),
            distance_km=self.distance_km,
            moving_s=self.moving_s,
            max_speed_kmh=self.max_speed,
            mileage_start_km=self.mileage_start[1] if self.mileage_start else None,
            mileage_end_km=self.mileage_end[1] if self.mileage_end else None,
            track=tuple(self.points) if track else (),
            in_progress=in_progress,
        )

    def as_dict(self, *, whole: bool = True) -> dict[str, Any]:
        """JSON-able form (full precision: the trip goes on after a restart). Without
        ``whole``, the progress form: the points after those of the last whole form
        (``base``: how many those were; ``from_dict`` needs that whole form's trip), or
        every point when the track changed otherwise since (a late point, a thinning)."""
        text = self._points_text()
        track: dict[str, Any] = {"points": text}
        base = self._valid_base()
        if whole:
            self._base = (self.points, len(self.points), len(text))
        elif base is not None:
            track = {"base": base[1], "tail": text[base[2] + 1 :] if base[2] else text}
        return {
            "start": self.start,
            "from": list(self.start_position),
            **track,
            "km": self.distance_km,
            "moving": self.moving_s,
            "vmax": self.max_speed,
            "m0": list(self.mileage_start) if self.mileage_start else None,
            "m1": list(self.mileage_end) if self.mileage_end else None,
            "confirmed": self.confirmed,
            "by_ignition": self.by_ignition,
        }

    def _points_text(self) -> str:
        """The track's stored text: ``time,latitude,longitude,speed`` per point (full
        precision), ``;`` between points; the points already written are not encoded again."""
        points = self.points
        stored = self._stored
        text, done = "", 0
        if stored is not None and stored[0] is points and stored[1] <= len(points):
            done, text = stored[1], stored[2]
        if done < len(points):
            added = _text(itertools.islice(points, done, None))
            text = f"{text};{added}" if text else added
        self._stored = (points, len(points), text)
        return text

    @property
    def tail_points(self) -> int:
        """How many points the progress form holds: those after the last whole form's."""
        base = self._valid_base()
        return len(self.points) - (base[1] if base is not None else 0)

    def _valid_base(self) -> tuple[list[TrackPoint], int, int] | None:
        """``_base`` while the track is still the one it counts (only points added)."""
        base = self._base
        if base is not None and base[0] is self.points and base[1] <= len(self.points):
            return base
        return None

    @classmethod
    def from_dict(cls, data: dict[str, Any], follows: OpenTrip | None = None) -> OpenTrip:
        """The open trip stored by :meth:`as_dict`; a progress form goes on from the trip
        of the whole form it follows (``follows``, as read from it: ValueError when that
        is not the one)."""

        def pair(raw: Any) -> tuple[float, float] | None:
            return (float(raw[0]), float(raw[1])) if raw else None

        start = float(data["start"])
        if "tail" in data:
            if follows is None or follows.start != start or len(follows.points) != data["base"]:
                raise ValueError("not the track this progress follows")
            points = [*follows.points, *_points(data["tail"])]
        else:
            points = _points(data["points"])
        return cls(
            start=start,
            start_position=Position(float(data["from"][0]), float(data["from"][1])),
            points=points,
            distance_km=float(data["km"]),
            moving_s=float(data["moving"]),
            max_speed=float(data["vmax"]),
            mileage_start=pair(data.get("m0")),
            mileage_end=pair(data.get("m1")),
            confirmed=bool(data.get("confirmed")),
            by_ignition=bool(data.get("by_ignition")),
        )


def _text(points: Iterable[TrackPoint]) -> str:
    """Points as stored: ``time,latitude,longitude,speed`` each (full precision), ``;``
    between them."""
    return ";".join(
        f"{p.time!r},{p.latitude!r},{p.longitude!r},"
        f"{'' if p.speed_kmh is None else repr(p.speed_kmh)}"
        for p in points
    )


def _points(text: Any) -> list[TrackPoint]:
    """The points of a stored text (``_text``)."""
    return [track_point(row.split(",")) for row in str(text).split(";") if row]


def track_point(row: Any) -> TrackPoint:
    """A track point from its stored list form (a missing speed is None or "")."""
    return TrackPoint(
        float(row[0]), float(row[1]), float(row[2]), None if row[3] in (None, "") else float(row[3])
    )


def inserted(
    points: list[TrackPoint], point: TrackPoint, threshold: float
) -> tuple[float, float, float] | None:
    """Insert ``point`` inside the time span of ``points``: (km added, moving seconds added,
    its speed), or None (outside the span, or a time already there) leaving them as they were."""
    index = bisect.bisect_left(points, point.time, key=lambda p: p.time)
    if index == 0 or index >= len(points) or points[index].time == point.time:
        return None
    before, after = points[index - 1], points[index]
    km_ab, moving_ab, _ = segment(before, after, threshold)
    km_1, moving_1, implied = segment(before, point, threshold)
    km_2, moving_2, _ = segment(point, after, threshold)
    points.insert(index, point)
    speed = point.speed_kmh if point.speed_kmh is not None else implied
    return km_1 + km_2 - km_ab, moving_1 + moving_2 - moving_ab, speed


def mileage_fields(trip: Trip, fix: Fix) -> tuple[float | None, float | None]:
    """The odometer at the start and end of ``trip`` once a late ``fix`` is counted (its
    mileage is the first one if it is older than the track, the last if newer)."""
    start, end = trip.mileage_start_km, trip.mileage_end_km
    if fix.mileage_km is None:
        return start, end
    track = trip.track
    if start is None or (track and fix.time <= track[0].time):
        start = fix.mileage_km
    if end is None or (track and fix.time >= track[-1].time):
        end = fix.mileage_km
    return start, end


def clipped(track: tuple[TrackPoint, ...], start: float, end: float) -> list[TrackPoint]:
    """The part of ``track`` inside [start, end], cut by linear interpolation in time."""

    def at(a: TrackPoint, b: TrackPoint, time: float) -> TrackPoint:
        ratio = (time - a.time) / (b.time - a.time)
        return TrackPoint(
            time,
            a.latitude + (b.latitude - a.latitude) * ratio,
            a.longitude + (b.longitude - a.longitude) * ratio,
        )

    clipped: list[TrackPoint] = []
    for a, b in itertools.pairwise(track):
        if b.time <= start or a.time >= end:
            continue
        first = a if a.time >= start else at(a, b, start)
        last = b if b.time <= end else at(a, b, end)
        if not clipped or clipped[-1].time != first.time:
            clipped.append(first)
        clipped.append(last)
    return clipped


def sane_fix(fix: Fix) -> Fix:
    """``fix`` without non-finite or negative figures (unknown instead)."""
    speed, accuracy, mileage = fix.speed_kmh, fix.accuracy_m, fix.mileage_km
    if (
        (speed is None or 0.0 <= speed < math.inf)
        and 0.0 <= accuracy < math.inf
        and (mileage is None or 0.0 <= mileage < math.inf)
    ):
        return fix  # the usual case, told at once

    def bad(value: float | None) -> bool:
        return value is not None and not (math.isfinite(value) and value >= 0)

    return replace(
        fix,
        speed_kmh=None if bad(speed) else speed,
        accuracy_m=DEFAULT_ACCURACY_M if bad(accuracy) else accuracy,
        mileage_km=None if bad(mileage) else mileage,
    )
