"""Server-to-device commands and the matching of the device's replies to them.

A :class:`Command` says what to do, protocol-neutral. :meth:`TrackerConnection.encode`
(in ``connection.py``) turns it into an :class:`EncodedCommand` for the connection's
protocol: the bytes to send and what reply completes it.

H02 (docs/protocol.md section 2.7): ``*HQ,<ID>,<code>,<hhmmss>[,params]#`` with the server's UTC
time, answered by ``V4,<code>,...``. A custom payload is sent as ``*HQ,<ID>,<payload>#``
and its reply matched by the payload's first field (the command code).

JT/T 808 (docs/protocol.md section 4.11): 0x8300 text, 0x8105 terminal control, 0x8201 position
query, 0x8103 set parameters. The device acknowledges with 0x0001 (matched by serial and
message id); a position query is answered by 0x0201 (matched by serial); a text command's
answer is a text reply (0x0701, 0x6006 or 0x1300) that follows the 0x0001.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
import re
from typing import Final, Literal

from .jt808 import (
    COMMAND_REPLY,
    POSITION_QUERY,
    POSITION_REPLY,
    SET_PARAMETERS,
    TERMINAL_CONTROL,
    TERMINAL_RESPONSE,
    TEXT_MESSAGE,
    TEXT_REPLY,
    TEXT_REPLY_ALT,
)
from .message import (
    COMMAND_CODE,
    COMMAND_REPLY_ID,
    COMMAND_REPLY_SERIAL,
    COMMAND_RESULT,
    MESSAGE_TYPE,
    PROTOCOL_H02,
    CommandError,
    Message,
    utc_fields,
)


class CommandKind(StrEnum):
    """What a command does."""

    CUSTOM = "custom"
    ENGINE_STOP = "engine_stop"
    ENGINE_RESUME = "engine_resume"
    POSITION = "position"
    INTERVAL = "interval"
    ARM = "arm"
    DISARM = "disarm"
    MILEAGE = "mileage"


@dataclass(frozen=True, slots=True)
class Command:
    """A protocol-neutral command.

    ``payload``: for CUSTOM, the H02 text between ``*HQ,<ID>,`` and ``#`` or the JT/T 808
    text message. ``interval``: seconds, for INTERVAL.
    """

    kind: CommandKind
    payload: str = ""
    interval: int = 0


MAX_PAYLOAD: Final = 256
MIN_INTERVAL: Final = 5
MAX_INTERVAL: Final = 86400

type ReplyMatch = Literal["final", "ack"] | None
"""``final``: the reply completes the command; ``ack``: acknowledged, an answer follows."""

_JT808_TEXT_REPLIES: Final = (
    f"0x{COMMAND_REPLY:04X}",
    f"0x{TEXT_REPLY:04X}",
    f"0x{TEXT_REPLY_ALT:04X}",
)
_JT808_ACK: Final = f"0x{TERMINAL_RESPONSE:04X}"
_JT808_POSITION_REPLY: Final = f"0x{POSITION_REPLY:04X}"


@dataclass(frozen=True, slots=True)
class EncodedCommand:
    """A command encoded for one connection: the bytes and how its reply is recognised."""

    command: Command
    protocol: str
    data: bytes
    code: str = ""
    """H02: the command code the V4 reply carries."""
    serial: int = -1
    """JT808: the serial number of the sent message."""
    msg_id: int = 0
    """JT808: the message id of the sent message."""

    def match(self, message: Message) -> ReplyMatch:
        """Whether ``message`` answers this command."""
        kind = message.get(MESSAGE_TYPE)
        if self.protocol == PROTOCOL_H02:
            if kind == "V4" and str(message.get(COMMAND_CODE, "")).upper() == self.code:
                return "final"
            if kind == "SMS" and self.command.kind is CommandKind.CUSTOM:
                return "final"
            return None
        if kind == _JT808_ACK:
            if message.get(COMMAND_REPLY_SERIAL) != self.serial:
                return None
            if message.get(COMMAND_REPLY_ID) != self.msg_id:
                return None
            if (
                self.msg_id in (TEXT_MESSAGE, POSITION_QUERY)
                and message.get(COMMAND_RESULT) == "success"
            ):
                return "ack"
            return "final"
        if kind == _JT808_POSITION_REPLY and self.msg_id == POSITION_QUERY:
            return "final" if message.get(COMMAND_REPLY_SERIAL) == self.serial else None
        if kind in _JT808_TEXT_REPLIES and self.msg_id == TEXT_MESSAGE:
            serial = message.get(COMMAND_REPLY_SERIAL)
            return "final" if serial is None or serial == self.serial else None
        return None


def check_payload(payload: str, *, h02: bool = True) -> str:
    """A custom payload must be printable ASCII; for H02 also without its frame markers.

    JT/T 808 frames its text in binary, so ``#`` and ``*`` (which many text commands end
    with, e.g. ``RELAY,1#``) are fine there.
    """
    payload = payload.strip()
    if not payload:
        raise CommandError("the command payload is empty")
    if len(payload) > MAX_PAYLOAD:
        raise CommandError(f"the command payload is longer than {MAX_PAYLOAD} characters")
    if not payload.isascii() or not payload.isprintable():
        raise CommandError("the command payload must be printable ASCII")
    if h02 and ("#" in payload or "*" in payload):
        raise CommandError("the command payload must not contain '#' or '*'")
    return payload


ENGINE_WORDS: Final = frozenset({"S20", "RELAY", "DYD", "HFYD"})
"""Command words that switch the engine (fuel pump or ignition relay), any protocol:

