"""The trip calendar: one event per trip, the trip in progress as the current event.

The calendar panel and calendar cards read the events of a window on demand (the archived
trips from storage, kept no longer than the read); the entity's
state (on while a trip is in progress) is written when a trip starts, ends or is corrected.
"""

from __future__ import annotations

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

PARALLEL_UPDATES = 0
IN_PROGRESS_AHEAD_S = 60.0
"""The trip in progress ends, for the calendar, this long after now (then again: the
calendar entity rewrites its state when its current event ends)."""

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

    async def async_added_to_hass(self) -> None:
        """Follow the trip log: a trip event rewrites the state."""
        await super().async_added_to_hass()
        self.async_on_remove(self.runtime.trips.subscribe(self._trips_changed))

    @callback
    def _trips_changed(self, events: list[TripEvent]) -> None:
        """A trip started, ended or was corrected."""
        if events:
            self.async_write_ha_state()

    def _event(self, trip: Trip) -> CalendarEvent:
        """A trip as a calendar event."""
        log = self.runtime.trips
        end = trip.end if trip.end > trip.start else trip.start + 1
        if trip.in_progress:  # the current event: it lasts until a minute from now
            end = max(end, dt_util.utcnow().timestamp()) + IN_PROGRESS_AHEAD_S
        lines = [
            f"Duration: {_duration(trip.duration_s)}",
            f"Distance: {trip.distance_km:.1f} km",
            f"Max speed: {trip.max_speed_kmh:.0f} km/h",
            f"Average speed: {trip.avg_speed_kmh:.0f} km/h",
            f"From: {log.place(trip.start_position)}",
            f"To: {log.place(trip.end_position)}",
        ]
        if trip.in_progress:
            lines.insert(0, "In progress")
        return CalendarEvent(
            start=_time(trip.start),
            end=_time(end),
            summary=log.summary(trip),
            description="\n".join(lines),
            location=log.place(trip.end_position),
            uid=trip.uid,
        )

    @property
    def event(self) -> CalendarEvent | None:
        """The trip in progress, if any."""
        current = self.runtime.trips.detector.current
        return self._event(current) if current is not None else None

    async def async_get_events(
        self, hass: HomeAssistant, start_date: datetime, end_date: datetime
    ) -> list[CalendarEvent]:
        """The trips overlapping the window, the one in progress included (the archived
        ones read from storage for this call)."""
        trips, _stops = await self.runtime.trips.async_history(
            start_date.timestamp(), (end_date + timedelta(microseconds=1)).timestamp()
        )
        return [self._event(trip) for trip in trips]
