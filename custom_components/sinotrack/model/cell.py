"""The serving cell and when its position may stand in for a GPS fix.

* Every message that carries a plausible serving cell (MCC, MNC, LAC, cell ID) records it;
  a different cell than the last one is a *cell change*, dated by the message's device
  time (else the server's).
* A cell position is wanted only when the option is on, the tracker's last position was
  marked invalid (or it never had a valid one), and it has no valid GPS fix newer than its
  last cell change (:func:`wants_cell_position`); a valid fix always wins. A report without
  a position (a heartbeat, a LINK) from a new cell between two valid fixes moves nothing.
* The position of a cell arrives later (it is looked up off the loop):
  :func:`apply_cell_position` takes it only if the rule still holds and the tracker is still
  in that cell (a newer fix or another cell meanwhile wins). It never counts as distance,
  and its change key is ``KEY_CELL_POSITION``, never ``KEY_POSITION`` (no trip, no guard).
* The position shown says where it came from: ``gps`` or ``cell`` (``position_source``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
import math
from typing import Final

from custom_components.sinotrack.protocol import message as p

from .keys import KEY_CELL_POSITION, KEY_POSITION_SOURCE
from .state import TrackerState

type Cell = tuple[int, int, int, int]
"""(mcc, mnc, lac, cell id)."""

SOURCE_GPS: Final = "gps"
SOURCE_CELL: Final = "cell"
POSITION_SOURCES: Final = [SOURCE_GPS, SOURCE_CELL]
MIN_CELL_ACCURACY_M: Final = 100.0
MAX_CELL_ACCURACY_M: Final = 100_000.0

_LIMITS: Final = (999, 32767, 0xFFFFFF, 0xFFFFFFFFF)


def serving_cell(message: Mapping[str, object]) -> Cell | None:
    """The plausible serving cell ``message`` reports, None when it has none."""
    numbers: list[int] = []
    for key, limit in zip((p.GSM_MCC, p.GSM_MNC, p.GSM_LAC, p.GSM_CELLID), _LIMITS, strict=True):
        value = message.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        if not math.isfinite(value) or value != int(value) or not 0 <= value <= limit:
            return None
        numbers.append(int(value))
    if numbers[0] == 0:
        return None
    return (numbers[0], numbers[1], numbers[2], numbers[3])


def note_cell(state: TrackerState, message: Mapping[str, object], now: datetime) -> None:
    """Record the serving cell of ``message`` (received at server time ``now``), and when it
    changed; a message without a cell changes nothing."""
    cell = serving_cell(message)
    if cell is None or cell == state.cell:
        return
    timestamp = message.get(p.TIMESTAMP)
    state.cell = cell
    state.cell_since = float(timestamp) if isinstance(timestamp, int | float) else now.timestamp()


def wants_cell_position(state: TrackerState) -> Cell | None:
    """The cell whose position should be shown now, None when GPS (or nothing) wins.

    Only when the last position was marked invalid (or there never was a valid one), the
    tracker has no valid fix newer than its last cell change, and the position shown is not
    that cell's already.
    """
    cell, since = state.cell, state.cell_since
    if cell is None or since is None:
        return None
    if state.gps_fix_time is not None and not state.fix_lost:
        return None  # GPS is fine: a cell change alone moves nothing
    if state.gps_fix_time is not None and state.gps_fix_time >= since:
        return None  # a valid fix in this cell (or after it changed): it is better
    if state.position_source == SOURCE_CELL and state.shown_cell == cell:
        return None
    return cell


def cell_accuracy(range_m: float) -> float:
    """The accuracy shown for a cell of range ``range_m``: at least 100 m, at most 100 km."""
    if not math.isfinite(range_m):
        return MAX_CELL_ACCURACY_M
    return min(MAX_CELL_ACCURACY_M, max(MIN_CELL_ACCURACY_M, range_m))


def apply_cell_position(
    state: TrackerState,
    cell: Cell,
    latitude: float,
    longitude: float,
    range_m: float,
    now: datetime,
) -> set[str]:
    """Show ``cell``'s position (its range as the accuracy) if it is still wanted; the keys
    that changed. The fix time is that of the cell change (else ``now``)."""
    if wants_cell_position(state) != cell:
        return set()
    if not (-90.0 <= latitude <= 90.0 and -180.0 <= longitude <= 180.0):
        return set()
    since = state.cell_since
    state.latitude = latitude
    state.longitude = longitude
    state.accuracy = cell_accuracy(range_m)
    state.fix_time = datetime.fromtimestamp(since, UTC) if since is not None else now
    state.shown_cell = cell
    changed = {KEY_CELL_POSITION}
    if state.position_source != SOURCE_CELL:
        state.position_source = SOURCE_CELL
        changed.add(KEY_POSITION_SOURCE)
    return changed
