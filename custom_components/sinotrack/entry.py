"""Set-up and unloading of the integration and its config entries."""

from __future__ import annotations

from functools import partial
import re
from typing import Final

from homeassistant.config_entries import (
    SOURCE_INTEGRATION_DISCOVERY,
    ConfigEntry,
    ConfigEntryState,
)
from homeassistant.const import CONF_PORT, EVENT_HOMEASSISTANT_STOP, Platform
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers import (
    config_validation as cv,
    device_registry as dr,
    discovery_flow,
    issue_registry as ir,
)
from homeassistant.helpers.typing import ConfigType
from homeassistant.util.hass_dict import HassKey

from .command_store import async_remove_command_store, get_command_store
from .const import (
    ALL_ADDRESSES,
    ALL_IPV4_ADDRESSES,
    CONF_BIND_ADDRESS,
    CONF_TRACKER_ID,
    DOMAIN,
    LOGGER,
    MAX_DISCOVERY_FLOWS,
    SETUP_URL,
)
from .listener import ListenerBindError, ListenerConfig, ListenerPool
from .location_entry import (
    async_setup_location_entry,
    async_unload_location_entry,
    is_location_entry,
)
from .model import KEY_CONNECTED, KEY_LAST_SEEN, KEY_ONLINE, Update
from .protocol.message import DEVICE_MODEL
from .runtime import (
    SinotrackConfigEntry,
    SinotrackRuntime,
    async_remove_state_store,
    auth_refused_issue_id,
)
from .services import async_setup_services

PLATFORMS: list[Platform] = [
    Platform.ALARM_CONTROL_PANEL,
    Platform.BINARY_SENSOR,
    Platform.CALENDAR,
    Platform.DEVICE_TRACKER,
    Platform.EVENT,
    Platform.SENSOR,
]
CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)
DATA_POOL: HassKey[ListenerPool] = HassKey(DOMAIN)
TRACKER_ID_PATTERN: Final = re.compile(r"[0-9]{10,20}")
"""A tracker ID as the user form accepts it, once spaces and dashes are taken out."""
DISCOVERED_ID_PATTERN: Final = re.compile(r"[0-9]{1,20}")
"""A discovered ID, as the listener reports it (without the leading zeros of a JT/T 808
terminal number, which the form also accepts and drops): ASCII digits only, nothing else."""


@callback
def discovery_flows_in_progress(hass: HomeAssistant, *, but: str | None = None) -> int:
    """Sinotrack discovery flows in progress (those just started included), ``but`` one."""
    return sum(
        1
        for flow in hass.config_entries.flow.async_progress_by_handler(
            DOMAIN,
            include_uninitialized=True,
            match_context={"source": SOURCE_INTEGRATION_DISCOVERY},
        )
        if flow["flow_id"] != but
    )


CONFIG_VERSION: Final = 1
CONFIG_MINOR_VERSION: Final = 2
"""Minor version 2: "all addresses" is ``::`` (every IPv4 and IPv6 address), no longer
``0.0.0.0`` (IPv4 only)."""


