"""The cell's position for want of a GPS fix: when it is shown, and what always wins over it."""

from __future__ import annotations

import json
from typing import Any, cast

from custom_components.sinotrack.model import (
    KEY_CELL_POSITION,
    KEY_DISTANCE,
    KEY_POSITION,
    KEY_POSITION_SOURCE,
    Tracker,
    TrackerState,
    serving_cell,
)
from custom_components.sinotrack.protocol import Message, message as p

from .helpers import OFFLINE_TIMEOUT, SECOND, T0, fix

CELL_A = (460, 0, 9520, 3671)
CELL_B = (460, 0, 9520, 3672)
CELL_A_AT = (22.55, 114.05)
"""Where the tests' lookups place CELL_A (some km from the fixes of ``fix``)."""


def cell_values(cell: tuple[int, int, int, int]) -> dict[str, Any]:
    """A message's serving cell values."""
    return {p.GSM_MCC: cell[0], p.GSM_MNC: cell[1], p.GSM_LAC: cell[2], p.GSM_CELLID: cell[3]}


def cell_tracker(*, on: bool = True, state: TrackerState | None = None) -> Tracker:
    """A tracker with the option "Use cell position when there is no GPS fix" on or off."""
    return Tracker(state, offline_timeout=OFFLINE_TIMEOUT, use_cell_position=on)


def at(seconds: int) -> Any:
    """The time ``seconds`` after T0."""
    return T0 + seconds * SECOND


def no_fix(seconds: int, cell: tuple[int, int, int, int]) -> Message:
    """An invalid fix (the tracker's last known coordinates) reporting ``cell``."""
    return fix(at(seconds), valid=False, extra=cell_values(cell))


def test_invalid_fix_in_a_new_cell_shows_the_cell_with_its_range() -> None:
    tracker = cell_tracker()
    tracker.apply([fix(at(0), extra=cell_values(CELL_B))], at(0))
    tracker.apply([no_fix(60, CELL_A)], at(60))
    assert tracker.wanted_cell() == CELL_A
    update = tracker.apply_cell(CELL_A, *CELL_A_AT, 1500.0, at(61))
    state = tracker.state
    assert update.changed == {KEY_CELL_POSITION, KEY_POSITION_SOURCE}  # not KEY_POSITION
    assert (state.latitude, state.longitude, state.accuracy) == (*CELL_A_AT, 1500.0)
    assert state.position_source == "cell"
    assert state.fix_time == at(60)  # when the tracker entered the cell
    assert KEY_DISTANCE not in update.changed  # a cell position is never counted
    assert tracker.wanted_cell() is None  # shown: not looked up again


def test_no_fix_ever_and_a_cell_shows_the_cell() -> None:
    tracker = cell_tracker()
    message = cast("Message", {p.TIMESTAMP: int(at(0).timestamp()), **cell_values(CELL_A)})
    tracker.apply([message], at(0))
    assert tracker.wanted_cell() == CELL_A


def test_a_valid_fix_newer_than_the_cell_change_wins() -> None:
    tracker = cell_tracker()
    tracker.apply([fix(at(0), extra=cell_values(CELL_A))], at(0))
    tracker.apply([no_fix(60, CELL_A)], at(60))  # same cell: the last fix was in it
    assert tracker.wanted_cell() is None
    assert tracker.apply_cell(CELL_A, *CELL_A_AT, 800.0, at(61)).changed == frozenset()
    assert tracker.state.position_source == "gps"
    assert tracker.state.latitude == 9.9


def test_a_later_valid_fix_replaces_the_cell_position() -> None:
    tracker = cell_tracker()
    tracker.apply([no_fix(0, CELL_A)], at(0))
    tracker.apply_cell(CELL_A, *CELL_A_AT, 800.0, at(1))
    update = tracker.apply([fix(at(30), latitude=22.5501, longitude=114.0501)], at(30))
    state = tracker.state
    assert {KEY_POSITION, KEY_POSITION_SOURCE} <= update.changed
    assert (state.latitude, state.longitude, state.position_source) == (22.5501, 114.0501, "gps")
    assert state.accuracy == 15.0


