"""The parked-car guard: an alarm panel's rules for a vehicle, without Home Assistant.

States: ``disarmed``, ``arming`` (the exit delay runs), ``armed_away``, ``pending`` (the
entry delay runs) and ``triggered`` (until disarmed). Times are the server's (aware
datetimes) given by the caller. Rules:

* Armed, the guard triggers on: the vehicle displaced from where it was armed by more than
  ``max(radius, 2 x accuracy)`` (valid GPS fixes only: a cell-tower position or an invalid
  fix is never a displacement, and GPS jitter stays within twice its accuracy); the
  ignition on; the vehicle moving (speed from ``MOVING_SPEED``) with the ignition off
  (towing); the tracker's own power-cut, vibration, SOS, theft, illegal-displacement and
  illegal-ignition alarms as they rise; optionally the tracker silent for longer than three
  times its median report gap and at least ``SILENT_MINIMUM``.
* One triggering is one :class:`Trigger`: the guard then stays ``triggered`` (or
  ``pending``) whatever follows, until it is disarmed.
* The armed position is the latest valid GPS fix when the guard becomes armed, or the
  first one after that.
* Auto-arm (optional): disarmed, parked (ignition off, not moving) for the given minutes.
  A parking the user disarmed in does not arm again: the ignition must go on first.
* The stored form (:meth:`Guard.as_dict`) keeps the state, the armed position and the
  report gaps, so an armed guard stays armed across a restart.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import statistics
from typing import Any, Final

from custom_components.sinotrack.protocol import Message, message as p

from .geo import haversine_km
from .position import fix_accuracy
from .state import MOVING_SPEED

DISARMED: Final = "disarmed"
ARMING: Final = "arming"
ARMED_AWAY: Final = "armed_away"
PENDING: Final = "pending"
TRIGGERED: Final = "triggered"
GUARD_STATES: Final = (DISARMED, ARMING, ARMED_AWAY, PENDING, TRIGGERED)

REASONS: Final = (
    "displaced",
    "ignition",
    "towing",
    "power_cut",
    "vibration",
    "sos",
    "theft",
    "silent",
)
"""Every trigger reason, as the ``reason`` of the ``guard_triggered`` event."""
ALARM_REASONS: Final[dict[str, str]] = {
    p.POWER_CUT: "power_cut",
    p.VIBRATION: "vibration",
    p.SOS: "sos",
    p.THEFT: "theft",
    p.ILLEGAL_DISPLACEMENT: "displaced",
    p.ILLEGAL_IGNITION: "ignition",
}
"""The tracker's own alarm flags that trigger the guard, and the reason each gives."""

SOURCE_GPS: Final = "gps"
SOURCE_CELL: Final = "cell"
DEFAULT_RADIUS_M: Final = 100.0
SILENT_MINIMUM: Final = timedelta(minutes=10)
"""The silent trigger never fires before this, however often the tracker reports."""
SILENT_FACTOR: Final = 3.0
SILENT_MIN_GAPS: Final = 3
"""Report gaps needed before the silent rule has a median to go by."""
MAX_GAPS: Final = 50
"""Report gaps kept for the median (the latest ones)."""


@dataclass(frozen=True, slots=True)
class GuardOptions:
    """The guard's options (an admin sets them)."""

    radius_m: float = DEFAULT_RADIUS_M
    exit_delay: timedelta = timedelta(0)
    entry_delay: timedelta = timedelta(0)
    silent: bool = False
    """Trigger when the tracker stays silent (a jammer, a cut wire)."""
    auto_arm: timedelta | None = None
    """Arm after the vehicle has been parked this long; None: never."""


@dataclass(frozen=True, slots=True)
class Report:
    """What the guard reads of one message: its time, position, speed, ignition, alarms."""

    time: datetime
    """The device time, never later than the server's (else the server's)."""
    latitude: float | None = None
    longitude: float | None = None
    accuracy: float = 0.0
    valid: bool = False
    """A valid fix (a position that may count as a displacement, a speed to go by)."""
    source: str = SOURCE_GPS
    speed: float | None = None
    ignition: bool | None = None
    alarms: frozenset[str] = frozenset()
    """Reasons of the guard's alarm flags set in the message."""


