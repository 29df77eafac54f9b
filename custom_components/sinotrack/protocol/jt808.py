"""JT/T 808 (2011/2013/2019) envelope: unescaping, header, message bodies, replies, encoders.

Positions (0x0200, its items, the batches) are decoded in :mod:`.jt808_location`.

Decisions beyond the standard (see docs/protocol.md section 4):

* Checksum: a frame whose XOR checksum is wrong is still decoded, and the mismatch is
  reported (``Jt808Frame.checksum_ok``) for the caller to log and count. Devices in the
  field compute it wrongly often enough that rejecting would lose real positions, and
  TCP already protects the bytes in transit; the framing (delimiters, escaping, header
  length) is what must be right.
* Body length: the body is what lies between the header and the checksum. A declared
  length that disagrees is reported (``Jt808Frame.length_ok``) but not fatal; a body
  too short for its message type is a :class:`DecodeError`.
* The terminal number is reported as ``ident`` without its leading zeros, so a 10-digit
  Sinotrack ID padded to 12 BCD digits (2013) or 20 (2019) is the same ID as in H02. A
  6-byte number that is not BCD is an IMEI without its check digit: the Luhn digit is
  appended.
* Times are local to the device: ``utc_offset`` hours (default +8, the standard's
  GMT+8) are subtracted. An impossible date gives no ``timestamp``.
* A value outside its plausible range (:data:`.limits.RANGES`: altitude, speed, direction,
  mileage, signal, satellites, cells, voltages) is not stored but noted under
  :data:`.limits.DROPPED`, which :class:`~.connection.TrackerConnection` removes and counts.
* Sub-packaged messages: see :class:`Reassembler` (bodies of at most 1,023 bytes, bounded
  totals, expiry after 60 s). Registration and authentication: see :mod:`.auth`.
"""

from __future__ import annotations

from dataclasses import dataclass
import struct
from typing import Final

# Positions live in jt808_location; these names are part of this module's interface too.
from .jt808_location import (
    ALARM_BITS as ALARM_BITS,  # noqa: PLC0414
    BASIC_SIZE as BASIC_SIZE,  # noqa: PLC0414
    STATUS_BITS as STATUS_BITS,  # noqa: PLC0414
    base_message,
    bcd_time as bcd_time,  # noqa: PLC0414
    decode_batch,
    decode_batch_alt,
    decode_location as decode_location,  # noqa: PLC0414
    flag_params as flag_params,  # noqa: PLC0414
)
from .message import (
    CITY_ID,
    COMMAND_REPLY_ID,
    COMMAND_REPLY_SERIAL,
    COMMAND_RESPONSE,
    COMMAND_RESULT,
    DEVICE_MODEL,
    MANUFACTURER,
    MANUFACTURER_DEVICE,
    PROVINCE_ID,
    SEQNUM,
    VEHICLE_PLATE,
    VEHICLE_PLATE_COLOR,
    DecodeError,
    FrameError,
    Message,
    utc_fields,
)

# Message ids (terminal -> platform).
TERMINAL_RESPONSE: Final = 0x0001
HEARTBEAT: Final = 0x0002
LOGOUT: Final = 0x0003
REGISTER: Final = 0x0100
AUTHENTICATE: Final = 0x0102
ATTRIBUTES: Final = 0x0107
TIME_REQUEST: Final = 0x0109
LOCATION: Final = 0x0200
POSITION_REPLY: Final = 0x0201
LOCATION_BATCH_ALT: Final = 0x0210
COMMAND_REPLY: Final = 0x0701
LOCATION_BATCH: Final = 0x0704
TRANSPARENT: Final = 0x0900
TEXT_REPLY_ALT: Final = 0x1300
TEXT_REPLY: Final = 0x6006

# Message ids (platform -> terminal).
GENERAL_RESPONSE: Final = 0x8001
REGISTER_RESPONSE: Final = 0x8100
TIME_RESPONSE: Final = 0x8109
SET_PARAMETERS: Final = 0x8103
TERMINAL_CONTROL: Final = 0x8105
POSITION_QUERY: Final = 0x8201
TEXT_MESSAGE: Final = 0x8300

