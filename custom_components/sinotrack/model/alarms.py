"""Alarm events: which alarm flags map to which event, when one rises, how often it fires.

An alarm event fires on the rising edge of an alarm flag, not on every frame while the
flag stays set; the flags are part of the stored state, so a tracker that still reports an
alarm after a restart does not fire it again. Events are rate-limited per type.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final

from custom_components.sinotrack.protocol import Message, message as p

ALARM_EVENT_INTERVAL: Final = 30.0
"""Seconds: at most one alarm event of each type per tracker in this time. A real alarm is
news once; a connection toggling a flag many times a second must not flood automations
(each event may be a phone notification)."""

ALARM_EVENTS: Final[dict[str, str]] = {
    p.SOS: "sos",
    p.POWER_CUT: "power_cut",
    p.CRASH: "crash",
    p.ROLLOVER: "rollover",
    p.OVERSPEED: "overspeed",
    p.FATIGUE: "fatigue",
    p.LOW_BATTERY: "low_battery",
    p.VIBRATION: "vibration",
    p.GEOFENCE_IN: "geofence_enter",
    p.GEOFENCE_OUT: "geofence_exit",
    p.GEOFENCE: "geofence",
    p.GNSS_ANTENNA_CUT: "gnss_antenna_cut",
    p.GNSS_ANTENNA_SHORT: "gnss_antenna_short",
    p.GNSS_FAULT: "gnss_fault",
    p.ILLEGAL_IGNITION: "illegal_ignition",
    p.BATTERY_REMOVED: "battery_removed",
    p.TEMPERATURE_ALARM: "temperature",
    p.THEFT: "theft",
    p.ILLEGAL_DISPLACEMENT: "illegal_displacement",
    p.DOOR_ILLEGAL_OPEN: "illegal_door_open",
    p.PARKING_TIMEOUT: "parking_timeout",
    p.DANGER_WARNING: "danger_warning",
    p.CUSTOM_ALARM: "custom",
}
"""Alarm flag (message parameter) -> event type of the alarm event entity."""
EVENT_TYPES: Final = sorted(set(ALARM_EVENTS.values()))

_GEOFENCE: Final = "geofence"
_GEOFENCE_DIRECTIONS: Final = frozenset({"geofence_enter", "geofence_exit"})


@dataclass(frozen=True, slots=True)
class AlarmEvent:
    """One alarm occurrence: its event type and the event data (time, position, speed)."""

    type: str
    data: Mapping[str, Any]


@dataclass(slots=True)
class AlarmRateLimit:
    """At most one alarm event per type in ``interval`` seconds; the rest are counted.

    Times are the server's epoch seconds given by the caller (never the device's, which
    the sender chooses), so the rule is testable without a clock. The window starts at
    each event let through: an alarm repeated every second fires once every ``interval``
    seconds, not once and then never. A clock set back does not hold events back longer.
    """

    interval: float = ALARM_EVENT_INTERVAL
    suppressed: dict[str, int] = field(default_factory=dict)
    """Events held back, per type, since the tracker's entry started."""
    _last: dict[str, float] = field(default_factory=dict)

    def allow(self, event_type: str, now: float) -> bool:
        """True if an event of ``event_type`` may fire at ``now``; counts it if not."""
        last = self._last.get(event_type)
        if last is not None and 0 <= now - last < self.interval:
            self.suppressed[event_type] = self.suppressed.get(event_type, 0) + 1
            return False
        self._last[event_type] = now
        return True

    @property
    def suppressed_total(self) -> int:
        """All events held back."""
        return sum(self.suppressed.values())


def rising_alarms(flags: dict[str, bool], message: Message) -> list[str]:
    """Update the alarm ``flags`` from ``message``; the event types whose flag rose.

    A flag the message does not carry keeps its value. A geofence alarm that comes with
    its direction (enter or exit) is one event, the direction's: it says more.
    """
    rising: list[str] = []
    for key, event_type in ALARM_EVENTS.items():
        active = message.get(key)
        if active is None:
            continue
        was = flags.get(key, False)
        flags[key] = bool(active)
        if active and not was:
            rising.append(event_type)
    if _GEOFENCE in rising and not _GEOFENCE_DIRECTIONS.isdisjoint(rising):
        rising.remove(_GEOFENCE)
    return rising


def alarm_data(message: Message, now: datetime) -> Mapping[str, Any]:
    """The event data of an alarm raised by ``message`` at server time ``now``.

    ``time``: the message's device time (else ``now``), ISO 8601; the position and whether
    it is valid when the message has one; the speed when it has one.
    """
    timestamp = message.get(p.TIMESTAMP)
    when = datetime.fromtimestamp(timestamp, UTC) if timestamp is not None else now
    data: dict[str, Any] = {"time": when.isoformat()}
    if p.LATITUDE in message:
        data["latitude"] = message[p.LATITUDE]
        data["longitude"] = message[p.LONGITUDE]
        data["position_valid"] = bool(message.get(p.VALID, True))
    if p.SPEED in message:
        data["speed"] = message[p.SPEED]
    return MappingProxyType(data)
