"""The tracker's position on the map, with the time of its fix."""

from __future__ import annotations

from typing import Any

from homeassistant.components.device_tracker import SourceType, TrackerEntity
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import SinotrackEntity
from .model import KEY_CELL_POSITION, KEY_POSITION
from .protocol import message as p
from .runtime import SinotrackConfigEntry, SinotrackRuntime

PARALLEL_UPDATES = 0

ATTR_FIX_TIME = "fix_time"
"""Device time (ISO 8601, UTC) of the fix of the position shown."""
FIX_ATTRIBUTES: tuple[tuple[str, str], ...] = (
    ("course", p.DIRECTION),
    ("altitude", p.ALTITUDE),
    ("satellites", p.SATELLITES),
)
"""(attribute, message parameter): the fix's figures as the tracker last reported them
(attributes, not sensors: an entity costs memory even while disabled)."""


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SinotrackConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the tracker entity."""
    async_add_entities([SinotrackTracker(entry.runtime_data, entry.title)])


class SinotrackTracker(SinotrackEntity, TrackerEntity):
    """GPS position; keeps the last one while the tracker sleeps."""

    _attr_name = None
    _attr_translation_key = "tracker"
    # On the map and in dashboards: not the diagnostic category trackers default to.
    _attr_entity_category = None  # type: ignore[assignment]
    # A new time with every position: in the history each row has its own update time;
    # the fix's figures change with every fix too.
    _unrecorded_attributes = frozenset({ATTR_FIX_TIME, *(name for name, _ in FIX_ATTRIBUTES)})

    def __init__(self, runtime: SinotrackRuntime, name: str) -> None:
        super().__init__(
            runtime, EntityDescription(key="tracker"), name, (KEY_POSITION, KEY_CELL_POSITION)
        )

    @property
    def source_type(self) -> SourceType:
        """A GPS fix."""
        return SourceType.GPS

    @property
    def latitude(self) -> float | None:
        """Latitude of the position shown."""
        return self.runtime.state.latitude

    @property
    def longitude(self) -> float | None:
        """Longitude of the position shown."""
        return self.runtime.state.longitude

    @property
    def location_accuracy(self) -> float:
        """Accuracy (m) of the position shown."""
        return self.runtime.state.accuracy

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """The device time of the fix shown, and its course, altitude and satellites where
        the tracker reports them."""
        state = self.runtime.state
        values = state.values
        attributes = {
            name: values[parameter] for name, parameter in FIX_ATTRIBUTES if parameter in values
        }
        if state.fix_time is not None:
            attributes[ATTR_FIX_TIME] = state.fix_time.isoformat()
        return attributes or None