def test_a_fix_that_arrives_before_the_lookup_ends_wins() -> None:
    tracker = cell_tracker()
    tracker.apply([no_fix(0, CELL_A)], at(0))
    cell = tracker.wanted_cell()
    assert cell == CELL_A
    tracker.apply([fix(at(5), extra=cell_values(CELL_A))], at(5))  # meanwhile
    assert tracker.apply_cell(cell, *CELL_A_AT, 800.0, at(6)).changed == frozenset()
    assert tracker.state.latitude == 9.9


def test_a_lookup_for_a_cell_already_left_changes_nothing() -> None:
    tracker = cell_tracker()
    tracker.apply([no_fix(0, CELL_A)], at(0))
    tracker.apply([no_fix(10, CELL_B)], at(10))
    assert tracker.apply_cell(CELL_A, *CELL_A_AT, 800.0, at(11)).changed == frozenset()
    assert tracker.wanted_cell() == CELL_B


def test_the_option_off_changes_nothing() -> None:
    tracker = cell_tracker(on=False)
    tracker.apply([fix(at(0))], at(0))
    tracker.apply([no_fix(60, CELL_A)], at(60))
    assert tracker.wanted_cell() is None
    assert tracker.apply_cell(CELL_A, *CELL_A_AT, 800.0, at(61)).changed == frozenset()
    assert (tracker.state.latitude, tracker.state.position_source) == (9.9, "gps")


def test_a_message_without_a_cell_changes_nothing() -> None:
    tracker = cell_tracker()
    tracker.apply([fix(at(0))], at(0))
    tracker.apply([fix(at(60), valid=False)], at(60))
    assert tracker.wanted_cell() is None
    assert tracker.state.cell is None


def test_implausible_cells_are_no_cells() -> None:
    assert serving_cell(cell_values(CELL_A)) == CELL_A
    assert serving_cell(cell_values((0, 0, 1, 1))) is None
    assert serving_cell({**cell_values(CELL_A), p.GSM_CELLID: 2.5}) is None
    assert serving_cell({**cell_values(CELL_A), p.GSM_LAC: -1}) is None
    assert serving_cell({**cell_values(CELL_A), p.GSM_MCC: True}) is None
    assert serving_cell({p.GSM_MCC: 460}) is None


def test_the_accuracy_stays_between_100_m_and_100_km() -> None:
    for range_m, shown in ((5.0, 100.0), (250_000.0, 100_000.0), (float("nan"), 100_000.0)):
        tracker = cell_tracker()
        tracker.apply([no_fix(0, CELL_A)], at(0))
        tracker.apply_cell(CELL_A, *CELL_A_AT, range_m, at(1))
        assert tracker.state.accuracy == shown


def test_the_cell_and_the_source_survive_a_restart() -> None:
    tracker = cell_tracker()
    tracker.apply([no_fix(0, CELL_A)], at(0))
    tracker.apply_cell(CELL_A, *CELL_A_AT, 800.0, at(1))
    stored = json.loads(json.dumps(tracker.state.as_dict(), allow_nan=False))
    restored = cell_tracker(state=TrackerState.from_dict(stored))
    assert restored.state == tracker.state
    assert restored.wanted_cell() is None  # the cell shown stays shown
    assert TrackerState.from_dict({"cell": [1, "x", 3, 4]}).cell is None


def test_a_new_cell_without_a_position_between_valid_fixes_moves_nothing() -> None:
    tracker = cell_tracker()
    tracker.apply([fix(at(0), extra=cell_values(CELL_A))], at(0))
    link = cast("Message", {p.TIMESTAMP: int(at(10).timestamp()), **cell_values(CELL_B)})
    tracker.apply([link], at(10))  # a heartbeat from the next cell, GPS still fine
    assert tracker.wanted_cell() is None
    tracker.apply([no_fix(20, CELL_B)], at(20))  # now the fix is lost in that cell
    assert tracker.wanted_cell() == CELL_B
