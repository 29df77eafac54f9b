"""One tracker's trip log in Home Assistant: trip detection fed, stored and shown in zones.

The runtime hands it every frame's messages (with the server's receive time, the late
ones too) and its tick; the detector (``model.trips``, no Home Assistant) says which trips
started, ended or were corrected. The trip log keeps the detector in its own store
(``sinotrack.<entry id>.trips``), tells its listeners (the calendar, the trip event, the
trip sensors) and maps positions to Home Assistant zones when they are shown.

The detector holds only the recent trips (``model.trips``: two days, at most
``MEMORY_TRIPS``); the older ones are in the archive, one store per calendar month
(``sinotrack.<entry id>.trips.<YYYY-MM>``, ``model.trip_archive``), its index in the main
store. The calendar and ``get_trips`` read the parts a window needs on demand and keep
nothing; a save rewrites the main store (the recent trips) and, when trips leave memory,
the part of their month. A late fix for an archived trip corrects it there.

Its own rules:

* The detector is saved whole (its store) at once after a trip event and at the stop.
  Between trip events only the trip in progress and the bookkeeping change, with every
  fix: that part (``progress``: the trip's track points since the last whole save, not
  its whole track) is saved in a store of its own (``sinotrack.<entry id>.trip_progress``)
  ``PROGRESS_SAVE_S`` after a fix of a trip (not postponed by the next ones; a parked
  tracker's fixes change nothing worth a write: the whole form of the trip's end, or of
  the stop, holds the place), and on loading it is
  put back over the whole form it follows (``TripDetector.restore_progress``): a crash
  loses at most that much of the way, and the trip goes on from there. When the trip in
  progress has ``TAIL_POINTS`` points since the last whole save, the detector is saved
  whole again. A tick without an event changes nothing to save.
* Archive writes and late corrections run one at a time (``_archive_lock``); a part is
  saved before the main store stops holding its trips, so a crash loses none. Late
  corrections start at most once every ``LATE_INTERVAL`` seconds (the fixes wait for the
  next one): a tracker that keeps sending fixes older than memory costs at most one part
  read and write per interval.
* Zones are looked up when a trip is shown (calendar, action, event): a zone created or
  moved later applies to the trips before it too.
* Listeners are told of trip events (and once, when "parked since" becomes known). Those
  that show the trip in progress ("distance today", "current trip distance") are also told
  of its progress: at most once every ``PROGRESS_INTERVAL`` seconds of server time, when
  it went at least ``PROGRESS_STEP_KM`` further since they were last told (the recorder
  keeps every write; the sensors show 0.1 km). A parked tracker's fixes, other fixes of a
  trip, and messages without a position tell nobody.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterable
from datetime import datetime, tzinfo
import math
from typing import Any, Final

from homeassistant.components.zone import async_active_zone
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_call_later
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .const import DOMAIN, LOGGER
from .location_entry import async_place_name, place_name
from .model.trip_archive import (
    ArchiveIndex,
    part_data,
    part_key,
    part_trips,
)
from .model.trip_data import (
    Position,
    Stop,
    Trip,
    TripEnded,
    TripEvent,
    TripStarted,
    TripUpdated,
)
from .model.trip_export import trip_dict
from .model.trip_feed import day_window, read_fix
from .model.trips import TripDetector
from .protocol import Message, message as p
from .subscription import Subscription

STORAGE_VERSION: Final = 1
TAIL_POINTS: Final = 180
"""Track points of the trip in progress since the last whole save (half an hour at a
report every 10 s) after which it is saved whole again: the progress saved between
stays small."""
PROGRESS_SAVE_S: Final = 300.0
"""Seconds after a fix within which the trip in progress and the bookkeeping are saved
(each save encodes and writes the points since the last whole save: once every five
minutes, not with every state save, keeps that cheap while driving)."""
LATE_INTERVAL: Final = 30.0
"""Seconds between the starts of two corrections of archived trips."""
PROGRESS_INTERVAL: Final = 60.0
"""Seconds (server time) between two progress reports of the trip in progress."""
PROGRESS_STEP_KM: Final = 0.1
"""Km the trip in progress goes further before its progress is reported again."""
DEFAULT_STOP_TIME_MIN: Final = 5
"""Minutes standing still that end a trip (the "stop time" option's default)."""

_EVENTS: Final = "events"
_PROGRESS: Final = "progress"
_NEW_DAY: Final = "new day"
_EVENTS_ONLY: Final = frozenset({_EVENTS})
_EVENTS_AND_PROGRESS: Final = frozenset({_EVENTS, _PROGRESS})
_NEW_DAY_ONLY: Final = frozenset({_NEW_DAY})

type TripListener = Callable[[list[TripEvent]], None]
"""Called with the events a frame or tick caused, when it may change what entities show."""


def _trip_store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, Any]]:
    """The store of an entry's trip log."""
    return Store(hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}.trips")


