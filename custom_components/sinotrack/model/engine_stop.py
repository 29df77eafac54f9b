"""The safe engine stop: an engine command reaches the tracker only while the vehicle stands.

Rules (times are the server's, given by the caller):

* The vehicle stands when the tracker's latest valid report (a valid fix with a speed) is
  at most ``FRESH_REPORT`` old and shows a speed below ``MOVING_SPEED``. Its age counts from
  its device time (never later than when it arrived): a blind-area upload of old fixes is
  not fresh.
* ``when: stopped`` (the default): sent now if the vehicle stands, else held until the
  first fresh report that shows it standing. ``when: now``: sent now if it stands, else
  refused (it only skips the wait, never the check).
* At most one held engine command per tracker: holding another replaces it (and says so).
  A held command expires ``HOLD_EXPIRY`` after it was held.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from custom_components.sinotrack.protocol import Message, message as p

from .state import MOVING_SPEED

FRESH_REPORT: Final = timedelta(minutes=2)
HOLD_EXPIRY: Final = timedelta(hours=1)
WHEN_STOPPED: Final = "stopped"
WHEN_NOW: Final = "now"

SEND: Final = "send"
HOLD: Final = "hold"
REFUSE: Final = "refuse"


@dataclass(frozen=True, slots=True)
class SpeedReport:
    """The latest valid report: when it was taken and its speed (km/h)."""

    time: datetime
    speed: float


def speed_report(message: Message, now: datetime) -> SpeedReport | None:
    """The report ``message`` (received at server time ``now``) gives, if it is a valid
    fix with a speed; its time is the device's, never later than ``now``."""
    speed = message.get(p.SPEED)
    if speed is None or p.LATITUDE not in message or not message.get(p.VALID, True):
        return None
    timestamp = message.get(p.TIMESTAMP)
    when = now if timestamp is None else min(now, datetime.fromtimestamp(timestamp, UTC))
    return SpeedReport(when, float(speed))


def stands(report: SpeedReport | None, now: datetime) -> bool:
    """The latest valid report is fresh and shows the vehicle below the moving speed."""
    return report is not None and now - report.time <= FRESH_REPORT and report.speed < MOVING_SPEED


def decide(report: SpeedReport | None, now: datetime, when: str = WHEN_STOPPED) -> str:
    """``SEND``, ``HOLD`` (``when`` is ``stopped``) or ``REFUSE`` (``when`` is ``now``)."""
    if stands(report, now):
        return SEND
    return HOLD if when == WHEN_STOPPED else REFUSE


@dataclass(frozen=True, slots=True)
class HeldCommand:
    """An engine command waiting for the vehicle to stand."""

    kind: str
    """The command kind (``engine_stop``, or ``custom`` for a raw payload)."""
    payload: str
    held: datetime
    expires: datetime
    origin: str = "action"
    """Who asked: ``action`` or ``guard``."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form for the store."""
        return {
            "kind": self.kind,
            "payload": self.payload,
            "held": self.held.isoformat(),
            "expires": self.expires.isoformat(),
            "origin": self.origin,
        }

    @classmethod
    def from_dict(cls, data: Any) -> HeldCommand | None:
        """The command stored by :meth:`as_dict`; None for anything else."""
        if not isinstance(data, dict):
            return None
        try:
            return cls(
                str(data["kind"]),
                str(data.get("payload", "")),
                _aware(datetime.fromisoformat(data["held"])),
                _aware(datetime.fromisoformat(data["expires"])),
                str(data.get("origin", "action")),
            )
        except KeyError, TypeError, ValueError:
            return None


class EngineHold:
    """The one engine command held for a tracker, if any."""

    def __init__(self, held: HeldCommand | None = None) -> None:
        self.held = held

    def hold(self, kind: str, payload: str, now: datetime, origin: str = "action") -> bool:
        """Hold a command until the vehicle stands; True if it replaced one held."""
        replaced = self.held is not None
        self.held = HeldCommand(kind, payload, now, now + HOLD_EXPIRY, origin)
        return replaced

    def release(self, report: SpeedReport | None, now: datetime) -> HeldCommand | None:
        """The held command to send now (taken out), if the vehicle stands."""
        held = self.held
        if held is None or now >= held.expires or not stands(report, now):
            return None
        self.held = None
        return held

    def expire(self, now: datetime) -> HeldCommand | None:
        """The held command that expired (taken out), if it did."""
        held = self.held
        if held is None or now < held.expires:
            return None
        self.held = None
        return held

    def cancel(self) -> int:
        """Drop the held command; how many were dropped (0 or 1)."""
        dropped = int(self.held is not None)
        self.held = None
        return dropped


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