def get_pool(hass: HomeAssistant) -> ListenerPool:
    """The shared listeners: one per port, used by every entry on it."""
    pool = hass.data.get(DATA_POOL)
    if pool is None:
        pool = hass.data[DATA_POOL] = ListenerPool()
    return pool


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the actions, and close the listeners when Home Assistant stops."""
    async_setup_services(hass)

    async def close_listeners(_event: Event) -> None:
        """Stop accepting trackers and close their connections when Home Assistant stops."""
        pool = hass.data.get(DATA_POOL)
        if pool is not None:
            await pool.close()

    hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, close_listeners)
    return True


async def async_migrate_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
    """Bring an entry stored by an older version up to date.

    1.1 -> 1.2: ``0.0.0.0``, the old default ("all addresses", which covered IPv4 only) becomes
    ``::``, today's "all addresses" (IPv4 and IPv6): IPv4 trackers keep connecting as before.
    """
    if entry.version > CONFIG_VERSION:
        return False  # stored by a newer version of the integration
    if entry.version == CONFIG_VERSION and entry.minor_version < CONFIG_MINOR_VERSION:
        data = dict(entry.data)
        if data.get(CONF_BIND_ADDRESS) == ALL_IPV4_ADDRESSES:
            data[CONF_BIND_ADDRESS] = ALL_ADDRESSES
        hass.config_entries.async_update_entry(entry, data=data, minor_version=CONFIG_MINOR_VERSION)
        LOGGER.debug("Migrated entry %s to version 1.2", entry.title)
    return True


@callback
def entries_on_port(hass: HomeAssistant, port: int) -> list[SinotrackConfigEntry]:
    """Every entry whose tracker connects to ``port`` (they share its listener)."""
    return [
        entry
        for entry in hass.config_entries.async_entries(DOMAIN)
        if entry.data.get(CONF_PORT) == port and not is_location_entry(entry)
    ]


@callback
def bind_address_of_port(hass: HomeAssistant, port: int, *, but: str | None = None) -> str | None:
    """The bind address of ``port`` (that of its running listener, else that stored by its
    entries), or None if no entry uses the port. ``but``: an entry ID left out."""
    listener = get_pool(hass).get(port)
    if listener is not None and isinstance(listener.config.host, str):
        users = [e for e in entries_on_port(hass, port) if e.entry_id != but]
        if users:
            return listener.config.host
    for entry in entries_on_port(hass, port):
        if entry.entry_id != but:
            return str(entry.data[CONF_BIND_ADDRESS])
    return None


async def async_rebind_port(hass: HomeAssistant, port: int, host: str) -> None:
    """Move the listener of ``port`` to bind address ``host``, with every entry on it.

    Those that run are all unloaded (the last one closes the listener), all the port's
    entries store the new address, then those that ran are set up again (the first one
    opens it on ``host``).
    """
    entries = entries_on_port(hass, port)
    running = [
        entry
        for entry in entries
        if entry.state.recoverable and entry.state is not ConfigEntryState.NOT_LOADED
    ]
    for entry in running:
        await hass.config_entries.async_unload(entry.entry_id)
    # Unloaded first: no update listener reloads an entry on its own (which would reopen
    # the port with the old address while another entry still holds it).
    for entry in entries:
        hass.config_entries.async_update_entry(entry, data={**entry.data, CONF_BIND_ADDRESS: host})
    for entry in running:
        await hass.config_entries.async_setup(entry.entry_id)


def port_issue_id(entry_id: str) -> str:
    """The repair issue raised while the entry cannot listen on its port."""
    return f"port_unavailable_{entry_id}"


def never_connected_issue_id(entry_id: str) -> str:
    """The repair issue shown until the tracker first connects."""
    return f"never_connected_{entry_id}"


async def async_setup_entry(hass: HomeAssistant, entry: SinotrackConfigEntry) -> bool:
    """Set up one tracker: its port's listener, its runtime, its entities."""
    if is_location_entry(entry):
        return await async_setup_location_entry(hass, entry)  # type: ignore[arg-type]
    host: str = entry.data[CONF_BIND_ADDRESS]
    port: int = entry.data[CONF_PORT]
    commands = get_command_store(hass, entry.entry_id)
    await commands.async_load()
    pool = get_pool(hass)
    try:
        listener = await pool.acquire(ListenerConfig(host=host, port=port))
    except ListenerBindError as err:
        ir.async_create_issue(
            hass,
            DOMAIN,
            port_issue_id(entry.entry_id),
            is_fixable=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key="port_unavailable",
            translation_placeholders={"port": str(port), "host": host, "error": err.detail},
        )
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="port_unavailable",
            translation_placeholders={"port": str(port), "host": host, "error": err.detail},
        ) from err
    ir.async_delete_issue(hass, DOMAIN, port_issue_id(entry.entry_id))
    if isinstance(listener.config.host, str) and listener.config.host != host:
        # The port has one bind address, that of the entry that opened it: this one joined.
        LOGGER.info(
            "Tracker %s joins port %s, which listens on %s (not %s)",
            entry.title,
            port,
            listener.config.host,
            host,
        )
        host = listener.config.host
        hass.config_entries.async_update_entry(entry, data={**entry.data, CONF_BIND_ADDRESS: host})
    runtime = SinotrackRuntime(hass, entry, listener, commands)
    try:
        await runtime.async_load()
    except BaseException:
        await pool.release(listener)
        raise
    entry.runtime_data = runtime
    listener.set_unknown_tracker_callback(partial(_async_discovered, hass, host, port))
    # Own the ID before the platforms are set up (that takes a while with many trackers):
    # a tracker reporting meanwhile updates the runtime, whose entities start from it.
    runtime.async_register()
    try:
        await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    except BaseException:
        runtime.async_unregister()
        await pool.release(listener)
        raise
    runtime.async_start()
    entry.async_on_unload(entry.add_update_listener(_async_entry_updated))
    _watch_first_connection(hass, entry, runtime)
    return True