def _progress_store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, Any]]:
    """The store of an entry's trip in progress (the detector's ``progress_dict``)."""
    return Store(hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}.trip_progress")


def _part_store(hass: HomeAssistant, entry_id: str, key: str) -> Store[dict[str, Any]]:
    """The store of one part (calendar month ``key``) of an entry's trip archive."""
    return Store(hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}.trips.{key}")


async def async_remove_trip_store(hass: HomeAssistant, entry_id: str) -> None:
    """Delete the stored trips of an entry, every archive part and the trip in progress
    too (the entry is deleted)."""
    await _progress_store(hass, entry_id).async_remove()
    store = _trip_store(hass, entry_id)
    data = await store.async_load()
    index = ArchiveIndex.from_dict(data.get("archive") if isinstance(data, dict) else None)
    for key in index.parts:
        await _part_store(hass, entry_id, key).async_remove()
    await store.async_remove()


def trip_summary(origin: str, destination: str, km: float) -> str:
    """A trip in one line from its places and distance: "Home -> Work, 12.4 km"."""
    return f"{origin} -> {destination}, {km:.1f} km"


class TripLog:
    """The trips of one tracker, fed by its runtime."""

    def __init__(self, hass: HomeAssistant, entry_id: str, ident: str) -> None:
        self.hass = hass
        self.ident = ident
        self._entry_id = entry_id
        self.detector = TripDetector()
        self._store = _trip_store(hass, entry_id)
        self._progress_store = _progress_store(hass, entry_id)
        self._unsub_progress: CALLBACK_TYPE | None = None
        """The planned save of the progress, if any."""
        self._archive_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._pending: set[str] = set()
        """The archive jobs planned and not started ("archive", "late")."""
        self._late_after = -math.inf
        """Time (epoch) before which no late correction starts."""
        self._unsub_late: CALLBACK_TYPE | None = None
        self._attach()
        self._listeners: list[Subscription[TripListener]] = []
        """Keys: ``_EVENTS`` (trip events), ``_PROGRESS`` (also the trip's progress),
        ``_NEW_DAY`` (local midnight)."""
        self._finished_today: tuple[float, float] | None = None
        """(local midnight, km of the finished trips since): read after every fix."""
        self._today: tuple[tzinfo, float, float, datetime] | None = None
        self._before_midnight: tuple[float, float, float] | None = None
        """(local midnight, start of the trip in progress, its km before midnight)."""
        self._parked_since_told: float | None = None
        """``parked_since`` when the listeners were last called."""
        self._progress_told = (0.0, -math.inf)
        """(km of the trip in progress, server time) when the progress listeners were last
        called."""
        self._whole_planned = False
        """A whole save is planned (the detector is read when it is written)."""
        self._frame: tuple[datetime, float] | None = None
        """The receive time of the frame being fed (and its epoch seconds): the clock its
        listeners read, once per frame."""

    # -- options and lifecycle ------------------------------------------------------------

    def set_stop_time(self, minutes: float) -> None:
        """The "stop time" option: minutes standing still that end a trip."""
        self.detector.stop_time = float(minutes) * 60.0

    async def async_load(self) -> None:
        """Restore the trips and the trip in progress saved before the last stop (or
        before a crash: the last progress saved, when it is newer than the whole form)."""
        data = await self._store.async_load()
        progress = await self._progress_store.async_load()
        if data:
            stop_time = self.detector.stop_time
            self.detector = TripDetector.from_dict(data, stop_time=stop_time)
            self._attach()
        self.detector.restore_progress(progress)
        if data and self.detector.archive_due():  # a version-1 store: older trips move out
            await self._async_archive()

    def progress(self) -> dict[str, Any]:
        """The trip in progress and the detector's bookkeeping, JSON-able, for its store
        (see the module's rules)."""
        return self.detector.progress_dict()

    @callback
    def _save_progress(self, _now: datetime) -> None:
        """The planned save of the progress is due."""
        self._unsub_progress = None
        self._progress_store.async_delay_save(self.progress, 0)

    async def async_stop(self) -> None:
        """Save now (Home Assistant stops or the entry unloads), archive jobs done first."""
        if self._unsub_progress is not None:  # the whole form saved now holds it
            self._unsub_progress()
            self._unsub_progress = None
        if self._unsub_late is not None:
            self._unsub_late()
            self._unsub_late = None
            self._plan("late", self._async_place_late)  # the fixes waiting: placed now
        while self._tasks:
            await asyncio.gather(*self._tasks)
        await self._store.async_save(self.detector.as_dict())

    # -- the archive ----------------------------------------------------------------------

    def _attach(self) -> None:
        """Let the detector hand over what it does not keep in memory."""
        self.detector.on_archive = lambda: self._plan("archive", self._async_archive)
        self.detector.on_unplaced = self._late_due

    @callback
    def _late_due(self, now: datetime | None = None) -> None:
        """Late fixes wait for an archived trip: correct it now, or once ``LATE_INTERVAL``
        has passed since the last correction started (``now``: the wait is over)."""
        clock = dt_util.utcnow().timestamp()
        if now is not None:
            self._unsub_late = None
        elif self._unsub_late is not None:
            return  # a correction is planned already
        elif clock < self._late_after:
            wait = self._late_after - clock
            self._unsub_late = async_call_later(self.hass, wait, self._late_due)
            return
        self._late_after = clock + LATE_INTERVAL
        self._plan("late", self._async_place_late)

    def _plan(self, job: str, run: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run an archive job soon (once, however often it is asked for before it starts)."""
        if job in self._pending:
            return
        self._pending.add(job)

        async def started() -> None:
            self._pending.discard(job)
            await run()

        task = self.hass.async_create_task(started(), f"{DOMAIN} {self.ident} trip {job}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _part(self, key: str) -> Store[dict[str, Any]]:
        """The store of archive part ``key``."""
        return _part_store(self.hass, self._entry_id, key)

    async def _async_archive(self) -> None:
        """Write the trips that left memory to their parts, then drop the parts beyond the
        bound, then save the main store without them."""
        async with self._archive_lock:
            detector = self.detector
            due = detector.archive_due()
            if not due:
                return
            index = detector.archive
            keys = {part_key(trip.start) for trip in due}
            stored = {key: part_trips(await self._part(key).async_load()) for key in keys}
            for key, trips in index.written(due, stored).items():
                await self._part(key).async_save(part_data(trips))
            detector.archived(due)
            for key in detector.bounded():
                await self._part(key).async_remove()
            self._save_whole()

    async def _async_place_late(self) -> None:
        """Correct the archived trips that late fixes older than memory belong to."""
        async with self._archive_lock:
            detector = self.detector
            index = detector.archive
            events: list[TripEvent] = []
            parts: dict[str, list[Trip]] = {}
            changed: set[str] = set()
            for fix in detector.take_unplaced():
                key = index.key_for_late(fix.time, detector.gap_time)
                if key is None:
                    continue  # within a stop
                if key not in parts:
                    parts[key] = part_trips(await self._part(key).async_load())
                updated = detector.correct_archived(key, parts[key], fix)
                if updated is not None:
                    changed.add(key)
                    events.append(TripUpdated(updated))
            for key in sorted(changed):
                await self._part(key).async_save(part_data(parts[key]))
                index.note(key, parts[key])
            if events:
                self._save_whole()
                self._tell(_EVENTS, events)

    async def async_history(
        self, start: float, end: float, *, include_current: bool = True
    ) -> tuple[list[Trip], list[Stop]]:
        """The trips (and the one in progress) and the stops overlapping [start, end),
        archived ones read from their parts (kept no longer than this call)."""
        parts = {
            key: part_trips(await self._part(key).async_load())
            for key in self.detector.archive.keys_between(start, end)
        }
        detector = self.detector  # the same, unless it was reloaded meanwhile
        trips, stops = detector.history(parts, start, end)
        current = detector.current if include_current else None
        if current is not None and current.start < end and current.end >= start:
            trips.append(current)
        return trips, stops

    # -- input ----------------------------------------------------------------------------

    @callback
    def feed(self, messages: Iterable[Message], now: datetime) -> None:
        """The messages of one frame, received at server time ``now`` (those without a
        position are passed over at once)."""
        received: float | None = None
        events: list[TripEvent] | None = None
        add = self.detector.add_values
        for message in messages:
            if p.LATITUDE not in message:
                continue
            if received is None:
                received = now.timestamp()
            found = read_fix(message, received, add)
            if found is None:
                continue
            if events is None:
                events = found
            else:
                events.extend(found)
        if events is None or received is None:
            return
        self._frame = (now, received)
        try:
            if events:
                self._changed(events)
            else:
                self._went_on(received)
        finally:
            self._frame = None

    @callback
    def tick(self, now: datetime) -> None:
        """Time passed: a stop, ignition off or a coverage gap may end the trip."""
        events = self.detector.tick(now.timestamp())
        if events:  # without one, nothing to save or show changed
            self._changed(events)

    def _went_on(self, now: float) -> None:
        """A frame's fixes caused no trip event (server time ``now``): tell the progress
        listeners when a report of the trip in progress is due (see the module's rules),
        or every listener when "parked since" became known."""
        detector = self.detector
        km = detector.current_km
        if km is not None:  # a trip in progress went on
            self._plan_progress_save()
            if detector.tail_points >= TAIL_POINTS and not self._whole_planned:
                self._save_whole()
            told_km, told_at = self._progress_told
            if now - told_at >= PROGRESS_INTERVAL and abs(km - told_km) >= PROGRESS_STEP_KM:
                self._progress_told = (km, now)
                self._tell(_PROGRESS, [])
            return
        parked_since = detector.parked_since
        if parked_since is not None and parked_since != self._parked_since_told:
            self._parked_since_told = parked_since  # known from the first fix on
            self._tell(_EVENTS, [])

    def _changed(self, events: list[TripEvent]) -> None:
        """Trips started, ended or changed: save now and tell every listener."""
        self._save_whole()
        detector = self.detector
        self._finished_today = self._before_midnight = None
        for event in events:
            if isinstance(event, TripStarted | TripEnded):
                trip = event.trip
                self._look_up_places(
                    [trip.start_position]
                    if isinstance(event, TripStarted)
                    else [trip.start_position, trip.end_position]
                )
                LOGGER.info(
                    "%s: trip %s (%.1f km)",
                    self.ident,
                    "started" if isinstance(event, TripStarted) else "ended",
                    event.trip.distance_km,
                )
        self._parked_since_told = detector.parked_since
        km = detector.current_km
        if km is not None:
            self._plan_progress_save()
        self._progress_told = (km or 0.0, self._timestamp())
        self._tell(_EVENTS, events)

    def _plan_progress_save(self) -> None:
        """A fix of the trip in progress: its progress is saved ``PROGRESS_SAVE_S`` from
        now, unless a save is planned already (the next fixes do not postpone it)."""
        if self._unsub_progress is None:
            self._unsub_progress = async_call_later(self.hass, PROGRESS_SAVE_S, self._save_progress)

    def _save_whole(self) -> None:
        """Save the whole detector soon (read when it is written)."""
        self._whole_planned = True
        self._store.async_delay_save(self._whole, 0)

    def _whole(self) -> dict[str, Any]:
        """The whole detector, for its store."""
        self._whole_planned = False
        return self.detector.as_dict()

    def _tell(self, key: str, events: list[TripEvent]) -> None:
        """Call the listeners subscribed to ``key`` with ``events``."""
        for subscription in list(self._listeners):
            if key in subscription.keys:
                try:
                    subscription.subscriber(events)
                except Exception:  # noqa: BLE001 - one failing entity does not stop the others
                    LOGGER.exception("%s: a trip listener failed", self.ident)

    # -- output ---------------------------------------------------------------------------

    @callback
    def subscribe(self, listener: TripListener, *, progress: bool = False) -> CALLBACK_TYPE:
        """Call ``listener(events)`` after every frame or tick with a trip event, and when
        "parked since" becomes known (the first fix); with ``progress`` also with the
        progress of a trip in progress (no events; see the module's rules). Returns the
        unsubscribe."""
        keys = _EVENTS_AND_PROGRESS if progress else _EVENTS_ONLY
        return Subscription(keys, listener, self._listeners)

    @callback
    def subscribe_new_day(self, listener: TripListener) -> CALLBACK_TYPE:
        """Call ``listener([])`` at local midnight (``new_day``). Returns the unsubscribe."""
        return Subscription(_NEW_DAY_ONLY, listener, self._listeners)

    @callback
    def new_day(self) -> None:
        """Local midnight: the "today" figures start again."""
        self._finished_today = self._before_midnight = None
        self._tell(_NEW_DAY, [])

    def zone(self, position: Position) -> tuple[str | None, str | None]:
        """The Home Assistant zone at ``position``: its name and entity ID (or None)."""
        state = async_active_zone(self.hass, position.latitude, position.longitude)
        if state is None:
            return None, None
        return state.name, state.entity_id

    def place(self, position: Position) -> str:
        """A zone's name, else the place's address when the Location services know it
        already (never waits), else the coordinates (4 decimals: about 10 m)."""
        name = place_name(self.hass, position.latitude, position.longitude)
        return name or f"{position.latitude:.4f}, {position.longitude:.4f}"

    def _look_up_places(self, positions: Iterable[Position]) -> None:
        """Ask the Location services for the addresses of ``positions`` in the background
        (rate limited there), so that the calendar and later events name the places."""
        for position in positions:
            if place_name(self.hass, position.latitude, position.longitude) is None:
                self.hass.async_create_background_task(
                    async_place_name(self.hass, position.latitude, position.longitude),
                    f"{DOMAIN} {self.ident} place name",
                )

    def summary(self, trip: Trip) -> str:
        """A trip in one line: "Home -> Work, 12.4 km"."""
        return trip_summary(
            self.place(trip.start_position), self.place(trip.end_position), trip.distance_km
        )

    def event_data(self, trip: Trip) -> dict[str, Any]:
        """The trip's figures for an event (its track left out: events are recorded)."""
        data = trip_dict(trip, tz=dt_util.get_default_time_zone(), zone=self.zone)
        del data["track"]
        data["moving_s"] = round(trip.moving_s)
        data["in_progress"] = trip.in_progress
        data["summary"] = self.summary(trip)
        return data

    def distance_today(self) -> float:
        """Km driven since local midnight: the finished trips' part (kept until a trip
        event or the next day) and the trip in progress (for one that started before
        midnight, its way since: its part before midnight is measured once)."""
        start, end = self.today()
        detector = self.detector
        current_km = detector.current_km or 0.0
        current_start = detector.current_start
        if current_start is not None and current_start < start:  # a trip across midnight
            before = self._before_midnight
            if before is None or before[0] != start or before[1] != current_start:
                km = current_km - detector.distance_between(start, end)
                before = self._before_midnight = (start, current_start, km)
            return max(0.0, current_km - before[2])
        finished = self._finished_today
        if finished is None or finished[0] != start:
            km = detector.distance_between(start, end) - current_km
            finished = self._finished_today = (start, km)
        return finished[1] + current_km

    def today(self) -> tuple[float, float]:
        """Local midnight to midnight of today (epoch seconds; kept until it is over or the
        time zone changes: it is read after every fix)."""
        kept = self._kept_today()
        return kept[1], kept[2]

    def midnight(self) -> datetime:
        """Today's local midnight (the daily sensors' ``last_reset``)."""
        return self._kept_today()[3]

    def utcnow(self) -> datetime:
        """The time now: the receive time of the frame being fed, if any (read once)."""
        return self._frame[0] if self._frame is not None else dt_util.utcnow()

    def _timestamp(self) -> float:
        """``utcnow`` in epoch seconds."""
        return self._frame[1] if self._frame is not None else dt_util.utcnow().timestamp()

    def _kept_today(self) -> tuple[tzinfo, float, float, datetime]:
        """(time zone, today's start and end in epoch seconds, its start as a time)."""
        now = self._timestamp()
        zone = dt_util.get_default_time_zone()
        kept = self._today
        if kept is None or kept[0] is not zone or not kept[1] <= now < kept[2]:
            start, end = day_window(dt_util.as_local(self.utcnow()))
            kept = self._today = (zone, start, end, datetime.fromtimestamp(start, zone))
        return kept