* ``S20``: the H02 engine command (``S20,hhmmss,1,1`` cut, ``S20,hhmmss,1,0`` restore).
* ``RELAY``: the relay output of GT06-family and many JT/T 808 firmwares
  (``RELAY,1#`` cut, ``RELAY,0#`` restore), sent as a JT/T 808 text message.
* ``DYD`` / ``HFYD``: the same firmwares' "cut oil" / "restore oil" texts.
"""
ENGINE_SMS_PREFIXES: Final = ("555", "940")
"""Sinotrack ST-90x engine SMS commands: ``555`` + password (``5550000``) stops the engine,
``940`` + password resumes it. A unit may act on the same text sent as a JT/T 808 text
message, so they count as engine commands too."""
_COMMAND_WORD_END: Final = re.compile(r"[,#;:=]")


def is_engine_payload(payload: str) -> bool:
    """Whether a raw command payload would stop or resume the engine on either protocol.

    The payload is read as the device reads it: case and whitespace do not matter, the
    command word ends at the first ``,``, ``#``, ``;``, ``:`` or ``=`` (or, after a word
    of the list, at its argument digits: ``RELAY 1``); an H02 frame prefix
    (``*HQ,<ID>,``) is looked through. Used to refuse raw engine commands when
    engine commands are not allowed, whatever the tracker's protocol.
    """
    text = "".join(payload.split()).upper()
    if text.startswith("*"):
        parts = text.split(",", 2)
        text = parts[2] if len(parts) == 3 else ""
    word = _COMMAND_WORD_END.split(text, 1)[0]
    if word in ENGINE_WORDS or word.rstrip("0123456789") in ENGINE_WORDS:  # RELAY 1 too
        return True
    return word.startswith(ENGINE_SMS_PREFIXES) and word[3:].isdigit()


def check_interval(seconds: int) -> int:
    if not MIN_INTERVAL <= seconds <= MAX_INTERVAL:
        raise CommandError(f"the interval must be {MIN_INTERVAL} to {MAX_INTERVAL} seconds")
    return seconds


def h02_command(ident: str, command: Command, now: float) -> EncodedCommand:
    """Encode a command for an H02 tracker."""
    _, _, _, hour, minute, second = utc_fields(now)
    clock = f"{hour:02d}{minute:02d}{second:02d}"
    kind = command.kind
    if kind is CommandKind.CUSTOM:
        body = check_payload(command.payload)
    elif kind is CommandKind.ENGINE_STOP:
        body = f"S20,{clock},1,1"
    elif kind is CommandKind.ENGINE_RESUME:
        body = f"S20,{clock},1,0"
    elif kind is CommandKind.ARM:
        body = f"SCF,{clock},0,0"
    elif kind is CommandKind.DISARM:
        body = f"SCF,{clock},1,1"
    elif kind is CommandKind.INTERVAL:
        body = f"S71,{clock},22,{check_interval(command.interval)}"
    elif kind is CommandKind.POSITION:
        body = "CR"
    else:  # MILEAGE
        body = "S32,000000,1"
    code = body.split(",", 1)[0].strip().upper()
    data = f"*HQ,{ident},{body}#".encode("ascii")
    return EncodedCommand(command, PROTOCOL_H02, data, code=code)


def jt808_command_body(command: Command) -> tuple[int, bytes]:
    """(message id, body) of a command for a JT/T 808 tracker."""
    kind = command.kind
    if kind is CommandKind.CUSTOM:
        text = check_payload(command.payload, h02=False)
        return TEXT_MESSAGE, b"\x01" + text.encode("gbk")
    if kind is CommandKind.ENGINE_STOP:
        return TERMINAL_CONTROL, b"\xf0"
    if kind is CommandKind.ENGINE_RESUME:
        return TERMINAL_CONTROL, b"\xf1"
    if kind is CommandKind.POSITION or kind is CommandKind.MILEAGE:
        # The mileage is item 0x01 of the position reply.
        return POSITION_QUERY, b""
    if kind is CommandKind.INTERVAL:
        seconds = check_interval(command.interval)
        # One parameter: 0x0029, default time reporting interval (DWORD seconds).
        return SET_PARAMETERS, b"\x01" + (0x0029).to_bytes(4) + b"\x04" + seconds.to_bytes(4)
    raise CommandError(
        f"{kind.value} has no JT/T 808 standard command; send the device's own text "
        "command as a custom payload instead"
    )
