"""The position shown and the distance counted: what a new fix changes.

* A position moves only with a valid fix, unless invalid fixes are allowed.
* Only news is shown: the position moves when the vehicle moves, or when the fix lies
  farther than ``parked_radius_m`` (50 m, or twice the fix's accuracy) from it; a parked
  tracker's wandering fixes change nothing. A requested position (a command's reply) is
  always shown.
* The distance counted adds up the way between valid fixes. Steps under ``JITTER_KM``
  while moving, and under ``parked_radius_m`` while not, are not counted (GPS jitter: a
  parked car whose fixes wander by 20-30 m would otherwise gain kilometres a day), but the
  distance is measured from the last counted fix, so a slow vehicle that reports often
  still adds up its way. A step faster than ``MAX_PLAUSIBLE_KMH`` is not counted (one of
  its two fixes is wrong).
* A fix without HDOP has the accuracy ``DEFAULT_ACCURACY_M``, never 0 (which zone logic
  reads as a perfect fix).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from custom_components.sinotrack.protocol import Message, message as p

from .geo import haversine_km
from .keys import KEY_DISTANCE, KEY_POSITION, KEY_POSITION_SOURCE
from .state import TrackerState

DEFAULT_ACCURACY_M: Final = 15.0
"""Accuracy (m) of a fix that comes without HDOP (H02 frames). A consumer GPS receiver in
a vehicle is within about 5-15 m of the truth (95 %) with open sky; 15 m is what a phone
typically reports for such a fix, and it keeps zone logic from taking the fix as perfect."""
METERS_PER_HDOP: Final = 5.0
"""Accuracy (m) per unit of HDOP when the frame carries it (a user-equivalent range error
of about 5 m), never under ``METERS_PER_HDOP`` (HDOP 1, the best a receiver reports)."""
JITTER_KM: Final = 0.02
"""While moving, steps shorter than this (20 m) are not counted yet (measured again from
the same fix at the next one)."""
PARKED_JITTER_M: Final = 50.0
"""While not moving, fixes closer than this (or twice their accuracy) to the last one are
GPS jitter: not a move, not shown, not counted. The same radius ends a trip's standing
still and keeps the guard from triggering on jitter."""
MAX_PLAUSIBLE_KMH: Final = 400.0
"""A step between two fixes faster than this is no vehicle's: it is not counted."""


def fix_accuracy(hdop: Any) -> float:
    """The accuracy (m) of a fix: from its HDOP when known, else ``DEFAULT_ACCURACY_M``."""
    if hdop is None:
        return DEFAULT_ACCURACY_M
    return max(METERS_PER_HDOP, float(hdop) * METERS_PER_HDOP)


def parked_radius_m(accuracy: float) -> float:
    """How far a fix of a vehicle that is not moving may lie from the last one and still be
    jitter: ``PARKED_JITTER_M``, or twice the fix's accuracy when that is more."""
    return max(PARKED_JITTER_M, 2.0 * accuracy)


def is_requested(message: Message) -> bool:
    """True for a command's reply (whoever asked wants its answer, whatever its date)."""
    return p.COMMAND_CODE in message or p.COMMAND_REPLY_SERIAL in message


def apply_position(
    state: TrackerState, message: Message, now: datetime, *, allow_invalid: bool
) -> set[str]:
    """Apply the fix of ``message`` (which has a latitude and a longitude) at server time
    ``now``; the keys that changed (position, distance)."""
    changed: set[str] = set()
    valid = bool(message.get(p.VALID, True))
    state.fix_lost = not valid
    if not valid and not allow_invalid:
        return changed
    latitude = float(message[p.LATITUDE])
    longitude = float(message[p.LONGITUDE])
    timestamp = message.get(p.TIMESTAMP)
    fix_time = datetime.fromtimestamp(timestamp, UTC) if timestamp is not None else now
    accuracy = fix_accuracy(message.get(p.HDOP))
    min_step_km = JITTER_KM if state.moving else parked_radius_m(accuracy) / 1000
    if valid and count_distance(state, latitude, longitude, fix_time.timestamp(), min_step_km):
        changed.add(KEY_DISTANCE)
    if valid and (state.gps_fix_time is None or fix_time.timestamp() > state.gps_fix_time):
        state.gps_fix_time = fix_time.timestamp()  # newer than the cell: GPS wins over it
    on_cell = state.position_source != "gps"
    if (
        not on_cell  # a cell position gives way to any fix shown
        and state.latitude is not None
        and state.longitude is not None
        and not state.moving
        and not is_requested(message)  # whoever asked for the position wants its fix time
        and haversine_km(state.latitude, state.longitude, latitude, longitude) * 1000
        < parked_radius_m(accuracy)
    ):
        return changed  # parked: the fix wanders around the position shown, no news
    if (state.latitude, state.longitude, state.accuracy, state.fix_time) != (
        latitude,
        longitude,
        accuracy,
        fix_time,
    ):
        state.latitude = latitude
        state.longitude = longitude
        state.accuracy = accuracy
        state.fix_time = fix_time
        changed.add(KEY_POSITION)
    if on_cell:
        state.position_source, state.shown_cell = "gps", None
        changed |= {KEY_POSITION, KEY_POSITION_SOURCE}
    return changed


def count_distance(
    state: TrackerState,
    latitude: float,
    longitude: float,
    when: float,
    min_step_km: float = JITTER_KM,
) -> bool:
    """Add the way from the last counted fix to this valid one (device time ``when``,
    epoch) when it is ``min_step_km`` or more; True when the distance counted changed (or
    starts, at the first fix)."""
    anchor = state.anchor
    if anchor is None:
        state.anchor = (latitude, longitude, when)
        return True
    step = haversine_km(anchor[0], anchor[1], latitude, longitude)
    if step < min_step_km:
        return False  # jitter, or a slow start: measured again from the same fix next time
    state.anchor = (latitude, longitude, when)
    hours = (when - anchor[2]) / 3600
    if hours > 0 and step / hours > MAX_PLAUSIBLE_KMH:
        return False  # a jump no vehicle makes: one of the two fixes is wrong
    state.computed_km += step
    return True