async def _async_entry_updated(hass: HomeAssistant, entry: SinotrackConfigEntry) -> None:
    """Options and a new name apply at once; a new port or bind address reloads the entry."""
    if entry.state is ConfigEntryState.LOADED:  # not while it unloads (a port moves)
        entry.runtime_data.async_entry_updated(entry)


async def async_unload_entry(hass: HomeAssistant, entry: SinotrackConfigEntry) -> bool:
    """Unload a tracker's entities, save its state and give its port back."""
    if is_location_entry(entry):
        return await async_unload_location_entry(hass, entry)  # type: ignore[arg-type]
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        runtime = entry.runtime_data
        await runtime.async_stop()
        await get_pool(hass).release(runtime.listener)
    return unloaded


async def async_remove_entry(hass: HomeAssistant, entry: SinotrackConfigEntry) -> None:
    """Forget a deleted entry's repairs, queued commands and stored state."""
    if is_location_entry(entry):
        return
    ir.async_delete_issue(hass, DOMAIN, port_issue_id(entry.entry_id))
    ir.async_delete_issue(hass, DOMAIN, never_connected_issue_id(entry.entry_id))
    ir.async_delete_issue(hass, DOMAIN, auth_refused_issue_id(entry.entry_id))
    await async_remove_command_store(hass, entry.entry_id)
    await async_remove_state_store(hass, entry.entry_id)


@callback
def _async_discovered(
    hass: HomeAssistant, host: str, port: int, ident: str, protocol: str, peer: str | None
) -> None:
    """A tracker no entry owns connected: offer to add it (within the limits)."""
    if DISCOVERED_ID_PATTERN.fullmatch(ident) is None:
        LOGGER.debug("Not offering tracker ID %r: not one the setup form accepts", ident)
        return
    if discovery_flows_in_progress(hass) >= MAX_DISCOVERY_FLOWS:
        LOGGER.info(
            "Unknown tracker %s connected from %s; not offered: %d trackers found are waiting",
            ident,
            peer,
            MAX_DISCOVERY_FLOWS,
        )
        return
    LOGGER.info("Unknown tracker %s (%s) connected from %s", ident, protocol, peer)
    discovery_flow.async_create_flow(
        hass,
        DOMAIN,
        context={"source": SOURCE_INTEGRATION_DISCOVERY},
        data={
            CONF_TRACKER_ID: ident,
            CONF_PORT: port,
            CONF_BIND_ADDRESS: host,
            "protocol": protocol,
        },
    )


@callback
def _watch_first_connection(
    hass: HomeAssistant, entry: SinotrackConfigEntry, runtime: SinotrackRuntime
) -> None:
    """Until the tracker's first frame, a repair issue says that it is waiting for it and
    links to the set-up steps; the device shows a model only once the tracker reported one.
    """
    issue_id = never_connected_issue_id(entry.entry_id)
    _sync_device_model(hass, runtime)

    def contacted() -> bool:
        state = runtime.state
        return state.last_seen is not None or state.connected

    if contacted():
        ir.async_delete_issue(hass, DOMAIN, issue_id)
    else:
        ir.async_create_issue(
            hass,
            DOMAIN,
            issue_id,
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key="never_connected",
            translation_placeholders={
                "name": entry.title,
                "tracker_id": runtime.ident,
                "port": str(entry.data[CONF_PORT]),
            },
            learn_more_url=SETUP_URL,
        )

    @callback
    def changed(update: Update) -> None:
        if DEVICE_MODEL in update.changed:
            _sync_device_model(hass, runtime)
        if contacted():
            ir.async_delete_issue(hass, DOMAIN, issue_id)

    entry.async_on_unload(
        runtime.subscribe(changed, (DEVICE_MODEL, KEY_CONNECTED, KEY_LAST_SEEN, KEY_ONLINE))
    )


@callback
def _sync_device_model(hass: HomeAssistant, runtime: SinotrackRuntime) -> None:
    """The device's model is the one the tracker reported (JT/T 808 registration), else
    none: the integration does not guess it."""
    registry = dr.async_get(hass)
    reported = runtime.state.values.get(DEVICE_MODEL)
    model = str(reported) if reported else None
    for device in dr.async_entries_for_config_entry(registry, runtime.entry_id):
        if (DOMAIN, runtime.ident) in device.identifiers and device.model != model:
            registry.async_update_device(device.id, model=model)
