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
    _forms: int
    """How many whole forms (``as_dict``) were made: each is numbered, and the progress
    says which one it follows."""
    _stored_trips: dict[int, tuple[Trip, dict[str, Any]]]
    """The finished trips' stored forms by the trip's ``id`` (see ``_trip_forms``)."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form for the store (``from_dict`` reads it back): the state with the
        whole track of the trip in progress, and the finished trips held, with the
        archive's index; numbered (``form``: one more with each call). It is the form
        saved: the next ``progress_dict`` holds only what came after it."""
        self._forms += 1
        return {
            **self._state_dict(whole=True),
            "form": self._forms,
            "trips": self._trip_forms(),
            "archive": self.archive.as_dict(),
        }

    def progress_dict(self) -> dict[str, Any]:
        """The detector without its finished trips: the trip in progress (its points
        after those of the last whole form) and the bookkeeping, JSON-able. It changes
        with every fix and is saved often, the whole form (``as_dict``) after trip events
        and when the points after it become many (``tail_points``); ``restore_progress``
        puts it back over the whole form it follows (``follows``: the number of the last
        one made)."""
        return self._state_dict(whole=False)

    @property
    def tail_points(self) -> int:
        """How many track points the progress form holds (0 without a trip in progress)."""
        return self._open.tail_points if self._open is not None else 0

    def _trip_forms(self) -> list[dict[str, Any]]:
        """The stored forms of the finished trips held, each made once (a finished trip
        never changes: a correction replaces it), and kept while the trip is held."""
        kept = self._stored_trips  # each entry holds its trip: no other object takes its id
        forms: dict[int, tuple[Trip, dict[str, Any]]] = {}
        stored: list[dict[str, Any]] = []
        for trip in (*self._outbox, *self._trips):
            form = kept.get(id(trip))
            if form is None:
                form = (trip, trip.as_dict())
            forms[id(trip)] = form
            stored.append(dict(form[1]))
        self._stored_trips = forms
        return stored

    def _state_dict(self, *, whole: bool) -> dict[str, Any]:
        """Everything but the finished trips (``whole``: the trip in progress with every
        point, else the progress form)."""
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
            "open": self._open.as_dict(whole=whole) if self._open else None,
            "still": still,
            "ignition_on_in_trip": self._ignition_on_in_trip,
            "ignition_off_since": self._ignition_off_since,
            "after": self._last_uid(),
            "follows": self._forms,
        }

    def restore_progress(self, data: Any) -> bool:
        """Put back the state ``progress_dict`` saved, when it was made after the whole form
        this detector was read from (a trip event after it makes a newer whole form) and
        follows the same finished trips (a whole form made after that one was lost).
        False when not taken (broken data too)."""
        if not isinstance(data, dict) or data.get("version") not in STORAGE_VERSIONS:
            return False
        follows = data.get("follows")
        if type(follows) is not int or follows < self._forms:
            return False
        if data.get("after") != self._last_uid():
            return False
        try:
            self._restore_state(data)
        except ValueError, TypeError, KeyError, IndexError:
            return False
        self._forms = follows
        return True

    def _last_uid(self) -> str | None:
        """The ID of the newest finished trip held (the last one always is), if any."""
        newest = self._trips or self._outbox
        return newest[-1].uid if newest else None

    def _restore_state(self, data: dict[str, Any]) -> None:
        """Everything but the finished trips, from ``progress_dict``'s form: every field
        is set (what the data lacks is cleared), or, when the data is broken (it raises),
        none."""

        def number(key: str) -> float | None:
            value = data.get(key)
            return float(value) if isinstance(value, (int, float)) else None

        def pair(raw: Any) -> tuple[float, float] | None:
            return (float(raw[0]), float(raw[1])) if raw else None

        parked = pair(data.get("parked"))
        origin = data.get("origin")
        still = data.get("still") or None
        open_trip = OpenTrip.from_dict(raw, self._open) if (raw := data.get("open")) else None
        parked_point = data.get("parked_point")
        state = (
            Position(*parked) if parked else None,
            track_point(parked_point) if parked_point else None,
            (float(origin[0]), Position(float(origin[1]), float(origin[2]))) if origin else None,
            pair(data.get("mileage")),
            float(still["since"]) if still else None,
            Position(float(still["at"][0]), float(still["at"][1])) if still else None,
            track_point(still["last"]) if still and still.get("last") else None,
            open_trip if open_trip is not None and open_trip.points else None,
        )
        self.wired = bool(data.get("wired"))
        self._newest = number("newest")
        self._skew = number("skew") or 0.0
        self._last_fix = number("last_fix")
        self._ignition_on_in_trip = bool(data.get("ignition_on_in_trip"))
        self._ignition_off_since = number("ignition_off_since")
        (
            self._parked,
            self._parked_point,
            self._origin,
            self._last_mileage,
            self._still_since,
            self._still_at,
            self._last_still,
            self._open,
        ) = state
