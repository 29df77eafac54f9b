"""The TCP server trackers connect to: sockets and sessions, between the codec and the runtime.

Pure asyncio plus the sans-I/O codec in ``protocol/``; no Home Assistant import, so it is
testable with plain pytest and reusable outside Home Assistant.

    pool = ListenerPool()                                # one per process (hass.data)
    listener = await pool.acquire(ListenerConfig(port=5013))   # ListenerBindError
    unregister = listener.register("4210051415", sink)   # sink: a TrackerSink
    result = await listener.send_command("4210051415", Command(CommandKind.MILEAGE))
    unregister()
    await pool.release(listener)                         # the last release closes the port

Design
------

* One :class:`Listener` per (bind address, port), shared through a reference-counted
  :class:`ListenerPool`. A port serves any number of trackers and both protocols: the codec
  tells H02 from JT/T 808 per connection, from its first bytes.
* A session per connection (an :class:`asyncio.BufferedProtocol`, no task per connection):
  bytes in, codec events out; the replies the device expects (H02 ``V4``/``HTBT`` echo,
  JT/T 808 0x8100/0x8001/0x8109) are written back in the same loop iteration, one write per
  read. The tracker's ID is learnt from its first frame; from then on every decoded frame's
  messages go to the :class:`TrackerSink` registered for that ID, in one synchronous
  ``handle_messages`` call per frame.
* An ID nobody registered is reported once (per listener, until it is registered and
  unregistered again) to the unknown-tracker callback, and otherwise only answered: the
  protocol replies are still sent, so that the tracker stays connected and the discovery
  flow can adopt it without waiting for a reconnect. Its messages go nowhere. It is
  reported from its first frame that decoded without a warning: the codec accepts JT/T 808
  frames whose checksum does not match (some firmware gets it wrong), and random bytes
  between two 0x7E make such frames, with random IDs, which must not be offered to the user.
* A second connection that identifies as an ID with a live session replaces it; the old
  connection is aborted. Trackers drop TCP without a FIN all the time, and change address
  on mobile networks, so this is the normal reconnect path. A takeover from another source
  address is counted (``id_takeovers``) and logged at WARNING (rate-limited).
* Commands: one in flight per tracker, the rest wait in FIFO order; each waits for its reply
  (``EncodedCommand.match``) with a timeout. A command for an offline tracker is refused at
  once, or queued until the tracker's session is ready (after its first frame; for JT/T 808
  after the first frame that is not a 0x0100 registration, i.e. once authenticated) with an
  expiry. A command whose connection drops after it was sent fails with
  :class:`TrackerDisconnectedError` and is *not* resent on reconnect: the device may have
  executed it already, and only the caller knows whether resending is safe. The reply is
  also delivered to the sink as a normal message.
* I/O model: a :class:`asyncio.BufferedProtocol` rather than streams. It needs no task per
  connection (1,000 trackers are 1,000 small objects, not 1,000 tasks), the read callback
  runs the codec directly, and ``get_buffer`` decides how much one read may take, which is
  the fairness mechanism below. On the selector event loop (the one Home Assistant runs)
  all connections read into one shared buffer (the read and its callback are synchronous);
  other loops get a buffer per connection.

Limits (all in :class:`ListenerConfig`; defaults and why)
---------------------------------------------------------

``idle_timeout`` = 1800 s
    A connection with no decoded frame for this long is closed. A sleeping ST-903 keeps its
    TCP link up with a heartbeat every few minutes (HTBT / 0x0002), so 30 minutes is many
    missed heartbeats: the link is dead (NAT timeout, no FIN) and its socket is freed. The
    tracker reconnects on its own when it next reports. Raise it for devices configured
    with heartbeats longer than ~20 minutes.
``handshake_timeout`` = 120 s
    A connection must send a decodable frame with an ID within this time. Trackers send
    their first frame right after connecting; this bounds silent and slowloris connections.
    Only decoded frames count as activity: a peer trickling bytes that never make a frame
    is closed by these two timeouts.
``max_frame`` = 4096 bytes
    Longest frame (the codec default: long enough for H02 blind-spot batches and SMS
    replies; JT/T 808 frames are capped by their own 1023-byte body). A longer frame is
    dropped; with the garbage limits below it closes the connection.
``read_size`` = 16 KiB
    Most bytes taken from one connection per read, i.e. per event-loop iteration. Every
    connection with data is read once per iteration, so a flood from one peer delays the
    others by at most one chunk's worth of decoding; the rest stays in the kernel and TCP
    flow control pushes back on the sender. Per-connection memory is bounded by this chunk
    plus one partial frame (``max_frame``) plus the write buffer.
``max_read_rate`` = 32 KiB/s (burst ``read_burst`` = 64 KiB), 0 = unlimited
    Token bucket per connection: past it, reading pauses until the budget refills. A GPRS
    tracker sends under 2 KiB/s even when it uploads stored fixes; 32 KiB/s is ~300 frames/s
    per connection. Load benchmarks that push one connection harder must raise or disable it.
``max_write_buffer`` = 64 KiB
    Replies are 20-60 bytes; a peer that never reads is closed before its unread replies
    take more than this.
``max_connections`` = 5000, ``max_connections_per_source`` = 50 (0 = unlimited)
    Per listener and per source IP. Home users have a handful of trackers; 50 per address
    leaves room for trackers behind one carrier NAT address. ``per_source_exempt``
    (default: loopback) is not capped per source: a local relay or tunnel funnels every
    tracker through one loopback address, and load benchmarks connect from 127.0.0.1.
``allowed_networks`` = () (all)
    Optional allow-list of source networks; other connections are closed at once.
``max_rejected_frames`` = 20, ``max_rejected_bytes`` = 8192
    Frames (or runs of garbage) the codec skipped since the last good frame. Past either,
    the connection is closed; the listener and the other connections are untouched. A
    device that sends an undecodable message type now and then between good frames is
    never closed for it.
``jt808_utc_offset`` = 8.0
    Time zone of JT/T 808 device clocks when the ID's sink does not say (a sink may carry a
    ``jt808_utc_offset`` attribute; it applies from the first frame, see :class:`TrackerSink`).

Logging: connects, disconnects and skipped frames at DEBUG; the first skipped frame of a
connection, refused connections and ID takeovers at WARNING, at most once per 30 s (per
kind) per listener. Nothing is logged per frame above DEBUG.

Timers: one sweep per listener (``loop.call_later``, every ``min(timeouts) / 4``, at most
5 s) closes idle connections; a timer per connection exists only while it is throttled, or
while the codec holds back bytes it cannot frame yet (after half a second of silence they are
decoded as they are: see ``TrackerConnection.flush``). The listener creates no tasks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
import errno
import ipaddress
import logging
import re
import socket
import time
from typing import Any, Final, Literal, Protocol, cast

from .protocol import (
    PROTOCOL_JT808,
    Command,
    Decoded,
    EncodedCommand,
    Message,
    Rejected,
    TrackerConnection,
    normalize_ident,
)
from .protocol.framing import MAX_TEXT_FRAME
from .protocol.message import MESSAGE_TYPE, PROTOCOL_ID, TIMESTAMP

_LOGGER: Final = logging.getLogger(__name__)

type IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
type IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_PORT: Final = 5013
DEFAULT_COMMAND_TIMEOUT: Final = 30.0
"""Seconds to wait for a tracker's reply to a command."""
DEFAULT_QUEUE_EXPIRY: Final = 3600.0
"""Seconds a command queued for an offline tracker waits to be sent."""
LOOPBACK_NETWORKS: Final[tuple[IPNetwork, ...]] = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
)

