"""The alarm event entity: one event per alarm occurrence (its rising edge)."""

from __future__ import annotations

from typing import Any

from homeassistant.components.event import EventEntity, EventEntityDescription
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import SinotrackEntity
from .runtime import EVENT_TYPES, SinotrackConfigEntry, SinotrackRuntime

PARALLEL_UPDATES = 0

ALARM = EventEntityDescription(key="alarm", translation_key="alarm", event_types=EVENT_TYPES)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SinotrackConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    async_add_entities([SinotrackAlarmEvent(entry.runtime_data, entry.title)])


class SinotrackAlarmEvent(SinotrackEntity, EventEntity):
    """Fires ``sos``, ``power_cut``, ``geofence_enter``... with position, speed and time."""

    def __init__(self, runtime: SinotrackRuntime, name: str) -> None:
        super().__init__(runtime, ALARM, name)

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        self.runtime.set_event_listener(self._handle_alarm)
        self.async_on_remove(lambda: self.runtime.set_event_listener(None))

    @callback
    def _handle_alarm(self, event_type: str, data: dict[str, Any]) -> None:
        self._trigger_event(event_type, data)
        self.async_write_ha_state()
