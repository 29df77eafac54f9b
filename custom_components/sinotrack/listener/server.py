"""The listener: its sockets, accept loop, sessions' owner, routes and commands together."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import logging
import socket
import time
from typing import Any, Final

from custom_components.sinotrack.protocol import (
    AuthEvent,
    Command,
    Decoded,
    TrackerSettings,
    normalize_ident,
)

from . import commands
from .admission import Admission
from .commands import CommandResult
from .config import (
    DEFAULT_COMMAND_TIMEOUT,
    DEFAULT_QUEUE_EXPIRY,
    IPNetwork,
    ListenerConfig,
    in_networks,
)
from .errors import (
    ListenerBindError,
    ListenerClosedError,
    TrackerAlreadyRegisteredError,
    TrackerOfflineError,
)
from .routes import Route, Routes, TrackerInfo, TrackerSink, call_sink
from .session import Session
from .sockets import Acceptor, bind, peer_of
from .stats import (
    CLOSED_BY_PEER,
    CLOSED_ERROR,
    CLOSED_ID_IN_USE,
    CLOSED_LISTENER,
    CLOSED_NETWORK,
    CLOSED_REPLACED,
    CLOSED_UNKNOWN_CAP,
    Stats,
    count,
    diagnostics,
)

_LOGGER: Final = logging.getLogger(__package__)

type UnknownTrackerCallback = Callable[[str, str, str], None]
"""``callback(ident, protocol, peer)``: an ID nobody registered; ``ident`` is normalised."""
type FrameWatcher = Callable[[str, str, str], None]
"""``watcher(ident, protocol, peer)``: a frame was decoded from tracker ``ident`` (normalised)."""

_WARN_INTERVAL: Final = 30.0
_MAX_REPORTED: Final = 1024


class Expectation:
    """What :meth:`Listener.expect` returns: :meth:`close` it (or leave its ``with``) to end it."""

    __slots__ = ("_close",)

    def __init__(self, close: Callable[[], None]) -> None:
        self._close = close

    def close(self) -> None:
        """Stop expecting the tracker (idempotent)."""
        self._close()

    def __enter__(self) -> Expectation:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class Listener:
    """One TCP server (one or more sockets on one port) and its sessions."""

    def __init__(self, config: ListenerConfig | None = None) -> None:
        self.config = config or ListenerConfig()
        self.stats = Stats()
        self.admission = Admission(self.config, self.stats, lambda: self.loop)
        self.routes = Routes()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._acceptor: Acceptor | None = None
        self._started = False
        self._closed = False
        self._sweep_handle: asyncio.TimerHandle | None = None
        self._shared_buffer: memoryview | None = None
        self._sessions: set[Session] = set()
        self._connecting: set[asyncio.Task[None]] = set()
        self._drained = asyncio.Event()
        self._reported: dict[str, None] = {}
        self._unknown_callback: UnknownTrackerCallback | None = None
        self._expected: dict[str, int] = {}
        self._watchers: list[FrameWatcher] = []
        self._warned_at: dict[str, float] = {}

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop the listener runs on (raises before :meth:`start`)."""
        if self._loop is None:
            raise ListenerClosedError("the listener has not been started")
        return self._loop

    @property
    def is_closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    @property
    def is_serving(self) -> bool:
        """Whether the port is open."""
        return self._acceptor is not None and not self._closed

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """The bound (address, port) pairs."""
        if self._closed or self._acceptor is None:
            return []
        return self._acceptor.addresses

    @property
    def port(self) -> int:
        """The bound port (the actual one when the config asked for port 0)."""
        addresses = self.addresses
        return addresses[0][1] if addresses else self.config.port

    @property
    def connection_count(self) -> int:
        """Connections open now."""
        return len(self._sessions)

    async def start(self) -> None:
        """Open the port. Raises :class:`ListenerBindError` with a message a user can act on."""
        if self._closed:
            raise ListenerClosedError("the listener is closed")
        if self._started:
            return
        self._started = True
        loop = self._loop = asyncio.get_running_loop()
        config = self.config
        if isinstance(loop, asyncio.SelectorEventLoop):
            # Reads and their callbacks are synchronous on this loop: one buffer serves all.
            self._shared_buffer = memoryview(bytearray(config.read_size))
        try:
            sockets = bind(config.host, config.port)
        except OSError as err:
            self._started = False
            self._loop = None
            raise ListenerBindError.from_os_error(err, config.host, config.port) from err
        self._acceptor = Acceptor(loop, sockets, self._admit, self._accept_paused, self.stats)
        self._sweep_handle = loop.call_later(config.sweep_interval, self._sweep)
        _LOGGER.info(
            "Listening for Sinotrack trackers on %s",
            ", ".join(
                f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"
                for host, port in self.addresses
            ),
        )

    async def close(self) -> None:
        """Close the port and every connection; fail waiting and pending commands.

        Returns once every socket is closed. Idempotent.
        """
        if self._closed:
            return
        self._closed = True
        if self._sweep_handle is not None:
            self._sweep_handle.cancel()
            self._sweep_handle = None
        if self._acceptor is not None:
            self._acceptor.close()
        for session in list(self._sessions):
            session.close(CLOSED_LISTENER)
        for route in self.routes.values():
            if route.lane is not None:
                route.lane.changed.set()
        if self._connecting:
            await asyncio.gather(*self._connecting, return_exceptions=True)
        if self._sessions:
            self._drained.clear()
            await self._drained.wait()
        self._acceptor = None
        self._shared_buffer = None
        _LOGGER.debug("Sinotrack listener on port %s closed", self.config.port)

    # -- accepting ----------------------------------------------------------------------------

    def _accept_paused(self, err: OSError) -> None:
        if self.may_warn("accept"):
            _LOGGER.warning(
                "Not accepting tracker connections for now: %s (%d open)",
                err.strerror or err,
                len(self._sessions),
            )

    def _admit(self, conn: socket.socket, address: object) -> None:
        ip, host, peer = peer_of(address)
        admission = self.admission
        reason = admission.refusal(ip, host, self._closed)
        if reason is not None:
            count(self.stats.refused, reason)
            if self.may_warn("refused"):
                _LOGGER.warning("Refused a connection from %s: %s", peer, reason)
            else:
                _LOGGER.debug("Refused a connection from %s: %s", peer, reason)
            conn.close()
            return
        conn.setblocking(False)
        session = Session(self, ip, host, peer, admission.source(host, ip), admission.allowance())
        admission.add(session)
        self._sessions.add(session)
        task = self.loop.create_task(self._connect(conn, session))
        self._connecting.add(task)
        task.add_done_callback(self._connecting.discard)

    async def _connect(self, conn: socket.socket, session: Session) -> None:
        try:
            await self.loop.connect_accepted_socket(lambda: session, conn)
        except Exception as err:  # noqa: BLE001 - nothing may reach the loop's handler
            _LOGGER.debug("Connection from %s failed at once: %s", session.peer, err)
            conn.close()
            self.closed(session, err)

    # -- trackers -----------------------------------------------------------------------------

    def register(self, ident: str, sink: TrackerSink) -> Callable[[], None]:
        """Route the messages of tracker ``ident`` to ``sink``; returns the unregister callable.

        Raises :class:`TrackerAlreadyRegisteredError` if another sink owns the ID. If the
        tracker is connected already, ``sink.connection_changed(True, peer)`` is called now
        (and ``sink.auth_code_issued`` if the connection holds a code the sink lacks).
        """
        ident = normalize_ident(ident)
        route = self.routes.obtain(ident)
        if route.sink is not None:
            raise TrackerAlreadyRegisteredError(
                f"tracker {ident} is already registered on port {self.config.port}"
            )
        route.sink = sink
        route.info = TrackerInfo()
        session = route.session
        if session is not None and not self._allowed(route, session):
            route.session = None  # closing; the sink never saw it connected
        elif session is not None:
            self.admission.set_owned(session, True)
            settings = self._settings(sink, ident)
            code = session.auth_code
            if code is not None and settings.jt808_auth_code is None:
                # Issued while no entry owned the ID (discovery): the sink stores it now.
                call_sink(sink, "auth_code_issued", ident, code)
                settings = TrackerSettings(settings.jt808_utc_offset, code)
            session.configure(settings)
            if session.ready:
                self._connected(route, session)

        def unregister() -> None:
            """Stop routing to ``sink`` (idempotent)."""
            if route.sink is not sink:
                return
            route.sink = None
            route.info = TrackerInfo()
            self._reported.pop(route.ident, None)
            if route.session is not None:
                self.admission.set_owned(route.session, route.ident in self._expected)
            self.routes.release(route)

        return unregister

    def expect(self, ident: str, watcher: FrameWatcher) -> Expectation:
        """Someone (a set-up flow) waits for tracker ``ident``, which no sink owns yet.

        Until the returned handle is closed, that ID is exempt from the limits of unknown
        IDs (the cap of their connections, their short idle timeout, eviction first) and is
        not offered to the unknown-tracker callback; ``watcher(ident, protocol, peer)`` is
        called for every frame decoded on this listener, whatever its ID, at once (no
        discovery delay), so that the waiting side sees its tracker or a mistyped ID.
        """
        ident = normalize_ident(ident)
        self._expected[ident] = self._expected.get(ident, 0) + 1
        self._watchers.append(watcher)
        self._expected_changed(ident)
        closed = False

        def close() -> None:
            nonlocal closed
            if closed:
                return
            closed = True
            self._watchers.remove(watcher)
            left = self._expected[ident] - 1
            if left:
                self._expected[ident] = left
            else:
                del self._expected[ident]
                self._expected_changed(ident)

        return Expectation(close)

    def _expected_changed(self, ident: str) -> None:
        """An unowned live connection of ``ident`` counts as owned while it is expected."""
        route = self.routes.get(ident)
        if route is not None and route.sink is None and route.session is not None:
            self.admission.set_owned(route.session, ident in self._expected)

    def sink_changed(self, ident: str) -> None:
        """Apply what the sink of ``ident`` says now (settings, allowed networks) to the
        live session, without waiting for the tracker to reconnect."""
        route = self.routes.get(normalize_ident(ident))
        if route is None or route.sink is None or route.session is None:
            return
        session = route.session
        if self._allowed(route, session):
            session.configure(self._settings(route.sink, route.ident))

    def set_unknown_tracker_callback(self, callback: UnknownTrackerCallback | None) -> None:
        """``callback(ident, protocol, peer)`` for an ID no sink owns (see ``_discover``)."""
        self._unknown_callback = callback

    def is_connected(self, ident: str) -> bool:
        """Whether the tracker has a live, identified connection."""
        route = self.routes.get(normalize_ident(ident))
        return route is not None and route.session is not None and route.session.closing is None

    def peer(self, ident: str) -> str | None:
        """``address:port`` of the tracker's live connection, else its last one (if registered)."""
        route = self.routes.get(normalize_ident(ident))
        if route is None:
            return None
        if route.session is not None:
            return route.session.peer
        return route.info.peer if route.sink is not None else None

    # -- commands -----------------------------------------------------------------------------

    async def send_command(
        self,
        ident: str,
        command: Command,
        *,
        timeout: float = DEFAULT_COMMAND_TIMEOUT,  # noqa: ASYNC109 - the reply timeout, not a cancel scope
        queue_if_offline: bool = False,
        queue_expiry: float = DEFAULT_QUEUE_EXPIRY,
        on_sent: Callable[[], None] | None = None,
    ) -> CommandResult:
        """Send ``command`` to the tracker and return its reply.

        One command per tracker is in flight; later ones wait in order, at most
        ``MAX_WAITING_COMMANDS`` (:class:`CommandQueueFullError` past it). ``timeout``:
        seconds to wait for the reply once sent. Offline tracker: :class:`TrackerOfflineError`
        at once, or with ``queue_if_offline`` the command waits up to ``queue_expiry`` seconds
        (for its turn and for the tracker) and is sent once the tracker's session is ready
        (:class:`CommandExpiredError` past it). Other errors: :class:`CommandTimeoutError`,
        :class:`TrackerDisconnectedError`, :class:`ListenerClosedError`, and the codec's
        ``CommandError`` for a command the tracker's protocol cannot carry. ``on_sent`` is
        called once the command is written to the tracker.
        """
        if not timeout > 0 or not queue_expiry > 0:
            raise ValueError("timeout and queue_expiry must be positive")
        if self._closed or self._loop is None:
            raise ListenerClosedError("the listener is not running")
        ident = normalize_ident(ident)
        if not queue_if_offline and not self.is_connected(ident):
            raise TrackerOfflineError(f"tracker {ident} is not connected")
        expires = self._loop.time() + queue_expiry if queue_if_offline else None
        return await commands.send_command(self, ident, command, timeout, expires, on_sent)

    # -- diagnostics --------------------------------------------------------------------------

    def diagnostics(self) -> dict[str, Any]:
        """Counters for a user to see; ``trackers`` is keyed by the normalised ID."""
        return diagnostics(
            self.stats,
            serving=self.is_serving,
            addresses=[f"{host}:{port}" for host, port in self.addresses],
            config=self.config.as_dict(),
            current=len(self._sessions),
            identified=self.routes.connected(),
            waiting=sum(r.lane.users for r in self.routes.values() if r.lane is not None),
            budgets=self.admission.diagnostics(),
            trackers={r.ident: r.diagnostics(self._loop) for r in self.routes.owned()},
        )

    def tracker_diagnostics(self, ident: str) -> dict[str, Any] | None:
        """One registered tracker's part of :meth:`diagnostics`."""
        route = self.routes.get(normalize_ident(ident))
        return route.diagnostics(self._loop) if route is not None and route.sink else None

    # -- the sessions' owner ------------------------------------------------------------------

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

    def _sweep(self) -> None:
        """Close connections past their timeouts; expire old JT/T 808 parts; every few s."""
        self._sweep_handle = None
        if self._closed:
            return
        loop = self.loop
        for session, reason in self.admission.sweep(loop.time()):
            _LOGGER.debug(
                "Closing the connection from %s (%s): %s", session.peer, session.ident, reason
            )
            session.close(reason)
        self._sweep_handle = loop.call_later(self.config.sweep_interval, self._sweep)
