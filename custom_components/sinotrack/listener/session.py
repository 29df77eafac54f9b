"""One TCP connection: bytes in, codec events out, replies written before anything else.

A :class:`Session` keeps its state private and talks to its owner (the listener) through a
narrow interface, :class:`SessionOwner`: ``opened``, ``identified``, ``delivered``,
``became_ready``, ``closed``, plus the budgets' hooks of :class:`Admission`.

The session knows no protocol rule: the codec says what to answer, when the tracker is
``ready``, and when it needs the time again (``timer()``, run with one loop timer).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Final, Protocol, cast

from custom_components.sinotrack.protocol import (
    Command,
    Decoded,
    EncodedCommand,
    Rejected,
    TrackerConnection,
    TrackerSettings,
)

from .stats import CLOSED_GARBAGE, CLOSED_INTERNAL, CLOSED_NOT_READING, count, reason_key

if TYPE_CHECKING:
    from .admission import Admission, Allowance, Source
    from .config import IPAddress, ListenerConfig
    from .routes import Route
    from .stats import Stats

_LOGGER: Final = logging.getLogger(__package__)


class SessionOwner(Protocol):
    """What a session needs from the listener that owns it."""

    config: ListenerConfig
    stats: Stats
    admission: Admission

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The running loop."""

    def read_buffer(self) -> memoryview | None:
        """The buffer every session reads into, or None (each has its own)."""

    def settings_for(self, ident: str) -> TrackerSettings:
        """What the owner of ``ident`` tells the codec."""

    def opened(self, session: Session) -> None:
        """The transport of ``session`` exists."""

    def identified(self, session: Session) -> bool:
        """The codec learnt the session's ID; False: refused (the owner closed it)."""

    def delivered(self, session: Session, event: Decoded, now: float) -> None:
        """A decoded frame, after its reply was written."""

    def became_ready(self, session: Session) -> None:
        """The codec says commands may be sent now."""

    def closed(self, session: Session, exc: BaseException | None) -> None:
        """The connection is gone."""

    def may_warn(self, kind: str) -> bool:
        """Whether a WARNING of ``kind`` may be logged now."""


