"""The listener: its sockets and accept loop, the trackers' API and commands, the sweep.

The sessions' side (what happens to each connection's ID and frames) is :mod:`.host`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import logging
import socket
from typing import Any, Final

from custom_components.sinotrack.protocol import (
    Command,
    TrackerSettings,
    normalize_ident,
)

from . import commands
from .commands import CommandResult
from .config import (
    DEFAULT_COMMAND_TIMEOUT,
    DEFAULT_QUEUE_EXPIRY,
    ListenerConfig,
)
from .errors import (
    ListenerBindError,
    ListenerClosedError,
    TrackerAlreadyRegisteredError,
    TrackerOfflineError,
)
from .host import (
    FrameWatcher as FrameWatcher,  # noqa: PLC0414
    SessionHost,
    UnknownTrackerCallback as UnknownTrackerCallback,  # noqa: PLC0414
)
from .routes import TrackerInfo, TrackerSink, call_sink
from .session import Session
from .sockets import Acceptor, bind, peer_of
from .stats import (
    CLOSED_LISTENER,
    count,
    diagnostics,
)

_LOGGER: Final = logging.getLogger(__package__)


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


class Listener(SessionHost):
    """One TCP server (one or more sockets on one port) and its sessions."""

    def __init__(self, config: ListenerConfig | None = None) -> None:
        super().__init__(config)
        self._started = False
        self._sweep_handle: asyncio.TimerHandle | None = None
        self._connecting: set[asyncio.Task[None]] = set()

    # -- lifecycle ----------------------------------------------------------------------------

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

    def _sweep(self) -> None:
        """Close connections past their timeouts; recount what each holds; every few s."""
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
