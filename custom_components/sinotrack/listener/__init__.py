"""The TCP server trackers connect to: sockets and sessions, between the codec and the runtime.

Pure asyncio plus the sans-I/O codec in ``protocol/``; no Home Assistant import, so it is
testable with plain pytest and reusable outside Home Assistant.

    pool = ListenerPool()                                # one per process (hass.data)
    listener = await pool.acquire(ListenerConfig(port=5013))   # ListenerBindError
    unregister = listener.register("4210051415", sink)   # sink: a TrackerSink
    result = await listener.send_command("4210051415", Command(CommandKind.MILEAGE))
    unregister()
    await pool.release(listener)                         # the last release closes the port

The package, by capability:

``config``
    :class:`ListenerConfig`: the bind address and every limit, each with its reason and
    default at its field.
``errors``
    :class:`ListenerError` and its subclasses.
``sockets``
    Binding (``::`` is one dual-stack socket: IPv4 and IPv6) and the peer's address. The
    listener accepts on its own sockets with ``loop.add_reader``: when the process runs
    out of descriptors (EMFILE/ENFILE) it pauses accepting and counts it, instead of
    letting asyncio hand the error to the loop's exception handler (fatal in Home
    Assistant); the connection cap is derived from the open-file limit, so that point is
    not reached in the first place.
``session``
    :class:`Session`: one connection (an ``asyncio.BufferedProtocol``, no task per
    connection). Bytes in, codec events out; the replies the device expects are written in
    the same loop iteration, before the messages go to the sink. It knows no protocol
    rule: the codec says what to answer, when the tracker is ready, and when it needs the
    time again (``timer()`` / ``handle_timer(now)``, run with one loop timer).
``host``
    :class:`SessionHost`, the sessions' owner (``SessionOwner`` is all a session sees):
    the allow-list and the takeover rule when a connection names its tracker, then every
    decoded frame to auth events, discovery, watchers, the command lane and the sink.
``admission``
    Every cap and budget: connection caps (unknown and unidentified connections evicted
    first), allow-lists, read budgets (per connection, per tracker frame rate, per source,
    per loop iteration), the memory budget, the discovery rate, the sweep.
``routes``
    One :class:`Route` per tracker ID: its sink, live session, info, command lane and report
    gaps; the takeover rule (:meth:`Route.may_take_over`).
``commands``
    The per-tracker command lane; :class:`CommandResult`.
``stats``
    Counters and the diagnostics layout.
``server``
    :class:`Listener`: the sockets and the accept loop, the trackers' API (``register``,
    ``expect``, ``send_command``, diagnostics) and the sweep, on top of :class:`SessionHost`.
``pool``
    :class:`ListenerPool`: one listener per port (its bind address that of the first acquirer), shared.

Behaviour
---------

* The tracker's ID is learnt from its first frame; the codec then asks the ID's owner for
  its settings (JT/T 808 clock offset and auth code) through ``resolve`` before that frame's
  messages are built. Every decoded frame's messages go to the :class:`TrackerSink`
  registered for that ID, in one synchronous ``handle_messages`` call per frame.
* A second connection claiming an ID whose live connection is still reporting is refused
  and counted; it takes over only when the old one closed, or stayed silent for
  ``takeover_silence`` (2 minutes) or three times its median report gap, whichever is
  longer. A sink's ``allowed_networks`` refuses that ID from other sources.
* An unknown ID is offered to the unknown-tracker callback only if it is digits only (as
  sent), after its connection stayed up and sent good frames for ``discovery_delay``
  (30 s), at most ``discoveries_per_source`` (3) new IDs per source address an hour, once
  per ID (until it is registered and unregistered again). Its frames are still answered, so
  that it stays connected until a discovery flow adopts it.
* A command's reply is accepted only from the session it was sent on.
* :meth:`Listener.expect` (a set-up flow waiting for its tracker): the expected ID is exempt
  from the limits of unknown IDs and not offered for discovery, and a watcher sees every
  frame decoded on the listener, whatever its ID, at once.

Logging: connects, disconnects and skipped frames at DEBUG; the first skipped frame of a
connection, refused connections and IDs, takeovers and accept pauses at WARNING, at most
once per 30 s per kind per listener. Nothing is logged per frame above DEBUG.

Timers: one sweep per listener (every ``min(timeouts) / 4``, at most 5 s); a timer per
connection only while a budget pauses it or while its codec has a deadline (bytes held back
that it cannot frame yet, a JT/T 808 message still incomplete). One short task per accepted connection (``loop.connect_accepted_socket``).
"""

