"""One tracker connection, sans-I/O: bytes in, messages and replies out.

``TrackerConnection.feed(data, now)`` frames the bytes, decodes every whole frame and
returns, per frame, a :class:`Decoded` (messages plus the reply the device expects) or a
:class:`Rejected` (why it was skipped). One bad frame never hides the good frames around
it, and nothing but :class:`ProtocolError` escapes for any input.

The connection learns the tracker's ID from its first frame and asks its owner, through
the ``resolve`` callback, for that ID's :class:`TrackerSettings` (JT/T 808 clock offset and
stored auth code) before the frame's messages are built. A later frame that claims another
ID is rejected: a connection belongs to one tracker. H02 frames with an empty ID take the
connection's.

Every message passes the range checks of :mod:`.limits`: an implausible value is dropped
and counted (:attr:`Decoded.dropped`, :attr:`TrackerConnection.values_dropped`).
JT/T 808 registration and authentication follow :mod:`.auth`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from . import h02, jt808
from .auth import (
    GENERAL_FAILURE,
    GENERAL_SUCCESS,
    REGISTER_SUCCESS,
    REGISTER_TERMINAL_ALREADY_REGISTERED,
    AuthEvent,
    auth_code_of,
    new_auth_code,
    same_code,
)
from .commands import Command, EncodedCommand, h02_command, jt808_command_body
from .framing import MAX_TEXT_FRAME, Frame, Framer, Skipped
from .limits import finish_message
from .message import (
    IDENT,
    MESSAGE_TYPE,
    PROTOCOL_H02,
    PROTOCOL_JT808,
    CommandError,
    Message,
    ProtocolError,
    normalize_ident,
)

_JT808_TOO_SHORT: Final = "JT808 frames too short for a header"
_NOTES_SHOWN: Final = 5
"""Dropped values described in a frame's warning (a batch can drop many)."""
DEFAULT_JT808_UTC_OFFSET: Final = 8.0
"""JT/T 808 devices send local time; the standard's zone is GMT+8."""
QUIET_FLUSH: Final = 0.5
"""Seconds of silence after which bytes held back for more data are decoded as they are."""


@dataclass(frozen=True, slots=True)
class TrackerSettings:
    """What the owner of a tracker ID tells the codec before that ID's frames are decoded."""

    jt808_utc_offset: float | None = None
    """Hours from UTC of a JT/T 808 tracker's clock; None: the connection's default."""
    jt808_auth_code: str | None = None
    """The JT/T 808 auth code issued earlier and stored; None: none yet."""


@dataclass(slots=True)
class Decoded:
    """The messages of one frame (possibly none) and the bytes to send back."""

    frame: Frame
    messages: list[Message]
    reply: bytes | None = None
    warning: str | None = None
    """Something odd but tolerated (a checksum mismatch, values dropped, messages withheld)."""
    auth: AuthEvent | None = None
    """What this frame did to JT/T 808 registration or authentication, if anything."""
    dropped: int = 0
    """Values dropped from this frame's messages by the range checks."""


@dataclass(slots=True)
class Rejected:
    """A frame or run of bytes that was skipped, and why."""

    reason: str
    size: int
    sample: bytes = field(repr=False, default=b"")


type Event = Decoded | Rejected
type Resolve = Callable[[str], TrackerSettings]


