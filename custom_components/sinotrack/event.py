"""Event entities: one event per alarm occurrence (its rising edge), and the trip event."""

from __future__ import annotations

from homeassistant.components.event import EventEntity, EventEntityDescription
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import SinotrackEntity
from .guard_runtime import GUARD_EVENT_TYPES
from .location_entry import with_address
from .model import EVENT_TYPES, KEY_ALARM, Update
from .model.trip_data import TripEnded, TripEvent, TripStarted
from .runtime import SinotrackConfigEntry, SinotrackRuntime

PARALLEL_UPDATES = 0

ALARM = EventEntityDescription(
    key="alarm", translation_key="alarm", event_types=sorted([*EVENT_TYPES, *GUARD_EVENT_TYPES])
)
TRIP = EventEntityDescription(key="trip", translation_key="trip", event_types=["started", "ended"])


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SinotrackConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the alarm and trip event entities."""
    async_add_entities(
        [
            SinotrackAlarmEvent(entry.runtime_data, entry.title),
            SinotrackTripEvent(entry.runtime_data, entry.title),
        ]
    )


class SinotrackAlarmEvent(SinotrackEntity, EventEntity):
    """Fires ``sos``, ``power_cut``, ``geofence_enter``... with position, speed and time;
    ``guard_triggered`` (with the reason) once per triggering of the guard, and
    ``command_expired`` when a held engine command expired."""

    def __init__(self, runtime: SinotrackRuntime, name: str) -> None:
        super().__init__(runtime, ALARM, name, (KEY_ALARM,))

    @callback
    def _handle_update(self, update: Update) -> None:
        """Fire each alarm event that rose."""
        for event in update.alarms:
            self._trigger_event(event.type, with_address(self.hass, dict(event.data)))
            self.async_write_ha_state()


class SinotrackTripEvent(SinotrackEntity, EventEntity):
    """Fires ``started`` (a trip covered 200 m and a minute) and ``ended``, with its figures."""

    def __init__(self, runtime: SinotrackRuntime, name: str) -> None:
        super().__init__(runtime, TRIP, name, ())

    async def async_added_to_hass(self) -> None:
        """Follow the trip log."""
        await super().async_added_to_hass()
        self.async_on_remove(self.runtime.trips.subscribe(self._trips_changed))

    @callback
    def _trips_changed(self, events: list[TripEvent]) -> None:
        """Fire each trip that started or ended (a correction fires nothing)."""
        for event in events:
            if isinstance(event, TripStarted | TripEnded):
                kind = "started" if isinstance(event, TripStarted) else "ended"
                self._trigger_event(kind, self.runtime.trips.event_data(event.trip))
                self.async_write_ha_state()
