"""The takeover rule, on its own (no sockets): when a second connection may take an ID."""

from __future__ import annotations

from typing import cast

from custom_components.sinotrack.listener import Route, Session


class FakeSession:
    """What the rule reads of a session."""

    def __init__(
        self, last_frame: float, closing: str | None = None, *, ready: bool = True
    ) -> None:
        self.last_frame = last_frame
        self.closing = closing
        self.ready = ready


def route_with(session: FakeSession | None, reports: list[float]) -> Route:
    route = Route("4210051415")
    route.session = cast(Session, session)
    for when in reports:
        route.reported(when)
    return route


def test_no_live_session_or_a_closing_one_is_taken_over() -> None:
    assert route_with(None, []).may_take_over(1000.0, 120.0)
    assert route_with(FakeSession(999.0, "closed by peer"), []).may_take_over(1000.0, 120.0)


def test_a_session_that_never_authenticated_holds_nothing() -> None:
    # A JT/T 808 connection that claims the ID but has no auth code sends frames (each
    # answered with a failure): they must not lock the real tracker out.
    route = route_with(FakeSession(1000.0, ready=False), [990.0, 1000.0])
    assert route.may_take_over(1000.0, 120.0)


def test_a_reporting_session_keeps_its_id_until_silent_for_two_minutes() -> None:
    route = route_with(FakeSession(1000.0), [990.0, 1000.0])
    assert not route.may_take_over(1000.0 + 119.9, 120.0)
    assert route.may_take_over(1000.0 + 120.0, 120.0)


def test_a_slow_reporter_keeps_its_id_for_three_median_gaps() -> None:
    # Reports every 100 s (a frame burst in between does not count as a gap).
    reports = [0.0, 100.0, 100.2, 200.0, 300.0, 400.0]
    route = route_with(FakeSession(400.0), reports)
    assert route.silence_needed(120.0) == 300.0
    assert not route.may_take_over(400.0 + 299.0, 120.0)
    assert route.may_take_over(400.0 + 300.0, 120.0)