def guard_report(message: Message, now: datetime, source: str = SOURCE_GPS) -> Report:
    """The guard's view of ``message``, received at server time ``now``; ``source``:
    where its position comes from (``gps`` or ``cell``)."""
    timestamp = message.get(p.TIMESTAMP)
    when = now
    if timestamp is not None:
        when = min(now, datetime.fromtimestamp(timestamp, UTC))
    latitude = message.get(p.LATITUDE)
    longitude = message.get(p.LONGITUDE)
    has_fix = latitude is not None and longitude is not None
    ignition = message.get(p.IGNITION)
    speed = message.get(p.SPEED)
    return Report(
        time=when,
        latitude=float(latitude) if latitude is not None else None,
        longitude=float(longitude) if longitude is not None else None,
        accuracy=fix_accuracy(message.get(p.HDOP)) if has_fix else 0.0,
        valid=has_fix and bool(message.get(p.VALID, True)),
        source=source,
        speed=float(speed) if speed is not None else None,
        ignition=None if ignition is None else bool(ignition),
        alarms=frozenset(reason for key, reason in ALARM_REASONS.items() if message.get(key)),
    )


@dataclass(frozen=True, slots=True)
class Trigger:
    """One triggering: its reason and where the vehicle was."""

    reason: str
    time: datetime
    latitude: float | None = None
    longitude: float | None = None
    speed: float | None = None

    def data(self) -> dict[str, Any]:
        """The ``guard_triggered`` event data."""
        return {
            "reason": self.reason,
            "latitude": self.latitude,
            "longitude": self.longitude,
            "speed": self.speed,
            "time": self.time.isoformat(),
        }

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form for the store."""
        return self.data()

    @classmethod
    def from_dict(cls, data: Any) -> Trigger | None:
        """The trigger stored by :meth:`as_dict`; None for anything else."""
        if not isinstance(data, dict) or data.get("reason") not in REASONS:
            return None
        when = _when(data.get("time"))
        if when is None:
            return None
        return cls(
            str(data["reason"]),
            when,
            _number(data.get("latitude")),
            _number(data.get("longitude")),
            _number(data.get("speed")),
        )


@dataclass(frozen=True, slots=True)
class Change:
    """What a call changed: whether the state did, and the trigger to announce (once)."""

    state_changed: bool = False
    fired: Trigger | None = None
    """The triggering to announce now (the guard became ``triggered``)."""
    armed: bool = False
    """The guard was armed by its own rule (auto-arm)."""


class Guard:
    """One vehicle's guard: its state and the rules that change it."""

    def __init__(self, options: GuardOptions | None = None) -> None:
        self.options = options if options is not None else GuardOptions()
        self.state: str = DISARMED
        self.until: datetime | None = None
        """The end of the exit delay (arming) or entry delay (pending)."""
        self.armed_position: tuple[float, float, float] | None = None
        """(latitude, longitude, accuracy) where the guard was armed."""
        self.trigger: Trigger | None = None
        """The triggering (pending or triggered)."""
        self.last_report: datetime | None = None
        """Server time of the tracker's last frame (the silent rule)."""
        self.gaps = array("d")
        """Seconds between the tracker's frames, the latest ``MAX_GAPS`` (unboxed: every
        tracker has them)."""
        self.last_fix: Report | None = None
        """The latest valid GPS fix."""
        self.active_alarms: frozenset[str] = frozenset()
        """The alarm reasons set in the tracker's latest report (rising ones trigger)."""
        self.parked_since: datetime | None = None
        self.parking_used = False
        """The user disarmed during this parking: auto-arm waits for the next one."""

    @property
    def armed(self) -> bool:
        """Armed (watching), or already pending/triggered."""
        return self.state in (ARMED_AWAY, PENDING, TRIGGERED)

    # -- the user's commands -----------------------------------------------------------

    def arm(self, now: datetime) -> Change:
        """Arm (after the exit delay, if one is set)."""
        if self.state != DISARMED:
            return Change()
        if self.options.exit_delay > timedelta(0):
            self.state, self.until = ARMING, now + self.options.exit_delay
        else:
            self._armed()
        return Change(state_changed=True)

    def disarm(self) -> Change:
        """Disarm, whatever the state; the triggering is over."""
        if self.state == DISARMED:
            return Change()
        self.state, self.until, self.trigger = DISARMED, None, None
        self.armed_position = None
        if self.parked_since is not None:
            self.parking_used = True
        return Change(state_changed=True)

    def _armed(self) -> None:
        self.state, self.until, self.trigger = ARMED_AWAY, None, None
        fix = self.last_fix
        self.armed_position = (
            (fix.latitude, fix.longitude, fix.accuracy)
            if fix is not None and fix.latitude is not None and fix.longitude is not None
            else None
        )

    # -- the tracker's reports ---------------------------------------------------------

    def frame(self, now: datetime) -> None:
        """The tracker sent a frame at server time ``now`` (any frame: the silent rule)."""
        last = self.last_report
        if last is not None and now > last:
            self._add_gaps(((now - last).total_seconds(),))
        self.last_report = now

    def _add_gaps(self, gaps: Iterable[float]) -> None:
        """Keep ``gaps`` after the others, the latest ``MAX_GAPS`` of all."""
        kept = self.gaps
        kept.extend(gaps)
        if len(kept) > MAX_GAPS:
            del kept[: len(kept) - MAX_GAPS]

    def observe(self, report: Report, now: datetime) -> Change:
        """A message of the tracker (after :meth:`frame` for its frame)."""
        rising = report.alarms - self.active_alarms
        self.active_alarms = report.alarms
        gps_fix = report.valid and report.source == SOURCE_GPS
        if gps_fix and report.latitude is not None and report.longitude is not None:
            self.last_fix = report
        self._parking(report)
        change = self._tick_delays(now)
        if self.state == ARMED_AWAY and self.armed_position is None and self.last_fix:
            self._armed()  # armed without a fix: the first one is where it stands
        if self.state != ARMED_AWAY:
            return change
        reason = self._reason(report, rising, gps_fix)
        if reason is None:
            return change
        trigger = Trigger(reason, report.time, report.latitude, report.longitude, report.speed)
        return self._triggered(trigger, now)

    def _reason(self, report: Report, rising: frozenset[str], gps_fix: bool) -> str | None:
        """Why ``report`` triggers the armed guard; None if it does not."""
        for reason in REASONS:
            if reason in rising:
                return reason
        if report.ignition:
            return "ignition"
        if gps_fix and report.speed is not None and report.speed >= MOVING_SPEED:
            return "towing"
        if gps_fix and self.armed_position is not None and self._displaced(report):
            return "displaced"
        return None

    def _displaced(self, report: Report) -> bool:
        """The fix lies farther from the armed position than the radius and than twice the
        accuracy of either fix."""
        if self.armed_position is None or report.latitude is None or report.longitude is None:
            return False
        latitude, longitude, accuracy = self.armed_position
        meters = haversine_km(latitude, longitude, report.latitude, report.longitude) * 1000
        return meters > max(self.options.radius_m, 2 * accuracy, 2 * report.accuracy)

    def _triggered(self, trigger: Trigger, now: datetime) -> Change:
        self.trigger = trigger
        if self.options.entry_delay > timedelta(0):
            self.state, self.until = PENDING, now + self.options.entry_delay
            return Change(state_changed=True)
        self.state, self.until = TRIGGERED, None
        return Change(state_changed=True, fired=trigger)

    def _parking(self, report: Report) -> None:
        """Follow the parking the auto-arm rule waits for."""
        moving = report.valid and report.speed is not None and report.speed >= MOVING_SPEED
        if report.ignition or moving:
            self.parked_since, self.parking_used = None, False
        elif report.ignition is False and self.parked_since is None:
            self.parked_since = report.time

    # -- the clock -----------------------------------------------------------------------

    def tick(self, now: datetime) -> Change:
        """Time passed: delays end, a silent tracker triggers, a parked vehicle arms."""
        change = self._tick_delays(now)
        if self.state == ARMED_AWAY and self.options.silent and self._silent(now):
            fix = self.last_fix
            trigger = Trigger(
                "silent",
                now,
                fix.latitude if fix else None,
                fix.longitude if fix else None,
                fix.speed if fix else None,
            )
            return self._triggered(trigger, now)
        auto_arm = self.options.auto_arm
        if (
            self.state == DISARMED
            and auto_arm is not None
            and self.parked_since is not None
            and not self.parking_used
            and now - self.parked_since >= auto_arm
        ):
            self.arm(now)
            return Change(state_changed=True, armed=True)
        return change

    def _tick_delays(self, now: datetime) -> Change:
        """The exit delay or the entry delay ended."""
        if self.until is None or now < self.until:
            return Change()
        if self.state == ARMING:
            self._armed()
            return Change(state_changed=True)
        if self.state == PENDING:
            self.state, self.until = TRIGGERED, None
            return Change(state_changed=True, fired=self.trigger)
        return Change()

    def silent_after(self) -> timedelta | None:
        """How long the tracker may stay silent: three times its median report gap, at
        least ``SILENT_MINIMUM``; None while too few gaps are known."""
        if len(self.gaps) < SILENT_MIN_GAPS:
            return None
        median = timedelta(seconds=statistics.median(self.gaps))
        return max(SILENT_MINIMUM, median * SILENT_FACTOR)

    def _silent(self, now: datetime) -> bool:
        limit = self.silent_after()
        return limit is not None and self.last_report is not None and now - self.last_report > limit

    # -- the stored form -----------------------------------------------------------------

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form for the store."""
        fix = self.last_fix
        return {
            "state": self.state,
            "until": self.until.isoformat() if self.until else None,
            "armed_position": list(self.armed_position) if self.armed_position else None,
            "trigger": self.trigger.as_dict() if self.trigger else None,
            "last_report": self.last_report.isoformat() if self.last_report else None,
            "gaps": list(self.gaps),
            "last_fix": [fix.latitude, fix.longitude, fix.accuracy, fix.time.isoformat()]
            if fix
            else None,
            "active_alarms": sorted(self.active_alarms),
            "parked_since": self.parked_since.isoformat() if self.parked_since else None,
            "parking_used": self.parking_used,
        }

    @classmethod
    def from_dict(cls, data: Any, options: GuardOptions | None = None) -> Guard:
        """The guard stored by :meth:`as_dict` (a disarmed one for anything unreadable)."""
        guard = cls(options)
        if not isinstance(data, dict):
            return guard
        state = data.get("state")
        guard.state = state if state in GUARD_STATES else DISARMED
        guard.until = _when(data.get("until"))
        if guard.state in (ARMING, PENDING) and guard.until is None:
            guard.state = ARMED_AWAY if guard.state == ARMING else TRIGGERED
        position = data.get("armed_position")
        if isinstance(position, list) and len(position) == 3:
            values = [_number(v) for v in position]
            if None not in values:
                guard.armed_position = (
                    float(values[0] or 0),
                    float(values[1] or 0),
                    float(values[2] or 0),
                )
        guard.trigger = Trigger.from_dict(data.get("trigger"))
        if guard.state in (PENDING, TRIGGERED) and guard.trigger is None:
            guard.state = ARMED_AWAY
        guard.last_report = _when(data.get("last_report"))
        gaps = data.get("gaps")
        if isinstance(gaps, list):
            guard._add_gaps(float(g) for g in gaps if isinstance(g, (int, float)) and g > 0)
        fix = data.get("last_fix")
        if isinstance(fix, list) and len(fix) == 4 and (when := _when(fix[3])) is not None:
            latitude, longitude, accuracy = (_number(v) for v in fix[:3])
            if latitude is not None and longitude is not None:
                guard.last_fix = Report(when, latitude, longitude, accuracy or 0.0, valid=True)
        alarms = data.get("active_alarms")
        if isinstance(alarms, list):
            guard.active_alarms = frozenset(a for a in alarms if a in REASONS)
        guard.parked_since = _when(data.get("parked_since"))
        guard.parking_used = bool(data.get("parking_used"))
        return guard


def _number(value: Any) -> float | None:
    """A stored number; None for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _when(text: Any) -> datetime | None:
    """An aware datetime from its stored ISO 8601 form; None for anything else."""
    if not isinstance(text, str):
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
