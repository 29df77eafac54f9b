"""The trip calendar: one event per trip, the trip in progress as the current event.

The calendar panel and calendar cards read the events of a window on demand (the archived
trips from storage, kept no longer than the read); the entity's
state (on while a trip is in progress) is written when a trip starts, ends or is corrected.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

from homeassistant.components.calendar import (
    CalendarEntity,
    CalendarEntityDescription,
    CalendarEvent,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from .entity import SinotrackEntity
from .model.trip_data import Trip, TripEvent
from .runtime import SinotrackConfigEntry, SinotrackRuntime
from .trip_log import trip_summary

PARALLEL_UPDATES = 0
IN_PROGRESS_AHEAD_S = 300.0
"""The trip in progress ends, for the calendar, this long after now (then again: the
calendar entity rewrites its state when its current event ends). Its live figures are the
trip sensors'; the calendar's state is rewritten every five minutes of a trip, not every
minute (each rewrite is a state write and Home Assistant's own event handling)."""

TRIPS = CalendarEntityDescription(key="trips", translation_key="trips")


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SinotrackConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the trip calendar."""
    async_add_entities([SinotrackTripCalendar(entry.runtime_data, entry.title)])


def _time(epoch: float) -> datetime:
    """An epoch time in the local zone."""
    return dt_util.as_local(datetime.fromtimestamp(epoch, UTC))


def _duration(seconds: float) -> str:
    """``1 h 05 min`` or ``12 min``."""
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


class SinotrackTripCalendar(SinotrackEntity, CalendarEntity):
    """The tracker's trips as calendar events."""

    entity_description: CalendarEntityDescription

    def __init__(self, runtime: SinotrackRuntime, name: str) -> None:
        super().__init__(runtime, TRIPS, name, ())
        self._current: tuple[tuple[float, float | None, float | None, int], CalendarEvent] | None
        self._current = None
        """The current event and what it was made of (see ``event``)."""

    async def async_added_to_hass(self) -> None:
        """Follow the trip log: a trip event rewrites the state."""
        await super().async_added_to_hass()
        self.async_on_remove(self.runtime.trips.subscribe(self._trips_changed))

    @callback
    def _trips_changed(self, events: list[TripEvent]) -> None:
        """A trip started, ended or was corrected."""
        if events:
            self.async_write_ha_state()

    def _event(
        self, trip: Trip, now: float | None = None, like: CalendarEvent | None = None
    ) -> CalendarEvent:
        """A trip as a calendar event (``now``: the time, for the trip in progress). With
        ``like``, an event of the same trip made before, a copy of it with the new figures
        (its fields of the same kinds, the end after the start: what Home Assistant's
        validation, the costly part of a new event, checked on it already)."""
        log = self.runtime.trips
        end = trip.end if trip.end > trip.start else trip.start + 1
        if trip.in_progress:  # the current event: it lasts until 5 minutes from now
            now = dt_util.utcnow().timestamp() if now is None else now
            end = max(end, now) + IN_PROGRESS_AHEAD_S
        origin, destination = log.place(trip.start_position), log.place(trip.end_position)
        lines = [
            f"Duration: {_duration(trip.duration_s)}",
            f"Distance: {trip.distance_km:.1f} km",
            f"Max speed: {trip.max_speed_kmh:.0f} km/h",
            f"Average speed: {trip.avg_speed_kmh:.0f} km/h",
            f"From: {origin}",
            f"To: {destination}",
        ]
        if trip.in_progress:
            lines.insert(0, "In progress")
        summary = trip_summary(origin, destination, trip.distance_km)
        start, description = _time(trip.start), "\n".join(lines)
        if like is not None and like.uid == trip.uid and like.start == start:
            event = copy.copy(like)
            event.end, event.summary = _time(end), summary
            event.description, event.location = description, destination
            return event
        return CalendarEvent(
            start=start,
            end=_time(end),
            summary=summary,
            description=description,
            location=destination,
            uid=trip.uid,
        )

    @property
    def event(self) -> CalendarEvent | None:
        """The trip in progress, if any: made once for the same trip, way and second
        (Home Assistant reads it three times a write)."""
        detector = self.runtime.trips.detector
        start, km = detector.current_start, detector.current_km
        if start is None:
            return None
        now = dt_util.utcnow().timestamp()
        key = (start, km, detector.newest, int(now))
        kept = self._current
        if kept is None or kept[0] != key:
            trip = detector.current_outline()
            if trip is None:
                return None
            like = kept[1] if kept is not None else None
            kept = self._current = (key, self._event(trip, now, like))
        return kept[1]

    async def async_get_events(
        self, hass: HomeAssistant, start_date: datetime, end_date: datetime
    ) -> list[CalendarEvent]:
        """The trips overlapping the window, the one in progress included (the archived
        ones read from storage for this call)."""
        trips, _stops = await self.runtime.trips.async_history(
            start_date.timestamp(), (end_date + timedelta(microseconds=1)).timestamp()
        )
        return [self._event(trip) for trip in trips]