RESULT_SUCCESS: Final = 0
RESULT_UNSUPPORTED: Final = 3
RESULT_NAMES: Final = {
    0: "success",
    1: "failure",
    2: "message error",
    3: "unsupported",
    4: "alarm confirmed",
}

MAX_BODY: Final = 1023
"""Largest body the 10-bit length field can declare."""

# Message ids the platform answers with a general response (0x8001).
ACKNOWLEDGED: Final = frozenset(
    {
        HEARTBEAT,
        LOGOUT,
        AUTHENTICATE,
        ATTRIBUTES,
        LOCATION,
        LOCATION_BATCH,
        LOCATION_BATCH_ALT,
        TRANSPARENT,
        TEXT_REPLY,
        0x0506,
        0x8888,
        0x1007,
    }
)
# Messages that are answers themselves, or vendor uplinks that expect nothing back.
NOT_ACKNOWLEDGED: Final = frozenset(
    {
        TERMINAL_RESPONSE,
        REGISTER,
        TIME_REQUEST,
        POSITION_REPLY,
        COMMAND_REPLY,
        0x0702,
        TEXT_REPLY_ALT,
        0x2070,
        0x5501,
        0x5502,
    }
)

# --- framing helpers ---------------------------------------------------------------------


def unescape(data: bytes) -> bytes:
    """Undo 0x7D escaping (7D 02 -> 7E, 7D 01 -> 7D); any other 7D pair is an error."""
    if b"\x7d" not in data:
        return data
    if data.count(b"\x7d") != data.count(b"\x7d\x01") + data.count(b"\x7d\x02"):
        raise FrameError("invalid 0x7D escape sequence")
    return data.replace(b"\x7d\x02", b"\x7e").replace(b"\x7d\x01", b"\x7d")


def escape(data: bytes) -> bytes:
    """Apply 0x7D escaping to the bytes between the two 0x7E delimiters."""
    return data.replace(b"\x7d", b"\x7d\x01").replace(b"\x7e", b"\x7d\x02")


_BITS_256: Final = (1 << 256) - 1
_BITS_128: Final = (1 << 128) - 1
_BITS_64: Final = (1 << 64) - 1
_BITS_32: Final = (1 << 32) - 1


def checksum(data: bytes) -> int:
    """XOR of all bytes, computed by folding the bytes as one big integer in halves.

    Frames are mostly under 64 bytes: those fold in six fixed steps, without a loop.
    """
    value = int.from_bytes(data)
    size = len(data)
    while size > 64:
        half = size // 2
        bits = half * 8
        value = (value >> bits) ^ (value & ((1 << bits) - 1))
        size -= half
    value = (value >> 256) ^ (value & _BITS_256)
    value = (value >> 128) ^ (value & _BITS_128)
    value = (value >> 64) ^ (value & _BITS_64)
    value = (value >> 32) ^ (value & _BITS_32)
    value = (value >> 16) ^ (value & 0xFFFF)
    return (value >> 8) ^ (value & 0xFF)


def _luhn_digit(digits: str) -> int:
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = ord(char) - 48
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10


def terminal_ident(raw: bytes) -> str:
    """The tracker ID from the header's terminal-number bytes (see module docstring)."""
    digits = raw.hex()
    if digits.isdigit():
        return digits.lstrip("0") or "0"
    if len(raw) == 6:
        imei = str(int.from_bytes(raw))
        return imei + str(_luhn_digit(imei))
    raise DecodeError(f"terminal number is not BCD: {digits}")


def encode_terminal(ident: str, *, version_2019: bool = False) -> bytes:
    """Terminal-number bytes for an ID: BCD, left-padded with zeros (6 or 10 bytes).

    A 15-digit IMEI that does not fit 12 BCD digits is sent as its first 14 digits as a
    48-bit integer (the check digit is implied), the way such devices number themselves.
    """
    if not ident.isdigit():
        raise DecodeError(f"terminal ID must be digits: {ident[:24]!r}")
    width = 20 if version_2019 else 12
    if len(ident) <= width:
        return bytes.fromhex(ident.zfill(width))
    if len(ident) == 15 and not version_2019:
        return int(ident[:14]).to_bytes(6)
    raise DecodeError(f"terminal ID too long: {ident[:24]!r}")


