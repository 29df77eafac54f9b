"""Sans-I/O codec for Sinotrack trackers: H02 (text and binary) and JT/T 808.

No Home Assistant import, no sockets, no clock reads: feed bytes and the time, get
messages (flat mappings with flespi parameter names) and the bytes to send back.

    connection = TrackerConnection(resolve=settings_of)   # settings_of(ident) -> TrackerSettings
    for event in connection.feed(data, now=time.time()):
        if isinstance(event, Decoded):
            send(event.reply)           # when not None
            if event.auth is AuthEvent.ISSUED:
                store(connection.auth_code)     # the JT/T 808 code issued to this ID
            handle(event.messages)      # zero or more messages (none until ``ready``)
        else:
            log(event.reason)           # a Rejected frame or run of garbage

Implausible values never come out (see ``limits``): they are dropped and counted
(``Decoded.dropped``, ``TrackerConnection.values_dropped``). ``held_bytes`` is the memory
a connection's codec holds. The codec's timers are the caller's to run: ``timer()`` is the
next deadline (in the clock of ``now``, or None) and ``handle_timer(now)`` returns events
as ``feed`` does (bytes held back decoded once the peer is quiet, a JT/T 808 message left
incomplete dropped). ``flush(now)`` is the end of input. ``ready`` says when the tracker
may report and take commands (JT/T 808: registered and authenticated).
"""

from .auth import AuthEvent
from .commands import Command, CommandKind, EncodedCommand, ReplyMatch, is_engine_payload
from .connection import (
    DEFAULT_JT808_UTC_OFFSET,
    Decoded,
    Event,
    Rejected,
    TrackerConnection,
    TrackerSettings,
)
from .framing import Frame, Framer, Skipped
from .message import (
    PROTOCOL_H02,
    PROTOCOL_JT808,
    CommandError,
    DecodeError,
    FrameError,
    Message,
    ProtocolError,
    normalize_ident,
)

__all__ = [
    "DEFAULT_JT808_UTC_OFFSET",
    "PROTOCOL_H02",
    "PROTOCOL_JT808",
    "AuthEvent",
    "Command",
    "CommandError",
    "CommandKind",
    "DecodeError",
    "Decoded",
    "EncodedCommand",
    "Event",
    "Frame",
    "FrameError",
    "Framer",
    "Message",
    "ProtocolError",
    "Rejected",
    "ReplyMatch",
    "Skipped",
    "TrackerConnection",
    "TrackerSettings",
    "is_engine_payload",
    "normalize_ident",
]
