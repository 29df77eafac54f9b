"""Diagnostics, with the tracker ID, position and peer address redacted."""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from .const import (
    CONF_GEOLOCATE_KEY,
    CONF_GEOLOCATE_URL,
    CONF_GUARD_CODE_HASH,
    CONF_SMS_NUMBER,
    CONF_SMS_PASSWORD,
    CONF_TRACKER_ID,
)
from .location_entry import LocationServices
from .protocol import message as p
from .runtime import SinotrackConfigEntry, SinotrackRuntime

TO_REDACT = {
    CONF_TRACKER_ID,
    p.IDENT,
    p.LATITUDE,
    p.LONGITUDE,
    "latitude",
    "longitude",
    "anchor",
    "peer",
    "peers",
    "last_peer",
    p.SIM_ICCID,
    p.DEVICE_IMEI,
    p.GSM_LAC,
    p.GSM_CELLID,
    p.VEHICLE_PLATE,
    "title",
    CONF_GUARD_CODE_HASH,
    "armed_position",
    "last_fix",
    "trigger",
    "cell",
    "shown_cell",
    CONF_GEOLOCATE_KEY,
    CONF_GEOLOCATE_URL,  # a key may be typed into its query: its host is shown apart
    CONF_SMS_NUMBER,
    CONF_SMS_PASSWORD,
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: SinotrackConfigEntry
) -> dict[str, Any]:
    """The entry, its tracker's state and safety counters, its part of the listener."""
    tracker: dict[str, Any] | None = None
    listener_data: dict[str, Any] = {}
    # No runtime when the entry is not loaded, e.g. while it waits for its port.
    runtime: SinotrackRuntime | LocationServices | None = getattr(entry, "runtime_data", None)
    if isinstance(runtime, LocationServices):  # the Location services entry
        return async_redact_data(
            {
                "entry": {"state": entry.state.value, "options": dict(entry.options)},
                "location_services": runtime.diagnostics(),
            },
            TO_REDACT,
        )
    if runtime is not None:
        state = runtime.state
        tracker = dict(state.as_dict())
        tracker.update(connected=state.connected, online=state.online, peer=state.peer)
        tracker["safety"] = {
            "allowed_networks": [str(network) for network in runtime.allowed_networks],
            "alarm_events_suppressed": dict(sorted(runtime.alarm_limit.suppressed.items())),
            "values_refused": runtime.values_refused,
            "subscriber_errors": runtime.subscriber_errors,
            "jt808_auth_code_stored": runtime.jt808_auth_code is not None,
            "jt808_registrations_refused": runtime.registrations_refused,
        }
        tracker["guard"] = runtime.guard.diagnostics()
        listener = runtime.listener
        listener_data = listener.diagnostics()
        # Only this tracker's part of the shared listener; the others belong to other entries.
        listener_data.pop("trackers", None)
        listener_data["tracker"] = listener.tracker_diagnostics(runtime.ident)
    return async_redact_data(
        {
            "entry": {
                "state": entry.state.value,
                "data": dict(entry.data),
                "options": dict(entry.options),
                "title": entry.title,
            },
            "tracker": tracker,
            "listener": listener_data,
        },
        TO_REDACT,
    )
