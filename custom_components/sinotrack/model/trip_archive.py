"""The trip archive: a tracker's older trips in storage, one part per calendar month.

Pure code (no Home Assistant import, no I/O): the trip log loads and saves the parts; this
module says which parts a save or a read needs, what a part holds, which trips the bound
keeps, and the stops between trips.

* A trip goes in the part of the month (UTC) it started in, ``part_key``; a part is a list
  of trips sorted by start, one trip per uid (a corrected trip replaces the old one).
* The index (``ArchiveIndex``, kept in the main store) has, per part, its number of trips,
  the first start and the last end: a read loads only the parts overlapping its window
  (and the one before, for the stop that leads into it).
* The bound is the history's (archive and memory together): the last ``max_trips`` trips,
  none that ended more than ``max_age_s`` before the newest fix. A part all of whose trips
  are beyond it is deleted whole; inside the oldest part left, reads pass over the trips
  beyond it (``Bound.skip``, ``Bound.cutoff``) until that part goes too. Storage therefore
  holds at most ``max_trips`` trips and the passed-over part of one month.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
import math
from typing import Any, Final

from .trip_data import Fix, Position, Stop, Trip
from .trip_late import corrected

PART_VERSION: Final = 1


def part_key(start: float) -> str:
    """The part a trip that started at ``start`` (epoch) goes in: ``YYYY-MM`` (UTC)."""
    try:
        when = datetime.fromtimestamp(start, UTC)
    except ValueError, OverflowError, OSError:  # a broken time: a part of its own
        return "0000-00"
    return f"{when.year:04d}-{when.month:02d}"


@dataclass(slots=True)
class PartInfo:
    """What the index knows of one part."""

    count: int
    first: float
    """The first trip's start."""
    last: float
    """The latest trip end in the part."""


@dataclass(frozen=True, slots=True)
class Bound:
    """What the bound keeps: parts to delete, trips to pass over in the others."""

    drop: tuple[str, ...] = ()
    skip: dict[str, int] = field(default_factory=dict)
    """Part -> how many of its first trips are beyond the count bound."""
    cutoff: float = -math.inf
    """Trips that ended before this are beyond the age bound."""
    complete: bool = True
    """True when the bound hides no trip (the first trip ever is still kept)."""


@dataclass(slots=True)
class ArchiveIndex:
    """The archive's parts: trips, first start and last end of each."""

    parts: dict[str, PartInfo] = field(default_factory=dict)
    dropped: bool = False
    """True once the bound hid a trip: the stop before the first trip kept is unknown."""

    @property
    def total(self) -> int:
        """Trips in the archive."""
        return sum(info.count for info in self.parts.values())

    def note(self, key: str, trips: Sequence[Trip]) -> None:
        """Part ``key`` now holds ``trips`` (sorted by start)."""
        if trips:
            self.parts[key] = PartInfo(len(trips), trips[0].start, max(t.end for t in trips))
        else:
            self.parts.pop(key, None)

    def bound(self, newest: float | None, held: int, max_trips: int, max_age_s: float) -> Bound:
        """The bound over the archive and ``held`` newer trips kept elsewhere (in memory),
        ``newest`` being the newest fix's time."""
        cutoff = newest - max_age_s if newest is not None else -math.inf
        excess = self.total + held - max_trips
        drop: list[str] = []
        skip: dict[str, int] = {}
        for key in sorted(self.parts):
            info = self.parts[key]
            if info.last < cutoff or excess >= info.count:
                drop.append(key)
                excess -= info.count
            elif excess > 0:
                skip[key] = excess
                excess = 0
        oldest = min((info.first for info in self.parts.values()), default=math.inf)
        complete = not drop and not skip and not self.dropped and oldest >= cutoff
        return Bound(tuple(drop), skip, cutoff, complete)

    def apply(self, bound: Bound) -> tuple[str, ...]:
        """Forget the parts ``bound`` drops (returned: the caller deletes them) and note
        whether it hides a trip."""
        for key in bound.drop:
            self.parts.pop(key, None)
        self.dropped = self.dropped or not bound.complete
        return bound.drop

    def written(
        self, due: Iterable[Trip], stored: Mapping[str, Sequence[Trip]]
    ) -> dict[str, list[Trip]]:
        """The parts to save for the trips ``due`` (``stored``: what those parts hold now,
        ``grouped(due)``'s keys), noted in the index."""
        parts: dict[str, list[Trip]] = {}
        for key, trips in grouped(due).items():
            parts[key] = merged(stored.get(key, ()), trips)
            self.note(key, parts[key])
        return parts

    def keys_between(self, start: float, end: float) -> list[str]:
        """The parts a read of [start, end) needs, oldest first: those with a trip in it,
        the last one with a trip before it and the first with a trip after it (the stops
        around the window's trips)."""
        keys = sorted(self.parts)
        before = [key for key in keys if self.parts[key].first < start]
        after = [key for key in keys if self.parts[key].first >= end]
        wanted = {
            key for key in keys if self.parts[key].first < end and self.parts[key].last > start
        }
        wanted.update(before[-1:], after[:1])
        return [key for key in keys if key in wanted]

    def key_for_late(self, time: float, gap_time: float) -> str | None:
        """The part holding the trip a late fix at ``time`` may correct (within a trip, or
        within ``gap_time`` after a trip that ended by a gap), None when none can."""
        found = [
            key for key, info in self.parts.items() if info.first < time < info.last + gap_time
        ]
        return max(found) if found else None

    def first_after(self, key: str) -> float | None:
        """The first trip start in the parts after ``key``, if any."""
        later = [info.first for other, info in self.parts.items() if other > key]
        return min(later) if later else None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (in the main store)."""
        return {
            "parts": {
                key: [info.count, info.first, info.last] for key, info in sorted(self.parts.items())
            },
            "dropped": self.dropped,
        }

    @classmethod
    def from_dict(cls, data: Any) -> ArchiveIndex:
        """The index stored by :meth:`as_dict`; an empty one for anything else (broken
        entries are left out)."""
        index = cls()
        if not isinstance(data, dict):
            return index
        index.dropped = bool(data.get("dropped"))
        parts = data.get("parts")
        for key, raw in parts.items() if isinstance(parts, dict) else ():
            try:
                index.parts[str(key)] = PartInfo(int(raw[0]), float(raw[1]), float(raw[2]))
            except ValueError, TypeError, KeyError, IndexError:
                continue
        return index


def part_data(trips: Iterable[Trip]) -> dict[str, Any]:
    """A part's stored form."""
    return {"version": PART_VERSION, "trips": [trip.as_dict() for trip in trips]}