_JT808_REGISTER: Final = "0x0100"
_WARN_INTERVAL: Final = 30.0
_MAX_REASONS: Final = 32
_MAX_REPORTED: Final = 1024
_MAX_SWEEP_INTERVAL: Final = 5.0
_QUIET_FLUSH: Final = 0.5
"""Seconds of silence after which bytes held back by the codec are decoded as they are."""
_BACKLOG: Final = 1024
_DIGITS: Final = re.compile(r"\d+")

# Why a connection was refused or closed (diagnostics keys).
REFUSED_NOT_ALLOWED: Final = "source not allowed"
REFUSED_TOO_MANY: Final = "too many connections"
REFUSED_TOO_MANY_FROM_SOURCE: Final = "too many connections from the source"
REFUSED_CLOSING: Final = "listener closing"
CLOSED_IDLE: Final = "idle timeout"
CLOSED_HANDSHAKE: Final = "no frame in time"
CLOSED_GARBAGE: Final = "too many rejected frames"
CLOSED_NOT_READING: Final = "peer not reading"
CLOSED_REPLACED: Final = "replaced by a new connection"
CLOSED_LISTENER: Final = "listener closed"
CLOSED_INTERNAL: Final = "internal error"
CLOSED_BY_PEER: Final = "closed by peer"
CLOSED_ERROR: Final = "connection error"


# -- configuration --------------------------------------------------------------------------


