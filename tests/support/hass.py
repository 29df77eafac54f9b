"""The Home Assistant side of the tests: config entries, waiting on states, reading them.

Imports Home Assistant and its test harness (pytest-homeassistant-custom-component): only
for the suites that run in it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Final

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_PORT, EVENT_STATE_CHANGED
from homeassistant.core import Event, HomeAssistant, State, callback
from homeassistant.helpers import device_registry as dr, entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sinotrack.const import (
    CONF_ALLOW_ENGINE_COMMANDS,
    CONF_ALLOW_INVALID_FIX,
    CONF_ALLOWED_NETWORKS,
    CONF_BIND_ADDRESS,
    CONF_JT808_UTC_OFFSET,
    CONF_OFFLINE_TIMEOUT,
    CONF_TRACKER_ID,
    DEFAULT_JT808_UTC_OFFSET,
    DEFAULT_OFFLINE_TIMEOUT,
    DOMAIN,
)

from .client import Client
from .defaults import LOOPBACK, WAIT
from .frames import H02_ID
from .net import free_port
from .wait import until

TRACKER_ID: Final = H02_ID
"""The tracker of :func:`make_entry`'s entry."""

ENTRY_OPTIONS: Final = {
    CONF_OFFLINE_TIMEOUT: DEFAULT_OFFLINE_TIMEOUT,
    CONF_JT808_UTC_OFFSET: DEFAULT_JT808_UTC_OFFSET,
    CONF_ALLOW_INVALID_FIX: False,
    CONF_ALLOW_ENGINE_COMMANDS: False,
}
"""The options of an entry from :func:`make_entry`: the defaults, as an entry stored them
before the allowed networks existed (the snapshots show them)."""
ALARM: Final = "event.car_alarm"
"""The alarm event entity of :func:`make_entry`'s tracker (named "Car")."""

DEFAULT_OPTIONS: Final = {**ENTRY_OPTIONS, CONF_ALLOWED_NETWORKS: []}
"""The options the config flow stores for a new entry."""


def make_entry(
    tracker_id: str = TRACKER_ID,
    port: int | None = None,
    *,
    entry_id: str | None = None,
    title: str = "Car",
    options: dict[str, Any] | None = None,
    **option_overrides: Any,
) -> MockConfigEntry:
    """A config entry of ``tracker_id`` on loopback ``port`` (default: a free one).

    Its options are :data:`ENTRY_OPTIONS` with ``option_overrides``, or exactly ``options``.
    """
    extra: dict[str, Any] = {} if entry_id is None else {"entry_id": entry_id}
    return MockConfigEntry(
        domain=DOMAIN,
        title=title,
        unique_id=tracker_id,
        data={
            CONF_TRACKER_ID: tracker_id,
            CONF_PORT: port or free_port(),
            CONF_BIND_ADDRESS: LOOPBACK,
        },
        options={**ENTRY_OPTIONS, **option_overrides} if options is None else options,
        **extra,
    )


async def setup_entry(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Add ``entry`` to Home Assistant and set it up (whatever the outcome)."""
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


async def load_entry(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Add ``entry`` to Home Assistant and set it up; it must load."""
    await setup_entry(hass, entry)
    assert entry.state is ConfigEntryState.LOADED


async def wait_for(hass: HomeAssistant, condition: Callable[[], bool]) -> None:
    """Let the loop run until ``condition()`` holds (at most ``WAIT`` seconds)."""
    await until(condition, WAIT, settle=hass.async_block_till_done)


async def report(tracker: Client, frame: bytes) -> bytes:
    """Send a V1 (or heartbeat) and read the server's answer to it.

    The listener hands a frame's messages to the tracker's runtime before it writes the
    answer, and entities are written in that same call: once the answer is read, the
    states are set. (This also works with time frozen, when ``wait_for`` cannot sleep.)
    """
    await tracker.send(frame)
    return await tracker.recv_text()


def state(hass: HomeAssistant, entity_id: str) -> State:
    """The state of ``entity_id``, which must have one."""
    found = hass.states.get(entity_id)
    assert found is not None, f"{entity_id} has no state"
    return found


async def wait_state(hass: HomeAssistant, entity_id: str, expected: str) -> State:
    """Wait until ``entity_id`` has state ``expected``."""
    await wait_for(
        hass, lambda: (s := hass.states.get(entity_id)) is not None and s.state == expected
    )
    return state(hass, entity_id)


def enable_before_setup(hass: HomeAssistant, entry: MockConfigEntry, entity_id: str) -> None:
    """Register ``entity_id`` (disabled by default; its unique ID the tracker ID and the
    part after "car_") enabled, as a user who enabled it before a restart left it; the
    entry is added to Home Assistant, not set up."""
    entry.add_to_hass(hass)
    domain, object_id = entity_id.split(".")
    er.async_get(hass).async_get_or_create(
        domain,
        DOMAIN,
        f"{entry.unique_id}_{object_id.removeprefix('car_')}",
        suggested_object_id=object_id,
        config_entry=entry,
    )


async def enable_all(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Enable the entities that are disabled by default, and reload the entry."""
    registry = er.async_get(hass)
    for entity in er.async_entries_for_config_entry(registry, entry.entry_id):
        if entity.disabled_by is not None:
            registry.async_update_entity(entity.entity_id, disabled_by=None)
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()


def tracker_device(hass: HomeAssistant, entry: MockConfigEntry) -> dr.DeviceEntry:
    """The one device of ``entry``."""
    devices = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
    assert len(devices) == 1
    return devices[0]


def states_of(hass: HomeAssistant, entity_ids: Iterable[str]) -> dict[str, str]:
    """The state of each of ``entity_ids``."""
    return {entity_id: state(hass, entity_id).state for entity_id in entity_ids}


def fix_time(hass: HomeAssistant) -> str | None:
    """The time of the fix the tracker entity shows (its ``fix_time`` attribute)."""
    return state(hass, "device_tracker.car").attributes.get("fix_time")


async def wait_fix(hass: HomeAssistant, expected: datetime) -> None:
    """Wait until the tracker entity shows the fix taken at ``expected``."""
    await wait_for(
        hass,
        lambda: (
            (s := hass.states.get("device_tracker.car")) is not None
            and s.attributes.get("fix_time") == expected.isoformat()
        ),
    )


class FiredEvents:
    """The events an event entity fires (each one a state change of the entity), with their
    data (the entity's attributes: ``event_type`` and the event's data).

    Not the entity coming and going (a reload), nor its restored state. With
    ``event_type``, only the events of that type.
    """

    def __init__(self, hass: HomeAssistant, entity_id: str, event_type: str | None = None) -> None:
        self.fired: list[dict[str, Any]] = []

        @callback
        def record(event: Event[Any]) -> None:
            new, old = event.data["new_state"], event.data["old_state"]
            if (
                event.data["entity_id"] == entity_id
                and new is not None
                and old is not None
                and new.state not in ("unknown", "unavailable")
                and old.state != "unavailable"
                and (event_type is None or new.attributes.get("event_type") == event_type)
            ):
                self.fired.append(dict(new.attributes))

        hass.bus.async_listen(EVENT_STATE_CHANGED, record)

    @property
    def types(self) -> list[str]:
        """The type of each event fired, in order."""
        return [fired["event_type"] for fired in self.fired]
