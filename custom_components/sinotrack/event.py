"""The alarm event entity: one event per alarm occurrence (its rising edge)."""

from __future__ import annotations

from homeassistant.components.event import EventEntity, EventEntityDescription
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import SinotrackEntity
from .location_entry import with_address
from .model import EVENT_TYPES, KEY_ALARM, Update
from .runtime import SinotrackConfigEntry, SinotrackRuntime

PARALLEL_UPDATES = 0

ALARM = EventEntityDescription(key="alarm", translation_key="alarm", event_types=EVENT_TYPES)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SinotrackConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the alarm event entity."""
    async_add_entities([SinotrackAlarmEvent(entry.runtime_data, entry.title)])


class SinotrackAlarmEvent(SinotrackEntity, EventEntity):
    """Fires ``sos``, ``power_cut``, ``geofence_enter``... with position, speed and time."""

    def __init__(self, runtime: SinotrackRuntime, name: str) -> None:
        super().__init__(runtime, ALARM, name, (KEY_ALARM,))

    @callback
    def _handle_update(self, update: Update) -> None:
        """Fire each alarm event that rose."""
        for event in update.alarms:
            self._trigger_event(event.type, with_address(self.hass, dict(event.data)))
            self.async_write_ha_state()
