"""Trip detection for one tracker: fixes in, trips and stops out.

Pure code (no Home Assistant import), driven by the caller: ``add`` for every fix,
``tick`` now and then (a stop is confirmed by time when no fix comes), ``as_dict`` and
``from_dict`` to store it. Rules (``docs/trips.md`` says them for users):

* A trip starts when the vehicle moves: ignition on and speed at or above the moving
  threshold, or a valid GPS fix farther than ``START_RADIUS_M`` (or twice its accuracy)
  from where it was parked. It starts when the vehicle left: at the last fix where it
  was parked when that fix is at most the stop time older, else at the first fix away.
* It ends when the vehicle has stood still (speed below the threshold, and no
  displacement beyond ``STILL_RADIUS_M`` or twice the accuracy) for the stop time, or
  when the ignition has been off for ``IGNITION_OFF_S`` after being on during the trip.
  Its end time is when it stopped moving, not when the stop was confirmed.
* Ignition counts once the tracker has reported ignition on (an unwired tracker reports
  it off forever). Only valid GPS fixes start, continue or end a trip by their position;
  cell-tower and invalid fixes only bring their ignition state.
* A trip under ``MIN_TRIP_KM`` or ``MIN_TRIP_S`` is jitter: it is dropped, and
  ``TripStarted`` comes only once a trip has covered both (its start time is the real one).
  Before that, a trip started by a fix away from the parking place is dropped as soon as
  a slow fix is back within the start radius (the first was a wild fix).
* Coverage gap: no fix for ``gap_time`` during a trip ends it where it was last seen
  (``end_reason`` ``"gap"``); the first fix after the gap is judged as a parked one. A
  gap-ended trip takes fixes that arrive late for the gap (less than ``gap_time`` after
  its end, before the next trip): its track, distance and end move on.
* Out-of-order fixes (older than the newest one) go where they belong in time: into the
  trip in progress or a finished trip whose track spans them (``TripUpdated`` for a
  finished one); a late fix inside a stop changes nothing.
* Memory: the detector holds the trip in progress and the trips that ended within
  ``MEMORY_S`` of the newest fix, at most ``MEMORY_TRIPS`` of them and at least the last
  one (what "today", the trip sensors and most late fixes need); older trips go to its
  outbox (``archive_due``), which the trip log writes to the archive (``trip_archive``)
  and empties (``archived``). A late fix older than every trip it holds is kept for the
  trip log (``take_unplaced``, ``on_unplaced``), which corrects the archived trip with the
  same rule (``trip_late.corrected``). Held, whatever the history's length: typically about
  110 KiB (two days of eight city trips); at most ``MEMORY_TRIPS`` trips and
  ``MEMORY_POINTS`` track points (about 2.8 MiB; the last trip is kept whatever its size,
  at most ``MAX_TRACK_POINTS`` points) and the trip in progress (at most
  ``OPEN_TRACK_LIMIT`` points, about 0.4 MiB, and their stored text, about 0.1 MiB, kept so
  that a save encodes only the points added since the last one); the finished trips'
  stored forms (about 30 bytes a point), made once.
* Saved in two parts: the whole detector (``as_dict``, numbered) after trip events and
  when the trip in progress has many points since (``tail_points``), and its progress
  (``progress_dict``: the bookkeeping, and the trip in progress with its points since the
  last whole form) as often as the caller likes; ``restore_progress`` puts the progress
  back over the whole form it follows.
* History (archive and memory): the last ``MAX_TRIPS`` trips, none older than
  ``MAX_TRIP_AGE_S`` (``ArchiveIndex.bound``).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import replace
import math
from typing import Any, Final

from .state import MOVING_SPEED
from .track import TrackPoint, path_km, simplify_track
from .trip_archive import ArchiveIndex, correct_late, stops_between, window
from .trip_data import (
    EndReason,
    Fix,
    Position,
    Stop,
    Trip,
    TripEnded,
    TripEvent,
    TripStarted,
    TripUpdated,
)
from .trip_late import corrected, gap_extended
from .trip_parts import (
    DEFAULT_ACCURACY_M,
    KM_PER_DEGREE,
    STILL_RADIUS_M,
    OpenTrip,
    clipped,
    degrees_km,
    km_between,
    sane_fix,
    to_point,
)
from .trip_store import STORAGE_VERSIONS, StoredDetector

DEFAULT_STOP_TIME: Final = 300.0
"""Seconds standing still that end a trip (a red light is shorter)."""
IGNITION_OFF_S: Final = 60.0
"""Seconds of ignition off (after it was on during the trip) that end a trip."""
DEFAULT_GAP_TIME: Final = 900.0
"""Seconds without a fix during a trip after which it ends where it was last seen."""
START_RADIUS_M: Final = 100.0
MIN_TRIP_KM: Final = 0.2
MIN_TRIP_S: Final = 60.0
MAX_TRIPS: Final = 1000
MAX_TRIP_AGE_S: Final = 365 * 86400.0
MEMORY_S: Final = 2 * 86400.0
"""Trips that ended within this of the newest fix stay in memory (today, whatever the
time zone, and the late fixes of a blind-area upload)."""
MEMORY_TRIPS: Final = 100
"""At most this many finished trips stay in memory (and at least the last one)."""
MEMORY_POINTS: Final = 15_000
"""At most this many track points over the finished trips in memory (the last trip's
whatever its size): about 190 bytes each."""
MAX_UNPLACED: Final = 1000
"""Late fixes kept for the trip log at most (the oldest go first)."""
MAX_AHEAD_S: Final = 86400.0
"""A fix dated more than this after the server's clock has a broken time: it is ignored
(taken as the newest, it would make every later fix look late)."""
_NEAR_DEGREES_PER_M: Final = 0.999 / (2 * KM_PER_DEGREE * 1000)
"""Degrees (both ways) per metre of radius within which a fix is surely inside it."""
_new_point = tuple.__new__
"""Builds a ``TrackPoint`` from a tuple without its keyword handling (the parked path)."""
OPEN_TRACK_LIMIT: Final = 2000
"""Points of the trip in progress beyond which its track is simplified in place (its
distance and times are running totals, so they stay exact)."""


def _within(reference: Position, latitude: float, longitude: float, radius_m: float) -> bool:
    """Whether the point is within ``radius_m`` of ``reference``, as ``km_between`` measures
    (within ``bound`` degrees both ways it surely is: a step's km are at most its degrees'
    sum times ``KM_PER_DEGREE``)."""
    bound = radius_m * _NEAR_DEGREES_PER_M
    dlat, dlon = latitude - reference[0], longitude - reference[1]
    return (-bound < dlat < bound and -bound < dlon < bound) or degrees_km(
        reference[0], reference[1], latitude, longitude
    ) * 1000 <= radius_m


class TripDetector(StoredDetector):
    """Trips and stops of one tracker, from its fixes (see the module's rules)."""

    def __init__(
        self,
        *,
        moving_speed: float = MOVING_SPEED,
        stop_time: float = DEFAULT_STOP_TIME,
        gap_time: float = DEFAULT_GAP_TIME,
        max_trips: int = MAX_TRIPS,
        max_age_s: float = MAX_TRIP_AGE_S,
        memory_trips: int = MEMORY_TRIPS,
        memory_s: float = MEMORY_S,
        memory_points: int = MEMORY_POINTS,
    ) -> None:
        self.moving_speed = moving_speed
        self.stop_time = stop_time
        self.gap_time = gap_time
        self.max_trips = max_trips
        self.max_age_s = max_age_s
        self.memory_trips = max(1, memory_trips)
        self.memory_s = memory_s
        self.memory_points = memory_points
        self.wired = False
        """True once the tracker reported ignition on: its ignition then counts."""
        self.archive = ArchiveIndex()
        """The archived trips' index (the trip log keeps it up to date; stored here)."""
        self.on_archive: Callable[[], None] | None = None
        """Called when trips left memory for the outbox (``archive_due``)."""
        self.on_unplaced: Callable[[], None] | None = None
        """Called when a late fix is older than every trip in memory (``take_unplaced``)."""
        self._trips: list[Trip] = []
        self._outbox: list[Trip] = []
        self._unplaced: list[Fix] = []
        self._open: OpenTrip | None = None
        self._newest: float | None = None
        self._skew = 0.0
        self._last_fix: float | None = None
        self._parked: Position | None = None
        self._parked_point: TrackPoint | None = None
        self._origin: tuple[float, Position] | None = None
        self._last_mileage: tuple[float, float] | None = None
        self._still_since: float | None = None
        self._still_at: Position | None = None
        self._last_still: TrackPoint | None = None
        self._ignition_on_in_trip = False
        self._ignition_off_since: float | None = None
        self._forms = 0
        self._stored_trips: dict[int, tuple[Trip, dict[str, Any]]] = {}

    # Queries

    @property
    def current(self) -> Trip | None:
        """The trip in progress (once confirmed), else None."""
        if self._open is None or not self._open.confirmed:
            return None
        open_trip = self._open
        return open_trip.snapshot(
            self._uid(open_trip.start), open_trip.points[-1].time, in_progress=True
        )

    def current_outline(self) -> Trip | None:
        """``current`` without its track (not copied: the calendar shows the trip in
        progress every minute)."""
        open_trip = self._open
        if open_trip is None or not open_trip.confirmed:
            return None
        return open_trip.snapshot(
            self._uid(open_trip.start), open_trip.points[-1].time, in_progress=True, track=False
        )

    @property
    def current_km(self) -> float | None:
        """The distance of the trip in progress (once confirmed), else None: ``current``'s
        distance without building the trip (read after every fix)."""
        if self._open is None or not self._open.confirmed:
            return None
        return self._open.distance_km

    @property
    def current_start(self) -> float | None:
        """When the trip in progress (once confirmed) started, else None."""
        if self._open is None or not self._open.confirmed:
            return None
        return self._open.start

    @property
    def parked_since(self) -> float | None:
        """When the vehicle parked (None while a trip is in progress or nothing is known)."""
        if self._open is not None and self._open.confirmed:
            return None
        if self._trips:
            return self._trips[-1].end
        return self._origin[0] if self._origin else None

    @property
    def last_trip(self) -> Trip | None:
        """The trip that ended last, if any."""
        return self._trips[-1] if self._trips else None

    def trips(self, start: float, end: float, *, include_current: bool = False) -> list[Trip]:
        """Finished trips overlapping [start, end), oldest first (and the current one)."""
        found = [trip for trip in self._trips if trip.start < end and trip.end > start]
        current = self.current if include_current else None
        if current is not None and current.start < end and current.end >= start:
            found.append(current)
        return found

    def stops(self, start: float, end: float) -> list[Stop]:
        """Stops overlapping [start, end) around the trips held (outbox included), oldest
        first; the last has no end while parked. The trip log adds the archived trips."""
        trips = [*self._outbox, *self._trips]
        origin = self.origin if not self.archive.parts else None
        return stops_between(trips, origin, self.current_start, start, end)

    @property
    def origin(self) -> tuple[float, Position] | None:
        """When and where the vehicle was first seen (the start of the first stop), until
        the history's bound drops a trip."""
        return None if self.archive.dropped else self._origin

    @property
    def newest(self) -> float | None:
        """The newest fix's time."""
        return self._newest

    @property
    def held(self) -> int:
        """Finished trips held in memory (the outbox included)."""
        return len(self._trips) + len(self._outbox)

    def recent(self) -> list[Trip]:
        """Every finished trip held (the outbox included), oldest first."""
        return [*self._outbox, *self._trips]

    def history(
        self, parts: dict[str, list[Trip]], start: float, end: float
    ) -> tuple[list[Trip], list[Stop]]:
        """The finished trips and the stops overlapping [start, end), from memory and the
        archived ``parts`` (those ``archive.keys_between(start, end)`` names), within the
        history's bound."""
        return window(
            self.archive,
            parts,
            self.recent(),
            self.archive.bound(self._newest, self.held, self.max_trips, self.max_age_s),
            origin=self.origin,
            current_start=self.current_start,
            start=start,
            end=end,
        )

    def bounded(self) -> tuple[str, ...]:
        """Apply the history's bound to the archive's index: the parts to delete."""
        bound = self.archive.bound(self._newest, self.held, self.max_trips, self.max_age_s)
        return self.archive.apply(bound)

    def correct_archived(self, key: str, trips: list[Trip], fix: Fix) -> Trip | None:
        """Correct the trips of archived part ``key`` (in place) with the late ``fix``:
        the trip it changed, if any."""
        following = self.archive.first_after(key)
        if following is None and trips:
            following = self.next_start_after(trips[-1].start)
        return correct_late(
            trips, fix, following=following, threshold=self.moving_speed, gap_time=self.gap_time
        )

    def next_start_after(self, time: float) -> float | None:
        """The first start of a trip held (or in progress) after ``time``, if any."""
        starts = [trip.start for trip in (*self._outbox, *self._trips) if trip.start > time]
        if self._open is not None and self._open.start > time:
            starts.append(self._open.start)
        return min(starts) if starts else None

    # Archive hand-off

    def archive_due(self) -> list[Trip]:
        """The trips that left memory and wait to be written to the archive (they stay in
        the stored form until ``archived``)."""
        return list(self._outbox)

    def archived(self, trips: list[Trip]) -> None:
        """``trips`` (from ``archive_due``) are in the archive now: forget them."""
        written = {id(trip) for trip in trips}
        self._outbox = [trip for trip in self._outbox if id(trip) not in written]

    def take_unplaced(self) -> list[Fix]:
        """The late fixes older than every trip in memory since the last call."""
        fixes, self._unplaced = self._unplaced, []
        return fixes

    def distance_between(self, start: float, end: float) -> float:
        """Km driven in [start, end) (e.g. local midnight to midnight for "distance today"),
        a trip across a boundary counted in proportion to its track on each side."""
        total = 0.0
        for trip in self.trips(start, end, include_current=True):
            if trip.start >= start and trip.end <= end:
                total += trip.distance_km
                continue
            whole = path_km(trip.track)
            part = path_km(clipped(trip.track, start, end))
            if whole > 0:
                total += trip.distance_km * part / whole
        return total

    # Input

    def add(self, fix: Fix, now: float | None = None) -> list[TripEvent]:
        """Take one fix (``now``: the server time it arrived, if known); the events it causes."""
        if fix.source != "gps":
            return self._add(fix, now)
        return self.add_values(
            fix.time,
            fix.latitude,
            fix.longitude,
            fix.speed_kmh,
            fix.ignition,
            fix.valid,
            fix.accuracy_m,
            fix.mileage_km,
            fix.late,
            now,
        )

    def add_values(
        self,
        time: float,
        latitude: float,
        longitude: float,
        speed: float | None = None,
        ignition: bool | None = None,
        valid: bool = True,
        accuracy: float = DEFAULT_ACCURACY_M,
        mileage: float | None = None,
        late: bool = False,
        now: float | None = None,
    ) -> list[TripEvent]:
        """``add`` for a GPS fix by its figures. A sane, valid, in-order report that leaves
        the vehicle parked (no trip in progress or to carry on), or one during a confirmed
        trip at speed (not standing before it) or standing on (not yet for the stop time),
        is taken here, without a ``Fix``; any other goes through every rule (``_add``)."""
        newest = self._newest
        open_trip = self._open
        if open_trip is not None:
            last_fix = self._last_fix
            if (
                open_trip.confirmed
                and speed is not None
                and 0.0 <= speed < math.inf
                and valid
                and self._ignition_off_since is None
                and newest is not None
                and newest < time < math.inf
                and last_fix is not None
                and time - last_fix < self.gap_time
                and -90.0 <= latitude <= 90.0
                and -180.0 <= longitude <= 180.0
                and 0.0 <= accuracy < math.inf
                and (mileage is None or 0.0 <= mileage < math.inf)
                and (now is None or time <= now + MAX_AHEAD_S)
            ):  # ``_trip_fix``'s cases without an end, a start or a thinning to tell
                still_since = self._still_since
                if speed >= self.moving_speed:  # the trip goes on at speed
                    taken = still_since is None and len(open_trip.points) < OPEN_TRACK_LIMIT
                else:  # standing on (at a red light)
                    still_at = self._still_at
                    taken = (
                        still_since is not None
                        and still_at is not None
                        and time - still_since < self.stop_time
                        and _within(
                            still_at, latitude, longitude, max(STILL_RADIUS_M, 2 * accuracy)
                        )
                    )
                if taken:
                    self._in_order(time, now, late)
                    if ignition is not None and not (ignition and self._ignition_on_in_trip):
                        self._note_ignition(ignition, time)  # else it would change nothing
                    point = _new_point(TrackPoint, (time, latitude, longitude, speed))
                    if still_since is None:
                        open_trip.extend(point, self.moving_speed)
                    else:
                        self._last_still = point
                    if mileage is not None:
                        open_trip.mileage(time, mileage)
                    return []
        elif not (
            (parked := self._parked) is None
            or self._parked_point is None
            or newest is None
            or not newest < time < math.inf
            or not valid
            or not (-90.0 <= latitude <= 90.0 and -180.0 <= longitude <= 180.0)
            or not 0.0 <= accuracy < math.inf
            or (speed is not None and not 0.0 <= speed < math.inf)
            or (mileage is not None and not 0.0 <= mileage < math.inf)
            or (now is not None and time > now + MAX_AHEAD_S)
            or (ignition is True and speed is not None and speed >= self.moving_speed)
            or (self._trips and self._trips[-1].end_reason == "gap" and self._uploading_gap())
            or not _within(parked, latitude, longitude, max(START_RADIUS_M, 2 * accuracy))
        ):
            self._in_order(time, now, late)
            if ignition or (ignition is not None and self._ignition_on_in_trip):
                self._note_ignition(ignition, time)  # else it would change nothing
            self._parked_point = _new_point(TrackPoint, (time, latitude, longitude, speed))
            if mileage is not None:
                self._last_mileage = (time, mileage)
            return []
        fix = Fix(time, latitude, longitude, speed, ignition, valid, accuracy, mileage, late=late)
        return self._add(fix, now)

    def _in_order(self, time: float, now: float | None, late: bool) -> None:
        """A sane fix taken by its figures, newer than every other (``add_values``): the
        newest, the last fix and the clock's skew (``now``: when it arrived)."""
        self._newest = self._last_fix = time
        if now is not None and not late and math.isfinite(now):
            self._skew = now - time

    def _add(self, fix: Fix, now: float | None) -> list[TripEvent]:
        """``add`` in full: every rule."""
        time = fix.time
        if not math.isfinite(time) or (now is not None and time > now + MAX_AHEAD_S):
            return []
        fix = sane_fix(fix)
        newest = self._newest
        if newest is not None and time <= newest:
            return self._place_late(fix) if time < newest else []
        self._newest = time
        if now is not None and math.isfinite(now) and not fix.late:
            self._skew = now - time  # a kept fix's age is its delay, not the clock's
        if fix.ignition is not None:
            self._note_ignition(fix.ignition, time)
        if not fix.usable:
            return []
        try:
            if self._open is not None:
                return self._trip_fix(fix, self._open)
            if self._trips and self._uploading_gap():
                extended = self._extend_gap_trip(fix)
                if extended is not None:
                    self._parked, self._parked_point = fix.position, to_point(fix)
                    return [extended]
            return self._parked_fix(fix)
        finally:
            self._last_fix = time

    def tick(self, now: float) -> list[TripEvent]:
        """Confirm by time a stop, ignition off or a coverage gap (``now``: server time)."""
        trip = self._open
        if trip is None:
            return []
        time = now - self._skew
        if self._still_since is not None and time - self._still_since >= self.stop_time:
            return self._finish(self._still_since, "stopped")
        if (
            self._ignition_off_since is not None
            and time - self._ignition_off_since >= IGNITION_OFF_S
        ):
            return self._finish(self._stopped_at(trip), "ignition")
        if self._last_fix is not None and time - self._last_fix >= self.gap_time:
            return self._finish(self._stopped_at(trip), "gap")
        return []

    # Rules

    def _note_ignition(self, ignition: bool, time: float) -> None:
        """Follow the ignition (it counts once it was seen on)."""
        if ignition:
            self.wired = True
            self._ignition_off_since = None
            if self._open is not None:
                self._ignition_on_in_trip = True
        elif self.wired and self._ignition_on_in_trip and self._ignition_off_since is None:
            self._ignition_off_since = time

    def _parked_fix(self, fix: Fix) -> list[TripEvent]:
        """A valid fix while parked: does the vehicle leave?"""
        point = TrackPoint(fix.time, fix.latitude, fix.longitude, fix.speed_kmh)
        parked = self._parked
        if parked is None or self._parked_point is None:
            self._parked, self._parked_point = fix.position, point
            if self._origin is None:
                self._origin = (fix.time, fix.position)
            if fix.mileage_km is not None:
                self._last_mileage = (fix.time, fix.mileage_km)
            return []
        speed = fix.speed_kmh
        fast = speed is not None and speed >= self.moving_speed
        accuracy = fix.accuracy_m
        away = km_between(parked, point) * 1000 > max(2 * accuracy, START_RADIUS_M)
        if not away and not (fast and self.wired and fix.ignition is True):
            self._parked_point = point
            if fix.mileage_km is not None:
                self._last_mileage = (fix.time, fix.mileage_km)
            return []
        before = self._parked_point
        trip = OpenTrip(start=fix.time, start_position=parked, by_ignition=not away)
        if fix.time - before.time <= self.stop_time:
            trip.start = before.time
            trip.extend(before, self.moving_speed)
        else:  # parked long ago, no fix since: the trip starts here, from there
            trip.distance_km = km_between(parked, point)
        trip.extend(point, self.moving_speed)
        if self._last_mileage is not None:
            trip.mileage(*self._last_mileage)
        trip.mileage(fix.time, fix.mileage_km)
        self._open = trip
        self._ignition_on_in_trip = fix.ignition is True
        self._ignition_off_since = None
        self._still_since = self._still_at = self._last_still = None
        if not fast:
            self._still_since, self._still_at, self._last_still = fix.time, fix.position, point
        return self._confirm()

    def _trip_fix(self, fix: Fix, trip: OpenTrip) -> list[TripEvent]:
        """A valid in-order fix during ``trip`` (the trip in progress)."""
        if self._last_fix is not None and fix.time - self._last_fix >= self.gap_time:
            return self._finish(self._stopped_at(trip), "gap") + self._parked_fix(fix)
        point = to_point(fix)
        speed = fix.speed_kmh
        fast = speed is not None and speed >= self.moving_speed
        if (
            not trip.confirmed
            and not trip.by_ignition
            and not fast
            and km_between(trip.start_position, point) * 1000
            <= max(START_RADIUS_M, 2 * fix.accuracy_m)
        ):  # back where it was parked before it went far: the fix that started it was wild
            self._open = None
            self._still_since = self._still_at = self._last_still = None
            self._ignition_on_in_trip = False
            self._ignition_off_since = None
            self._parked_point = point
            return []
        radius = max(STILL_RADIUS_M, 2 * fix.accuracy_m)
        reference = self._still_at or trip.points[-1]
        moving = fast or km_between(reference, point) * 1000 > radius
        if moving:
            last_still = self._last_still
            if last_still is not None and last_still.time > trip.points[-1].time:
                trip.extend(last_still, self.moving_speed)  # the wait ends here
            self._still_since = self._still_at = self._last_still = None
            trip.extend(point, self.moving_speed)
        elif self._still_since is None:
            self._still_since, self._still_at, self._last_still = fix.time, fix.position, point
            trip.extend(point, self.moving_speed)
        else:
            self._last_still = point
        trip.mileage(fix.time, fix.mileage_km)
        if self._still_since is not None and fix.time - self._still_since >= self.stop_time:
            return self._finish(self._still_since, "stopped")
        off = self._ignition_off_since
        if off is not None and fix.time - off >= IGNITION_OFF_S:
            return self._finish(self._stopped_at(trip), "ignition")
        if len(trip.points) > OPEN_TRACK_LIMIT:
            trip.simplify(OPEN_TRACK_LIMIT // 2)
        return self._confirm()

    def _stopped_at(self, trip: OpenTrip) -> float:
        """When the vehicle stopped moving: the start of its standing, else its last point."""
        return self._still_since if self._still_since is not None else trip.points[-1].time

    def _confirm(self) -> list[TripEvent]:
        """``TripStarted`` once the trip in progress is more than jitter."""
        trip = self._open
        if trip is None or trip.confirmed or not self._long_enough(trip, trip.points[-1].time):
            return []
        trip.confirmed = True
        return [
            TripStarted(
                trip.snapshot(self._uid(trip.start), trip.points[-1].time, in_progress=True)
            )
        ]

    @staticmethod
    def _long_enough(trip: OpenTrip, end: float) -> bool:
        """True for a trip that is not jitter."""
        return trip.distance_km >= MIN_TRIP_KM and end - trip.start >= MIN_TRIP_S

    def _finish(self, end: float, reason: EndReason) -> list[TripEvent]:
        """End the trip in progress at ``end``; drop it if it was jitter."""
        trip = self._open
        if trip is None:
            return []
        self._open = None
        last = self._last_still or trip.points[-1]
        self._still_since = self._still_at = self._last_still = None
        self._ignition_on_in_trip = False
        self._ignition_off_since = None
        if trip.mileage_end is not None:
            self._last_mileage = trip.mileage_end
        if not trip.confirmed and not self._long_enough(trip, end):
            self._parked, self._parked_point = Position(last.latitude, last.longitude), last
            return []
        uid = self._uid(trip.start)
        events: list[TripEvent] = []
        if not trip.confirmed:
            events.append(TripStarted(trip.snapshot(uid, end, in_progress=True)))
        done = trip.snapshot(uid, end, in_progress=False)
        done = replace(done, track=tuple(simplify_track(done.track)), end_reason=reason)
        self._trips.append(done)
        self._parked, self._parked_point = done.end_position, last
        self._prune()
        events.append(TripEnded(done))
        return events

    def _prune(self) -> None:
        """Keep in memory the trips that ended within ``memory_s`` of the newest fix (at
        most ``memory_trips`` and ``memory_points`` track points, at least the last); the
        others go to the outbox."""
        trips = self._trips
        if not trips:
            return
        newest = self._newest if self._newest is not None else trips[-1].end
        first = max(0, len(trips) - self.memory_trips)
        while first < len(trips) - 1 and trips[first].end < newest - self.memory_s:
            first += 1
        points = sum(len(trip.track) for trip in trips[first:])
        while first < len(trips) - 1 and points > self.memory_points:
            points -= len(trips[first].track)
            first += 1
        if first == 0:
            return
        self._outbox.extend(trips[:first])
        del trips[:first]
        if len(self._outbox) > self.max_trips:  # nobody empties it: beyond the bound anyway
            del self._outbox[: len(self._outbox) - self.max_trips]
        if self.on_archive is not None:
            self.on_archive()

    def _uid(self, start: float) -> str:
        """A stable id for the trip that started at ``start``."""
        return f"{start:.0f}"

    # Late fixes

    def _place_late(self, fix: Fix) -> list[TripEvent]:
        """A fix older than the newest one: into the trip it belongs to, if any."""
        if not fix.usable:
            return []
        point = to_point(fix)
        trip = self._open
        if trip is not None and trip.points and trip.points[0].time < fix.time:
            if trip.insert(point, self.moving_speed):
                trip.mileage(fix.time, fix.mileage_km)
                return self._confirm()
            return []
        index = bisect.bisect_right(self._trips, fix.time, key=lambda t: t.start) - 1
        if index < 0:
            if self._outbox or self.archive.parts:  # it may belong to an archived trip
                self._unplaced.append(fix)
                del self._unplaced[:-MAX_UNPLACED]
                if self.on_unplaced is not None:
                    self.on_unplaced()
            return []
        updated = corrected(
            self._trips[index], fix, self.moving_speed, self.gap_time, self._following(index)
        )
        if updated is None:
            return []
        self._trips[index] = updated
        return [TripUpdated(updated)]

    def _uploading_gap(self) -> bool:
        """True while every fix since the last trip ended by a gap carried it on (the
        tracker uploads what it kept): the first one that did not ends that."""
        return (
            bool(self._trips)
            and self._trips[-1].end_reason == "gap"
            and (self._last_fix is None or self._last_fix <= self._trips[-1].end)
        )

    def _following(self, index: int) -> float | None:
        """The start of the trip after ``self._trips[index]`` (held or in progress)."""
        if 0 <= index < len(self._trips) - 1:
            return self._trips[index + 1].start
        return self._open.start if self._open is not None else None

    def _extend_gap_trip(self, fix: Fix, index: int = -1) -> TripUpdated | None:
        """Carry a gap-ended trip on to ``fix`` if it belongs to its gap, else None."""
        if not self._trips:
            return None
        updated = gap_extended(
            self._trips[index], fix, self.moving_speed, self.gap_time, self._following(index)
        )
        if updated is None:
            return None
        self._trips[index] = updated
        return TripUpdated(updated)

    @classmethod
    def from_dict(cls, data: Any, **options: Any) -> TripDetector:
        """The detector stored by :meth:`as_dict` (``options`` as for the constructor); a
        fresh one for data of another version. Broken parts are dropped, not fatal."""
        detector = cls(**options)
        if not isinstance(data, dict) or data.get("version") not in STORAGE_VERSIONS:
            return detector
        for raw in data.get("trips") or []:
            try:
                detector._trips.append(Trip.from_dict(raw))
            except ValueError, TypeError, KeyError, IndexError:
                continue
        detector._trips.sort(key=lambda trip: trip.start)
        detector.archive = ArchiveIndex.from_dict(data.get("archive"))
        form = data.get("form")
        detector._forms = form if type(form) is int else 0
        try:
            detector._restore_state(data)
        except ValueError, TypeError, KeyError, IndexError:
            detector._open = None
            detector._still_since = detector._still_at = detector._last_still = None
        detector._prune()  # a version-1 store held every trip: the older ones go out
        return detector