@dataclass(slots=True)
class Jt808Frame:
    """One unescaped JT/T 808 frame."""

    msg_id: int
    serial: int
    terminal: bytes
    """The terminal-number bytes as sent (echoed back in replies)."""
    version_2019: bool
    protocol_version: int
    encrypted: int
    body: bytes
    packet_total: int
    packet_index: int
    checksum_ok: bool
    length_ok: bool

    @property
    def ident(self) -> str:
        return terminal_ident(self.terminal)


_HEADER: Final = struct.Struct(">HH")
MIN_FRAME: Final = 13
"""Fewest bytes of a frame between its delimiters: 2011/2013 header and checksum."""


def parse_frame(content: bytes) -> Jt808Frame:
    """Parse the unescaped bytes between the two 0x7E delimiters."""
    size = len(content)
    if size < MIN_FRAME:
        raise FrameError(f"JT808 frame too short ({size} bytes)")
    msg_id, attr = _HEADER.unpack_from(content)
    version_2019 = bool(attr & 0x4000)
    if version_2019:
        if size < 18:
            raise FrameError(f"JT808 2019 frame too short ({size} bytes)")
        protocol_version = content[4]
        terminal = content[5:15]
        position = 15
    else:
        protocol_version = 0
        terminal = content[4:10]
        position = 10
    serial = content[position] << 8 | content[position + 1]
    position += 2
    total = index = 0
    if attr & 0x2000:
        if size < position + 5:
            raise FrameError("JT808 sub-package header truncated")
        total = content[position] << 8 | content[position + 1]
        index = content[position + 2] << 8 | content[position + 3]
        position += 4
        if total == 0 or not 1 <= index <= total:
            raise FrameError(f"JT808 sub-package {index}/{total} out of range")
    body = content[position:-1]
    return Jt808Frame(
        msg_id=msg_id,
        serial=serial,
        terminal=terminal,
        version_2019=version_2019,
        protocol_version=protocol_version,
        encrypted=attr >> 10 & 0x7,
        body=body,
        packet_total=total,
        packet_index=index,
        checksum_ok=checksum(content[:-1]) == content[-1],
        length_ok=len(body) == attr & 0x3FF,
    )


# --- other uplinks -------------------------------------------------------------------------


def _text(data: bytes, encoding: str) -> str:
    return data.decode(encoding, "replace").strip("\x00\r\n ")


def decode_body(frame: Jt808Frame, body: bytes, ident: str, utc_offset: float) -> list[Message]:
    """Decode a (reassembled) body into messages; raises :class:`DecodeError`."""
    msg_id = frame.msg_id
    kind = f"0x{msg_id:04X}"
    try:
        if msg_id == LOCATION:
            message = decode_location(body, ident, utc_offset, kind)
            message[SEQNUM] = frame.serial
            return [message]
        if msg_id == LOCATION_BATCH:
            return decode_batch(body, ident, utc_offset, kind)
        if msg_id == POSITION_REPLY:
            message = decode_location(body[2:], ident, utc_offset, kind)
            message[COMMAND_REPLY_SERIAL] = int.from_bytes(body[0:2])
            return [message]
        if msg_id == LOCATION_BATCH_ALT:
            return decode_batch_alt(body, ident, utc_offset, kind)
        message = base_message(kind, ident)
        if msg_id == TERMINAL_RESPONSE:
            if len(body) < 5:
                raise DecodeError("0x0001 body too short")
            message[COMMAND_REPLY_SERIAL] = int.from_bytes(body[0:2])
            message[COMMAND_REPLY_ID] = int.from_bytes(body[2:4])
            message[COMMAND_RESULT] = RESULT_NAMES.get(body[4], f"result {body[4]}")
        elif msg_id == REGISTER:
            _decode_register(body, frame.version_2019, message)
        elif msg_id == COMMAND_REPLY:
            if len(body) >= 4 and int.from_bytes(body[0:4]) == len(body) - 4:
                body = body[4:]
            message[COMMAND_RESPONSE] = _text(body, "gbk")
        elif msg_id == TEXT_REPLY:
            message[COMMAND_RESPONSE] = _text(
                body[1:], "utf-16-be" if body[:1] == b"\x01" else "gbk"
            )
        elif msg_id == TEXT_REPLY_ALT:
            if len(body) < 2:
                raise DecodeError("0x1300 body too short")
            message[COMMAND_REPLY_SERIAL] = int.from_bytes(body[0:2])
            message[COMMAND_RESPONSE] = _text(body[2:], "utf-16-be")
        return [message]
    except (IndexError, ValueError, struct.error) as err:  # pragma: no cover - safety net
        raise DecodeError(f"malformed {kind} body: {err}") from None


