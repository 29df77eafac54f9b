"""Tracker rules that need no Home Assistant: what may be stored, how often an alarm fires.

Pure code (no Home Assistant import), tested with plain values; the runtime applies it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
import math
from typing import Any, Final

MAX_SAFE_INT: Final = 2**53 - 1
"""The largest integer every JSON reader keeps exactly (and far inside the 64-bit range
Home Assistant's JSON writer accepts). A tracker value beyond it is garbage."""

MAX_TIMESTAMP: Final = 253402300799.0
"""23:59:59 UTC on 31 December 9999, the last second a ``datetime`` can hold."""

ALARM_EVENT_INTERVAL: Final = 30.0
"""Seconds: at most one alarm event of each type per tracker in this time. A real alarm is
news once; a connection toggling a flag many times a second must not flood automations
(each event may be a phone notification)."""


def storable(value: Any) -> bool:
    """True for a scalar value Home Assistant's JSON writer stores and reads back as it was.

    Strings, booleans, ``None``, integers within ``MAX_SAFE_INT`` and finite floats.
    Anything else (huge integers, NaN and infinities, containers, other types) is not.
    """
    if value is None or isinstance(value, (str, bool)):
        return True
    if isinstance(value, int):
        return -MAX_SAFE_INT <= value <= MAX_SAFE_INT
    if isinstance(value, float):
        return math.isfinite(value)
    return False


def storable_items(values: Mapping[Any, Any]) -> dict[str, Any]:
    """The items of ``values`` that can be stored: string keys and :func:`storable` values."""
    return {key: value for key, value in values.items() if isinstance(key, str) and storable(value)}


def storable_timestamp(value: Any) -> bool:
    """True for an epoch time a ``datetime`` can represent (from 1970 to the year 9999)."""
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and storable(value)
        and 0 <= value <= MAX_TIMESTAMP
    )


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
