"""The sessions' manager: what the listener does for each connection it accepted.

A :class:`~.session.Session` talks to its owner only through ``SessionOwner`` (``opened``,
``identified``, ``delivered``, ``became_ready``, ``closed``, and the budgets' hooks of
:class:`~.admission.Admission`). :class:`SessionHost` is that owner: it accepts or refuses
the ID a connection claims (the allow-list, the takeover rule, the cap of unknown IDs),
hands every decoded frame on (JT/T 808 auth events, discovery, watchers, command replies,
the sink), and forgets a connection once it closed. :class:`~.server.Listener` adds the
sockets, the trackers' API and the commands on top of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import logging
import time
from typing import Final

from custom_components.sinotrack.protocol import (
    AuthEvent,
    Decoded,
    TrackerSettings,
    normalize_ident,
)

from . import commands
from .admission import Admission
from .config import (
    IPNetwork,
    ListenerConfig,
    in_networks,
)
from .errors import (
    ListenerClosedError,
)
from .routes import Route, Routes, TrackerSink, call_sink
from .session import Session
from .sockets import Acceptor
from .stats import (
    CLOSED_BY_PEER,
    CLOSED_ERROR,
    CLOSED_ID_IN_USE,
    CLOSED_NETWORK,
    CLOSED_REPLACED,
    CLOSED_UNKNOWN_CAP,
    Stats,
    count,
)

_LOGGER: Final = logging.getLogger(__package__)

type UnknownTrackerCallback = Callable[[str, str, str], None]
"""``callback(ident, protocol, peer)``: an ID nobody registered; ``ident`` is normalised."""
type FrameWatcher = Callable[[str, str, str], None]
"""``watcher(ident, protocol, peer)``: a frame was decoded from tracker ``ident`` (normalised)."""

_WARN_INTERVAL: Final = 30.0
_MAX_REPORTED: Final = 1024


class SessionHost:
    """The owner of a listener's sessions, and the state the listener shares with it."""

    def __init__(self, config: ListenerConfig | None = None) -> None:
        self.config = config or ListenerConfig()
        self.stats = Stats()
        self.admission = Admission(self.config, self.stats, lambda: self.loop)
        self.routes = Routes()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._acceptor: Acceptor | None = None
        self._closed = False
        self._shared_buffer: memoryview | None = None
        self._sessions: set[Session] = set()
        self._drained = asyncio.Event()
        self._reported: dict[str, None] = {}
        self._unknown_callback: UnknownTrackerCallback | None = None
        self._expected: dict[str, int] = {}
        self._watchers: list[FrameWatcher] = []
        self._warned_at: dict[str, float] = {}

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop the listener runs on (raises before :meth:`start`)."""
        if self._loop is None:
            raise ListenerClosedError("the listener has not been started")
        return self._loop

    def read_buffer(self) -> memoryview | None:
        """The buffer every session reads into (selector loops), or None."""
        return self._shared_buffer

    def may_warn(self, kind: str) -> bool:
        """Rate limit for WARNING lines: one per kind per 30 s."""
        now = self.loop.time()
        if now < self._warned_at.get(kind, -_WARN_INTERVAL) + _WARN_INTERVAL:
            return False
        self._warned_at[kind] = now
        return True

    def settings_for(self, ident: str) -> TrackerSettings:
        """What the owner of ``ident`` tells the codec (defaults when no entry owns it)."""
        route = self.routes.get(normalize_ident(ident))
        if route is None or route.sink is None:
            return TrackerSettings()
        return self._settings(route.sink, route.ident)

    def opened(self, session: Session) -> None:
        """A connection's transport exists."""
        _LOGGER.debug("Connection from %s", session.peer)

    def identified(self, session: Session) -> bool:
        """The first frame named the tracker: apply the allow-list and the takeover rule."""
        ident = normalize_ident(session.claimed or "")
        route = self.routes.obtain(ident)
        refusal = None
        if not self._allowed(route, session, refuse=False):
            refusal = CLOSED_NETWORK
            self.stats.network_refused += 1
        old = route.session
        now = self.loop.time()
        if refusal is None and old is not None and old is not session:
            # The takeover rule guards the IDs an entry owns; an unknown ID's newer
            # connection replaces the older one (nothing to spoof, discovery goes on).
            if route.sink is None or route.may_take_over(now, self.config.takeover_silence):
                self._replace(route, old, session)
            else:
                refusal = CLOSED_ID_IN_USE
                self.stats.takeovers_refused += 1
        elif (
            refusal is None
            and route.sink is None
            and ident not in self._expected
            and self.admission.unknown_full()
        ):
            refusal = CLOSED_UNKNOWN_CAP
        if refusal is not None:
            level = logging.WARNING if self.may_warn("refused_id") else logging.DEBUG
            _LOGGER.log(level, "Refused tracker %s from %s: %s", ident, session.peer, refusal)
            session.close(refusal)
            self.routes.release(route)
            return False
        session.ident = ident
        session.route = route
        route.session = session
        self.admission.set_owned(session, route.sink is not None or ident in self._expected)
        self._notify(route)
        return True

    def delivered(self, session: Session, event: Decoded, now: float) -> None:
        """One decoded frame (already answered): auth events, discovery, command, sink."""
        route = session.route
        if route is None:
            return
        route.reported(now)
        if event.dropped:
            self.stats.values_dropped += event.dropped
        if event.auth is not None:
            self._auth(session, route, event.auth)
        sink = route.sink
        if sink is None and event.warning is None and route.ident not in self._expected:
            self._discover(session, route, now)
        for watcher in list(self._watchers):
            try:
                watcher(route.ident, session.protocol or "", session.peer)
            except Exception:
                _LOGGER.exception("Error in a frame watcher for %s", route.ident)
        messages = event.messages
        if not messages:
            return
        self.stats.messages += len(messages)
        lane = route.lane
        if lane is not None and not lane.match(session, messages):
            self.stats.replies_other_session += 1
        if sink is not None:
            try:
                sink.handle_messages(messages)
            except Exception:
                _LOGGER.exception("Error handling the messages of tracker %s", route.ident)

    def became_ready(self, session: Session) -> None:
        """The session may carry the tracker's messages and commands now: its owner learns
        that the tracker is connected (a JT/T 808 tracker once it authenticated)."""
        route = session.route
        if route is not None and route.session is session:
            if route.sink is not None:
                self._connected(route, session)
            self._notify(route)

    def closed(self, session: Session, exc: BaseException | None) -> None:
        """A connection closed (by us, the peer, or before it was set up): forget it."""
        if session not in self._sessions:
            return
        self._sessions.discard(session)
        self.admission.remove(session)
        reason = session.closing or (CLOSED_ERROR if exc is not None else CLOSED_BY_PEER)
        session.closing = reason
        count(self.stats.closed, reason)
        _LOGGER.debug(
            "Connection from %s (tracker %s) closed: %s",
            session.peer,
            session.ident,
            reason if exc is None else f"{reason}: {exc}",
        )
        if not self._sessions:
            self._drained.set()
        if self._acceptor is not None and not self._closed:
            self._acceptor.resume()  # a descriptor is free again
        route = session.route
        if route is None:
            return
        lane = route.lane
        if lane is not None:
            error: Exception = (
                ListenerClosedError("the listener was closed")
                if self._closed
                else commands.disconnected_error(route.ident, reason)
            )
            if lane.session_lost(session, error) and not self._closed:
                self.stats.commands_disconnected += 1
        if session.auth_pending and route.sink is not None:
            call_sink(route.sink, "registration_refused", route.ident, session.peer)
        if route.session is not session:
            return
        route.session = None
        if route.sink is not None and session.ready:
            route.info.disconnected_at = time.time()
            route.info.disconnect_reason = reason
            call_sink(route.sink, "connection_changed", route.ident, False, session.peer)
        self._notify(route)
        self.routes.release(route)

    # -- internals ----------------------------------------------------------------------------

    def _replace(self, route: Route, old: Session, session: Session) -> None:
        """``session`` takes the ID over from ``old`` (closed, or silent long enough)."""
        self.stats.sessions_replaced += 1
        if old.host != session.host:
            self.stats.id_takeovers += 1
            if self.may_warn("takeover"):
                _LOGGER.warning(
                    "Tracker %s connected from %s; its connection from %s was silent, the"
                    " new connection replaces it (a tracker that changed address, or another"
                    " device using its ID)",
                    route.ident,
                    session.peer,
                    old.peer,
                )
        _LOGGER.debug(
            "Tracker %s reconnected from %s, closing %s", route.ident, session.peer, old.peer
        )
        route.session = None
        old.close(CLOSED_REPLACED)

    def _allowed(self, route: Route, session: Session, *, refuse: bool = True) -> bool:
        """Whether the sink's allowed networks hold the session's source; else close it."""
        sink = route.sink
        if sink is None:
            return True
        try:
            networks: tuple[IPNetwork, ...] = tuple(sink.allowed_networks)
        except Exception:
            _LOGGER.exception("Error reading the allowed networks of tracker %s", route.ident)
            networks = ()
        if not networks or in_networks(session.address, networks):
            return True
        if refuse:
            self.stats.network_refused += 1
            _LOGGER.warning(
                "Closing %s: not an allowed source of tracker %s", session.peer, route.ident
            )
            session.close(CLOSED_NETWORK)
        return False

    @staticmethod
    def _settings(sink: TrackerSink, ident: str) -> TrackerSettings:
        try:
            return sink.tracker_settings()
        except Exception:
            _LOGGER.exception("Error reading the settings of tracker %s", ident)
            return TrackerSettings()

    def _connected(self, route: Route, session: Session) -> None:
        info = route.info
        info.peer = session.peer
        info.protocol = session.protocol or ""
        info.connected_at = session.opened_wall
        info.connections += 1
        if route.sink is not None:
            _LOGGER.debug("Tracker %s connected from %s", route.ident, session.peer)
            call_sink(route.sink, "connection_changed", route.ident, True, session.peer)

    def _auth(self, session: Session, route: Route, event: AuthEvent) -> None:
        stats = self.stats
        sink = route.sink
        if event is AuthEvent.ISSUED:
            stats.auth_codes_issued += 1
            code = session.auth_code
            if sink is not None and code is not None:
                call_sink(sink, "auth_code_issued", route.ident, code)
        elif event is AuthEvent.ACCEPTED:
            session.auth_pending = False
        elif event is AuthEvent.REFUSED:
            stats.auth_refused += 1
            session.auth_pending = False
            if sink is not None:
                call_sink(sink, "registration_refused", route.ident, session.peer)
        elif event is AuthEvent.ALREADY_REGISTERED:
            # A device that registers on every start answers with its stored code next;
            # the owner hears of it only if that does not follow (REFUSED, or closed).
            stats.registrations_refused += 1
            session.auth_pending = True

    def _discover(self, session: Session, route: Route, now: float) -> None:
        """Offer an unknown ID: digits only (as sent), after ``discovery_delay`` of good
        frames on one connection, at most ``discoveries_per_source`` new IDs per source an
        hour, once per ID."""
        if session.offered or route.ident in self._reported:
            return
        good_since = session.good_since
        if good_since is None or now - good_since < self.config.discovery_delay:
            return
        session.offered = True
        claimed = session.claimed or ""
        if not (claimed.isascii() and claimed.isdigit()):
            self.stats.discovery_not_digits += 1
            return
        if not self.admission.may_introduce(session, now):
            self.stats.discovery_rate_limited += 1
            return
        self.admission.introduced(session, now)
        if len(self._reported) >= _MAX_REPORTED:
            del self._reported[next(iter(self._reported))]
        self._reported[route.ident] = None
        self.stats.unknown_trackers += 1
        protocol = session.protocol or ""
        _LOGGER.debug("Unknown tracker %s (%s) from %s", route.ident, protocol, session.peer)
        callback = self._unknown_callback
        if callback is not None:
            try:
                callback(route.ident, protocol, session.peer)
            except Exception:
                _LOGGER.exception("Error in the unknown-tracker callback for %s", route.ident)

    def _notify(self, route: Route) -> None:
        if route.lane is not None:
            route.lane.changed.set()
