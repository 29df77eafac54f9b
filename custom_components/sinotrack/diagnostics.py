"""Diagnostics, with the tracker ID, position and peer address redacted."""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from .const import CONF_TRACKER_ID
from .protocol import message as p
from .runtime import SinotrackConfigEntry

TO_REDACT = {
    CONF_TRACKER_ID,
    "ident",
    p.IDENT,
    p.LATITUDE,
    p.LONGITUDE,
    "latitude",
    "longitude",
    "peer",
    "peers",
    "last_peer",
    p.SIM_ICCID,
    "device.imei",
    p.GSM_LAC,
    p.GSM_CELLID,
    "vehicle.plate",
    "title",
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: SinotrackConfigEntry
) -> dict[str, Any]:
    runtime = entry.runtime_data
    state = runtime.state
    listener = runtime.listener
    tracker = dict(state.as_dict())
    tracker.update(connected=state.connected, online=state.online, peer=state.peer)
    listener_data: dict[str, Any] = {}
    if listener is not None:
        listener_data = listener.diagnostics()
        trackers = listener_data.pop("trackers", None)
        if isinstance(trackers, dict):
            # Only this tracker's entry of the shared listener; others belong to other entries.
            own = trackers.get(runtime.ident)
            listener_data["tracker"] = own
    return async_redact_data(
        {
            "entry": {
                "data": dict(entry.data),
                "options": dict(entry.options),
                "title": entry.title,
            },
            "tracker": tracker,
            "listener": listener_data,
        },
        TO_REDACT,
    )
