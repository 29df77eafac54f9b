"""What trip detection reads and produces: fixes, trips, stops and trip events.

Pure values (no Home Assistant import). Trips and stops hold positions, not zones: the
Home Assistant side maps ``start_position``, ``end_position`` and a stop's ``position`` to
its zones when it shows them.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Any, Literal, NamedTuple

from .track import TrackPoint

type FixSource = Literal["gps", "cell"]
type EndReason = Literal["stopped", "ignition", "gap"]

END_REASONS: frozenset[str] = frozenset({"stopped", "ignition", "gap"})


class Position(NamedTuple):
    """A place, in degrees."""

    latitude: float
    longitude: float


@dataclass(frozen=True, slots=True)
class Fix:
    """One position report of a tracker, as trip detection needs it.

    ``time`` is the fix's own epoch time (the device's, in UTC). ``late`` marks a fix that
    arrived out of order or in a batch (blind-area upload, buffered reports): it is placed
    by its time like any other, but its delay does not count as the device's clock offset.
    ``source`` ``"cell"`` marks a position from cell towers (hundreds of metres off).
    """

    time: float
    latitude: float
    longitude: float
    speed_kmh: float | None = None
    ignition: bool | None = None
    valid: bool = True
    accuracy_m: float = 15.0
    mileage_km: float | None = None
    source: FixSource = "gps"
    late: bool = False

    @property
    def position(self) -> Position:
        """Where the fix is."""
        return Position(self.latitude, self.longitude)

    @property
    def usable(self) -> bool:
        """True for a valid GPS fix with finite coordinates inside their ranges."""
        return (
            self.valid
            and self.source == "gps"
            and math.isfinite(self.time)
            and -90.0 <= self.latitude <= 90.0
            and -180.0 <= self.longitude <= 180.0
        )


@dataclass(frozen=True, slots=True)
class Trip:
    """One trip: from where and when the vehicle started moving to where it stopped.

    ``end`` is when it stopped moving (for a trip in progress: its latest fix).
    ``distance_km`` adds up the way between its fixes; ``mileage_start_km`` and
    ``mileage_end_km`` are the tracker's own odometer at its first and last fix that
    reported one. ``track`` is simplified (at most ``MAX_TRACK_POINTS`` points) once the
    trip has ended.
    """

    uid: str
    start: float
    end: float
    start_position: Position
    end_position: Position
    distance_km: float
    moving_s: float
    max_speed_kmh: float
    mileage_start_km: float | None
    mileage_end_km: float | None
    track: tuple[TrackPoint, ...]
    in_progress: bool = False
    end_reason: EndReason | None = None

    @property
    def duration_s(self) -> float:
        """Seconds from start to end."""
        return self.end - self.start

    @property
    def avg_speed_kmh(self) -> float:
        """Distance over duration (waits at red lights included), 0 for a zero duration."""
        return self.distance_km / self.duration_s * 3600.0 if self.duration_s > 0 else 0.0

    @property
    def mileage_km(self) -> float | None:
        """The tracker's odometer difference over the trip, where it reports one."""
        if self.mileage_start_km is None or self.mileage_end_km is None:
            return None
        return self.mileage_end_km - self.mileage_start_km

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form. The track is one string (``seconds from start,latitude,longitude,
        speed`` per point, ``;`` between points, 1 m rounding): compact even in a store
        that indents its JSON."""
        return {
            "id": self.uid,
            "start": self.start,
            "end": self.end,
            "from": [self.start_position.latitude, self.start_position.longitude],
            "to": [self.end_position.latitude, self.end_position.longitude],
            "km": round(self.distance_km, 4),
            "moving": round(self.moving_s, 1),
            "vmax": round(self.max_speed_kmh, 1),
            "m0": self.mileage_start_km,
            "m1": self.mileage_end_km,
            "reason": self.end_reason,
            "track": ";".join(
                f"{_compact(point.time - self.start)},{point.latitude:.5f},"
                f"{point.longitude:.5f},"
                f"{'' if point.speed_kmh is None else _compact(point.speed_kmh)}"
                for point in self.track
            ),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trip:
        """The trip stored by :meth:`as_dict` (``ValueError``/``TypeError``/``KeyError`` if
        the data is not one)."""
        start = float(data["start"])
        reason = data.get("reason")
        return cls(
            uid=str(data["id"]),
            start=start,
            end=float(data["end"]),
            start_position=Position(float(data["from"][0]), float(data["from"][1])),
            end_position=Position(float(data["to"][0]), float(data["to"][1])),
            distance_km=float(data["km"]),
            moving_s=min(float(data["moving"]), float(data["end"]) - start),  # rounded up
            max_speed_kmh=float(data["vmax"]),
            mileage_start_km=_optional_float(data.get("m0")),
            mileage_end_km=_optional_float(data.get("m1")),
            track=_parse_track(start, float(data["end"]), data["track"]),
            end_reason=reason if reason in END_REASONS else None,
        )


@dataclass(frozen=True, slots=True)
class Stop:
    """Where the vehicle stood between two trips; ``end`` is None while it is still there."""

    start: float
    end: float | None
    position: Position

    def duration_s(self, now: float) -> float:
        """Seconds parked, up to ``now`` while it still is."""
        return (self.end if self.end is not None else now) - self.start


@dataclass(frozen=True, slots=True)
class TripStarted:
    """A trip was confirmed (it already covered 200 m and a minute): ``trip`` in progress."""

    trip: Trip


@dataclass(frozen=True, slots=True)
class TripEnded:
    """A trip ended: ``trip`` is final (until late fixes correct it)."""

    trip: Trip


@dataclass(frozen=True, slots=True)
class TripUpdated:
    """A trip that had ended was corrected by fixes that arrived late."""

    trip: Trip


type TripEvent = TripStarted | TripEnded | TripUpdated


def _compact(value: float) -> float | int:
    """``value`` to 0.1, an integer when it is whole (shorter JSON)."""
    rounded = round(value, 1)
    return int(rounded) if rounded.is_integer() else rounded


def _optional_float(value: Any) -> float | None:
    """``value`` as a float, None for None."""
    return None if value is None else float(value)


def _parse_track(start: float, end: float, text: Any) -> tuple[TrackPoint, ...]:
    """The track stored by ``Trip.as_dict`` (``ValueError`` if it is not one); times
    rounded past the trip's end are brought back to it."""
    if not isinstance(text, str):
        raise TypeError("a stored track is a string")
    if not text:
        return ()
    points = []
    for row in text.split(";"):
        offset, latitude, longitude, speed = row.split(",")
        points.append(
            TrackPoint(
                min(start + float(offset), end),
                float(latitude),
                float(longitude),
                float(speed) if speed else None,
            )
        )
    return tuple(points)
