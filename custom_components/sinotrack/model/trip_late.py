"""A late fix corrects a finished trip: the one rule the detector (for the trips it holds)
and the trip log (for the archived ones) both apply.

Pure code (no Home Assistant import).
"""

from __future__ import annotations

from dataclasses import replace

from .track import MAX_TRACK_POINTS, simplify_track
from .trip_data import Fix, Trip
from .trip_parts import STILL_RADIUS_M, inserted, km_between, mileage_fields, segment, to_point


def corrected(
    done: Trip, fix: Fix, threshold: float, gap_time: float, following: float | None
) -> Trip | None:
    """``done`` (a finished trip) with the late ``fix`` counted: inside its track, or
    carrying it on when it ended by a coverage gap (see ``gap_extended``); None when the
    fix does not belong to it. ``threshold`` is the moving speed (km/h)."""
    points = list(done.track)
    added = inserted(points, to_point(fix), threshold)
    if added is None:
        return gap_extended(done, fix, threshold, gap_time, following)
    if len(points) > MAX_TRACK_POINTS:
        points = simplify_track(points)
    mileage = mileage_fields(done, fix)
    return replace(
        done,
        distance_km=done.distance_km + added[0],
        # Around a simplified track's neighbours the correction is an estimate.
        moving_s=min(max(0.0, done.moving_s + added[1]), done.duration_s),
        max_speed_kmh=max(done.max_speed_kmh, added[2]),
        track=tuple(points),
        mileage_start_km=mileage[0],
        mileage_end_km=mileage[1],
    )


def gap_extended(
    done: Trip, fix: Fix, threshold: float, gap_time: float, following: float | None
) -> Trip | None:
    """``done`` carried on to ``fix`` when it ended by a coverage gap and ``fix`` belongs
    to that gap (less than ``gap_time`` after its end, before ``following``, the start of
    the next trip if any, and away from where it ended or fast), else None."""
    if (
        done.end_reason != "gap"
        or not 0 < fix.time - done.end < gap_time
        or (following is not None and fix.time >= following)
    ):
        return None
    point = to_point(fix)
    fast = fix.speed_kmh is not None and fix.speed_kmh >= threshold
    radius = max(STILL_RADIUS_M, 2 * fix.accuracy_m)
    if not fast and km_between(done.end_position, point) * 1000 <= radius:
        return None
    km, moving, implied = segment(done.track[-1], point, threshold)
    speed = fix.speed_kmh if fix.speed_kmh is not None else implied
    track = [*done.track, point]
    if len(track) > MAX_TRACK_POINTS:
        track = simplify_track(track)
    mileage = mileage_fields(done, fix)
    return replace(
        done,
        end=fix.time,
        end_position=fix.position,
        distance_km=done.distance_km + km,
        moving_s=done.moving_s + moving,
        max_speed_kmh=max(done.max_speed_kmh, speed),
        track=tuple(track),
        mileage_start_km=mileage[0],
        mileage_end_km=mileage[1],
    )
