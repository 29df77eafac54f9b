"""Binary sensors for lasting conditions: ignition, SOS, power cut, connected..."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.components.binary_sensor import (
    DOMAIN as BINARY_SENSOR_DOMAIN,
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import DOMAIN
from .entity import SinotrackEntity, add_once_they_exist, unique_id
from .guard_runtime import KEY_ENGINE_HELD
from .model import KEY_MOVING, KEY_ONLINE, TrackerState, Update
from .protocol import message as p
from .runtime import KEY_OPTIONS, SinotrackConfigEntry, SinotrackRuntime

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class SinotrackBinarySensorDescription(BinarySensorEntityDescription):
    """A binary sensor and where its value comes from."""

    value_fn: Callable[[TrackerState], bool | None]
    keys: tuple[str, ...]
    """The change keys of the value (the entity is written when one of them changed)."""
    exists_fn: Callable[[TrackerState], bool] = lambda _state: True
    """Whether the sensor is created yet (checked again when one of ``keys`` changed)."""


def _flag(
    key: str,
    name: str,
    device_class: BinarySensorDeviceClass | None,
    *,
    reported_only: bool = False,
    raised_only: bool = False,
    **kwargs: object,
) -> SinotrackBinarySensorDescription:
    """A flag the tracker reports; ``reported_only``: created once the tracker first
    reports it (H02 trackers usually never report a low battery, so no entity stays
    unknown); ``raised_only``: created once the tracker first raises it (JT/T 808 trackers
    report a crash, a rollover and fatigue bit in every report, and most have no sensor
    that ever sets them; the alarm event fires for them either way)."""

    def value(state: TrackerState) -> bool | None:
        flag = state.values.get(name)
        return None if flag is None else bool(flag)

    def reported(state: TrackerState) -> bool:
        return name in state.values

    def raised(state: TrackerState) -> bool:
        return state.values.get(name) is True

    if reported_only:
        kwargs["exists_fn"] = reported
    if raised_only:
        kwargs["exists_fn"] = raised
    return SinotrackBinarySensorDescription(
        key=key,
        translation_key=key,
        device_class=device_class,
        value_fn=value,
        keys=(name,),
        **kwargs,  # type: ignore[arg-type]
    )


BINARY_SENSORS: tuple[SinotrackBinarySensorDescription, ...] = (
    _flag("ignition", p.IGNITION, BinarySensorDeviceClass.RUNNING),
    _flag("sos", p.SOS, BinarySensorDeviceClass.SAFETY),
    _flag("power_cut", p.POWER_CUT, BinarySensorDeviceClass.PROBLEM),
    _flag("crash", p.CRASH, BinarySensorDeviceClass.SAFETY, raised_only=True),
    _flag("rollover", p.ROLLOVER, BinarySensorDeviceClass.SAFETY, raised_only=True),
    _flag("overspeed", p.OVERSPEED, BinarySensorDeviceClass.PROBLEM),
    _flag("fatigue", p.FATIGUE, BinarySensorDeviceClass.PROBLEM, raised_only=True),
    _flag("low_battery", p.LOW_BATTERY, BinarySensorDeviceClass.BATTERY, reported_only=True),
    _flag(
        "position_valid",
        p.VALID,
        None,
        entity_category=EntityCategory.DIAGNOSTIC,
        # Whether each report's fix is valid is for diagnosing a tracker: the tracker
        # entity keeps the last valid position (unless invalid fixes are allowed).
        entity_registry_enabled_default=False,
    ),
    SinotrackBinarySensorDescription(
        key="moving",
        translation_key="moving",
        device_class=BinarySensorDeviceClass.MOVING,
        value_fn=lambda state: state.moving,
        keys=(KEY_MOVING,),
        # The vehicle state sensor says it (moving or towing) beside idling and parked.
        entity_registry_enabled_default=False,
    ),
    SinotrackBinarySensorDescription(
        key="connected",
        translation_key="connected",
        device_class=BinarySensorDeviceClass.CONNECTIVITY,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda state: state.online,
        keys=(KEY_ONLINE,),
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SinotrackConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the binary sensors (each once it exists for the tracker)."""
    runtime = entry.runtime_data
    add_once_they_exist(
        entry,
        BINARY_SENSORS,
        lambda description: SinotrackBinarySensor(runtime, description, entry.title),
        async_add_entities,
    )
    _setup_engine_stop_pending(hass, entry, async_add_entities)


@callback
def _setup_engine_stop_pending(
    hass: HomeAssistant,
    entry: SinotrackConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """The "engine stop pending" sensor, while engine commands are allowed (without them no
    engine command is ever held: the sensor would stay off). An entity registered before
    is removed while they are not (Home Assistant keeps its settings for its return)."""
    runtime = entry.runtime_data
    if runtime.allow_engine_commands:
        async_add_entities([EngineStopPending(runtime, ENGINE_STOP_PENDING, entry.title)])
        return
    registry = er.async_get(hass)
    known = unique_id(runtime.ident, ENGINE_STOP_PENDING.key)
    if entity_id := registry.async_get_entity_id(BINARY_SENSOR_DOMAIN, DOMAIN, known):
        registry.async_remove(entity_id)

    def add_when_allowed(_update: Update) -> None:
        if runtime.allow_engine_commands:
            unsubscribe()
            async_add_entities([EngineStopPending(runtime, ENGINE_STOP_PENDING, entry.title)])

    unsubscribe = runtime.subscribe(add_when_allowed, (KEY_OPTIONS,))
    entry.async_on_unload(unsubscribe)


class SinotrackBinarySensor(SinotrackEntity, BinarySensorEntity):
    """A lasting condition reported by the tracker."""

    entity_description: SinotrackBinarySensorDescription

    @property
    def is_on(self) -> bool | None:
        """The condition as last reported."""
        return self.entity_description.value_fn(self.runtime.state)


ENGINE_STOP_PENDING = BinarySensorEntityDescription(
    key="engine_stop_pending",
    translation_key="engine_stop_pending",
    entity_category=EntityCategory.DIAGNOSTIC,
)


class EngineStopPending(SinotrackEntity, BinarySensorEntity):
    """On while an engine command is held until the vehicle stands still."""

    def __init__(
        self, runtime: SinotrackRuntime, description: BinarySensorEntityDescription, name: str
    ) -> None:
        super().__init__(runtime, description, name, (KEY_ENGINE_HELD,))

    @property
    def is_on(self) -> bool:
        """An engine command is held."""
        return self.runtime.guard.hold.held is not None