def parse_networks(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    """Networks from strings (``192.168.0.0/16``, ``2001:db8::/32``, a bare address).

    Raises ``ValueError`` for a value that is not a network.
    """
    return tuple(ipaddress.ip_network(value.strip(), strict=False) for value in values)


@dataclass(frozen=True, slots=True, kw_only=True)
class ListenerConfig:
    """Where to listen and the limits (see the module docstring for the defaults)."""

    host: str | tuple[str, ...] | None = "0.0.0.0"  # noqa: S104 - trackers come from the internet
    """Bind address(es): ``0.0.0.0`` all IPv4, ``::`` all IPv6, a tuple for several, ``None``
    for every interface of both families."""
    port: int = DEFAULT_PORT
    idle_timeout: float = 1800.0
    handshake_timeout: float = 120.0
    max_frame: int = MAX_TEXT_FRAME
    read_size: int = 16384
    max_read_rate: int = 32768
    read_burst: int = 65536
    max_write_buffer: int = 65536
    max_connections: int = 5000
    max_connections_per_source: int = 50
    per_source_exempt: tuple[IPNetwork, ...] = LOOPBACK_NETWORKS
    allowed_networks: tuple[IPNetwork, ...] = ()
    max_rejected_frames: int = 20
    max_rejected_bytes: int = 8192
    jt808_utc_offset: float = 8.0

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be 0-65535, not {self.port}")
        for name in ("idle_timeout", "handshake_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")
        for name in ("max_frame", "read_size", "max_write_buffer", "max_connections"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in ("max_read_rate", "read_burst", "max_connections_per_source"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if not -12.0 <= self.jt808_utc_offset <= 14.0:
            raise ValueError("jt808_utc_offset must be between -12 and +14 hours")

    @property
    def key(self) -> tuple[str | tuple[str, ...] | None, int]:
        """What identifies a shared listener: the bind address(es) and port."""
        return self.host, self.port

    @property
    def sweep_interval(self) -> float:
        return max(
            0.01, min(_MAX_SWEEP_INTERVAL, min(self.idle_timeout, self.handshake_timeout) / 4)
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "host": list(self.host) if isinstance(self.host, tuple) else self.host,
            "port": self.port,
            "idle_timeout": self.idle_timeout,
            "handshake_timeout": self.handshake_timeout,
            "max_frame": self.max_frame,
            "read_size": self.read_size,
            "max_read_rate": self.max_read_rate,
            "read_burst": self.read_burst,
            "max_write_buffer": self.max_write_buffer,
            "max_connections": self.max_connections,
            "max_connections_per_source": self.max_connections_per_source,
            "per_source_exempt": [str(net) for net in self.per_source_exempt],
            "allowed_networks": [str(net) for net in self.allowed_networks],
            "max_rejected_frames": self.max_rejected_frames,
            "max_rejected_bytes": self.max_rejected_bytes,
            "jt808_utc_offset": self.jt808_utc_offset,
        }


# -- errors ---------------------------------------------------------------------------------


class ListenerError(Exception):
    """Base of every error the listener raises."""


type BindFailure = Literal[
    "in_use", "permission", "address_unavailable", "invalid_address", "error"
]


class ListenerBindError(ListenerError):
    """The port could not be opened; ``reason`` says why, ``str()`` is a readable message."""

    def __init__(
        self,
        message: str,
        *,
        reason: BindFailure,
        host: str | tuple[str, ...] | None,
        port: int,
        detail: str = "",
    ) -> None:
        super().__init__(message)
        self.reason: BindFailure = reason
        self.host = host
        self.port = port
        self.detail = detail or message
        """Why, without the address and port (for texts that name them already)."""

    @classmethod
    def from_os_error(
        cls, err: OSError, host: str | tuple[str, ...] | None, port: int
    ) -> ListenerBindError:
        where = _describe_bind(host, port)
        code = err.errno
        reason: BindFailure
        if code == errno.EADDRINUSE:
            reason = "in_use"
            detail = "the port is already in use by another program"
        elif code in (errno.EACCES, errno.EPERM):
            reason = "permission"
            detail = "permission denied (ports below 1024 need privileges)"
        elif code in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT) or code is None:
            # asyncio skips addresses that are not available (EADDRNOTAVAIL) and raises a
            # plain OSError without errno when none is left ("could not bind on any address").
            reason = "address_unavailable"
            detail = "the address is not available on this host"
        elif isinstance(err, socket.gaierror):
            reason = "invalid_address"
            detail = f"the bind address cannot be resolved ({err.strerror or err})"
        else:
            reason = "error"
            detail = f"{err.strerror or err}"
        return cls(f"{where}: {detail}", reason=reason, host=host, port=port, detail=detail)


def _describe_bind(host: str | tuple[str, ...] | None, port: int) -> str:
    if host is None:
        hosts = "all interfaces"
    elif isinstance(host, tuple):
        hosts = ", ".join(host)
    else:
        hosts = host
    return f"cannot listen on {hosts} port {port}"


class TrackerAlreadyRegisteredError(ListenerError):
    """Another sink already owns this tracker ID on this listener."""


class CommandFailedError(ListenerError):
    """Base of the errors of :meth:`Listener.send_command`.

    A command the codec cannot encode for the tracker's protocol raises the codec's
    :class:`~custom_components.sinotrack.protocol.CommandError` instead (unchanged).
    """


class ListenerClosedError(CommandFailedError):
    """The listener is closed (or was closed while the command waited)."""


class TrackerOfflineError(CommandFailedError):
    """The tracker has no live connection and the command was not to be queued."""


class CommandTimeoutError(CommandFailedError):
    """The tracker did not answer in time. ``ack``: the JT/T 808 acknowledgement, if any."""

    def __init__(self, message: str, ack: Message | None = None) -> None:
        super().__init__(message)
        self.ack = ack


class CommandExpiredError(CommandFailedError):
    """A queued command could not be sent before its expiry."""


class TrackerDisconnectedError(CommandFailedError):
    """The connection dropped (or was replaced) after the command was sent; not resent."""


# -- public types ---------------------------------------------------------------------------


class TrackerSink(Protocol):
    """The owner of one tracker ID (Home Assistant's per-tracker runtime).

    Both methods are called from the event loop and must not block. A sink may also have a
    ``jt808_utc_offset`` attribute (hours, a float): the listener applies it to the
    tracker's JT/T 808 timestamps, from its first frame on (read when the ID is learnt and
    when the sink registers).
    """

    def handle_messages(self, messages: list[Message]) -> None:
        """The messages of one decoded frame (at least one)."""

    def connection_changed(self, connected: bool, peer: str | None) -> None:
        """The tracker connected (or reconnected from ``peer``) or its connection closed.

        Also called from :meth:`Listener.register` when the tracker is already connected.
        A reconnect that replaces a connection calls it with ``True`` only.
        """


type UnknownTrackerCallback = Callable[[str, str, str], None]
"""``callback(ident, protocol, peer)``: an ID nobody registered; ``ident`` is normalised."""


@dataclass(frozen=True, slots=True)
class CommandResult:
    """The reply that completed a command."""

    reply: Message
    ack: Message | None = None
    """JT/T 808: the 0x0001 acknowledgement that preceded the answer (text, position)."""
    sent: EncodedCommand | None = None
    """What was sent."""


# -- internals ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Stats:
    connections_total: int = 0
    reads: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    frames: int = 0
    messages: int = 0
    frame_warnings: int = 0
    rejected_frames: int = 0
    rejected_bytes: int = 0
    replies_sent: int = 0
    throttled: int = 0
    commands_sent: int = 0
    commands_answered: int = 0
    commands_timed_out: int = 0
    commands_expired: int = 0
    commands_disconnected: int = 0
    sessions_replaced: int = 0
    id_takeovers: int = 0
    unknown_trackers: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    closed: dict[str, int] = field(default_factory=dict)
    rejected_reasons: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class _TrackerInfo:
    """What diagnostics show about one registered tracker, kept across its connections."""

    peer: str | None = None
    protocol: str | None = None
    connected_at: float | None = None
    disconnected_at: float | None = None
    disconnect_reason: str | None = None
    connections: int = 0


@dataclass(slots=True)
class _PendingCommand:
    encoded: EncodedCommand
    future: asyncio.Future[CommandResult]
    ack: Message | None = None


class _CommandQueue:
    """Per tracker ID: the FIFO lock of its commands and a wake-up for state changes."""

    __slots__ = ("changed", "lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.changed = asyncio.Event()
        self.users = 0


def _reason_key(reason: str) -> str:
    """A bounded diagnostics key for a rejection reason (details and numbers dropped)."""
    return _DIGITS.sub("N", reason.split(":", 1)[0])[:80]


def _count(counter: dict[str, int], key: str) -> None:
    if key in counter or len(counter) < _MAX_REASONS:
        counter[key] = counter.get(key, 0) + 1
    else:
        counter["other"] = counter.get("other", 0) + 1


def _sink_offset(sink: TrackerSink) -> float | None:
    value = getattr(sink, "jt808_utc_offset", None)
    if isinstance(value, int | float) and not isinstance(value, bool) and -12.0 <= value <= 14.0:
        return float(value)
    return None


class _Session(asyncio.BufferedProtocol):
    """One TCP connection: codec state, learnt ID, pending command."""

    __slots__ = (
        "_buffer",
        "_flush_handle",
        "_listener",
        "_resume_handle",
        "_token_time",
        "_tokens",
        "closing",
        "codec",
        "counted",
        "frames",
        "host",
        "key",
        "last_frame",
        "last_read",
        "opened",
        "opened_wall",
        "peer",
        "pending",
        "ready",
        "rejected_bytes",
        "rejected_run",
        "sink",
        "transport",
        "unverified",
        "warned",
    )

    def __init__(self, listener: Listener) -> None:
        self._listener = listener
        config = listener.config
        self.codec = TrackerConnection(
            jt808_utc_offset=config.jt808_utc_offset, max_frame=config.max_frame
        )
        self.transport: asyncio.Transport | None = None
        shared = listener.shared_buffer
        self._buffer = shared if shared is not None else memoryview(bytearray(config.read_size))
        self.peer = ""
        self.host = ""
        self.key: str | None = None
        self.sink: TrackerSink | None = None
        self.ready = False
        self.pending: _PendingCommand | None = None
        self.closing: str | None = None
        self.counted = False
        self.warned = False
        self.unverified = False
        self.frames = 0
        self.rejected_run = 0
        self.rejected_bytes = 0
        self.opened = self.last_frame = self.last_read = self._token_time = listener.loop.time()
        self.opened_wall = time.time()
        self._tokens = float(max(config.read_burst, config.read_size))
        self._resume_handle: asyncio.TimerHandle | None = None
        self._flush_handle: asyncio.TimerHandle | None = None

    # -- asyncio callbacks ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast("asyncio.Transport", transport)
        self._listener.accept(self, self.transport)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._buffer

    def buffer_updated(self, nbytes: int) -> None:
        data = self._buffer[:nbytes].tobytes()
        listener = self._listener
        stats = listener.stats
        stats.reads += 1
        stats.bytes_in += nbytes
        now = self.last_read = listener.loop.time()
        rate = listener.config.max_read_rate
        if rate:
            self._throttle(nbytes, now, rate)
        try:
            events = self.codec.feed(data, time.time())
        except Exception:
            _LOGGER.exception("Codec error on the connection from %s", self.peer)
            self.close(CLOSED_INTERNAL)
            return
        if events:
            self.handle_events(events, now)
        if self._flush_handle is None and self.codec.buffered and self.closing is None:
            self._flush_handle = listener.loop.call_later(_QUIET_FLUSH, self._quiet)

    def _quiet(self) -> None:
        """Flush the codec once no byte came for ``_QUIET_FLUSH`` seconds."""
        self._flush_handle = None
        if self.closing is not None or not self.codec.buffered:
            return
        loop = self._listener.loop
        now = loop.time()
        waited = now - self.last_read
        if waited < _QUIET_FLUSH:
            self._flush_handle = loop.call_later(_QUIET_FLUSH - waited, self._quiet)
            return
        self.flush(now)

    def flush(self, now: float) -> None:
        """Decode what the codec holds back once the peer has gone quiet."""
        try:
            events = self.codec.flush(time.time())
        except Exception:
            _LOGGER.exception("Codec error on the connection from %s", self.peer)
            self.close(CLOSED_INTERNAL)
            return
        if events:
            self.handle_events(events, now)

    def handle_events(self, events: list[Decoded | Rejected], now: float) -> None:
        """Route decoded messages, send the replies, count what was rejected."""
        listener = self._listener
        stats = listener.stats
        codec = self.codec
        if self.key is None and codec.ident is not None:
            listener.identify(self, codec.ident, events)
        sink = self.sink
        replies: list[bytes] | None = None
        for event in events:
            if isinstance(event, Decoded):
                stats.frames += 1
                self.frames += 1
                self.last_frame = now
                self.rejected_run = 0
                self.rejected_bytes = 0
                reply = event.reply
                if reply is not None:
                    if replies is None:
                        replies = [reply]
                    else:
                        replies.append(reply)
                if event.warning is not None:
                    stats.frame_warnings += 1
                    _LOGGER.debug("Frame from %s (%s): %s", self.peer, self.key, event.warning)
                elif self.unverified:
                    self.unverified = False
                    listener.report_unknown(self)
                messages = event.messages
                if messages:
                    stats.messages += len(messages)
                    if not self.ready:
                        self._check_ready(messages)
                    pending = self.pending
                    if pending is not None:
                        self._match(pending, messages)
                    if sink is not None:
                        try:
                            sink.handle_messages(messages)
                        except Exception:
                            _LOGGER.exception("Error handling the messages of tracker %s", self.key)
            else:
                self._rejected(event)
            if self.closing is not None:
                return
        transport = self.transport
        if replies is not None and transport is not None:
            data = replies[0] if len(replies) == 1 else b"".join(replies)
            stats.replies_sent += len(replies)
            stats.bytes_out += len(data)
            transport.write(data)

    def eof_received(self) -> bool | None:
        # The peer is done sending: decode what the codec still holds for more data (a lone
        # `$` frame) and answer it, so that a tracker's last frame before a FIN is not lost.
        if self.closing is None and self.codec.buffered:
            self.flush(self._listener.loop.time())
        return None  # no half-open connections: the transport closes

    def pause_writing(self) -> None:
        self.close(CLOSED_NOT_READING)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._resume_handle is not None:
            self._resume_handle.cancel()
            self._resume_handle = None
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        self._listener.lost(self, exc)

    # -- helpers ----------------------------------------------------------------------------

    def _throttle(self, nbytes: int, now: float, rate: int) -> None:
        config = self._listener.config
        tokens = self._tokens + (now - self._token_time) * rate
        burst = max(config.read_burst, config.read_size)
        tokens = min(tokens, burst) - nbytes
        self._tokens = tokens
        self._token_time = now
        if tokens < 0 and self.transport is not None and self._resume_handle is None:
            self._listener.stats.throttled += 1
            self.transport.pause_reading()
            self._resume_handle = self._listener.loop.call_later(-tokens / rate, self._resume)

    def _resume(self) -> None:
        self._resume_handle = None
        if self.transport is not None and self.closing is None:
            self.transport.resume_reading()

    def _check_ready(self, messages: list[Message]) -> None:
        for message in messages:
            if message.get(MESSAGE_TYPE) != _JT808_REGISTER:
                self.ready = True
                self._listener.session_ready(self)
                return

    def _match(self, pending: _PendingCommand, messages: list[Message]) -> None:
        for message in messages:
            match = pending.encoded.match(message)
            if match is None:
                continue
            if match == "ack":
                pending.ack = message
                continue
            self.pending = None
            if not pending.future.done():
                pending.future.set_result(CommandResult(message, pending.ack, pending.encoded))
            return

    def _rejected(self, event: Rejected) -> None:
        listener = self._listener
        stats = listener.stats
        config = listener.config
        stats.rejected_frames += 1
        stats.rejected_bytes += event.size
        _count(stats.rejected_reasons, _reason_key(event.reason))
        self.rejected_run += 1
        self.rejected_bytes += event.size
        if not self.warned and listener.may_warn("rejected"):
            _LOGGER.warning(
                "Skipped %d bytes from %s (tracker %s): %s; first bytes %r"
                " (further skipped frames on this connection are logged at debug level)",
                event.size,
                self.peer,
                self.key or "not identified",
                event.reason,
                event.sample,
            )
        else:
            _LOGGER.debug(
                "Skipped %d bytes from %s (%s): %s %r",
                event.size,
                self.peer,
                self.key,
                event.reason,
                event.sample,
            )
        self.warned = True
        if (
            self.rejected_run > config.max_rejected_frames
            or self.rejected_bytes > config.max_rejected_bytes
        ):
            _LOGGER.debug(
                "Closing the connection from %s: %d frames / %d bytes rejected in a row",
                self.peer,
                self.rejected_run,
                self.rejected_bytes,
            )
            self.close(CLOSED_GARBAGE)

    def send(self, data: bytes) -> None:
        if self.transport is not None:
            self._listener.stats.bytes_out += len(data)
            self.transport.write(data)

    def close(self, reason: str) -> None:
        """Abort the connection (no lingering socket); ``connection_lost`` follows."""
        if self.closing is not None:
            return
        self.closing = reason
        if self.transport is not None:
            self.transport.abort()


# -- the listener ---------------------------------------------------------------------------


class Listener:
    """One TCP server (one or more sockets on one port) and its sessions."""

    def __init__(self, config: ListenerConfig | None = None) -> None:
        self.config = config or ListenerConfig()
        self.stats = _Stats()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._started = False
        self._closed = False
        self._sweep_handle: asyncio.TimerHandle | None = None
        self.shared_buffer: memoryview | None = None
        self._connections: set[_Session] = set()
        self._per_source: dict[str, int] = {}
        self._sessions: dict[str, _Session] = {}
        self._sinks: dict[str, TrackerSink] = {}
        self._info: dict[str, _TrackerInfo] = {}
        self._queues: dict[str, _CommandQueue] = {}
        self._reported: dict[str, None] = {}
        self._unknown_callback: UnknownTrackerCallback | None = None
        self._warned_at: dict[str, float] = {}

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise ListenerClosedError("the listener has not been started")
        return self._loop

    @property
    def is_serving(self) -> bool:
        return self._server is not None and not self._closed

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """The bound (address, port) pairs."""
        if self._server is None or self._closed:
            return []
        return [
            (str(sock.getsockname()[0]), int(sock.getsockname()[1]))
            for sock in self._server.sockets
        ]

    @property
    def port(self) -> int:
        """The bound port (the actual one when the config asked for port 0)."""
        addresses = self.addresses
        return addresses[0][1] if addresses else self.config.port

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
            self.shared_buffer = memoryview(bytearray(config.read_size))
        try:
            self._server = await loop.create_server(
                lambda: _Session(self),
                host=config.host,
                port=config.port,
                backlog=_BACKLOG,
                reuse_address=True,
            )
        except OSError as err:
            self._started = False
            self._loop = None
            raise ListenerBindError.from_os_error(err, config.host, config.port) from err
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
        server = self._server
        if server is not None:
            server.close()
        for session in list(self._connections):
            session.close(CLOSED_LISTENER)
        for queue in self._queues.values():
            queue.changed.set()
        if server is not None:
            await server.wait_closed()
        self._server = None
        self.shared_buffer = None
        _LOGGER.debug("Sinotrack listener on port %s closed", self.config.port)

    # -- trackers -----------------------------------------------------------------------------

    def register(self, ident: str, sink: TrackerSink) -> Callable[[], None]:
        """Route the messages of tracker ``ident`` to ``sink``; returns the unregister callable.

        Raises :class:`TrackerAlreadyRegisteredError` if another sink owns the ID. If the
        tracker is connected already, ``sink.connection_changed(True, peer)`` is called now.
        """
        key = normalize_ident(ident)
        if key in self._sinks:
            raise TrackerAlreadyRegisteredError(
                f"tracker {key} is already registered on port {self.config.port}"
            )
        self._sinks[key] = sink
        info = self._info[key] = _TrackerInfo()
        session = self._sessions.get(key)
        if session is not None:
            session.sink = sink
            self._apply_offset(session, sink, None)
            info.peer = session.peer
            info.protocol = session.codec.protocol
            info.connected_at = session.opened_wall
            info.connections = 1
            self._call_connection_changed(sink, key, connected=True, peer=session.peer)

        def unregister() -> None:
            if self._sinks.get(key) is not sink:
                return
            del self._sinks[key]
            self._info.pop(key, None)
            self._reported.pop(key, None)
            live = self._sessions.get(key)
            if live is not None and live.sink is sink:
                live.sink = None

        return unregister

    def sink_changed(self, ident: str) -> None:
        """Apply what the sink of ``ident`` says now (its JT/T 808 clock offset) to the live
        session, without waiting for the tracker to reconnect."""
        key = normalize_ident(ident)
        sink = self._sinks.get(key)
        session = self._sessions.get(key)
        if sink is not None and session is not None and session.sink is sink:
            self._apply_offset(session, sink, None)

    def set_unknown_tracker_callback(self, callback: UnknownTrackerCallback | None) -> None:
        """``callback(ident, protocol, peer)`` for an ID no sink owns: once per ID."""
        self._unknown_callback = callback

    def is_connected(self, ident: str) -> bool:
        """Whether the tracker has a live, identified connection."""
        session = self._sessions.get(normalize_ident(ident))
        return session is not None and session.closing is None

    def peer(self, ident: str) -> str | None:
        """``address:port`` of the tracker's live connection, else its last one (if registered)."""
        key = normalize_ident(ident)
        session = self._sessions.get(key)
        if session is not None:
            return session.peer
        info = self._info.get(key)
        return info.peer if info is not None else None

    @property
    def connection_count(self) -> int:
        return len(self._connections)

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

        One command per tracker is in flight; later ones wait in order. ``timeout``: seconds
        to wait for the reply once sent. Offline tracker: :class:`TrackerOfflineError` at
        once, or with ``queue_if_offline`` the command waits up to ``queue_expiry`` seconds
        (for its turn and for the tracker) and is sent after the tracker's first frame
        (:class:`CommandExpiredError` past it). Other errors: :class:`CommandTimeoutError`,
        :class:`TrackerDisconnectedError`, :class:`ListenerClosedError`, and the codec's
        ``CommandError`` for a command the tracker's protocol cannot carry. ``on_sent`` is
        called once the command is written to the tracker (a queued command that is kept
        elsewhere until it leaves, such as across a restart, can be forgotten then).
        """
        if not timeout > 0 or not queue_expiry > 0:
            raise ValueError("timeout and queue_expiry must be positive")
        if self._closed or self._loop is None:
            raise ListenerClosedError("the listener is not running")
        key = normalize_ident(ident)
        if not queue_if_offline and key not in self._sessions:
            raise TrackerOfflineError(f"tracker {key} is not connected")
        expires = self._loop.time() + queue_expiry if queue_if_offline else None
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = _CommandQueue()
        queue.users += 1
        try:
            try:
                async with asyncio.timeout_at(expires):
                    await queue.lock.acquire()
            except TimeoutError:
                self.stats.commands_expired += 1
                raise CommandExpiredError(
                    f"the command for tracker {key} expired in the queue"
                ) from None
            try:
                session = await self._wait_ready(key, queue, timeout, expires)
                return await self._exchange(key, session, command, timeout, on_sent)
            finally:
                queue.lock.release()
        finally:
            queue.users -= 1
            if queue.users == 0 and self._queues.get(key) is queue:
                del self._queues[key]

    async def _wait_ready(
        self, key: str, queue: _CommandQueue, reply_timeout: float, expires: float | None
    ) -> _Session:
        deadline = expires if expires is not None else self.loop.time() + reply_timeout
        while True:
            if self._closed:
                raise ListenerClosedError("the listener was closed")
            session = self._sessions.get(key)
            if session is not None and session.closing is None and session.ready:
                return session
            if session is None and expires is None:
                raise TrackerOfflineError(f"tracker {key} is not connected")
            queue.changed.clear()
            try:
                async with asyncio.timeout_at(deadline):
                    await queue.changed.wait()
            except TimeoutError:
                if expires is not None:
                    self.stats.commands_expired += 1
                    raise CommandExpiredError(
                        f"tracker {key} did not connect before the command expired"
                    ) from None
                self.stats.commands_timed_out += 1
                raise CommandTimeoutError(
                    f"tracker {key} was not ready for commands in time"
                ) from None

    async def _exchange(
        self,
        key: str,
        session: _Session,
        command: Command,
        reply_timeout: float,
        on_sent: Callable[[], None] | None = None,
    ) -> CommandResult:
        encoded = session.codec.encode(command, time.time())  # CommandError propagates
        future: asyncio.Future[CommandResult] = self.loop.create_future()
        pending = _PendingCommand(encoded, future)
        session.pending = pending
        session.send(encoded.data)
        self.stats.commands_sent += 1
        if on_sent is not None:
            on_sent()
        _LOGGER.debug("Sent %s to tracker %s: %r", command.kind.value, key, encoded.data)
        try:
            async with asyncio.timeout(reply_timeout):
                result = await future
        except TimeoutError:
            self.stats.commands_timed_out += 1
            raise CommandTimeoutError(
                f"tracker {key} did not answer the command within {reply_timeout:g} s", pending.ack
            ) from None
        finally:
            if session.pending is pending:
                session.pending = None
        self.stats.commands_answered += 1
        return result

    # -- diagnostics --------------------------------------------------------------------------

    def diagnostics(self) -> dict[str, Any]:
        """Counters for a user to see; ``trackers`` is keyed by the normalised ID."""
        stats = self.stats
        return {
            "serving": self.is_serving,
            "addresses": [f"{host}:{port}" for host, port in self.addresses],
            "config": self.config.as_dict(),
            "connections": {
                "current": len(self._connections),
                "identified": len(self._sessions),
                "total": stats.connections_total,
                "refused": dict(stats.refused),
                "closed": dict(stats.closed),
            },
            "traffic": {
                "reads": stats.reads,
                "bytes_in": stats.bytes_in,
                "bytes_out": stats.bytes_out,
                "frames": stats.frames,
                "messages": stats.messages,
                "frame_warnings": stats.frame_warnings,
                "replies_sent": stats.replies_sent,
                "throttled": stats.throttled,
            },
            "rejected": {
                "frames": stats.rejected_frames,
                "bytes": stats.rejected_bytes,
                "reasons": dict(stats.rejected_reasons),
            },
            "commands": {
                "sent": stats.commands_sent,
                "answered": stats.commands_answered,
                "timed_out": stats.commands_timed_out,
                "expired": stats.commands_expired,
                "disconnected": stats.commands_disconnected,
                "waiting": sum(queue.users for queue in self._queues.values()),
            },
            "sessions_replaced": stats.sessions_replaced,
            "id_takeovers": stats.id_takeovers,
            "unknown_trackers": stats.unknown_trackers,
            "trackers": {key: self._tracker_diagnostics(key) for key in self._sinks},
        }

    def tracker_diagnostics(self, ident: str) -> dict[str, Any] | None:
        """One registered tracker's part of :meth:`diagnostics`."""
        key = normalize_ident(ident)
        return self._tracker_diagnostics(key) if key in self._sinks else None

    def _tracker_diagnostics(self, key: str) -> dict[str, Any]:
        info = self._info.get(key) or _TrackerInfo()
        session = self._sessions.get(key)
        queue = self._queues.get(key)
        data: dict[str, Any] = {
            "connected": session is not None,
            "peer": info.peer,
            "protocol": info.protocol,
            "connected_at": info.connected_at,
            "disconnected_at": info.disconnected_at,
            "disconnect_reason": info.disconnect_reason,
            "connections": info.connections,
            "commands_waiting": queue.users if queue is not None else 0,
        }
        if session is not None and self._loop is not None:
            data["frames"] = session.frames
            data["seconds_since_last_frame"] = round(self._loop.time() - session.last_frame, 1)
        return data

    # -- session callbacks --------------------------------------------------------------------

    def may_warn(self, kind: str) -> bool:
        """Rate limit for WARNING lines: one per kind per ``_WARN_INTERVAL``."""
        now = self.loop.time()
        if now < self._warned_at.get(kind, -_WARN_INTERVAL) + _WARN_INTERVAL:
            return False
        self._warned_at[kind] = now
        return True

    def accept(self, session: _Session, transport: asyncio.Transport) -> None:
        """A new connection: check the allow-list and the caps, then count it."""
        peername = transport.get_extra_info("peername")
        address: IPAddress | None = None
        if isinstance(peername, tuple) and peername:
            try:
                address = ipaddress.ip_address(str(peername[0]).split("%", 1)[0])
            except ValueError:
                address = None
            if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
                address = address.ipv4_mapped
        host = str(address) if address is not None else str(peername)
        port = peername[1] if isinstance(peername, tuple) and len(peername) > 1 else 0
        session.host = host
        session.peer = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        config = self.config
        reason: str | None = None
        if self._closed:
            reason = REFUSED_CLOSING
        elif config.allowed_networks and (
            address is None or not any(address in net for net in config.allowed_networks)
        ):
            reason = REFUSED_NOT_ALLOWED
        elif len(self._connections) >= config.max_connections:
            reason = REFUSED_TOO_MANY
        elif (
            config.max_connections_per_source
            and self._per_source.get(host, 0) >= config.max_connections_per_source
            and not (
                address is not None and any(address in net for net in config.per_source_exempt)
            )
        ):
            reason = REFUSED_TOO_MANY_FROM_SOURCE
        if reason is not None:
            _count(self.stats.refused, reason)
            if self.may_warn("refused"):
                _LOGGER.warning("Refused a connection from %s: %s", session.peer, reason)
            else:
                _LOGGER.debug("Refused a connection from %s: %s", session.peer, reason)
            session.closing = reason
            transport.abort()
            return
        session.counted = True
        self._connections.add(session)
        self._per_source[host] = self._per_source.get(host, 0) + 1
        self.stats.connections_total += 1
        transport.set_write_buffer_limits(high=config.max_write_buffer)
        _LOGGER.debug("Connection from %s", session.peer)

    def identify(self, session: _Session, ident: str, events: list[Decoded | Rejected]) -> None:
        """The session's first frame named its tracker: route it, replace an old session."""
        key = session.key = normalize_ident(ident)
        protocol = session.codec.protocol or ""
        old = self._sessions.get(key)
        if old is not None and old is not session:
            self.stats.sessions_replaced += 1
            if old.host != session.host:
                self.stats.id_takeovers += 1
                if self.may_warn("takeover"):
                    _LOGGER.warning(
                        "Tracker %s connected from %s while its connection from %s was open;"
                        " the new connection replaces it (a tracker that changed address, or"
                        " another device using its ID)",
                        key,
                        session.peer,
                        old.peer,
                    )
            _LOGGER.debug("Tracker %s reconnected from %s, closing %s", key, session.peer, old.peer)
            old.close(CLOSED_REPLACED)
        self._sessions[key] = session
        sink = self._sinks.get(key)
        session.sink = sink
        if sink is not None:
            self._apply_offset(session, sink, events)
            info = self._info.setdefault(key, _TrackerInfo())
            info.peer = session.peer
            info.protocol = protocol
            info.connected_at = session.opened_wall
            info.connections += 1
            _LOGGER.debug("Tracker %s connected from %s (%s)", key, session.peer, protocol)
            self._call_connection_changed(sink, key, connected=True, peer=session.peer)
        elif key not in self._reported:
            if any(isinstance(event, Decoded) and event.warning is None for event in events):
                self.report_unknown(session)
            else:
                session.unverified = True  # reported at its first frame without a warning
        self._notify(key)

    def report_unknown(self, session: _Session) -> None:
        """Tell the unknown-tracker callback (once per ID) about a session no sink owns."""
        key = session.key
        if key is None or session.sink is not None or key in self._reported:
            return
        protocol = session.codec.protocol or ""
        if len(self._reported) >= _MAX_REPORTED:
            del self._reported[next(iter(self._reported))]
        self._reported[key] = None
        self.stats.unknown_trackers += 1
        _LOGGER.debug("Unknown tracker %s (%s) connected from %s", key, protocol, session.peer)
        callback = self._unknown_callback
        if callback is not None:
            try:
                callback(key, protocol, session.peer)
            except Exception:
                _LOGGER.exception("Error in the unknown-tracker callback for %s", key)

    def session_ready(self, session: _Session) -> None:
        if session.key is not None and self._sessions.get(session.key) is session:
            self._notify(session.key)

    def lost(self, session: _Session, exc: Exception | None) -> None:
        """A connection closed (by us or the peer)."""
        if not session.counted:
            return
        session.counted = False
        self._connections.discard(session)
        host = session.host
        remaining = self._per_source.get(host, 0) - 1
        if remaining > 0:
            self._per_source[host] = remaining
        else:
            self._per_source.pop(host, None)
        reason = session.closing or (CLOSED_ERROR if exc is not None else CLOSED_BY_PEER)
        session.closing = reason
        _count(self.stats.closed, reason)
        _LOGGER.debug(
            "Connection from %s (tracker %s) closed: %s",
            session.peer,
            session.key,
            reason if exc is None else f"{reason}: {exc}",
        )
        pending = session.pending
        if pending is not None:
            session.pending = None
            if not pending.future.done():
                if self._closed:
                    pending.future.set_exception(ListenerClosedError("the listener was closed"))
                else:
                    self.stats.commands_disconnected += 1
                    pending.future.set_exception(
                        TrackerDisconnectedError(
                            f"the connection of tracker {session.key} closed ({reason}) before its reply"
                        )
                    )
        key = session.key
        if key is None or self._sessions.get(key) is not session:
            return
        del self._sessions[key]
        info = self._info.get(key)
        if info is not None:
            info.disconnected_at = time.time()
            info.disconnect_reason = reason
        sink = session.sink
        if sink is not None and self._sinks.get(key) is sink:
            self._call_connection_changed(sink, key, connected=False, peer=session.peer)
        self._notify(key)

    # -- internals ----------------------------------------------------------------------------

    def _notify(self, key: str) -> None:
        queue = self._queues.get(key)
        if queue is not None:
            queue.changed.set()

    @staticmethod
    def _call_connection_changed(
        sink: TrackerSink, key: str, *, connected: bool, peer: str
    ) -> None:
        try:
            sink.connection_changed(connected, peer)
        except Exception:
            _LOGGER.exception("Error reporting the connection of tracker %s", key)

    @staticmethod
    def _apply_offset(
        session: _Session, sink: TrackerSink, events: list[Decoded | Rejected] | None
    ) -> None:
        """Use the sink's JT/T 808 clock offset; fix the frames decoded before it was known."""
        offset = _sink_offset(sink)
        codec = session.codec
        if offset is None or offset == codec.jt808_utc_offset:
            return
        if events and codec.protocol == PROTOCOL_JT808:
            shift = round(codec.jt808_utc_offset * 3600) - round(offset * 3600)
            for event in events:
                if isinstance(event, Decoded):
                    for message in event.messages:
                        stamp = message.get(TIMESTAMP)
                        if isinstance(stamp, int) and message.get(PROTOCOL_ID) == PROTOCOL_JT808:
                            message[TIMESTAMP] = stamp + shift
        codec.jt808_utc_offset = offset

    def _sweep(self) -> None:
        """Close connections that sent no frame for too long; runs every few seconds."""
        self._sweep_handle = None
        if self._closed:
            return
        loop = self.loop
        now = loop.time()
        config = self.config
        handshake_before = now - config.handshake_timeout
        idle_before = now - config.idle_timeout
        expired: list[tuple[_Session, str]] = []
        for session in self._connections:
            if session.closing is not None:
                continue
            if session.key is None:
                if session.opened < handshake_before:
                    expired.append((session, CLOSED_HANDSHAKE))
            elif session.last_frame < idle_before:
                expired.append((session, CLOSED_IDLE))
        for session, reason in expired:
            _LOGGER.debug(
                "Closing the connection from %s (tracker %s): %s", session.peer, session.key, reason
            )
            session.close(reason)
        self._sweep_handle = loop.call_later(config.sweep_interval, self._sweep)


# -- the pool -------------------------------------------------------------------------------


@dataclass(slots=True)
class _PoolEntry:
    listener: Listener
    users: int = 0


class ListenerPool:
    """Shared listeners, one per (bind address, port), reference-counted.

    Keep one pool per process (Home Assistant: in ``hass.data``); tests make their own.
    Entries that ask for the same address and port share one listener, whose limits are
    those of the first :meth:`acquire`; the last :meth:`release` closes it.
    """

    def __init__(self, factory: Callable[[ListenerConfig], Listener] = Listener) -> None:
        self._factory = factory
        self._entries: dict[tuple[str | tuple[str, ...] | None, int], _PoolEntry] = {}
        self._lock = asyncio.Lock()

    async def acquire(self, config: ListenerConfig) -> Listener:
        """The running listener for ``config``'s address and port, started if needed.

        Raises :class:`ListenerBindError`; nothing is held then.
        """
        async with self._lock:
            entry = self._entries.get(config.key)
            if entry is None:
                listener = self._factory(config)
                await listener.start()
                entry = self._entries[config.key] = _PoolEntry(listener)
            elif entry.listener.config != config:
                _LOGGER.debug(
                    "Sharing the listener on port %s; its limits stay those it started with",
                    config.port,
                )
            entry.users += 1
            return entry.listener

    async def release(self, listener: Listener) -> None:
        """Give back one :meth:`acquire`; the last one closes the listener."""
        async with self._lock:
            for key, entry in self._entries.items():
                if entry.listener is listener:
                    entry.users -= 1
                    if entry.users <= 0:
                        del self._entries[key]
                        await listener.close()
                    return
        _LOGGER.debug("Release of a listener that is not in the pool (already closed)")

    def get(self, host: str | tuple[str, ...] | None, port: int) -> Listener | None:
        """The running listener on ``host`` and ``port``, if the pool has one."""
        entry = self._entries.get((host, port))
        return entry.listener if entry is not None else None

    def users(self, listener: Listener) -> int:
        """How many acquirers hold ``listener``."""
        for entry in self._entries.values():
            if entry.listener is listener:
                return entry.users
        return 0

    @property
    def listeners(self) -> list[Listener]:
        return [entry.listener for entry in self._entries.values()]

    async def close(self) -> None:
        """Close every listener, whoever holds it (shutdown)."""
        async with self._lock:
            entries = list(self._entries.values())
            self._entries.clear()
            for entry in entries:
                await entry.listener.close()
