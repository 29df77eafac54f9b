"""Sensors of the location services: "Cell database" on the Location services entry, and
"Position source" and "Address" on a tracker's.

* Cell database: ``importing``, ``ready``, ``failed`` or ``no_file``, with the cells
  imported, the files in use and the import's progress as attributes. A sensor rather than
  a repair issue: an import is no fault to repair, and the sensor stays to say how many
  cells there are, on the entry's device page.
* Position source (``gps`` or ``cell``): created when the tracker's option "Use cell
  position when there is no GPS fix" is on (at set-up or later), or once a cell was shown.
* Address (disabled by default, at most 255 characters): created while the Location
  services have a reverse geocoder; looked up when the position moves (rate limited by the
  geocoder); a zone's name wins over an address.
"""

from __future__ import annotations

from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import CONF_USE_CELL_POSITION, DOMAIN, KIND_LOCATION, MANUFACTURER
from .entity import SinotrackEntity
from .location import OfflineStatus
from .location_entry import (
    SIGNAL_LOCATION_CHANGED,
    LocationConfigEntry,
    LocationServices,
    async_place_name,
    get_location_services,
)
from .model import (
    KEY_CELL_POSITION,
    KEY_POSITION,
    KEY_POSITION_SOURCE,
    POSITION_SOURCES,
    SOURCE_CELL,
    Update,
)
from .runtime import KEY_OPTIONS, SinotrackConfigEntry, SinotrackRuntime

CELL_DATABASE_STATES = ["importing", "ready", "failed", "no_file"]

CELL_DATABASE = SensorEntityDescription(
    key="cell_database",
    translation_key="cell_database",
    device_class=SensorDeviceClass.ENUM,
    options=CELL_DATABASE_STATES,
)
POSITION_SOURCE = SensorEntityDescription(
    key="position_source",
    translation_key="position_source",
    device_class=SensorDeviceClass.ENUM,
    options=POSITION_SOURCES,
    entity_category=EntityCategory.DIAGNOSTIC,
)
ADDRESS = SensorEntityDescription(
    key="address", translation_key="address", entity_registry_enabled_default=False
)


def cell_database_state(status: OfflineStatus) -> str:
    """The Cell database sensor's state for ``status``."""
    if status.importing is not None:
        return "importing"
    if status.cells:
        return "ready"
    return "failed" if status.failed else "no_file"


async def async_setup_location_sensors(
    hass: HomeAssistant,
    entry: LocationConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """The Location services entry's sensor."""
    async_add_entities([CellDatabaseSensor(entry.runtime_data, entry.entry_id)])


class CellDatabaseSensor(SensorEntity):
    """The offline cell databases: importing, ready, failed or no file; cells and progress."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    entity_description = CELL_DATABASE

    def __init__(self, services: LocationServices, entry_id: str) -> None:
        self.services = services
        self._attr_unique_id = f"{KIND_LOCATION}_{CELL_DATABASE.key}"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, KIND_LOCATION)},
            translation_key=KIND_LOCATION,
            manufacturer=MANUFACTURER,
            entry_type=DeviceEntryType.SERVICE,
        )

    async def async_added_to_hass(self) -> None:
        """Follow the import's status."""
        await super().async_added_to_hass()
        self.async_on_remove(self.services.listen_status(self._status_changed))

    @callback
    def _status_changed(self, _status: OfflineStatus) -> None:
        self.async_write_ha_state()

    @property
    def native_value(self) -> str:
        """Importing, ready, failed or no file."""
        return cell_database_state(self.services.status)

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Cells in use, files, and the import under way."""
        status = self.services.status
        attributes: dict[str, Any] = {"cells": status.cells, "files": list(status.files)}
        if status.importing is not None:
            attributes["importing"] = status.importing
            progress = status.progress
            attributes["progress"] = round(progress.fraction * 100) if progress else 0
            attributes["rows_imported"] = progress.rows_imported if progress else 0
        if status.failed:
            attributes["failed"] = dict(status.failed)
        return attributes


@callback
def async_setup_tracker_location_sensors(
    hass: HomeAssistant,
    entry: SinotrackConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """A tracker's Position source and Address sensors, each once it is wanted."""
    runtime = entry.runtime_data
    added: set[str] = set()

    @callback
    def add_wanted(*_args: Any) -> None:
        new: list[SensorEntity] = []
        cell_on = bool(entry.options.get(CONF_USE_CELL_POSITION, False))
        if POSITION_SOURCE.key not in added and (
            cell_on or runtime.state.position_source == SOURCE_CELL
        ):
            added.add(POSITION_SOURCE.key)
            new.append(PositionSourceSensor(runtime, POSITION_SOURCE, entry.title))
        services = get_location_services(hass)
        if ADDRESS.key not in added and services is not None and services.geocoder is not None:
            added.add(ADDRESS.key)
            new.append(AddressSensor(runtime, ADDRESS, entry.title))
        if new:
            async_add_entities(new)

    add_wanted()
    entry.async_on_unload(runtime.subscribe(add_wanted, (KEY_OPTIONS,)))
    entry.async_on_unload(async_dispatcher_connect(hass, SIGNAL_LOCATION_CHANGED, add_wanted))


class PositionSourceSensor(SinotrackEntity, SensorEntity):
    """Where the position shown comes from: ``gps`` or ``cell``."""

    def __init__(
        self, runtime: SinotrackRuntime, description: SensorEntityDescription, name: str
    ) -> None:
        super().__init__(runtime, description, name, (KEY_POSITION_SOURCE,))

    @property
    def native_value(self) -> str:
        """gps or cell."""
        return self.runtime.state.position_source


class AddressSensor(SinotrackEntity, SensorEntity):
    """The name of the place shown: its zone's, else its address (looked up when it moves)."""

    _attr_native_value: str | None = None

    def __init__(
        self, runtime: SinotrackRuntime, description: SensorEntityDescription, name: str
    ) -> None:
        super().__init__(runtime, description, name, (KEY_POSITION, KEY_CELL_POSITION))
        self._looked_up: tuple[float, float] | None = None

    async def async_added_to_hass(self) -> None:
        """Look the current position up."""
        await super().async_added_to_hass()
        self._look_up()

    @callback
    def _handle_update(self, update: Update) -> None:
        self._look_up()

    @callback
    def _look_up(self) -> None:
        """Ask for the name of the position shown, when it moved (one lookup at a time)."""
        state = self.runtime.state
        if state.latitude is None or state.longitude is None:
            return
        where = (state.latitude, state.longitude)
        if where == self._looked_up:
            return
        self._looked_up = where
        self.runtime.entry.async_create_background_task(
            self.hass, self._async_name(*where), f"{DOMAIN} {self.runtime.ident} address"
        )

    async def _async_name(self, latitude: float, longitude: float) -> None:
        name = await async_place_name(self.hass, latitude, longitude)
        state = self.runtime.state
        if (state.latitude, state.longitude) != (latitude, longitude):
            return  # moved on meanwhile: the next lookup names it
        if name is None:
            self._looked_up = None  # not known now (rate limited): asked again next move
        elif name != self._attr_native_value:
            self._attr_native_value = name
            self.async_write_ha_state()
