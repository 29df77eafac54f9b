"""Base entity: one device per tracker, written only when one of its keys changed.

Each entity subscribes to the runtime with the change keys it shows: the runtime calls
it only when one of them changed. The entities of a tracker share one device description
and the entities of one kind one set of keys (a tracker has dozens of entities).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol
from weakref import WeakKeyDictionary

from homeassistant.core import callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import DOMAIN, MANUFACTURER
from .model import TrackerState, Update
from .protocol.message import DEVICE_MODEL
from .runtime import SinotrackConfigEntry, SinotrackRuntime, shared_keys

_DEVICE_INFOS: WeakKeyDictionary[SinotrackRuntime, dict[tuple[str, str | None], DeviceInfo]] = (
    WeakKeyDictionary()
)


def _device_info(runtime: SinotrackRuntime, name: str) -> DeviceInfo:
    """The tracker's device, as its entities describe it (one object per tracker, name
    and model)."""
    # Only what the tracker reported (JT/T 808 registration): no model is guessed.
    model = runtime.state.values.get(DEVICE_MODEL)
    key = (name, str(model) if model else None)
    known = _DEVICE_INFOS.setdefault(runtime, {})
    info = known.get(key)
    if info is None:
        info = known[key] = DeviceInfo(
            identifiers={(DOMAIN, runtime.ident)},
            name=name,
            manufacturer=MANUFACTURER,
            serial_number=runtime.ident,
        )
        if key[1] is not None:
            info["model"] = key[1]
    return info


def unique_id(ident: str, key: str) -> str:
    """The unique ID of the entity ``key`` of tracker ``ident``."""
    return f"{ident}_{key}"


class SinotrackEntity(Entity):
    """An entity of one tracker."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    watched_keys: frozenset[str] = frozenset()
    """Runtime keys whose change rewrites this entity's state."""

    def __init__(
        self,
        runtime: SinotrackRuntime,
        description: EntityDescription,
        name: str,
        keys: Iterable[str] | None = None,
    ) -> None:
        self.entity_description = description
        self.runtime = runtime
        self._attr_unique_id = unique_id(runtime.ident, description.key)
        # Descriptions of value entities name the runtime keys they are made of.
        self.watched_keys = shared_keys(
            keys if keys is not None else getattr(description, "keys", ())
        )
        self._attr_device_info = _device_info(runtime, name)

    async def async_added_to_hass(self) -> None:
        """Subscribe to the runtime's changes of the keys this entity shows."""
        await super().async_added_to_hass()
        if self.watched_keys:
            self.async_on_remove(self.runtime.subscribe(self._handle_update, self.watched_keys))

    @callback
    def _handle_update(self, update: Update) -> None:
        """A key this entity watches changed: write its state."""
        self.async_write_ha_state()


class _Existing(Protocol):
    """A description of an entity that exists once the tracker's state says so."""

    @property
    def key(self) -> str:
        """The entity's key (its unique ID's end)."""

    @property
    def keys(self) -> tuple[str, ...]:
        """The change keys of its value."""

    @property
    def exists_fn(self) -> Callable[[TrackerState], bool]:
        """Whether the entity exists yet."""


def add_once_they_exist[D: _Existing](
    entry: SinotrackConfigEntry,
    descriptions: tuple[D, ...],
    create: Callable[[D], Entity],
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the entity of each of ``descriptions`` once it exists for the tracker (checked
    now, and again when one of the keys of those still waiting changed); one created
    before (in the entity registry) exists from the start."""
    runtime = entry.runtime_data
    registry = er.async_get(runtime.hass)
    registered = {
        known.unique_id for known in er.async_entries_for_config_entry(registry, entry.entry_id)
    }
    waiting = descriptions

    def add_existing(_update: Update | None = None) -> None:
        nonlocal waiting
        ready: list[D] = []
        still: list[D] = []
        for description in waiting:
            exists = unique_id(
                runtime.ident, description.key
            ) in registered or description.exists_fn(runtime.state)
            (ready if exists else still).append(description)
        if ready:
            waiting = tuple(still)
            async_add_entities(create(description) for description in ready)

    add_existing()
    if waiting:
        keys = {key for description in waiting for key in description.keys}
        entry.async_on_unload(runtime.subscribe(add_existing, keys))
