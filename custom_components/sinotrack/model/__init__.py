"""The tracker model: a tracker's state and every rule that changes it, without Home Assistant.

Pure code (no Home Assistant import, no clock, no I/O), tested with plain values. The
runtime feeds it the messages the listener decoded, with the time, and acts on the
:class:`Update` it returns (writes entities, fires events, saves the state).

Modules: ``state`` (the state, derived values, stored form), ``tracker`` (applying a
frame, online, the tick), ``position`` (position shown, distance counted), ``alarms``
(alarm edges, event data, rate limit), ``storable`` (what may enter the state), ``keys``
(change keys), ``cell`` (the serving cell, a cell's position for want of GPS), ``geo``
(great-circle distance), ``guard`` (the parked-car guard's triggers and states),
``engine_stop`` (when an engine command may go).
"""

from __future__ import annotations

from .alarms import (
    ALARM_EVENT_INTERVAL,
    ALARM_EVENTS,
    EVENT_TYPES,
    AlarmEvent,
    AlarmRateLimit,
    alarm_data,
    rising_alarms,
)
from .cell import (
    POSITION_SOURCES,
    SOURCE_CELL,
    SOURCE_GPS,
    Cell,
    cell_accuracy,
    serving_cell,
    wants_cell_position,
)
from .keys import (
    KEY_ALARM,
    KEY_CELL_POSITION,
    KEY_CONNECTED,
    KEY_DISTANCE,
    KEY_LAST_SEEN,
    KEY_MOVING,
    KEY_ODOMETER,
    KEY_ONLINE,
    KEY_POSITION,
    KEY_POSITION_SOURCE,
    KEY_VEHICLE_STATE,
)
from .position import (
    DEFAULT_ACCURACY_M,
    JITTER_KM,
    MAX_PLAUSIBLE_KMH,
    METERS_PER_HDOP,
    fix_accuracy,
)
from .state import (
    MOVING_SPEED,
    STOP_DELAY,
    VEHICLE_STATES,
    TrackerState,
    holds_counted_odometer,
    vehicle_state_of,
)
from .storable import (
    MAX_SAFE_INT,
    MAX_TIMESTAMP,
    storable,
    storable_items,
    storable_message,
    storable_timestamp,
)
from .tracker import (
    FUTURE_TOLERANCE,
    LAST_SEEN_RESOLUTION,
    Tracker,
    Update,
    is_online,
)

__all__ = [
    "ALARM_EVENTS",
    "ALARM_EVENT_INTERVAL",
    "DEFAULT_ACCURACY_M",
    "EVENT_TYPES",
    "FUTURE_TOLERANCE",
    "JITTER_KM",
    "KEY_ALARM",
    "KEY_CELL_POSITION",
    "KEY_CONNECTED",
    "KEY_DISTANCE",
    "KEY_LAST_SEEN",
    "KEY_MOVING",
    "KEY_ODOMETER",
    "KEY_ONLINE",
    "KEY_POSITION",
    "KEY_POSITION_SOURCE",
    "KEY_VEHICLE_STATE",
    "LAST_SEEN_RESOLUTION",
    "MAX_PLAUSIBLE_KMH",
    "MAX_SAFE_INT",
    "MAX_TIMESTAMP",
    "METERS_PER_HDOP",
    "MOVING_SPEED",
    "POSITION_SOURCES",
    "SOURCE_CELL",
    "SOURCE_GPS",
    "STOP_DELAY",
    "VEHICLE_STATES",
    "AlarmEvent",
    "AlarmRateLimit",
    "Cell",
    "Tracker",
    "TrackerState",
    "Update",
    "alarm_data",
    "cell_accuracy",
    "fix_accuracy",
    "holds_counted_odometer",
    "is_online",
    "rising_alarms",
    "serving_cell",
    "storable",
    "storable_items",
    "storable_message",
    "storable_timestamp",
    "vehicle_state_of",
    "wants_cell_position",
]
