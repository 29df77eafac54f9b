"""Set-up and unloading of the integration and its config entries."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
import re
from typing import Final

from homeassistant.config_entries import SOURCE_INTEGRATION_DISCOVERY
from homeassistant.const import CONF_PORT, EVENT_HOMEASSISTANT_STOP, Platform
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv, discovery_flow, issue_registry as ir
from homeassistant.helpers.event import async_call_later
from homeassistant.helpers.typing import ConfigType
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey

from .command_queue import async_remove_command_queue, get_command_queue
from .const import (
    CONF_BIND_ADDRESS,
    CONF_TRACKER_ID,
    DOMAIN,
    LOGGER,
    MAX_DISCOVERY_FLOWS,
    NEVER_CONNECTED_AFTER,
)
from .listener import ListenerBindError, ListenerConfig, ListenerPool
from .runtime import SinotrackConfigEntry, SinotrackRuntime, auth_refused_issue_id
from .services import async_setup_services

PLATFORMS: list[Platform] = [
    Platform.BINARY_SENSOR,
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


def get_pool(hass: HomeAssistant) -> ListenerPool:
    """The shared listeners: one per (bind address, port), used by every entry on it."""
    pool = hass.data.get(DATA_POOL)
    if pool is None:
        pool = hass.data[DATA_POOL] = ListenerPool()
    return pool


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    async_setup_services(hass)

    async def close_listeners(_event: Event) -> None:
        """Stop accepting trackers and close their connections when Home Assistant stops."""
        pool = hass.data.get(DATA_POOL)
        if pool is not None:
            await pool.close()

    hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, close_listeners)
    return True


def port_issue_id(entry_id: str) -> str:
    return f"port_unavailable_{entry_id}"


def never_connected_issue_id(entry_id: str) -> str:
    return f"never_connected_{entry_id}"


async def async_setup_entry(hass: HomeAssistant, entry: SinotrackConfigEntry) -> bool:
    host: str = entry.data[CONF_BIND_ADDRESS]
    port: int = entry.data[CONF_PORT]
    runtime = SinotrackRuntime(
        hass,
        entry_id=entry.entry_id,
        ident=entry.data[CONF_TRACKER_ID],
        options=dict(entry.options),
    )
    await runtime.async_load()
    queue = get_command_queue(hass, entry.entry_id)
    await queue.async_load()
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
    runtime.listener = listener
    entry.runtime_data = runtime
    listener.set_unknown_tracker_callback(partial(_async_discovered, hass, host, port))
    # Own the ID before the platforms are set up (that takes a while with many trackers):
    # a tracker reporting meanwhile updates the runtime, whose entities start from it.
    runtime.unregister = listener.register(runtime.ident, runtime)
    try:
        await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    except BaseException:
        runtime.unregister()
        runtime.unregister = None
        await pool.release(listener)
        raise
    # Commands queued with queue_if_offline before a restart wait for the tracker again.
    queue.resume(entry, listener, runtime.ident, allow_engine=runtime.allow_engine_commands)
    runtime.async_start()

    async def stop_runtime(_event: Event) -> None:
        await runtime.async_stop()

    entry.async_on_unload(hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, stop_runtime))
    _watch_first_connection(hass, entry, runtime)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: SinotrackConfigEntry) -> bool:
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        runtime = entry.runtime_data
        await runtime.async_stop()
        if runtime.listener is not None:
            await get_pool(hass).release(runtime.listener)
    return unloaded


async def async_remove_entry(hass: HomeAssistant, entry: SinotrackConfigEntry) -> None:
    ir.async_delete_issue(hass, DOMAIN, port_issue_id(entry.entry_id))
    ir.async_delete_issue(hass, DOMAIN, never_connected_issue_id(entry.entry_id))
    ir.async_delete_issue(hass, DOMAIN, auth_refused_issue_id(entry.entry_id))
    await async_remove_command_queue(hass, entry.entry_id)
    await SinotrackRuntime(
        hass, entry_id=entry.entry_id, ident=entry.data[CONF_TRACKER_ID], options={}
    ).async_remove_store()


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
    """Raise a repair issue if the tracker has not connected a day after setup."""
    issue_id = never_connected_issue_id(entry.entry_id)
    if runtime.state.last_seen is not None:
        ir.async_delete_issue(hass, DOMAIN, issue_id)
        return

    @callback
    def connected() -> None:
        ir.async_delete_issue(hass, DOMAIN, issue_id)

    @callback
    def check(_now: object = None) -> None:
        if runtime.state.last_seen is None:
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
            )

    runtime.first_frame_callbacks.append(connected)
    deadline = entry.created_at + timedelta(seconds=NEVER_CONNECTED_AFTER)
    remaining = (deadline - dt_util.utcnow()).total_seconds()
    if remaining <= 0:
        check()
    else:
        entry.async_on_unload(async_call_later(hass, remaining, check))