class Session(asyncio.BufferedProtocol):
    """One connection's codec, learnt ID, counters and timers."""

    __slots__ = (
        "_buffer",
        "_codec",
        "_owner",
        "_rejected_bytes",
        "_rejected_run",
        "_timer_at",
        "_timer_handle",
        "_transport",
        "_warned",
        "address",
        "allowance",
        "auth_pending",
        "closing",
        "frames",
        "good_since",
        "host",
        "ident",
        "last_frame",
        "offered",
        "opened_at",
        "opened_wall",
        "peer",
        "ready",
        "route",
        "source",
    )

    def __init__(
        self,
        owner: SessionOwner,
        address: IPAddress | None,
        host: str,
        peer: str,
        source: Source,
        allowance: Allowance,
    ) -> None:
        self._owner = owner
        config = owner.config
        self._codec = TrackerConnection(
            jt808_utc_offset=config.jt808_utc_offset,
            max_frame=config.max_frame,
            resolve=owner.settings_for,
        )
        self._transport: asyncio.Transport | None = None
        shared = owner.read_buffer()
        self._buffer = shared if shared is not None else memoryview(bytearray(config.read_size))
        self._timer_handle: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._rejected_run = 0
        self._rejected_bytes = 0
        self._warned = False
        self.address = address
        self.host = host
        self.peer = peer
        self.source = source
        self.allowance = allowance
        self.ident: str | None = None
        """The tracker's ID (normalised) once the owner accepted it."""
        self.route: Route | None = None
        self.ready = False
        self.auth_pending = False
        """JT/T 808: its registration was answered "already registered" and it has not
        authenticated since (a tracker that lost its code cannot get in)."""
        self.closing: str | None = None
        self.frames = 0
        self.offered = False
        """Discovery is done with this connection (offered, or declined and counted)."""
        self.good_since: float | None = None
        """Loop time of the first frame decoded without a warning."""
        now = owner.loop.time()
        self.opened_at = self.last_frame = now
        self.opened_wall = time.time()

    # -- what the owner may ask -----------------------------------------------------------------

    @property
    def protocol(self) -> str | None:
        """``h02`` or ``jt808`` once known."""
        return self._codec.protocol

    @property
    def claimed(self) -> str | None:
        """The ID as the tracker sent it, once the codec knows it (before the owner accepts it)."""
        return self._codec.ident

    @property
    def auth_code(self) -> str | None:
        """The JT/T 808 auth code in force on this connection."""
        return self._codec.auth_code

    @property
    def held_bytes(self) -> int:
        """Bytes held for this connection: partial frames, sub-packages, unsent replies."""
        transport = self._transport
        unsent = transport.get_write_buffer_size() if transport is not None else 0
        return self._codec.held_bytes + unsent

    def configure(self, settings: TrackerSettings) -> None:
        """Apply changed settings of the ID's owner to the codec."""
        self._codec.configure(settings)

    def encode(self, command: Command, now: float) -> EncodedCommand:
        """``command`` encoded for this tracker (the codec's ``CommandError`` propagates)."""
        return self._codec.encode(command, now)

    def send(self, data: bytes) -> None:
        """Write ``data`` to the tracker."""
        if self._transport is not None and self.closing is None:
            self._owner.stats.bytes_out += len(data)
            self._transport.write(data)

    def pause_reading(self) -> None:
        """Stop reading (TCP back-pressure on the peer)."""
        if self._transport is not None and self.closing is None:
            self._transport.pause_reading()

    def resume_reading(self) -> None:
        """Read again."""
        if self._transport is not None and self.closing is None:
            self._transport.resume_reading()

    def close(self, reason: str) -> None:
        """Abort the connection (no lingering socket); ``connection_lost`` follows."""
        if self.closing is not None:
            return
        self.closing = reason
        if self._transport is not None:
            self._transport.abort()

    # -- asyncio callbacks ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Remember the transport and tell the owner."""
        self._transport = cast("asyncio.Transport", transport)
        if self.closing is not None:  # closed (the listener, an eviction) before it existed
            self._transport.abort()
            return
        self._transport.set_write_buffer_limits(high=self._owner.config.max_write_buffer)
        self._owner.opened(self)

    def get_buffer(self, sizehint: int) -> memoryview:
        """Where the next read goes: its size is the budgets' say."""
        return self._buffer[: self._owner.admission.read_size(self)]

    def buffer_updated(self, nbytes: int) -> None:
        """Bytes arrived: decode, answer, deliver, then charge the budgets."""
        owner = self._owner
        data = self._buffer[:nbytes].tobytes()
        stats = owner.stats
        stats.reads += 1
        stats.bytes_in += nbytes
        now = owner.loop.time()
        try:
            events = self._codec.feed(data, time.time())
            frames = self._handle(events, now) if events else 0
        except Exception:
            _LOGGER.exception("Error on the connection from %s", self.peer)
            self.close(CLOSED_INTERNAL)
            return
        if self.closing is not None:
            return
        owner.admission.after_read(self, nbytes, frames, now)
        if self.closing is None:
            self._arm()

    def eof_received(self) -> bool | None:
        """The peer is done sending: decode and answer what the codec still holds."""
        if self.closing is None and self._codec.buffered:
            self._flush(self._owner.loop.time())
        return None  # no half-open connections: the transport closes

    def pause_writing(self) -> None:
        """The peer does not read its replies: close."""
        self.close(CLOSED_NOT_READING)

    def connection_lost(self, exc: Exception | None) -> None:
        """Cancel the timer and tell the owner."""
        if self._timer_handle is not None:
            self._timer_handle.cancel()
            self._timer_handle = None
        self._transport = None
        self._owner.closed(self, exc)

    # -- internals ------------------------------------------------------------------------------

    def _arm(self) -> None:
        """Keep one loop timer for the codec's next deadline (it runs on the wall clock).

        A timer already due earlier stays: when it fires, nothing is due yet and it is
        armed again, so a connection reading steadily does not reschedule on every read.
        """
        deadline = self._codec.timer()
        if deadline is None:
            return
        handle = self._timer_handle
        if handle is not None:
            if self._timer_at <= deadline:
                return
            handle.cancel()
        self._timer_at = deadline
        delay = max(0.0, deadline - time.time())
        self._timer_handle = self._owner.loop.call_later(delay, self._on_timer)

    def _on_timer(self) -> None:
        """Run the codec's timer; answer and deliver what it decoded."""
        self._timer_handle = None
        if self.closing is None:
            self._run_timer()

    def _run_timer(self) -> None:
        try:
            events = self._codec.handle_timer(time.time())
            if events:
                self._handle(events, self._owner.loop.time())
        except Exception:
            _LOGGER.exception("Error on the connection from %s", self.peer)
            self.close(CLOSED_INTERNAL)
            return
        if self.closing is not None:
            return
        if events:
            self._owner.admission.held_changed(self)
        self._arm()

    def _flush(self, now: float) -> None:
        """The peer sent its last byte: the codec decodes what it still holds."""
        try:
            events = self._codec.flush(time.time())
            if events:
                self._handle(events, now)
        except Exception:
            _LOGGER.exception("Error on the connection from %s", self.peer)
            self.close(CLOSED_INTERNAL)
            return
        if events and self.closing is None:
            self._owner.admission.held_changed(self)

    def _handle(self, events: list[Decoded | Rejected], now: float) -> int:
        """Answer every decoded frame, then deliver them; returns how many were decoded."""
        owner = self._owner
        stats = owner.stats
        if self.ident is None and self._codec.ident is not None and not owner.identified(self):
            return 0
        replies: list[bytes] = []
        decoded: list[Decoded] = []
        for event in events:
            if isinstance(event, Decoded):
                decoded.append(event)
                self._rejected_run = 0
                self._rejected_bytes = 0
                if event.reply is not None:
                    replies.append(event.reply)
                if event.warning is not None:
                    stats.frame_warnings += 1
                    _LOGGER.debug("Frame from %s (%s): %s", self.peer, self.ident, event.warning)
                elif self.good_since is None:
                    self.good_since = now
            else:
                self._rejected(event)
                if self.closing is not None:
                    return 0
        if not decoded:
            return 0
        self.frames += len(decoded)
        self.last_frame = now
        stats.frames += len(decoded)
        transport = self._transport
        if replies and transport is not None:
            data = replies[0] if len(replies) == 1 else b"".join(replies)
            stats.replies_sent += len(replies)
            stats.bytes_out += len(data)
            transport.write(data)
        if not self.ready and self._codec.ready:
            self.ready = True
            owner.became_ready(self)
        for event in decoded:
            owner.delivered(self, event, now)
            if self.closing is not None:
                break
        return len(decoded)

    def _rejected(self, event: Rejected) -> None:
        owner = self._owner
        stats = owner.stats
        config = owner.config
        stats.rejected_frames += 1
        stats.rejected_bytes += event.size
        count(stats.rejected_reasons, reason_key(event.reason))
        self._rejected_run += 1
        self._rejected_bytes += event.size
        if not self._warned and owner.may_warn("rejected"):
            _LOGGER.warning(
                "Skipped %d bytes from %s (tracker %s): %s; first bytes %r"
                " (further skipped frames on this connection are logged at debug level)",
                event.size,
                self.peer,
                self.ident or "not identified",
                event.reason,
                event.sample,
            )
        else:
            _LOGGER.debug(
                "Skipped %d bytes from %s (%s): %s %r",
                event.size,
                self.peer,
                self.ident,
                event.reason,
                event.sample,
            )
        self._warned = True
        if (
            self._rejected_run > config.max_rejected_frames
            or self._rejected_bytes > config.max_rejected_bytes
        ):
            _LOGGER.debug(
                "Closing the connection from %s: %d frames / %d bytes rejected in a row",
                self.peer,
                self._rejected_run,
                self._rejected_bytes,
            )
            self.close(CLOSED_GARBAGE)
