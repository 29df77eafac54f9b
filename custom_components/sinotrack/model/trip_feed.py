"""From a decoded message to the fix trip detection reads, and day windows for "today".

Pure code (no Home Assistant import). Every message with a position becomes a fix, the
late ones too (blind-area batches, archived reports, fixes older than the newest): the
tracker model ignores those for the position shown, trip detection places them in time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, cast

from custom_components.sinotrack.protocol import Message, message as p

from .position import DEFAULT_ACCURACY_M, fix_accuracy
from .trip_data import Fix

type FixValues = tuple[
    float, float, float, float | None, bool | None, bool, float, float | None, bool
]
"""A fix's figures in ``TripDetector.add_values``'s order: time, latitude, longitude,
speed, ignition, valid, accuracy, mileage, late."""


def read_fix[T](message: Message, received: float, take: Callable[..., T]) -> T | None:
    """``take(*figures, received)`` with the figures of ``message``'s fix (``FixValues``'s
    order; ``received`` is the server receive time, epoch), None without a position. A
    message without a time of its own is taken as a fix at ``received``. The trip log hands
    ``TripDetector.add_values`` here: no tuple between (it runs for every report)."""
    latitude = message.get(p.LATITUDE)
    longitude = message.get(p.LONGITUDE)
    if latitude is None or longitude is None:
        return None
    timestamp = message.get(p.TIMESTAMP)
    speed = message.get(p.SPEED)
    ignition = message.get(p.IGNITION)
    mileage = message.get(p.MILEAGE)
    hdop = message.get(p.HDOP)
    return take(
        float(timestamp) if timestamp is not None else received,
        float(latitude),
        float(longitude),
        float(speed) if speed is not None else None,
        bool(ignition) if ignition is not None else None,
        bool(message.get(p.VALID, True)),
        DEFAULT_ACCURACY_M if hdop is None else fix_accuracy(hdop),
        float(mileage) if mileage is not None else None,
        bool(message.get(p.ARCHIVE, False)),
        received,
    )


def _figures(*values: Any) -> FixValues:
    """The figures ``read_fix`` hands over, without the receive time."""
    return cast(FixValues, values[:-1])


def fix_values(message: Message, received: float) -> FixValues | None:
    """The figures of ``message``'s fix (``read_fix``), None without a position."""
    return read_fix(message, received, _figures)


def trip_fix(message: Message, received: float) -> Fix | None:
    """The fix of ``message`` (as ``fix_values`` reads it), None without a position."""
    values = fix_values(message, received)
    if values is None:
        return None
    time, latitude, longitude, speed, ignition, valid, accuracy, mileage, late = values
    return Fix(time, latitude, longitude, speed, ignition, valid, accuracy, mileage, late=late)


def trip_fixes(messages: Iterable[Message], received: float) -> list[Fix]:
    """The fixes of one frame's messages, in their order."""
    return [fix for message in messages if (fix := trip_fix(message, received)) is not None]


def day_window(now: datetime) -> tuple[float, float]:
    """Local midnight to midnight (epoch seconds) of the day of ``now``, an aware time in
    the local zone (wall-clock arithmetic: 23 or 25 hours on the days the clocks change)."""
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return start.timestamp(), (start + timedelta(days=1)).timestamp()
