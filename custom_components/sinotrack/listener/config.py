"""Where a listener binds and every limit it enforces, each with its reason and default."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
import ipaddress
import resource
from typing import Any, Final

from custom_components.sinotrack.protocol.framing import MAX_TEXT_FRAME

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
MAX_SWEEP_INTERVAL: Final = 5.0

_RESERVED_FILES: Final = 512
"""Descriptors left to the rest of the process before the listener takes any."""
_CONNECTIONS_CEILING: Final = 4000
"""Most connections by default: each costs ~5 KiB of objects (session, codec, transport),
so 4,000 plus the memory budget stay under 32 MB."""


def default_max_connections() -> int:
    """The connection cap this process's open-file limit allows, with room for the rest.

    Each connection is one descriptor. Home Assistant typically runs with a soft limit of
    2,048 and has 150-200 open already; reaching the limit makes ``accept`` fail with EMFILE
    and starves every other integration of sockets and files. So 512 descriptors are kept
    for the rest of the process and half of what is left goes to trackers: 768 at 2,048,
    256 at 1,024, capped at 4,000 (far more than any home fleet).
    """
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return _CONNECTIONS_CEILING
    return max(16, min(_CONNECTIONS_CEILING, (soft - _RESERVED_FILES) // 2))


def parse_networks(values: Iterable[str] | str | None) -> tuple[IPNetwork, ...]:
    """Networks from strings (``192.168.0.0/16``, ``2001:db8::/32``, a bare address); one
    string is one network, ``None`` none.

    Raises ``ValueError`` for a value that is not a network.
    """
    if not values:
        return ()
    if isinstance(values, str):
        values = [values]
    return tuple(ipaddress.ip_network(str(value).strip(), strict=False) for value in values)


def in_networks(address: IPAddress | None, networks: tuple[IPNetwork, ...]) -> bool:
    """Whether ``address`` is in one of ``networks`` (an unknown address is in none)."""
    return address is not None and any(address in net for net in networks)


@dataclass(frozen=True, slots=True, kw_only=True)
class ListenerConfig:
    """Where to listen and the limits; each field says its default's reason."""

    host: str | tuple[str, ...] | None = "0.0.0.0"  # noqa: S104 - trackers come from the internet
    """Bind address(es): ``0.0.0.0`` all IPv4, ``::`` all IPv4 and IPv6 (one dual-stack
    socket), a tuple for several, ``None`` for every interface of both families."""
    port: int = DEFAULT_PORT

    # -- timeouts ------------------------------------------------------------------------------
    idle_timeout: float = 1800.0
    """A tracker's connection with no decoded frame for this long is closed. A sleeping ST-903
    keeps its link up with a heartbeat every few minutes, so 30 minutes is many missed
    heartbeats: the link is dead (NAT timeout, no FIN). Raise it for longer heartbeats."""
    unknown_idle_timeout: float = 300.0
    """The same for a connection whose ID no entry owns: it is only kept for discovery, which
    needs two good frames 30 s apart, and it must not hold a place for half an hour."""
    handshake_timeout: float = 120.0
    """A connection must send a decodable frame with an ID within this time. Trackers send
    their first frame right after connecting; this bounds silent and slowloris peers."""

    # -- frames and reads ------------------------------------------------------------------------
    max_frame: int = MAX_TEXT_FRAME
    """Longest frame (the codec default: H02 blind-spot batches and SMS replies fit)."""
    read_size: int = 16384
    """Most bytes taken from one connection per read: one chunk's decoding is the most one
    peer delays the others per event-loop iteration; the rest waits in the kernel."""
    unidentified_read_size: int = 1024
    """Most bytes per read before a connection's first good frame (a first frame is 20-200
    bytes): a peer that never identifies gets little of the loop."""
    max_read_rate: int = 32768
    """Bytes per second per connection (token bucket, 0 = unlimited). A GPRS tracker sends
    under 2 KiB/s even when it uploads stored fixes; 32 KiB/s is ~300 frames/s."""
    read_burst: int = 65536
    """Bucket size of ``max_read_rate``: a tracker's buffered fixes arrive at once."""
    unidentified_read_rate: int = 4096
    """Bytes per second per connection until its first good frame (burst: the same)."""
    max_frame_rate: float = 5.0
    """Frames per second a tracker may send sustained (0 = unlimited); past it reads pause.
    A real device reports at most once a second plus a heartbeat and a reply or two."""
    frame_burst: int = 200
    """Bucket size of ``max_frame_rate``: a reconnecting tracker replays its stored fixes."""
    source_read_rate: int = 131072
    """Bytes per second from one source address, all its connections together (0 =
    unlimited): 50 trackers behind one carrier NAT send a few KiB/s; a flood from one
    address cannot take the loop."""
    source_read_burst: int = 262144
    """Bucket size of ``source_read_rate``."""
    loop_read_budget: int = 65536
    """Bytes all connections together may read in one event-loop iteration; a connection
    past it waits for the next iteration, so one busy moment cannot stall the loop (the
    other integrations of Home Assistant run between iterations)."""
    loop_read_time: float = 0.008
    """Seconds of reading, decoding and delivering (Home Assistant's state writes included)
    all connections together may spend in one event-loop iteration. Bytes are a poor
    measure of work (4 KiB of tiny JT/T 808 sub-packages cost far more than one 4 KiB
    batch), time is the one that matters to the loop: past it, every connection that is
    ready takes one byte and waits for the next iteration. 8 ms keeps Home Assistant's
    timers within tens of milliseconds while a whole fleet replays its buffers."""
    source_iteration_share: int = 32768
    """Bytes one source may read in one iteration: the iteration's budget is shared between
    sources, not taken by the one with the most connections."""
    memory_budget: int = 4 * 1024 * 1024
    """Bytes the listener may hold for all connections together: partial frames, JT/T 808
    sub-packages waiting for the rest, unsent replies. Between frames a tracker holds
    nothing, and under 1 KiB while a frame arrives: 4 MiB is thousands of trackers' worth
    and, with the per-connection objects (~5 KiB each) of the largest default cap (4,000),
    keeps everything the listener holds under 32 MB whatever peers send. Past it,
    connections no entry owns are closed (biggest first), then a configured tracker that
    still grows pauses reading for a second at a time: no frame of a tracker is dropped."""
    max_write_buffer: int = 16384
    """Replies are 20-60 bytes; a peer that never reads is closed before its unread replies
    take more than this."""

    # -- admission -----------------------------------------------------------------------------
    max_connections: int = field(default_factory=default_max_connections)
    """Connections at once; derived from the open-file limit (see
    ``default_max_connections``). When full, a connection that has not identified, then one
    of an ID no entry owns, makes room for the newcomer: a configured tracker always gets in."""
    max_unknown_connections: int = 50
    """Connections of IDs no entry owns (kept only for discovery). Home users add a few
    trackers at a time; made-up IDs cannot fill the listener."""
    max_connections_per_source: int = 50
    """Connections from one IP address (0 = unlimited): room for trackers behind one
    carrier NAT address."""
    per_source_exempt: tuple[IPNetwork, ...] = LOOPBACK_NETWORKS
    """Sources free of the per-source caps and budgets: a local relay or tunnel funnels
    every tracker through loopback. ``()`` applies them to every source."""
    allowed_networks: tuple[IPNetwork, ...] = ()
    """Listener-wide allow-list of source networks (empty: all); others are closed at once."""
    max_rejected_frames: int = 20
    """Frames (or runs of garbage) skipped since the last good frame before the connection
    is closed. A device that sends an odd undecodable message now and then is never closed."""
    max_rejected_bytes: int = 8192
    """The same in bytes."""

    # -- takeover and discovery -------------------------------------------------------------------
    takeover_silence: float = 120.0
    """A second connection claiming an ID takes it over only when the live one has sent
    nothing for this long (or three times its median report gap, if longer), or closed."""
    discovery_delay: float = 30.0
    """An unknown ID is offered once its connection has stayed up and kept sending good
    frames for this long: a random frame or a hit-and-run peer offers nothing."""
    discoveries_per_source: int = 3
    """New IDs one source address may introduce per hour."""

    jt808_utc_offset: float = 8.0
    """Time zone of JT/T 808 device clocks when the ID's owner does not say."""

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be 0-65535, not {self.port}")
        for name in (
            "idle_timeout",
            "unknown_idle_timeout",
            "handshake_timeout",
            "takeover_silence",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")
        for name in (
            "max_frame",
            "read_size",
            "unidentified_read_size",
            "max_write_buffer",
            "max_connections",
            "loop_read_budget",
            "source_iteration_share",
            "memory_budget",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if not self.loop_read_time > 0:
            raise ValueError("loop_read_time must be positive")
        for name in (
            "max_read_rate",
            "read_burst",
            "unidentified_read_rate",
            "max_frame_rate",
            "frame_burst",
            "source_read_rate",
            "source_read_burst",
            "max_unknown_connections",
            "max_connections_per_source",
            "discovery_delay",
            "discoveries_per_source",
        ):
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
        """Seconds between two sweeps of idle connections."""
        shortest = min(self.idle_timeout, self.unknown_idle_timeout, self.handshake_timeout)
        return max(0.01, min(MAX_SWEEP_INTERVAL, shortest / 4))

    def as_dict(self) -> dict[str, Any]:
        """Every field, JSON-friendly (for diagnostics)."""
        data: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name in ("per_source_exempt", "allowed_networks"):
                value = [str(net) for net in value]
            elif isinstance(value, tuple):
                value = list(value)
            data[item.name] = value
        return data