def _ascii(data: bytes) -> str:
    return data.decode("ascii", "replace").strip("\x00 ")


def _decode_register(body: bytes, version_2019: bool, message: Message) -> None:
    """0x0100: province, city, manufacturer, model, terminal id, plate colour, plate."""
    if version_2019:
        sizes = (11, 30, 30)
    elif len(body) >= 37:
        sizes = (5, 20, 7)
    else:
        sizes = (5, 8, 7)
    maker, model, device = sizes
    if len(body) < 4 + maker + model + device + 1:
        raise DecodeError("0x0100 body too short")
    message[PROVINCE_ID] = int.from_bytes(body[0:2])
    message[CITY_ID] = int.from_bytes(body[2:4])
    position = 4
    message[MANUFACTURER] = _ascii(body[position : position + maker])
    position += maker
    message[DEVICE_MODEL] = _ascii(body[position : position + model])
    position += model
    message[MANUFACTURER_DEVICE] = _ascii(body[position : position + device])
    position += device
    message[VEHICLE_PLATE_COLOR] = body[position]
    plate = body[position + 1 :].decode("gbk", "replace").strip("\x00 ")
    if plate:
        message[VEHICLE_PLATE] = plate


# --- replies and downlinks -----------------------------------------------------------------


_prefix_cache: dict[tuple[int, int, bytes], tuple[bytes, int]] = {}
_PREFIX_CACHE_MAX: Final = 4096
_GENERAL_TAIL: Final = struct.Struct(">HHHBB")
"""A 0x8001 after its prefix: serial, then the body (answered serial, id, result), checksum."""


def _prefix(
    msg_id: int, size: int, terminal: bytes, version_2019: bool, protocol_version: int
) -> tuple[bytes, int]:
    """The escaped start of a frame up to its serial number (``7E``, id, attributes,
    version, terminal) and the checksum of those bytes, cached: every reply on a
    connection repeats them."""
    key = (msg_id << 16 | size, protocol_version if version_2019 else -1, terminal)
    cached = _prefix_cache.get(key)
    if cached is None:
        if version_2019:
            header = _HEADER.pack(msg_id, size | 0x4000) + bytes((protocol_version,))
        else:
            header = _HEADER.pack(msg_id, size)
        head = header + terminal
        cached = (b"\x7e" + escape(head), checksum(head))
        if len(_prefix_cache) >= _PREFIX_CACHE_MAX:
            _prefix_cache.clear()
        _prefix_cache[key] = cached
    return cached


def build_frame(
    msg_id: int,
    terminal: bytes,
    serial: int,
    body: bytes,
    *,
    version_2019: bool = False,
    protocol_version: int = 1,
) -> bytes:
    """A complete escaped frame, delimiters included.

    Only the serial number and body are escaped and summed per frame; the rest comes from
    :func:`_prefix`. XOR and escaping both work byte by byte, so the frame is the same as
    one built whole.
    """
    size = len(body)
    if size > MAX_BODY:
        raise DecodeError(f"JT808 body too long ({size} bytes)")
    prefix, prefix_sum = _prefix(msg_id, size, terminal, version_2019, protocol_version)
    tail = (serial & 0xFFFF).to_bytes(2) + body
    return prefix + escape(tail + bytes((prefix_sum ^ checksum(tail),))) + b"\x7e"


def _general_response(frame: Jt808Frame, serial: int, result: int) -> bytes:
    """The 0x8001 answering ``frame``: its checksum from a handful of integers."""
    prefix, prefix_sum = _prefix(
        GENERAL_RESPONSE, 5, frame.terminal, frame.version_2019, frame.protocol_version
    )
    serial &= 0xFFFF
    words = serial ^ frame.serial ^ frame.msg_id
    total = prefix_sum ^ words >> 8 ^ words & 0xFF ^ result
    tail = _GENERAL_TAIL.pack(serial, frame.serial, frame.msg_id, result, total)
    return prefix + escape(tail) + b"\x7e"


