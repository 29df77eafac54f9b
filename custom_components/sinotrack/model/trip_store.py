"""The stored form of a trip detector: what ``TripDetector.as_dict`` writes and reads back.

Pure code (no Home Assistant import). Version 2 holds the trips in memory, those waiting
for the archive and the archive's index; version 1 held every trip (read alike: the
older trips then go to the archive).
"""

from __future__ import annotations

from typing import Any, Final

from .track import TrackPoint
from .trip_archive import ArchiveIndex
from .trip_data import Position, Trip
from .trip_parts import OpenTrip, track_point

STORAGE_VERSION: Final = 2
STORAGE_VERSIONS: Final = (1, 2)
"""The versions ``from_dict`` reads."""


class StoredDetector:
    """The detector's state and its JSON-able form (``TripDetector`` is built on it)."""

    wired: bool
    archive: ArchiveIndex
    _trips: list[Trip]
    _outbox: list[Trip]
    _open: OpenTrip | None
    _newest: float | None
    _skew: float
    _last_fix: float | None
    _parked: Position | None
    _parked_point: TrackPoint | None
    _origin: tuple[float, Position] | None
    _last_mileage: tuple[float, float] | None
    _still_since: float | None
    _still_at: Position | None
    _last_still: TrackPoint | None
    _ignition_on_in_trip: bool
    _ignition_off_since: float | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form for the store (``from_dict`` reads it back)."""
        still = None
        if self._still_since is not None and self._still_at is not None:
            still = {
                "since": self._still_since,
                "at": list(self._still_at),
                "last": list(self._last_still) if self._last_still else None,
            }
        return {
            "version": STORAGE_VERSION,
            "wired": self.wired,
            "newest": self._newest,
            "skew": self._skew,
            "last_fix": self._last_fix,
            "parked": list(self._parked) if self._parked else None,
            "parked_point": list(self._parked_point) if self._parked_point else None,
            "origin": [self._origin[0], *self._origin[1]] if self._origin else None,
            "mileage": list(self._last_mileage) if self._last_mileage else None,
            "open": self._open.as_dict() if self._open else None,
            "still": still,
            "ignition_on_in_trip": self._ignition_on_in_trip,
            "ignition_off_since": self._ignition_off_since,
            "trips": [trip.as_dict() for trip in (*self._outbox, *self._trips)],
            "archive": self.archive.as_dict(),
        }

    def _restore_state(self, data: dict[str, Any]) -> None:
        """Everything but the finished trips, from :meth:`as_dict`'s form."""

        def number(key: str) -> float | None:
            value = data.get(key)
            return float(value) if isinstance(value, (int, float)) else None

        self.wired = bool(data.get("wired"))
        self._newest = number("newest")
        self._skew = number("skew") or 0.0
        self._last_fix = number("last_fix")
        self._ignition_on_in_trip = bool(data.get("ignition_on_in_trip"))
        self._ignition_off_since = number("ignition_off_since")
        if parked := data.get("parked"):
            self._parked = Position(float(parked[0]), float(parked[1]))
        if parked_point := data.get("parked_point"):
            self._parked_point = track_point(parked_point)
        if origin := data.get("origin"):
            self._origin = (float(origin[0]), Position(float(origin[1]), float(origin[2])))
        if mileage := data.get("mileage"):
            self._last_mileage = (float(mileage[0]), float(mileage[1]))
        if still := data.get("still"):
            self._still_since = float(still["since"])
            self._still_at = Position(float(still["at"][0]), float(still["at"][1]))
            self._last_still = track_point(still["last"]) if still.get("last") else None
        if raw := data.get("open"):
            trip = OpenTrip.from_dict(raw)
            if trip.points:
                self._open = trip