def part_trips(data: Any) -> list[Trip]:
    """The trips of a part's stored form, sorted by start (broken ones left out; none for
    anything that is not a part)."""
    if not isinstance(data, dict) or data.get("version") != PART_VERSION:
        return []
    trips: list[Trip] = []
    for raw in data.get("trips") or []:
        try:
            trips.append(Trip.from_dict(raw))
        except ValueError, TypeError, KeyError, IndexError:
            continue
    trips.sort(key=lambda trip: trip.start)
    return trips


def merged(older: Iterable[Trip], newer: Iterable[Trip]) -> list[Trip]:
    """``older`` and ``newer`` trips in one list sorted by start, one per uid (``newer``
    wins)."""
    by_uid = {trip.uid: trip for trip in older}
    by_uid.update((trip.uid, trip) for trip in newer)
    return sorted(by_uid.values(), key=lambda trip: trip.start)


def grouped(trips: Iterable[Trip]) -> dict[str, list[Trip]]:
    """``trips`` by the part they go in."""
    parts: dict[str, list[Trip]] = {}
    for trip in trips:
        parts.setdefault(part_key(trip.start), []).append(trip)
    return parts


def kept(trips: Sequence[Trip], key: str, bound: Bound) -> Sequence[Trip]:
    """The trips of part ``key`` the bound keeps."""
    skip = bound.skip.get(key, 0)
    if key in bound.drop:
        return []
    return [trip for trip in trips[skip:] if trip.end >= bound.cutoff]


def stops_between(
    trips: Sequence[Trip],
    origin: tuple[float, Position] | None,
    current_start: float | None,
    start: float,
    end: float,
) -> list[Stop]:
    """The stops overlapping [start, end) around ``trips`` (every finished trip from the
    first one on, sorted by start): between two trips, before the first (from ``origin``,
    where the vehicle was first seen, when known) and after the last, until the trip in
    progress (``current_start``) or still going on (no end)."""
    ends: list[float | None] = [trip.start for trip in trips]
    ends.append(current_start)
    every: list[Stop] = []
    if origin is not None:
        every.append(Stop(origin[0], ends[0], origin[1]))
    every.extend(
        Stop(trip.end, stop_end, trip.end_position)
        for trip, stop_end in zip(trips, ends[1:], strict=True)
    )
    return [s for s in every if s.start < end and (s.end is None or s.end > start)]


def correct_late(
    trips: list[Trip],
    fix: Fix,
    *,
    following: float | None,
    threshold: float,
    gap_time: float,
) -> Trip | None:
    """Correct, in ``trips`` (an archive part), the trip the late ``fix`` belongs to, with
    the rule the detector applies to the trips it holds (``trip_late.corrected``); the
    corrected trip, or None. ``following``: the next trip's start after the part's last."""
    number = bisect.bisect_right(trips, fix.time, key=lambda trip: trip.start) - 1
    if number < 0:
        return None
    after = trips[number + 1].start if number + 1 < len(trips) else following
    updated = corrected(trips[number], fix, threshold, gap_time, after)
    if updated is not None:
        trips[number] = updated
    return updated


def window(
    index: ArchiveIndex,
    parts: Mapping[str, Sequence[Trip]],
    recent: Sequence[Trip],
    bound: Bound,
    *,
    origin: tuple[float, Position] | None,
    current_start: float | None,
    start: float,
    end: float,
) -> tuple[list[Trip], list[Stop]]:
    """The finished trips overlapping [start, end) and the stops overlapping it, from the
    archived ``parts`` a read loaded (``index.keys_between``) and the ``recent`` trips held
    in memory, as the bound keeps them. ``origin`` (where the vehicle was first seen) starts
    the first stop when the first trip ever is among them."""
    archived = (trip for key in sorted(parts) for trip in kept(parts[key], key, bound))
    trips = merged(archived, (trip for trip in recent if trip.end >= bound.cutoff))
    first_ever = bound.complete and (not index.parts or min(index.parts) in parts)
    stops = stops_between(trips, origin if first_ever else None, current_start, start, end)
    return [trip for trip in trips if trip.start < end and trip.end > start], stops
