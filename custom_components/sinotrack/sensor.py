"""Sensors: battery, speed, odometer, distance counted, GSM cell, vehicle state, last seen...

The time of the position shown is an attribute of the tracker entity, not a sensor: a
timestamp sensor changing with every report fills the logbook and the database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeassistant.components.sensor import (
    DOMAIN as SENSOR_DOMAIN,
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    PERCENTAGE,
    EntityCategory,
    UnitOfElectricPotential,
    UnitOfLength,
    UnitOfSpeed,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import DOMAIN
from .entity import SinotrackEntity, add_once_they_exist, unique_id
from .location_entry import is_location_entry
from .location_sensor import async_setup_location_sensors, async_setup_tracker_location_sensors
from .model import (
    KEY_DISTANCE,
    KEY_LAST_SEEN,
    KEY_ODOMETER,
    KEY_VEHICLE_STATE,
    VEHICLE_STATES,
    TrackerState,
)
from .protocol import message as p
from .runtime import SinotrackConfigEntry, SinotrackRuntime
from .trip_sensor import trip_sensors

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class SinotrackSensorDescription(SensorEntityDescription):
    """A sensor and where its value comes from."""

    value_fn: Callable[[TrackerState], Any]
    keys: tuple[str, ...]
    """The change keys of the value (the entity is written when one of them changed)."""
    exists_fn: Callable[[TrackerState], bool] = lambda _state: True
    """Whether the sensor is created yet (checked again when one of ``keys`` changed)."""


def _value(name: str) -> Callable[[TrackerState], Any]:
    return lambda state: state.values.get(name)


def _parameter(key: str, name: str, **kwargs: Any) -> SinotrackSensorDescription:
    """A value the tracker reports. One disabled by default is created once the tracker
    first reports it: a registry entry costs memory for every tracker, and many trackers
    never report an altitude, a voltage or a cell."""
    if kwargs.get("entity_registry_enabled_default") is False:
        kwargs["exists_fn"] = lambda state: name in state.values
    return SinotrackSensorDescription(
        key=key, translation_key=key, value_fn=_value(name), keys=(name,), **kwargs
    )


SENSORS: tuple[SinotrackSensorDescription, ...] = (
    _parameter(
        "battery",
        p.BATTERY_LEVEL,
        device_class=SensorDeviceClass.BATTERY,
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
    ),
    _parameter(
        "speed",
        p.SPEED,
        device_class=SensorDeviceClass.SPEED,
        native_unit_of_measurement=UnitOfSpeed.KILOMETERS_PER_HOUR,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
    ),
    SinotrackSensorDescription(
        key="odometer",
        translation_key="odometer",
        device_class=SensorDeviceClass.DISTANCE,
        native_unit_of_measurement=UnitOfLength.KILOMETERS,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=1,
        value_fn=lambda state: state.odometer,
        keys=(KEY_ODOMETER,),
        # Created once the value is known: an H02 tracker reports its mileage only when
        # asked, and an odometer that stays unknown says nothing.
        exists_fn=lambda state: state.odometer is not None,
    ),
    SinotrackSensorDescription(
        key="distance_counted",
        translation_key="distance_counted",
        device_class=SensorDeviceClass.DISTANCE,
        native_unit_of_measurement=UnitOfLength.KILOMETERS,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=1,
        value_fn=lambda state: state.distance,
        keys=(KEY_DISTANCE,),
    ),
    _parameter(
        "gsm_mcc",
        p.GSM_MCC,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
    ),
    _parameter(
        "gsm_mnc",
        p.GSM_MNC,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
    ),
    _parameter(
        "gsm_lac",
        p.GSM_LAC,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
    ),
    _parameter(
        "gsm_cell_id",
        p.GSM_CELLID,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
    ),
    _parameter(
        "external_voltage",
        p.POWER_VOLTAGE,
        device_class=SensorDeviceClass.VOLTAGE,
        native_unit_of_measurement=UnitOfElectricPotential.VOLT,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
    ),
    _parameter(
        "battery_voltage",
        p.BATTERY_VOLTAGE,
        device_class=SensorDeviceClass.VOLTAGE,
        native_unit_of_measurement=UnitOfElectricPotential.VOLT,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
    ),
    SinotrackSensorDescription(
        key="vehicle_state",
        translation_key="vehicle_state",
        device_class=SensorDeviceClass.ENUM,
        options=VEHICLE_STATES,
        value_fn=lambda state: state.vehicle_state,
        keys=(KEY_VEHICLE_STATE,),
    ),
    SinotrackSensorDescription(
        key="last_seen",
        translation_key="last_seen",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda state: state.last_seen,
        keys=(KEY_LAST_SEEN,),
        # For diagnosing a tracker: whether it is connected is the "connected" sensor.
        entity_registry_enabled_default=False,
    ),
)
REMOVED: tuple[str, ...] = ("last_fix", "direction", "altitude", "satellites", "hdop")
"""Keys of sensors this integration no longer provides ("Last fix": now the tracker
entity's ``fix_time`` attribute; direction, altitude and satellites: its ``course``,
``altitude`` and ``satellites`` attributes; HDOP: its ``gps_accuracy``); their registry
entries are removed at setup."""


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SinotrackConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the sensors (each once it exists for the tracker)."""
    if is_location_entry(entry):
        await async_setup_location_sensors(hass, entry, async_add_entities)  # type: ignore[arg-type]
        return
    async_setup_tracker_location_sensors(hass, entry, async_add_entities)
    runtime = entry.runtime_data
    _migrate_registry(hass, runtime)
    async_add_entities(trip_sensors(runtime, entry.title))
    add_once_they_exist(
        entry,
        SENSORS,
        lambda description: SinotrackSensor(runtime, description, entry.title),
        async_add_entities,
    )


def _migrate_registry(hass: HomeAssistant, runtime: SinotrackRuntime) -> None:
    """Bring entities registered by earlier versions in line with the sensors above.

    An odometer that held the distance counted (the tracker had not reported a mileage)
    becomes the "distance counted" sensor, entity ID and history included (the recorder
    follows an entity ID change), so that the odometer starts afresh with the tracker's
    mileage and no statistic ever jumps from one source to the other. Sensors no longer
    provided are removed.
    """
    registry = er.async_get(hass)
    ident = runtime.ident
    for key in REMOVED:
        if entity_id := registry.async_get_entity_id(SENSOR_DOMAIN, DOMAIN, unique_id(ident, key)):
            registry.async_remove(entity_id)
    if not runtime.counted_odometer_restored:
        return
    runtime.counted_odometer_restored = False
    old = registry.async_get_entity_id(SENSOR_DOMAIN, DOMAIN, f"{ident}_odometer")
    new_unique_id = f"{ident}_distance_counted"
    if old is None or registry.async_get_entity_id(SENSOR_DOMAIN, DOMAIN, new_unique_id):
        return
    changes: dict[str, Any] = {"new_unique_id": new_unique_id}
    if old.endswith("_odometer"):
        new_entity_id = old.removesuffix("_odometer") + "_distance_counted"
        if not registry.async_is_registered(new_entity_id):
            changes["new_entity_id"] = new_entity_id
    registry.async_update_entity(old, **changes)


class SinotrackSensor(SinotrackEntity, SensorEntity):
    """A value reported by the tracker (restored after a restart by the runtime)."""

    entity_description: SinotrackSensorDescription

    @property
    def native_value(self) -> str | int | float | datetime | None:
        """The value from the tracker state."""
        return self.entity_description.value_fn(self.runtime.state)  # type: ignore[no-any-return]