def reply_for(
    frame: Jt808Frame,
    ident: str,
    serial: int,
    now: float,
    *,
    result: int | None = None,
    auth_code: str | None = None,
) -> bytes | None:
    """The platform's answer to an uplink frame (docs/protocol.md section 4.3), or None.

    ``result``: the 0x8100 or 0x8001 result (default: success, or unsupported for a
    message the platform does not know). ``auth_code``: the code a successful 0x8100
    carries (default: the ID, as Traccar does).
    """
    msg_id = frame.msg_id
    if msg_id == REGISTER:
        result = RESULT_SUCCESS if result is None else result
        body = frame.serial.to_bytes(2) + bytes((result,))
        if result == RESULT_SUCCESS:
            body += (ident if auth_code is None else auth_code).encode()
        response = REGISTER_RESPONSE
    elif msg_id == TIME_REQUEST:
        year, *rest = utc_fields(now)
        body = year.to_bytes(2) + bytes((*rest, RESULT_SUCCESS))
        response = TIME_RESPONSE
    elif msg_id in NOT_ACKNOWLEDGED:
        return None
    else:
        if result is None:
            result = RESULT_SUCCESS if msg_id in ACKNOWLEDGED else RESULT_UNSUPPORTED
        elif msg_id not in ACKNOWLEDGED:
            result = RESULT_UNSUPPORTED
        return _general_response(frame, serial, result)
    return build_frame(
        response,
        frame.terminal,
        serial,
        body,
        version_2019=frame.version_2019,
        protocol_version=frame.protocol_version,
    )


class Reassembler:
    """Joins sub-packaged messages (attr bit 13) of one connection.

    Bounded: one message in progress (a packet of another message starts over), at most
    :attr:`MAX_PACKETS` packets of at most :data:`MAX_BODY` bytes each and
    :attr:`MAX_BYTES` in all (a packet sent again replaces the stored one, and the total
    counts the replacement), and a message still incomplete :attr:`MAX_AGE` seconds after
    its first packet is dropped. :attr:`held` is the exact number of body bytes stored.
    """

    MAX_PACKETS: Final = 256
    MAX_BYTES: Final = 65536
    """64 KiB: a 0x0704 batch of a few hundred fixes; the budget per connection."""
    MAX_AGE: Final = 60.0
    """Seconds: a device sends the packets of one message back to back."""

    __slots__ = ("_key", "_parts", "_size", "_started")

    def __init__(self) -> None:
        self._key: tuple[int, int] | None = None
        self._parts: dict[int, bytes] = {}
        self._size = 0
        self._started = 0.0

    @property
    def held(self) -> int:
        """Body bytes stored for the message in progress."""
        return self._size

    def _reset(self) -> int:
        size = self._size
        self._key = None
        self._parts = {}
        self._size = 0
        return size

    @property
    def deadline(self) -> float | None:
        """When the message in progress expires, or None."""
        return None if self._key is None else self._started + self.MAX_AGE

    def expire(self, now: float) -> int:
        """Drop the message in progress once MAX_AGE has passed; the bytes dropped."""
        if self._key is not None and now >= self._started + self.MAX_AGE:
            return self._reset()
        return 0

    def add(self, frame: Jt808Frame, now: float) -> bytes | None:
        """Store one packet; return the whole body once every packet has arrived."""
        if frame.packet_total > self.MAX_PACKETS:
            raise DecodeError(f"sub-package count {frame.packet_total} over the limit")
        body = frame.body
        if len(body) > MAX_BODY:
            raise DecodeError(f"sub-package body of {len(body)} bytes over {MAX_BODY}")
        self.expire(now)
        key = (frame.msg_id, frame.packet_total)
        if key != self._key:
            self._reset()
            self._key = key
            self._started = now
        parts = self._parts
        previous = parts.get(frame.packet_index)
        size = self._size + len(body) - (0 if previous is None else len(previous))
        if size > self.MAX_BYTES:
            self._reset()
            raise DecodeError("sub-packaged message over the size limit")
        parts[frame.packet_index] = body
        self._size = size
        if len(parts) < frame.packet_total:
            return None
        whole = b"".join(parts[index] for index in range(1, frame.packet_total + 1))
        self._reset()
        return whole
