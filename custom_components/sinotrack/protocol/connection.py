"""One tracker connection, sans-I/O: bytes in, messages and replies out.

``TrackerConnection.feed(data, now)`` frames the bytes, decodes every whole frame and
returns, per frame, a :class:`Decoded` (messages plus the reply the device expects) or a
:class:`Rejected` (why it was skipped). One bad frame never hides the good frames around
it, and nothing but :class:`ProtocolError` escapes for any input.

The connection learns the tracker's ID from its first frame. A later frame that claims
another ID is rejected: a connection belongs to one tracker. H02 frames with an empty ID
take the connection's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from . import h02, jt808
from .commands import Command, EncodedCommand, h02_command, jt808_command_body
from .framing import MAX_TEXT_FRAME, Frame, Framer, Skipped
from .message import (
    IDENT,
    PROTOCOL_H02,
    PROTOCOL_JT808,
    CommandError,
    Message,
    ProtocolError,
)

DEFAULT_JT808_UTC_OFFSET: Final = 8.0
"""JT/T 808 devices send local time; the standard's zone is GMT+8."""


@dataclass(slots=True)
class Decoded:
    """The messages of one frame (possibly none) and the bytes to send back."""

    frame: Frame
    messages: list[Message]
    reply: bytes | None = None
    warning: str | None = None
    """Something odd but tolerated (a JT/T 808 checksum or length mismatch)."""


@dataclass(slots=True)
class Rejected:
    """A frame or run of bytes that was skipped, and why."""

    reason: str
    size: int
    sample: bytes = field(repr=False, default=b"")


type Event = Decoded | Rejected


class TrackerConnection:
    """Codec state of one TCP connection."""

    def __init__(
        self,
        *,
        protocol: str | None = None,
        jt808_utc_offset: float = DEFAULT_JT808_UTC_OFFSET,
        max_frame: int = MAX_TEXT_FRAME,
    ) -> None:
        self._framer = Framer(protocol, max_frame=max_frame)
        self.jt808_utc_offset = jt808_utc_offset
        self.ident: str | None = None
        self._terminal: bytes | None = None
        self._version_2019 = False
        self._protocol_version = 1
        self._serial = 0
        self._reassembler = jt808.Reassembler()

    @property
    def protocol(self) -> str | None:
        """``h02`` or ``jt808`` once the first frame has been seen."""
        return self._framer.protocol

    @property
    def buffered(self) -> int:
        """Bytes held waiting for the rest of a frame."""
        return self._framer.buffered

    def feed(self, data: bytes, now: float) -> list[Event]:
        """Process received bytes; ``now`` is the server time (epoch seconds)."""
        return self._events(self._framer.feed(data), now)

    def flush(self, now: float) -> list[Event]:
        """Decode what waits for more data once the peer has gone quiet (see Framer.flush)."""
        return self._events(self._framer.flush(), now)

    def _events(self, items: list[Frame | Skipped], now: float) -> list[Event]:
        events: list[Event] = []
        for item in items:
            if isinstance(item, Skipped):
                events.append(Rejected(item.reason, item.size, item.sample))
                continue
            try:
                events.append(self._decode(item, now))
            except ProtocolError as err:
                events.append(Rejected(str(err), len(item.data), item.data[:32]))
            except (ValueError, IndexError, OverflowError) as err:  # pragma: no cover
                # Safety net: the decoders turn these into DecodeError themselves.
                events.append(Rejected(f"malformed frame: {err}", len(item.data), item.data[:32]))
        return events

    def _decode(self, frame: Frame, now: float) -> Decoded:
        kind = frame.kind
        if kind == "h02-text":
            messages = h02.decode_text(frame.data, now)
            self._claim(messages)
            return Decoded(frame, messages, h02.text_reply(frame.data, messages, now))
        if kind == "h02-binary":
            messages = [h02.decode_binary(frame.data)]
            self._claim(messages)
            return Decoded(frame, messages)
        if kind == "jt808":
            return self._decode_jt808(frame, now)
        raise ProtocolError("X frames carry nothing this codec decodes")

    def _claim(self, messages: list[Message]) -> None:
        """Check the frame's ID against the connection's; fill in an empty one."""
        for message in messages:
            ident = message.get(IDENT)
            if ident is None:
                if self.ident is None:
                    raise ProtocolError("frame without a device ID on a new connection")
                message[IDENT] = self.ident
            elif self.ident is None:
                self.ident = ident
            elif ident != self.ident:
                raise ProtocolError(f"device ID {ident} on the connection of {self.ident}")

    def _decode_jt808(self, frame: Frame, now: float) -> Decoded:
        parsed = jt808.parse_frame(jt808.unescape(frame.data))
        if parsed.terminal == self._terminal and self.ident is not None:
            ident = self.ident
        else:
            ident = parsed.ident
        if self.ident is not None and ident != self.ident:
            raise ProtocolError(f"device ID {ident} on the connection of {self.ident}")
        warning = None
        if not parsed.checksum_ok:
            warning = "checksum mismatch (frame accepted)"
        elif not parsed.length_ok:
            warning = "declared body length differs from the frame (frame accepted)"
        body: bytes | None = parsed.body
        if parsed.packet_total:
            body = self._reassembler.add(parsed)
        messages = (
            [] if body is None else jt808.decode_body(parsed, body, ident, self.jt808_utc_offset)
        )
        self.ident = ident
        self._terminal = parsed.terminal
        self._version_2019 = parsed.version_2019
        self._protocol_version = parsed.protocol_version
        reply = jt808.reply_for(parsed, ident, self._next_serial(), now)
        return Decoded(frame, messages, reply, warning)

    def _next_serial(self) -> int:
        serial = self._serial
        self._serial = (serial + 1) & 0xFFFF
        return serial

    def encode(self, command: Command, now: float) -> EncodedCommand:
        """Encode ``command`` for this tracker. Needs one frame received first."""
        if self.ident is None or self.protocol is None:
            raise CommandError("the tracker has not identified itself on this connection yet")
        if self.protocol == PROTOCOL_H02:
            return h02_command(self.ident, command, now)
        if self.protocol != PROTOCOL_JT808 or self._terminal is None:  # pragma: no cover
            raise CommandError("no JT/T 808 header seen yet")
        msg_id, body = jt808_command_body(command)
        serial = self._next_serial()
        data = jt808.build_frame(
            msg_id,
            self._terminal,
            serial,
            body,
            version_2019=self._version_2019,
            protocol_version=self._protocol_version,
        )
        return EncodedCommand(command, PROTOCOL_JT808, data, serial=serial, msg_id=msg_id)