from .commands import MAX_WAITING_COMMANDS, CommandLane, CommandResult
from .config import (
    DEFAULT_COMMAND_TIMEOUT,
    DEFAULT_PORT,
    DEFAULT_QUEUE_EXPIRY,
    LOOPBACK_NETWORKS,
    IPAddress,
    IPNetwork,
    ListenerConfig,
    default_max_connections,
    parse_networks,
)
from .errors import (
    BindFailure,
    CommandExpiredError,
    CommandFailedError,
    CommandQueueFullError,
    CommandTimeoutError,
    ListenerBindError,
    ListenerClosedError,
    ListenerError,
    TrackerAlreadyRegisteredError,
    TrackerDisconnectedError,
    TrackerOfflineError,
)
from .pool import ListenerPool
from .routes import Route, TrackerInfo, TrackerSink
from .server import Expectation, FrameWatcher, Listener, UnknownTrackerCallback
from .session import Session
from .stats import (
    CLOSED_BY_PEER,
    CLOSED_ERROR,
    CLOSED_EVICTED,
    CLOSED_GARBAGE,
    CLOSED_HANDSHAKE,
    CLOSED_ID_IN_USE,
    CLOSED_IDLE,
    CLOSED_INTERNAL,
    CLOSED_LISTENER,
    CLOSED_MEMORY,
    CLOSED_NETWORK,
    CLOSED_NOT_READING,
    CLOSED_REPLACED,
    CLOSED_UNKNOWN_CAP,
    REFUSED_CLOSING,
    REFUSED_NOT_ALLOWED,
    REFUSED_TOO_MANY,
    REFUSED_TOO_MANY_FROM_SOURCE,
    Stats,
)

__all__ = [
    "CLOSED_BY_PEER",
    "CLOSED_ERROR",
    "CLOSED_EVICTED",
    "CLOSED_GARBAGE",
    "CLOSED_HANDSHAKE",
    "CLOSED_IDLE",
    "CLOSED_ID_IN_USE",
    "CLOSED_INTERNAL",
    "CLOSED_LISTENER",
    "CLOSED_MEMORY",
    "CLOSED_NETWORK",
    "CLOSED_NOT_READING",
    "CLOSED_REPLACED",
    "CLOSED_UNKNOWN_CAP",
    "DEFAULT_COMMAND_TIMEOUT",
    "DEFAULT_PORT",
    "DEFAULT_QUEUE_EXPIRY",
    "LOOPBACK_NETWORKS",
    "MAX_WAITING_COMMANDS",
    "REFUSED_CLOSING",
    "REFUSED_NOT_ALLOWED",
    "REFUSED_TOO_MANY",
    "REFUSED_TOO_MANY_FROM_SOURCE",
    "BindFailure",
    "CommandExpiredError",
    "CommandFailedError",
    "CommandLane",
    "CommandQueueFullError",
    "CommandResult",
    "CommandTimeoutError",
    "Expectation",
    "FrameWatcher",
    "IPAddress",
    "IPNetwork",
    "Listener",
    "ListenerBindError",
    "ListenerClosedError",
    "ListenerConfig",
    "ListenerError",
    "ListenerPool",
    "Route",
    "Session",
    "Stats",
    "TrackerAlreadyRegisteredError",
    "TrackerDisconnectedError",
    "TrackerInfo",
    "TrackerOfflineError",
    "TrackerSink",
    "UnknownTrackerCallback",
    "default_max_connections",
    "parse_networks",
]
