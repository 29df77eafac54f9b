"""Messages and times for the model's tests."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from custom_components.sinotrack.model import Tracker, TrackerState
from custom_components.sinotrack.protocol import Message, message as p

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
"""The server's time of the first frame (device times are given relative to it too)."""
SECOND = timedelta(seconds=1)
METER_LATITUDE = 1 / 111_195
"""About one metre north, in degrees of latitude."""
OFFLINE_TIMEOUT = timedelta(minutes=30)


def new_tracker(state: TrackerState | None = None) -> Tracker:
    """A tracker (from ``state``) with the default options: offline after 30 minutes,
    invalid fixes ignored."""
    return Tracker(state, offline_timeout=OFFLINE_TIMEOUT)


def fix(
    at: datetime = T0,
    *,
    latitude: float = 9.9,
    longitude: float = -84.1,
    speed: float | None = 0.0,
    valid: bool = True,
    extra: Mapping[str, Any] | None = None,
) -> Message:
    """A position message with the device time ``at`` (and the ``extra`` values)."""
    message: Message = {
        p.MESSAGE_TYPE: "V1",
        p.TIMESTAMP: int(at.timestamp()),
        p.LATITUDE: latitude,
        p.LONGITUDE: longitude,
        p.VALID: valid,
    }
    if speed is not None:
        message[p.SPEED] = speed
    message.update(cast("Message", extra or {}))
    return message


def status(at: datetime = T0, **values: Any) -> Message:
    """A message without a position (a heartbeat with flags and values)."""
    return cast("Message", {p.MESSAGE_TYPE: "HTBT", p.TIMESTAMP: int(at.timestamp()), **values})


def unnumbered(stored: Mapping[str, Any]) -> dict[str, Any]:
    """A trip detector's stored form without its numbering (``form``, ``follows``: one more
    with every whole form made), to compare what two forms hold."""
    return {key: value for key, value in stored.items() if key not in ("form", "follows")}
