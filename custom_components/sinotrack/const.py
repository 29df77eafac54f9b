"""Constants of the Sinotrack integration."""

from __future__ import annotations

import logging
from typing import Final

DOMAIN: Final = "sinotrack"
LOGGER = logging.getLogger(__package__)

MANUFACTURER: Final = "SinoTrack"

CONF_TRACKER_ID: Final = "tracker_id"
CONF_BIND_ADDRESS: Final = "bind_address"
CONF_ADVANCED: Final = "advanced"

CONF_OFFLINE_TIMEOUT: Final = "offline_timeout"
CONF_JT808_UTC_OFFSET: Final = "jt808_utc_offset"
CONF_ALLOW_INVALID_FIX: Final = "allow_invalid_fix"
CONF_ALLOW_ENGINE_COMMANDS: Final = "allow_engine_commands"
CONF_ALLOWED_NETWORKS: Final = "allowed_networks"
CONF_STOP_TIME: Final = "stop_time"

DEFAULT_PORT: Final = 5013
ALL_ADDRESSES: Final = "::"
"""The bind address meaning every IPv4 and IPv6 address of the machine (one dual-stack
socket; on a machine without IPv6, every IPv4 address)."""
ALL_IPV4_ADDRESSES: Final = "0.0.0.0"  # noqa: S104 - trackers connect from the internet
"""The bind address meaning every IPv4 address only. Entries of minor version 1 stored it
as their "all addresses" default; ``async_migrate_entry`` moves them to ``ALL_ADDRESSES``."""
DEFAULT_BIND_ADDRESS: Final = ALL_ADDRESSES
DEFAULT_OFFLINE_TIMEOUT: Final = 30
"""Minutes without a frame before a tracker counts as offline (a sleeping ST-903 sends a
heartbeat every few minutes)."""
DEFAULT_JT808_UTC_OFFSET: Final = 8.0
MAX_DISCOVERY_FLOWS: Final = 10
"""Sinotrack discovery flows ("tracker found") in progress at once; an unknown ID beyond
them is not offered until some are dismissed or added."""

SETUP_URL: Final = (
    "https://github.com/sinotrack-ha/sinotrack-ha#point-the-tracker-at-home-assistant"
)
"""The README's steps to point a tracker at Home Assistant (linked from the repair issue
of a tracker that has not connected yet)."""
WAIT_FOR_TRACKER: Final = 300.0
"""Seconds the set-up flow's "Wait for the tracker" step waits for the first frame before
it offers to wait again or finish (a tracker just set by SMS connects within minutes)."""

ATTR_DEVICE_ID: Final = "device_id"
ATTR_CONFIG_ENTRY_ID: Final = "config_entry_id"
ATTR_PAYLOAD: Final = "payload"
ATTR_TIMEOUT: Final = "timeout"
ATTR_QUEUE_IF_OFFLINE: Final = "queue_if_offline"
ATTR_INTERVAL: Final = "interval"

SERVICE_SEND_COMMAND: Final = "send_command"
SERVICE_QUERY_MILEAGE: Final = "query_mileage"
SERVICE_REQUEST_POSITION: Final = "request_position"
SERVICE_SET_INTERVAL: Final = "set_interval"
SERVICE_ENGINE_STOP: Final = "engine_stop"
SERVICE_ENGINE_RESUME: Final = "engine_resume"
SERVICE_ARM: Final = "arm"
SERVICE_DISARM: Final = "disarm"
SERVICE_RESET_JT808_AUTH: Final = "reset_jt808_auth"

CONF_GUARD_RADIUS: Final = "guard_radius"
CONF_GUARD_EXIT_DELAY: Final = "guard_exit_delay"
CONF_GUARD_ENTRY_DELAY: Final = "guard_entry_delay"
CONF_GUARD_CODE: Final = "guard_code"
"""The guard's code as entered in the options form (never stored)."""
CONF_GUARD_CODE_HASH: Final = "guard_code_hash"
"""The guard's code as stored: a salted PBKDF2 hash (redacted in diagnostics)."""
CONF_GUARD_CODE_FORMAT: Final = "guard_code_format"
CONF_GUARD_CLEAR_CODE: Final = "guard_clear_code"
CONF_GUARD_ARM_TRACKER: Final = "guard_arm_tracker"
CONF_GUARD_AUTO_ARM: Final = "guard_auto_arm"
CONF_GUARD_SILENT: Final = "guard_silent"
CONF_GUARD_STOP_ENGINE: Final = "guard_stop_engine"
DEFAULT_GUARD_RADIUS: Final = 100
ATTR_WHEN: Final = "when"
SERVICE_CANCEL_COMMANDS: Final = "cancel_commands"
SERVICE_GET_TRIPS: Final = "get_trips"
ATTR_START: Final = "start"
ATTR_END: Final = "end"
ATTR_FORMAT: Final = "format"
CONF_ENTRY_KIND: Final = "kind"
"""In ``entry.data`` of the Location services entry (tracker entries have none)."""
KIND_LOCATION: Final = "location_services"
"""The Location services entry's kind, and its unique ID (one only)."""
CONF_CELLS_PATH: Final = "cells_path"
"""Location services: the folder of OpenCelliD exports, or one export (empty: the default)."""
DEFAULT_CELLS_FOLDER: Final = "sinotrack/cells"
"""The default folder of OpenCelliD exports, in the Home Assistant configuration."""
CONF_GEOLOCATE_URL: Final = "geolocate_url"
CONF_GEOLOCATE_KEY: Final = "geolocate_key"
CONF_NOMINATIM_URL: Final = "nominatim_url"
CONF_USE_CELL_POSITION: Final = "use_cell_position"
"""Tracker option: show the serving cell's position when there is no GPS fix."""

CONF_SMS_NUMBER: Final = "sms_number"
"""The tracker's phone number, E.164 (redacted in diagnostics)."""
CONF_SMS_PASSWORD: Final = "sms_password"  # noqa: S105 - an option name
"""The tracker's SMS password (a secret: never logged, redacted in diagnostics)."""
CONF_SMS_NOTIFY: Final = "sms_notify"
"""The notify action that sends SMS (``notify.sms``): text in ``message``, number in ``target``."""
CONF_SMS_HOST: Final = "sms_host"
CONF_SMS_APN: Final = "sms_apn"
ATTR_MESSAGE: Final = "message"
ATTR_WAIT_FOR_REPLY: Final = "wait_for_reply"
ATTR_WAIT_FOR_CONNECTION: Final = "wait_for_connection"
ATTR_CHANNEL: Final = "channel"
ATTR_HOST: Final = "host"
ATTR_APN: Final = "apn"
SERVICE_SEND_SMS: Final = "send_sms"
SERVICE_SETUP_BY_SMS: Final = "setup_tracker_by_sms"
