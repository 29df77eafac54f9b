"""Sensors: battery, speed, odometer, GSM cell, vehicle state, last seen..."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    DEGREE,
    PERCENTAGE,
    EntityCategory,
    UnitOfElectricPotential,
    UnitOfLength,
    UnitOfSpeed,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import SinotrackEntity
from .protocol import message as p
from .runtime import (
    KEY_LAST_SEEN,
    KEY_ODOMETER,
    KEY_VEHICLE_STATE,
    VEHICLE_STATES,
    SinotrackConfigEntry,
    TrackerState,
)

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class SinotrackSensorDescription(SensorEntityDescription):
    """A sensor and where its value comes from."""

    value_fn: Callable[[TrackerState], Any]
    keys: tuple[str, ...]


def _value(name: str) -> Callable[[TrackerState], Any]:
    return lambda state: state.values.get(name)


def _parameter(key: str, name: str, **kwargs: Any) -> SinotrackSensorDescription:
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
    _parameter(
        "direction",
        p.DIRECTION,
        native_unit_of_measurement=DEGREE,
        state_class=SensorStateClass.MEASUREMENT_ANGLE,
        suggested_display_precision=0,
        entity_registry_enabled_default=False,
    ),
    _parameter(
        "altitude",
        p.ALTITUDE,
        device_class=SensorDeviceClass.DISTANCE,
        native_unit_of_measurement=UnitOfLength.METERS,
        state_class=SensorStateClass.MEASUREMENT,
        entity_registry_enabled_default=False,
    ),
    _parameter(
        "satellites",
        p.SATELLITES,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
    ),
    _parameter(
        "hdop",
        p.HDOP,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
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
    ),
    SinotrackSensorDescription(
        key="last_fix",
        translation_key="last_fix",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda state: state.fix_time,
        keys=("fix_time",),
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SinotrackConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    runtime = entry.runtime_data
    async_add_entities(
        SinotrackSensor(runtime, description, entry.title) for description in SENSORS
    )


class SinotrackSensor(SinotrackEntity, SensorEntity):
    """A value reported by the tracker (restored after a restart by the runtime)."""

    entity_description: SinotrackSensorDescription

    @property
    def native_value(self) -> str | int | float | datetime | None:
        return self.entity_description.value_fn(self.runtime.state)  # type: ignore[no-any-return]
