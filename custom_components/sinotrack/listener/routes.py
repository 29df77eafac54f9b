"""One record per tracker ID: its owner (sink), live session, info, command lane and reports.

The takeover rule (when a second connection may take an ID over) lives here, in
:meth:`Route.may_take_over`.
"""

from __future__ import annotations

from array import array
import asyncio
from dataclasses import dataclass
import logging
import statistics
from typing import TYPE_CHECKING, Any, Final, Protocol

from custom_components.sinotrack.protocol import Message, TrackerSettings

if TYPE_CHECKING:
    from .commands import CommandLane
    from .config import IPNetwork
    from .session import Session

_LOGGER: Final = logging.getLogger(__package__)
_GAPS: Final = 15
"""Report gaps kept per tracker for the median."""
_MIN_GAP: Final = 1.0
"""Frames closer than this are one burst (a batch, a reply), not a report interval."""
_GAP_FACTOR: Final = 3.0


class TrackerSink(Protocol):
    """The owner of one tracker ID (Home Assistant's per-tracker runtime).

    Every method is called from the event loop and must not block; an exception is logged
    and changes nothing for the connection.
    """

    def handle_messages(self, messages: list[Message]) -> None:
        """The messages of one decoded frame (at least one), after the device was answered."""

    def connection_changed(self, connected: bool, peer: str | None) -> None:
        """The tracker connected (or reconnected from ``peer``) or its connection closed.

        Also called from :meth:`Listener.register` when the tracker is already connected.
        A reconnect that replaces a connection calls it with ``True`` only.
        """

    def tracker_settings(self) -> TrackerSettings:
        """What the codec needs for this ID (clock offset, stored JT/T 808 auth code).

        Read when the ID is learnt on a connection, at register and on ``sink_changed``.
        """

    @property
    def allowed_networks(self) -> tuple[IPNetwork, ...]:
        """Source networks this ID may connect from; ``()``: any."""

    def auth_code_issued(self, code: str) -> None:
        """A JT/T 808 auth code was issued to this tracker: store it (it survives restarts)."""

    def registration_refused(self, peer: str) -> None:
        """A JT/T 808 tracker from ``peer`` could not authenticate: its auth code was wrong,
        or it registered, was told "already registered" and never sent the stored code."""


def call_sink(sink: TrackerSink, name: str, ident: str, *args: object) -> None:
    """Call the sink's method ``name``; an error is logged, never raised into a connection."""
    try:
        getattr(sink, name)(*args)
    except Exception:
        _LOGGER.exception("Error in %s of tracker %s", name, ident)


@dataclass(slots=True)
class TrackerInfo:
    """What diagnostics show about one registered tracker, kept across its connections."""

    peer: str | None = None
    protocol: str | None = None
    connected_at: float | None = None
    disconnected_at: float | None = None
    disconnect_reason: str | None = None
    connections: int = 0


class Route:
    """Everything the listener keeps for one tracker ID."""

    __slots__ = ("_gaps", "_last_report", "ident", "info", "lane", "session", "sink")

    def __init__(self, ident: str) -> None:
        self.ident = ident
        self.sink: TrackerSink | None = None
        self.session: Session | None = None
        self.info = TrackerInfo()
        self.lane: CommandLane | None = None
        self._last_report: float | None = None
        self._gaps = array("d")
        """The last ``_GAPS`` report gaps (unboxed: a deque would hold a 64-slot block and a
        float object per gap, for every tracker)."""

    @property
    def unused(self) -> bool:
        """Nothing refers to this ID any more: the record can go."""
        return self.sink is None and self.session is None and self.lane is None

    def diagnostics(self, loop: asyncio.AbstractEventLoop | None) -> dict[str, Any]:
        """What diagnostics show about this tracker."""
        info = self.info
        session = self.session
        data: dict[str, Any] = {
            "connected": session is not None,
            "peer": info.peer,
            "protocol": info.protocol,
            "connected_at": info.connected_at,
            "disconnected_at": info.disconnected_at,
            "disconnect_reason": info.disconnect_reason,
            "connections": info.connections,
            "commands_waiting": self.lane.users if self.lane is not None else 0,
        }
        if session is not None and loop is not None:
            data["frames"] = session.frames
            data["seconds_since_last_frame"] = round(loop.time() - session.last_frame, 1)
        return data

    def reported(self, now: float) -> None:
        """A frame of this tracker arrived at ``now`` (loop time)."""
        last = self._last_report
        if last is not None and now - last >= _MIN_GAP:
            gaps = self._gaps
            gaps.append(now - last)
            if len(gaps) > _GAPS:
                del gaps[0]
        if last is None or now - last >= _MIN_GAP:
            self._last_report = now

    def silence_needed(self, minimum: float) -> float:
        """Seconds without a frame after which the live session may be taken over."""
        if not self._gaps:
            return minimum
        return max(minimum, _GAP_FACTOR * statistics.median(self._gaps))

    def may_take_over(self, now: float, minimum: float) -> bool:
        """The takeover rule: the live session closed, never became ready (a JT/T 808
        connection that did not authenticate), or was silent for long enough.

        A real tracker that changed network, or whose old link died without a FIN, goes
        quiet on its old connection; a spoofer next to a live tracker does not get in.
        """
        old = self.session
        if old is None or old.closing is not None or not old.ready:
            return True  # closed, or never authenticated: it holds nothing
        return now - old.last_frame >= self.silence_needed(minimum)


class Routes:
    """The routes by normalised ID; a record lives while a sink, session or lane uses it."""

    __slots__ = ("_routes",)

    def __init__(self) -> None:
        self._routes: dict[str, Route] = {}

    def get(self, ident: str) -> Route | None:
        """The route of ``ident`` if there is one."""
        return self._routes.get(ident)

    def obtain(self, ident: str) -> Route:
        """The route of ``ident``, created if needed."""
        route = self._routes.get(ident)
        if route is None:
            route = self._routes[ident] = Route(ident)
        return route

    def release(self, route: Route) -> None:
        """Forget ``route`` if nothing uses it any more."""
        if route.unused and self._routes.get(route.ident) is route:
            del self._routes[route.ident]

    def values(self) -> list[Route]:
        """Every route (a copy)."""
        return list(self._routes.values())

    def owned(self) -> list[Route]:
        """The routes with a sink (registered trackers)."""
        return [route for route in self._routes.values() if route.sink is not None]

    def connected(self) -> int:
        """How many IDs have a live session."""
        return sum(1 for route in self._routes.values() if route.session is not None)
