"""JT/T 808 (2011/2013/2019) frames: unescaping, header, decoders, replies and encoders.

Decisions beyond the standard (see SPEC.md section 4):

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

from .limits import (
    MAX_ALTITUDE,
    MAX_DIRECTION,
    MAX_MILEAGE,
    MAX_SATELLITES,
    MAX_SIGNAL,
    MAX_SPEED,
    MIN_ALTITUDE,
    drop,
    enforce,
    put,
)
from .message import (
    ALARM_BITMASK,
    ALTITUDE,
    ARCHIVE,
    BATTERY_LEVEL,
    BATTERY_VOLTAGE,
    BEIDOU_USED,
    CAMERA_FAULT,
    CITY_ID,
    COMMAND_REPLY_ID,
    COMMAND_REPLY_SERIAL,
    COMMAND_RESPONSE,
    COMMAND_RESULT,
    CRASH,
    DANGER_WARNING,
    DEVICE_IMEI,
    DEVICE_MODEL,
    DIRECTION,
    DOOR_ILLEGAL_OPEN,
    DOOR_LOCKED,
    DOOR_OPEN,
    DRIVING_TIME_EXCEEDED,
    ELECTRIC_BLOCKED,
    ENGINE_BLOCKED,
    FATIGUE,
    FATIGUE_WARNING,
    FUEL_ABNORMAL,
    GALILEO_USED,
    GEOFENCE,
    GEOFENCE_ID,
    GEOFENCE_IN,
    GEOFENCE_OUT,
    GLONASS_USED,
    GNSS_ANTENNA_CUT,
    GNSS_ANTENNA_SHORT,
    GNSS_FAULT,
    GPS_USED,
    GSM_CELLID,
    GSM_LAC,
    GSM_MCC,
    GSM_MNC,
    GSM_SIGNAL,
    ICCARD_FAULT,
    IDENT,
    IGNITION,
    ILLEGAL_DISPLACEMENT,
    ILLEGAL_IGNITION,
    LATITUDE,
    LCD_FAULT,
    LONGITUDE,
    LOW_BATTERY,
    MANUFACTURER,
    MANUFACTURER_DEVICE,
    MESSAGE_TYPE,
    MILEAGE,
    MOVING,
    OVERSPEED,
    OVERSPEED_WARNING,
    PARKING_TIMEOUT,
    POWER_CUT,
    POWER_VOLTAGE,
    PROTOCOL_ID,
    PROTOCOL_JT808,
    PROVINCE_ID,
    ROLLOVER,
    ROUTE_ALARM,
    ROUTE_DEVIATION,
    ROUTE_TIME,
    SATELLITES,
    SEQNUM,
    SIM_ICCID,
    SOS,
    SPEED,
    STATE_BITMASK,
    THEFT,
    TIMESTAMP,
    TTS_FAULT,
    VALID,
    VEHICLE_PLATE,
    VEHICLE_PLATE_COLOR,
    VENDOR_15,
    VENDOR_16,
    VENDOR_17,
    VIBRATION,
    VSS_FAULT,
    DecodeError,
    Flag,
    FrameError,
    Message,
    epoch_seconds,
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

# Alarm word (1 = active): bit -> parameter. Every bit has a name.
ALARM_BITS: Final[tuple[Flag, ...]] = (
    SOS,
    OVERSPEED,
    FATIGUE,
    DANGER_WARNING,
    GNSS_FAULT,
    GNSS_ANTENNA_CUT,
    GNSS_ANTENNA_SHORT,
    LOW_BATTERY,
    POWER_CUT,
    LCD_FAULT,
    TTS_FAULT,
    CAMERA_FAULT,
    ICCARD_FAULT,
    OVERSPEED_WARNING,
    FATIGUE_WARNING,
    VENDOR_15,  # reserved by the standard; vendors disagree on bits 15-17
    VENDOR_16,
    VENDOR_17,
    DRIVING_TIME_EXCEEDED,
    PARKING_TIMEOUT,
    GEOFENCE,
    ROUTE_ALARM,
    ROUTE_TIME,
    ROUTE_DEVIATION,
    VSS_FAULT,
    FUEL_ABNORMAL,
    THEFT,
    ILLEGAL_IGNITION,
    ILLEGAL_DISPLACEMENT,
    CRASH,
    ROLLOVER,
    DOOR_ILLEGAL_OPEN,
)

# Status word (1 = set): parameter -> bit.
STATUS_BITS: Final[tuple[tuple[Flag, int], ...]] = (
    (IGNITION, 0),
    (VALID, 1),
    (ENGINE_BLOCKED, 10),
    (ELECTRIC_BLOCKED, 11),
    (DOOR_LOCKED, 12),
    (DOOR_OPEN, 13),
    (GPS_USED, 18),
    (BEIDOU_USED, 19),
    (GLONASS_USED, 20),
    (GALILEO_USED, 21),
    (MOVING, 22),
)

_flags_cache: dict[int, Message] = {}
_CACHE_MAX: Final = 4096


def flag_params(alarm: int, status: int) -> Message:
    """Every alarm bit and the named status bits as booleans, plus both raw words.

    Cached per (alarm, status) pair: a tracker repeats a handful of them.
    """
    key = alarm << 32 | status
    cached = _flags_cache.get(key)
    if cached is not None:
        return cached
    params: Message = {}
    for bit, name in enumerate(ALARM_BITS):
        params[name] = bool(alarm >> bit & 1)
    params[ALARM_BITMASK] = alarm
    # Which way the geofence was crossed comes with item 0x12; without it, neither.
    params[GEOFENCE_IN] = params[GEOFENCE_OUT] = False
    for name, bit in STATUS_BITS:
        params[name] = bool(status >> bit & 1)
    params[STATE_BITMASK] = status
    if len(_flags_cache) >= _CACHE_MAX:
        _flags_cache.clear()
    _flags_cache[key] = params
    return params


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


def checksum(data: bytes) -> int:
    """XOR of all bytes (computed by folding the bytes as one big integer)."""
    size = len(data)
    if size == 0:
        return 0
    value = int.from_bytes(data)
    while size > 1:
        half = size // 2
        bits = half * 8
        value = (value >> bits) ^ (value & ((1 << bits) - 1))
        size -= half
    return value


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


# --- location ------------------------------------------------------------------------------

_BASIC: Final = struct.Struct(">IIIIhHH6s")
_BASIC_KEYS: Final = (ALTITUDE, SPEED, DIRECTION)
_MAX_SPEED_TENTHS: Final = MAX_SPEED * 10
BASIC_SIZE: Final = 28


def decode_location(body: bytes, ident: str, utc_offset: float, kind: str) -> Message:
    """Decode a 0x0200 body (basic block and additional items)."""
    if len(body) < BASIC_SIZE:
        raise DecodeError(f"location body too short ({len(body)} bytes)")
    alarm, status, lat, lon, altitude, speed, direction, clock = _BASIC.unpack_from(body)
    if lat > 90_000_000 or lon > 180_000_000:
        raise DecodeError("location coordinates out of range")
    message: Message = {
        PROTOCOL_ID: PROTOCOL_JT808,
        MESSAGE_TYPE: kind,
        IDENT: ident,
        LATITUDE: -lat / 1e6 if status & 4 else lat / 1e6,
        LONGITUDE: -lon / 1e6 if status & 8 else lon / 1e6,
        ALTITUDE: altitude,
        SPEED: speed / 10,
        DIRECTION: direction,
    }
    if not (
        MIN_ALTITUDE <= altitude <= MAX_ALTITUDE
        and speed <= _MAX_SPEED_TENTHS
        and direction <= MAX_DIRECTION
    ):
        enforce(message, _BASIC_KEYS)
    timestamp = bcd_time(clock, utc_offset)
    if timestamp is not None:
        message[TIMESTAMP] = timestamp
    message.update(flag_params(alarm, status))
    if len(body) > BASIC_SIZE:
        _decode_items(body, message)
    return message


_day_cache: dict[bytes, int] = {}


def bcd_time(clock: bytes, utc_offset: float) -> int | None:
    """UTC epoch seconds from a 6-byte BCD ``YYMMDDhhmmss`` in local time; None if invalid."""
    date = clock[0:3]
    day = _day_cache.get(date)
    if day is None:
        digits = date.hex()
        if len(digits) != 6 or not digits.isdigit():
            return None
        try:
            day = epoch_seconds(
                2000 + int(digits[0:2]), int(digits[2:4]), int(digits[4:6]), 0, 0, 0
            )
        except DecodeError:
            return None
        if len(_day_cache) >= _CACHE_MAX:
            _day_cache.clear()
        _day_cache[date] = day
    digits = clock[3:6].hex()
    if len(digits) != 6 or not digits.isdigit():
        return None
    packed = int(digits)
    seconds = packed // 10000 * 3600 + packed // 100 % 100 * 60 + packed % 100
    return day + seconds - round(utc_offset * 3600)


def _items_exact(body: bytes) -> bool:
    """Whether the bytes after the basic block are a whole number of items."""
    end = len(body)
    position = BASIC_SIZE
    while position + 2 <= end:
        position += 2 + body[position + 1]
    return position == end


def _decode_items(body: bytes, message: Message) -> None:
    """Additional-information items ``id(1) len(1) value`` after the basic block."""
    end = len(body)
    if end - BASIC_SIZE == 18 and not _items_exact(body):
        # A fixed vendor layout instead of items: skip 4, mileage km, battery V/10,
        # area id, signal, 3 reserved.
        message[MILEAGE] = int.from_bytes(body[32:36])
        message[BATTERY_VOLTAGE] = int.from_bytes(body[36:38]) / 10
        message[GSM_SIGNAL] = body[42]
        enforce(message, (MILEAGE, BATTERY_VOLTAGE, GSM_SIGNAL))
        return
    handlers = _ITEM_HANDLERS
    position = BASIC_SIZE
    while position + 2 <= end:
        start = position + 2
        position = start + body[position + 1]
        if position > end:
            return  # a truncated last item is ignored
        handler = handlers.get(body[start - 2])
        if handler is not None:
            handler(body[start:position], message)


def _mileage(value: bytes, message: Message) -> None:
    if len(value) == 4:
        mileage = int.from_bytes(value) / 10
        if mileage <= MAX_MILEAGE:
            message[MILEAGE] = mileage
        else:
            drop(message, MILEAGE, mileage)


def _battery_byte(value: bytes, message: Message) -> None:
    if len(value) == 1 and value[0] <= 100:
        message[BATTERY_LEVEL] = value[0]


def _battery_tenths(value: bytes, message: Message) -> None:
    if value and value[0] <= 10:
        message[BATTERY_LEVEL] = value[0] * 10


def _battery_second(value: bytes, message: Message) -> None:
    if len(value) == 2 and value[1] <= 100:
        message[BATTERY_LEVEL] = value[1]


def _battery_volts_hundredths(value: bytes, message: Message) -> None:
    if len(value) == 2:
        put(message, BATTERY_VOLTAGE, int.from_bytes(value) / 100)


def _power_hundredths(value: bytes, message: Message) -> None:
    if len(value) == 2:
        put(message, POWER_VOLTAGE, int.from_bytes(value) / 100)


def _power_thousandths(value: bytes, message: Message) -> None:
    if len(value) == 4:
        put(message, POWER_VOLTAGE, int.from_bytes(value) / 1000)


def _signal(value: bytes, message: Message) -> None:
    if len(value) == 1:
        if value[0] <= MAX_SIGNAL:
            message[GSM_SIGNAL] = value[0]
        else:
            drop(message, GSM_SIGNAL, value[0])


def _satellites(value: bytes, message: Message) -> None:
    if len(value) == 1:
        if value[0] <= MAX_SATELLITES:
            message[SATELLITES] = value[0]
        else:
            drop(message, SATELLITES, value[0])


def _area(value: bytes, message: Message) -> None:
    """0x12: area type, area id (DWORD), direction (0 = entering, 1 = leaving)."""
    if len(value) == 6:
        message[GEOFENCE_ID] = int.from_bytes(value[1:5])
        message[GEOFENCE_IN] = value[5] == 0
        message[GEOFENCE_OUT] = value[5] == 1


def _wide_battery(value: bytes, message: Message) -> None:
    if len(value) == 1:
        _battery_byte(value, message)
    elif len(value) == 2:
        put(message, POWER_VOLTAGE, int.from_bytes(value) / 10)


def _cells_f0(value: bytes, message: Message) -> None:
    """0xF0: MCC WORD, MNC WORD, CID DWORD, LAC DWORD, RSSI BYTE."""
    if len(value) >= 13:
        put(message, GSM_MCC, int.from_bytes(value[0:2]))
        put(message, GSM_MNC, int.from_bytes(value[2:4]))
        message[GSM_CELLID] = int.from_bytes(value[4:8])
        put(message, GSM_LAC, int.from_bytes(value[8:12]))


def _imei(value: bytes, message: Message) -> None:
    if len(value) == 8:
        digits = value.hex().lstrip("0")
        if digits.isdigit():
            message[DEVICE_IMEI] = digits


def _extended(value: bytes, message: Message) -> None:
    """0xEB: a cell list, or nested ``len(2) type(2) value`` items."""
    size = len(value)
    if size >= 8 and int.from_bytes(value[0:2]) > 200 and (size - 3) % 5 == 0:
        put(message, GSM_MCC, int.from_bytes(value[0:2]))
        message[GSM_MNC] = value[2]
        message[GSM_LAC] = int.from_bytes(value[3:5])
        message[GSM_CELLID] = int.from_bytes(value[5:7])
        return
    position = 0
    while position + 4 <= size:
        length = int.from_bytes(value[position : position + 2])
        end = position + 2 + length
        if length < 2 or end > size:
            return
        kind = int.from_bytes(value[position + 2 : position + 4])
        data = value[position + 4 : end]
        position = end
        if kind == 0x00B2:
            iccid = data.hex().rstrip("f")
            if iccid.isalnum():
                message[SIM_ICCID] = iccid
        elif kind == 0x002D and len(data) == 2:
            put(message, BATTERY_VOLTAGE, int.from_bytes(data) / 1000)
        elif kind in {0x00A8, 0x00E1} and len(data) == 1 and data[0] <= 100:
            message[BATTERY_LEVEL] = data[0]
        elif kind == 0x00CE and len(data) == 2:
            put(message, POWER_VOLTAGE, int.from_bytes(data) / 100)
        elif kind == 0x0089 and len(data) == 4:
            alarms = int.from_bytes(data)
            if not alarms & 1:
                message[POWER_CUT] = True
        elif kind == 0x00C5 and len(data) == 4:
            flags = int.from_bytes(data)
            if not flags & 0x40:
                message[VIBRATION] = True


_ITEM_HANDLERS: Final = {
    0x01: _mileage,
    0x06: _battery_byte,
    0x12: _area,
    0x30: _signal,
    0x31: _satellites,
    0x56: _battery_tenths,
    0x61: _power_hundredths,
    0x69: _battery_volts_hundredths,
    0xD4: _battery_byte,
    0xD5: _battery_volts_hundredths,
    0xE1: _battery_byte,
    0xE4: _battery_second,
    0xE9: _battery_byte,
    0xEB: _extended,
    0xF0: _cells_f0,
    0xF1: _power_thousandths,
    0xF6: _imei,
    0xFE: _wide_battery,
}


# --- other uplinks -------------------------------------------------------------------------


def _base(kind: str, ident: str) -> Message:
    return {PROTOCOL_ID: PROTOCOL_JT808, MESSAGE_TYPE: kind, IDENT: ident}


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
            return _decode_batch(body, ident, utc_offset, kind)
        if msg_id == POSITION_REPLY:
            message = decode_location(body[2:], ident, utc_offset, kind)
            message[COMMAND_REPLY_SERIAL] = int.from_bytes(body[0:2])
            return [message]
        if msg_id == LOCATION_BATCH_ALT:
            return _decode_batch_alt(body, ident, utc_offset, kind)
        message = _base(kind, ident)
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


def _decode_batch(body: bytes, ident: str, utc_offset: float, kind: str) -> list[Message]:
    """0x0704: count WORD, type BYTE (1 = blind-area re-upload), then length-prefixed bodies."""
    if len(body) < 3:
        raise DecodeError("0x0704 body too short")
    count = int.from_bytes(body[0:2])
    archive = body[2] == 1
    position = 3
    messages = []
    for _ in range(count):
        length = int.from_bytes(body[position : position + 2])
        start = position + 2
        position = start + length
        if position > len(body):
            raise DecodeError("0x0704 item runs past the body")
        message = decode_location(body[start:position], ident, utc_offset, kind)
        message[ARCHIVE] = archive
        messages.append(message)
    return messages


def _decode_batch_alt(body: bytes, ident: str, utc_offset: float, kind: str) -> list[Message]:
    """0x0210: a 7-byte battery + time ping, or items with a 1-byte length."""
    if len(body) == 7:
        message = _base(kind, ident)
        if body[0] <= 100:
            message[BATTERY_LEVEL] = body[0]
        timestamp = bcd_time(body[1:7], utc_offset)
        if timestamp is not None:
            message[TIMESTAMP] = timestamp
        return [message]
    messages = []
    position = 0
    while position < len(body):
        length = body[position]
        start = position + 1
        position = start + length
        if position > len(body):
            raise DecodeError("0x0210 item runs past the body")
        message = decode_location(body[start:position], ident, utc_offset, kind)
        message[ARCHIVE] = True
        messages.append(message)
    return messages


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


def build_frame(
    msg_id: int,
    terminal: bytes,
    serial: int,
    body: bytes,
    *,
    version_2019: bool = False,
    protocol_version: int = 1,
) -> bytes:
    """A complete escaped frame, delimiters included."""
    if len(body) > MAX_BODY:
        raise DecodeError(f"JT808 body too long ({len(body)} bytes)")
    if version_2019:
        header = _HEADER.pack(msg_id, len(body) | 0x4000) + bytes((protocol_version,))
    else:
        header = _HEADER.pack(msg_id, len(body))
    content = header + terminal + (serial & 0xFFFF).to_bytes(2) + body
    return b"\x7e" + escape(content + bytes((checksum(content),))) + b"\x7e"


def reply_for(
    frame: Jt808Frame,
    ident: str,
    serial: int,
    now: float,
    *,
    result: int | None = None,
    auth_code: str | None = None,
) -> bytes | None:
    """The platform's answer to an uplink frame (SPEC.md section 4.3), or None.

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
        body = frame.serial.to_bytes(2) + msg_id.to_bytes(2) + bytes((result,))
        response = GENERAL_RESPONSE
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
