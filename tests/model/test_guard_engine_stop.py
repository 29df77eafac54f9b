"""The safe engine stop's rules: send, hold or refuse; one held command; expiry."""

from __future__ import annotations

from datetime import timedelta

import pytest

from custom_components.sinotrack.model.engine_stop import (
    HOLD,
    REFUSE,
    SEND,
    EngineHold,
    HeldCommand,
    SpeedReport,
    decide,
    speed_report,
)

from .helpers import T0, fix, status

SECOND = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("report", "stopped", "now"),
    [
        (SpeedReport(T0, 0.0), SEND, SEND),
        (SpeedReport(T0, 4.9), SEND, SEND),
        (SpeedReport(T0, 5.0), HOLD, REFUSE),
        (SpeedReport(T0 - 120 * SECOND, 0.0), SEND, SEND),
        (SpeedReport(T0 - 121 * SECOND, 0.0), HOLD, REFUSE),
        (None, HOLD, REFUSE),
    ],
)
def test_decide(report: SpeedReport | None, stopped: str, now: str) -> None:
    assert decide(report, T0, "stopped") == stopped
    assert decide(report, T0, "now") == now


def test_speed_report_only_from_a_valid_fix_and_never_in_the_future() -> None:
    assert speed_report(fix(T0, speed=0.0, valid=False), T0) is None
    assert speed_report(status(T0), T0) is None
    ahead = speed_report(fix(T0 + timedelta(hours=1), speed=3.0), T0)
    assert ahead == SpeedReport(T0, 3.0)
    old = speed_report(fix(T0 - timedelta(minutes=10), speed=0.0), T0)
    assert old is not None
    assert decide(old, T0) == HOLD


def test_held_until_a_fresh_stopped_report() -> None:
    hold = EngineHold()
    assert not hold.hold("engine_stop", "", T0)
    assert hold.release(SpeedReport(T0 + SECOND, 60.0), T0 + SECOND) is None
    released = hold.release(SpeedReport(T0 + 10 * SECOND, 0.0), T0 + 10 * SECOND)
    assert released is not None
    assert released.kind == "engine_stop"
    assert hold.held is None
    assert hold.release(SpeedReport(T0 + 20 * SECOND, 0.0), T0 + 20 * SECOND) is None


def test_one_held_command_a_second_replaces_it() -> None:
    hold = EngineHold()
    hold.hold("engine_stop", "", T0)
    assert hold.hold("custom", "S20,1", T0 + SECOND)
    assert hold.held is not None
    assert hold.held.payload == "S20,1"
    assert hold.cancel() == 1
    assert hold.cancel() == 0


def test_expires_after_an_hour() -> None:
    hold = EngineHold()
    hold.hold("engine_stop", "", T0)
    assert hold.expire(T0 + timedelta(minutes=59)) is None
    late = T0 + timedelta(hours=1)
    assert hold.release(SpeedReport(late, 0.0), late) is None
    expired = hold.expire(late)
    assert expired is not None
    assert hold.held is None


def test_stored_form() -> None:
    held = HeldCommand("engine_stop", "", T0, T0 + timedelta(hours=1), "guard")
    assert HeldCommand.from_dict(held.as_dict()) == held
    assert HeldCommand.from_dict({"kind": "engine_stop"}) is None
    assert HeldCommand.from_dict(None) is None
