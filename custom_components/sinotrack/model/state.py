"""A tracker's state (what entities read), its derived values and its stored form.

Times are aware ``datetime`` objects in UTC, or epoch seconds where the field says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from custom_components.sinotrack.protocol import message as p

from .keys import KEY_MOVING, KEY_VEHICLE_STATE
from .storable import storable_items

MOVING_SPEED: Final = 5.0
"""km/h from which a tracker counts as moving (GPS jitter stays below it when parked)."""
STOP_DELAY: Final = 120.0
"""Seconds a moving vehicle must stand still before it is no longer moving: traffic lights
and queues would otherwise log "stopped" and "moving" every minute of a drive."""

VEHICLE_STATES: Final = ["moving", "idling", "parked", "towing"]


def vehicle_state_of(speed: Any, ignition: Any, moving: bool | None) -> str | None:
    """Moving, towing (moving with the ignition off), idling (engine on) or parked; None
    while neither the speed nor the ignition is known."""
    if speed is None and ignition is None:
        return None
    if moving:
        return "towing" if ignition is False else "moving"
    return "idling" if ignition else "parked"


@dataclass(slots=True)
class TrackerState:
    """What entities read. Times are aware datetimes (UTC)."""

    values: dict[str, Any] = field(default_factory=dict)
    """The latest value of every message parameter reported."""
    latitude: float | None = None
    longitude: float | None = None
    accuracy: float = 0.0
    fix_time: datetime | None = None
    """Device time of the fix of the position shown."""
    last_seen: datetime | None = None
    newest: float | None = None
    """Device timestamp (epoch) of the newest message applied."""
    odometer: float | None = None
    """The tracker's own mileage (km); None until it reports one."""
    computed_km: float = 0.0
    """The distance counted between valid fixes (km)."""
    anchor: tuple[float, float, float] | None = None
    """Latitude, longitude and time (epoch) of the fix the computed distance was last
    counted from."""
    alarms: dict[str, bool] = field(default_factory=dict)
    """Alarm flags as last reported (their rising edges are the alarm events)."""
    moving: bool | None = None
    """Moving, with ``STOP_DELAY`` (None until a speed is known)."""
    vehicle_state: str | None = None
    """One of ``VEHICLE_STATES`` (None until a speed or the ignition is known)."""
    stopped_since: float | None = None
    """Server time (epoch) the vehicle stopped while moving; None when not stopping."""
    connected: bool = False
    online: bool = False
    peer: str | None = None
    cell: tuple[int, int, int, int] | None = None
    """The serving cell last reported (mcc, mnc, lac, cell id)."""
    cell_since: float | None = None
    """Device time (epoch) the tracker entered ``cell``."""
    gps_fix_time: float | None = None
    """Device time (epoch) of the newest valid GPS fix applied."""
    fix_lost: bool = False
    """The last position reported was marked invalid (no GPS fix)."""
    position_source: str = "gps"
    """Where the position shown comes from: ``gps`` or ``cell``."""
    shown_cell: tuple[int, int, int, int] | None = None
    """The cell whose position is shown (with ``position_source`` ``cell``)."""

    @property
    def distance(self) -> float | None:
        """The distance counted (km), once there was a valid fix to count from."""
        if self.anchor is None and not self.computed_km:
            return None
        return round(self.computed_km, 3)

    def derive(self, now: float) -> set[str]:
        """Recompute moving and the vehicle state at server time ``now`` (epoch); the keys
        of those that changed.

        Moving starts at ``MOVING_SPEED`` and ends once the vehicle has stood still for
        ``STOP_DELAY``, or at once when the ignition goes off.
        """
        values = self.values
        speed = values.get(p.SPEED)
        ignition = values.get(p.IGNITION)
        changed: set[str] = set()
        if speed is not None:
            moving = self.moving
            if speed >= MOVING_SPEED:
                moving, self.stopped_since = True, None
            elif not moving or ignition is False:
                moving, self.stopped_since = False, None  # never moving, or parked
            elif self.stopped_since is None:
                self.stopped_since = now
            elif now - self.stopped_since >= STOP_DELAY:
                moving, self.stopped_since = False, None
            if moving != self.moving:
                self.moving = moving
                changed.add(KEY_MOVING)
        vehicle_state = vehicle_state_of(speed, ignition, self.moving)
        if vehicle_state != self.vehicle_state:
            self.vehicle_state = vehicle_state
            changed.add(KEY_VEHICLE_STATE)
        return changed

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form for the store."""
        return {
            "values": storable_items(self.values),
            "latitude": self.latitude,
            "longitude": self.longitude,
            "accuracy": self.accuracy,
            "fix_time": self.fix_time.isoformat() if self.fix_time else None,
            "last_seen": self.last_seen.isoformat() if self.last_seen else None,
            "newest": self.newest,
            "odometer": self.odometer,
            "computed_km": self.computed_km,
            "anchor": list(self.anchor) if self.anchor else None,
            "device_mileage": self.odometer is not None,
            "alarms": self.alarms,
            "motion": self.moving,
            "stopped_since": self.stopped_since,
            "cell": list(self.cell) if self.cell else None,
            "cell_since": self.cell_since,
            "gps_fix_time": self.gps_fix_time,
            "fix_lost": self.fix_lost,
            "position_source": self.position_source,
            "shown_cell": list(self.shown_cell) if self.shown_cell else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrackerState:
        """The state stored by :meth:`as_dict`, by this version or an earlier one.

        Earlier forms: an ``odometer`` without ``device_mileage`` held the distance
        counted, not a mileage (it is dropped: :func:`holds_counted_odometer` tells the
        caller); a state without ``motion`` takes it from the stored speed.
        """
        raw = data.get("anchor")
        anchor = (
            (float(raw[0]), float(raw[1]), float(raw[2]))
            if isinstance(raw, list) and len(raw) == 3
            else None
        )
        odometer = data.get("odometer") if data.get("device_mileage") else None
        values = storable_items(data.get("values") or {})
        moving = data.get("motion")
        if not isinstance(moving, bool):  # stored before motion was: from the speed
            speed = values.get(p.SPEED)
            moving = speed >= MOVING_SPEED if isinstance(speed, (int, float)) else None
        stopped_since = data.get("stopped_since")
        return cls(
            values=values,
            latitude=data.get("latitude"),
            longitude=data.get("longitude"),
            accuracy=float(data.get("accuracy") or 0.0),
            fix_time=_when(data.get("fix_time")),
            last_seen=_when(data.get("last_seen")),
            newest=data.get("newest"),
            odometer=odometer,
            computed_km=float(data.get("computed_km") or 0.0),
            anchor=anchor,
            alarms={k: bool(v) for k, v in (data.get("alarms") or {}).items()},
            moving=moving,
            vehicle_state=vehicle_state_of(values.get(p.SPEED), values.get(p.IGNITION), moving),
            stopped_since=float(stopped_since) if isinstance(stopped_since, (int, float)) else None,
            cell=_cell(data.get("cell")),
            cell_since=_epoch(data.get("cell_since")),
            gps_fix_time=_epoch(data.get("gps_fix_time")),
            fix_lost=data.get("fix_lost") is True,
            position_source="cell" if data.get("position_source") == "cell" else "gps",
            shown_cell=_cell(data.get("shown_cell")),
        )


def holds_counted_odometer(data: dict[str, Any]) -> bool:
    """True for a state stored by a version whose odometer held the distance counted (the
    tracker had not reported a mileage then)."""
    return data.get("odometer") is not None and not data.get("device_mileage")


def _when(text: Any) -> datetime | None:
    """An aware datetime from its stored ISO 8601 form (UTC if it has no offset); None for
    anything else."""
    if not isinstance(text, str):
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _cell(raw: Any) -> tuple[int, int, int, int] | None:
    """A stored cell (four integers), None for anything else."""
    if isinstance(raw, list) and len(raw) == 4 and all(type(v) is int for v in raw):
        return (raw[0], raw[1], raw[2], raw[3])
    return None


def _epoch(raw: Any) -> float | None:
    """A stored epoch time, None for anything else."""
    return float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else None