class TrackerConnection:
    """Codec state of one TCP connection."""

    def __init__(
        self,
        *,
        protocol: str | None = None,
        jt808_utc_offset: float = DEFAULT_JT808_UTC_OFFSET,
        max_frame: int = MAX_TEXT_FRAME,
        resolve: Resolve | None = None,
        jt808_auth: bool = True,
        quiet_flush: float = QUIET_FLUSH,
    ) -> None:
        """``resolve(ident)``: the settings of the tracker ID, asked once when it is known
        (before that frame's messages are built); what it raises propagates out of ``feed``.

        ``jt808_auth=False`` decodes every frame as it comes, without the JT/T 808
        registration and authentication rules (for decoding a capture offline).
        ``quiet_flush``: seconds of silence before bytes held back are decoded as they are
        (see :meth:`timer`).
        """
        self._framer = Framer(protocol, max_frame=max_frame)
        self._default_offset = jt808_utc_offset
        self.jt808_utc_offset = jt808_utc_offset
        """The JT/T 808 clock offset in use (the settings' or the default)."""
        self.ident: str | None = None
        self.values_dropped = 0
        """Values dropped by the range checks on this connection so far."""
        self._resolve = resolve
        self._resolved: str | None = None
        self._terminal: bytes | None = None
        self._version_2019 = False
        self._protocol_version = 1
        self._serial = 0
        self._reassembler = jt808.Reassembler()
        self._auth_code: str | None = None
        self._issued_here: str | None = None
        self._authenticated = False
        self._enforce_auth = jt808_auth
        self._last_feed = 0.0
        self._quiet_flush = quiet_flush

    @property
    def protocol(self) -> str | None:
        """``h02`` or ``jt808`` once the first frame has been seen."""
        return self._framer.protocol

    @property
    def buffered(self) -> int:
        """Bytes held waiting for the rest of a frame."""
        return self._framer.buffered

    @property
    def held_bytes(self) -> int:
        """Bytes this connection's codec holds: partial frame and JT/T 808 sub-packages."""
        return self._framer.buffered + self._reassembler.held

    @property
    def auth_code(self) -> str | None:
        """The JT/T 808 auth code in force on this connection (stored or issued here)."""
        return self._auth_code

    @property
    def ready(self) -> bool:
        """Whether the tracker may report: its ID is known and, for JT/T 808, authenticated.

        H02: after the first decoded frame with an ID. JT/T 808: after a 0x0102 with the
        code in force; with no code in force, after the first frame other than a 0x0100.
        """
        if self.ident is None:
            return False
        return self._authenticated or self._framer.protocol != PROTOCOL_JT808

    def configure(self, settings: TrackerSettings) -> None:
        """Apply new settings of the tracker (an option changed, its auth code reset).

        ``jt808_auth_code`` replaces the code in force (None forgets it). A connection
        authenticated with another code than the new one must authenticate again.
        """
        offset = settings.jt808_utc_offset
        self.jt808_utc_offset = self._default_offset if offset is None else offset
        code = settings.jt808_auth_code
        if code != self._auth_code:
            self._auth_code = code
            self._authenticated = False
            if code != self._issued_here:
                self._issued_here = None

    def feed(self, data: bytes, now: float) -> list[Event]:
        """Process received bytes; ``now`` is the server time (epoch seconds)."""
        events: list[Event] = []
        self._last_feed = now
        if self._reassembler.held:
            self._expired(now, events)
        return self._events(self._framer.feed(data), now, events)

    def flush(self, now: float) -> list[Event]:
        """The peer will send nothing more (end of input): decode what waits for more data."""
        return self._events(self._framer.flush(), now, [])

    def timer(self) -> float | None:
        """When :meth:`handle_timer` has work next (in the clock of ``now``), or None.

        Two rules set it: bytes held back for more data are decoded as they are once the
        peer has been quiet for ``quiet_flush`` seconds (see ``Framer.flush``), and a
        JT/T 808 sub-packaged message still incomplete ``Reassembler.MAX_AGE`` seconds
        after its first part is dropped.
        """
        deadline = self._reassembler.deadline
        if self._framer.buffered:
            quiet = self._last_feed + self._quiet_flush
            if deadline is None or quiet < deadline:
                return quiet
        return deadline

    def handle_timer(self, now: float) -> list[Event]:
        """Do what is due at ``now`` (see :meth:`timer`); nothing before its time."""
        events: list[Event] = []
        if self._reassembler.held:
            self._expired(now, events)
        if self._framer.buffered and now >= self._last_feed + self._quiet_flush:
            return self._events(self._framer.flush(), now, events)
        return events

    def _expired(self, now: float, events: list[Event]) -> None:
        size = self._reassembler.expire(now)
        if size:
            events.append(Rejected("incomplete sub-packaged message expired", size))

    def _events(self, items: list[Frame | Skipped], now: float, events: list[Event]) -> list[Event]:
        for item in items:
            if isinstance(item, Skipped):
                events.append(Rejected(item.reason, item.size, item.sample))
                continue
            if item.kind == "jt808" and len(item.data) < jt808.MIN_FRAME:
                # Too short for a header: garbage. A run of them is one event.
                last = events[-1] if events else None
                if isinstance(last, Rejected) and last.reason == _JT808_TOO_SHORT:
                    last.size += len(item.data) + 2
                else:
                    events.append(Rejected(_JT808_TOO_SHORT, len(item.data) + 2, item.data[:32]))
                continue
            try:
                event = self._decode(item, now)
            except ProtocolError as err:
                events.append(Rejected(str(err), len(item.data), item.data[:32]))
                continue
            except (ValueError, IndexError, OverflowError) as err:  # pragma: no cover
                # Safety net: the decoders turn these into DecodeError themselves.
                events.append(Rejected(f"malformed frame: {err}", len(item.data), item.data[:32]))
                continue
            notes: list[str] | None = None
            for message in event.messages:
                bad = finish_message(message, now)
                if bad is not None:
                    notes = bad if notes is None else notes + bad
            if notes is not None:
                event.dropped = len(notes)
                self.values_dropped += len(notes)
                shown = "; ".join(notes[:_NOTES_SHOWN])
                if len(notes) > _NOTES_SHOWN:
                    shown += f"; ... ({len(notes)} in all)"
                _warn(event, f"dropped out-of-range values: {shown}")
            events.append(event)
        return events

    def _decode(self, frame: Frame, now: float) -> Decoded:
        kind = frame.kind
        if kind == "h02-text":
            messages = h02.decode_text(frame.data, now)
            self._claim(messages)
            event = Decoded(frame, messages, h02.text_reply(frame.data, messages, now))
            if len(messages) >= h02.MAX_BATCH_SEGMENTS and messages[0][MESSAGE_TYPE] == "BC":
                segments = frame.data.count(b";") + 1
                if segments > h02.MAX_BATCH_SEGMENTS:
                    _warn(
                        event,
                        f"BC batch of {segments} segments: the {segments - len(messages)} "
                        f"after the first {h02.MAX_BATCH_SEGMENTS} were not decoded",
                    )
            return event
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
                self._identify(ident)
            elif ident != self.ident:
                raise ProtocolError(f"device ID {ident} on the connection of {self.ident}")

    def _identify(self, ident: str) -> None:
        """Learn the connection's ID; ask the owner for its settings."""
        self._settings_for(ident)
        self.ident = ident

    def _settings_for(self, ident: str) -> None:
        """Ask the owner for the settings of ``ident`` (once per ID) before decoding."""
        if ident != self._resolved:
            self._resolved = ident
            if self._resolve is not None:
                self.configure(self._resolve(normalize_ident(ident)))

    def _decode_jt808(self, frame: Frame, now: float) -> Decoded:
        parsed = jt808.parse_frame(jt808.unescape(frame.data))
        if parsed.terminal == self._terminal and self.ident is not None:
            ident = self.ident
        else:
            ident = parsed.ident
        if self.ident is not None and ident != self.ident:
            raise ProtocolError(f"device ID {ident} on the connection of {self.ident}")
        if ident != self._resolved:
            self._settings_for(ident)
        event = self._jt808_event(frame, parsed, ident, now)
        # Known once a frame decoded (as for H02): a rejected frame identifies nothing.
        self.ident = ident
        self._terminal = parsed.terminal
        self._version_2019 = parsed.version_2019
        self._protocol_version = parsed.protocol_version
        return event

    def _jt808_event(
        self, frame: Frame, parsed: jt808.Jt808Frame, ident: str, now: float
    ) -> Decoded:
        warning = None
        if not parsed.checksum_ok:
            warning = "checksum mismatch (frame accepted)"
        elif not parsed.length_ok:
            warning = "declared body length differs from the frame (frame accepted)"
        msg_id = parsed.msg_id
        if self._enforce_auth and msg_id in (jt808.REGISTER, jt808.AUTHENTICATE):
            return self._handshake(frame, parsed, ident, now, warning)
        if not self._authenticated and self._auth_code is not None:
            # Not decoded, not stored: answered with a failure so the device keeps its data.
            reply = jt808.reply_for(parsed, ident, self._next_serial(), now, result=GENERAL_FAILURE)
            event = Decoded(frame, [], reply, warning)
            _warn(event, f"not authenticated: 0x{msg_id:04X} withheld")
            return event
        body: bytes | None = parsed.body
        if parsed.packet_total:
            body = self._reassembler.add(parsed, now)
        messages = (
            [] if body is None else jt808.decode_body(parsed, body, ident, self.jt808_utc_offset)
        )
        self._authenticated = True  # no code in force (or authenticated): nothing to check
        reply = jt808.reply_for(parsed, ident, self._next_serial(), now)
        return Decoded(frame, messages, reply, warning)

    def _handshake(
        self, frame: Frame, parsed: jt808.Jt808Frame, ident: str, now: float, warning: str | None
    ) -> Decoded:
        """0x0100 registration or 0x0102 authentication (see :mod:`.auth`)."""
        messages = jt808.decode_body(parsed, parsed.body, ident, self.jt808_utc_offset)
        serial = self._next_serial()
        code = self._auth_code
        if parsed.msg_id == jt808.REGISTER:
            if code is not None and code != self._issued_here:
                reply = jt808.reply_for(
                    parsed, ident, serial, now, result=REGISTER_TERMINAL_ALREADY_REGISTERED
                )
                event = Decoded(frame, [], reply, warning, AuthEvent.ALREADY_REGISTERED)
                _warn(event, "registration refused: the terminal is already registered")
                return event
            if code is None:
                code = self._auth_code = self._issued_here = new_auth_code()
            self._authenticated = False
            reply = jt808.reply_for(
                parsed, ident, serial, now, result=REGISTER_SUCCESS, auth_code=code
            )
            return Decoded(frame, messages, reply, warning, AuthEvent.ISSUED)
        if code is None:  # nothing to check the code against: as before
            self._authenticated = True
            reply = jt808.reply_for(parsed, ident, serial, now, result=GENERAL_SUCCESS)
            return Decoded(frame, messages, reply, warning)
        if same_code(auth_code_of(parsed.body, version_2019=parsed.version_2019), code):
            self._authenticated = True
            reply = jt808.reply_for(parsed, ident, serial, now, result=GENERAL_SUCCESS)
            return Decoded(frame, messages, reply, warning, AuthEvent.ACCEPTED)
        self._authenticated = False
        reply = jt808.reply_for(parsed, ident, serial, now, result=GENERAL_FAILURE)
        event = Decoded(frame, [], reply, warning, AuthEvent.REFUSED)
        _warn(event, "authentication refused: wrong auth code")
        return event

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


def _warn(event: Decoded, text: str) -> None:
    """Add ``text`` to the event's warning."""
    event.warning = text if event.warning is None else f"{event.warning}; {text}"
