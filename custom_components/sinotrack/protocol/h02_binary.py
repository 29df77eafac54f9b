"""H02 binary ``$`` frames, and what they share with text frames: the status word, the
knots, the ``ddmmyy`` / ``hhmmss`` fields.

A ``$`` frame is BCD: the ID (5 bytes, or 8 in 42-byte frames), time, date, latitude, the
battery byte, longitude, a nibble of flags (validity, hemispheres), speed in knots and
course packed in three bytes, then the 32-bit status word, and per length a tail (signal,
satellites, mileage, cell) or a sequence number. See docs/protocol.md section 3.

The status word is active-low (a cleared bit is an active condition) and is the same word in
text frames (hexadecimal) and binary frames (4 raw bytes): docs/protocol.md section 2.5.
"""

from __future__ import annotations

from typing import Final

from .limits import (
    MAX_DIRECTION,
    MAX_SPEED,
    enforce,
)
from .message import (
    ANALOG_OVERLIMIT,
    ARMED,
    BATTERY_LEVEL,
    BATTERY_REMOVED,
    CUSTOM_ALARM,
    DIRECTION,
    DOOR_OPEN,
    ENGINE_BLOCKED,
    GEOFENCE_IN,
    GEOFENCE_OUT,
    GNSS_ANTENNA_CUT,
    GNSS_ANTENNA_SHORT,
    GNSS_FAULT,
    GPRS_BLOCKED,
    GSM_CELLID,
    GSM_LAC,
    GSM_MCC,
    GSM_MNC,
    GSM_SIGNAL,
    IDENT,
    IGNITION,
    ILLEGAL_IGNITION,
    LATITUDE,
    LONGITUDE,
    MESSAGE_TYPE,
    MILEAGE,
    OVERSPEED,
    PASSWORD_WRONG,
    POWER_CUT,
    PROTOCOL_H02,
    PROTOCOL_ID,
    SATELLITES,
    SENSOR_HIGH_1,
    SENSOR_HIGH_2,
    SENSOR_LOW_1,
    SENSOR_LOW_2,
    SEQNUM,
    SOS,
    SPEED,
    STATE_BITMASK,
    TEMPERATURE_ALARM,
    TIMESTAMP,
    VALID,
    VIBRATION,
    DecodeError,
    Flag,
    Message,
    battery_from_scale,
    epoch_seconds,
)

KNOTS_TO_KMH: Final = 1.852

# Active-low status bits: parameter -> mask (any cleared bit of the mask = active).
STATUS_BITS: Final[tuple[tuple[Flag, int], ...]] = (
    (VIBRATION, 1 << 0),  # theft alarm
    (SOS, (1 << 1) | (1 << 18)),  # robbery alarm, SOS alarm
    (OVERSPEED, (1 << 2) | (1 << 15)),
    (ILLEGAL_IGNITION, 1 << 3),
    (GEOFENCE_IN, 1 << 4),
    (GNSS_ANTENNA_CUT, (1 << 5) | (1 << 21)),
    (GNSS_ANTENNA_SHORT, (1 << 6) | (1 << 22)),
    (GEOFENCE_OUT, 1 << 7),
    (DOOR_OPEN, 1 << 8),
    (ARMED, 1 << 9),
    (CUSTOM_ALARM, 1 << 14),
    (GNSS_FAULT, 1 << 16),
    (ANALOG_OVERLIMIT, 1 << 17),
    (POWER_CUT, 1 << 19),
    (BATTERY_REMOVED, (1 << 20) | (1 << 28)),
    (SENSOR_LOW_2, 1 << 23),
    (TEMPERATURE_ALARM, 1 << 24),
    (PASSWORD_WRONG, 1 << 25),
    (GPRS_BLOCKED, 1 << 26),
    (ENGINE_BLOCKED, 1 << 27),
    (SENSOR_HIGH_1, 1 << 29),
    (SENSOR_HIGH_2, 1 << 30),
    (SENSOR_LOW_1, 1 << 31),
)
_IGNITION_BIT: Final = 1 << 10

MOTION_KEYS: Final = (SPEED, DIRECTION)
_MAX_PACKED_MOTION: Final = int(MAX_SPEED / KNOTS_TO_KMH) * 1000 + 999
"""Binary frames pack knots * 1000 + course: above this, the speed is out of range."""
_BINARY_TAIL_KEYS: Final = (GSM_SIGNAL, SATELLITES, MILEAGE)

_status_cache: dict[int, Message] = {}
_STATUS_CACHE_MAX: Final = 4096


def status_params(status: int) -> Message:
    """Parameters of a 32-bit H02 status word (cached: devices repeat a few values)."""
    cached = _status_cache.get(status)
    if cached is not None:
        return cached
    inverted = ~status
    params: Message = {}
    for name, mask in STATUS_BITS:
        params[name] = bool(inverted & mask)
    params[IGNITION] = bool(status & _IGNITION_BIT)
    params[STATE_BITMASK] = status
    if len(_status_cache) >= _STATUS_CACHE_MAX:
        _status_cache.clear()
    _status_cache[status] = params
    return params


def time_of_day(value: str) -> int | None:
    if len(value) != 6 or not value.isdigit():
        return None
    packed = int(value)
    return packed // 10000 * 3600 + packed // 100 % 100 * 60 + packed % 100


_day_cache: dict[str, int] = {}


def timestamp_of(date: str, time: str) -> int | None:
    """UTC epoch seconds from ``ddmmyy`` and ``hhmmss``; None when either is unusable."""
    day = _day_cache.get(date)
    if day is None:
        if len(date) != 6 or not date.isdigit():
            return None
        try:
            day = epoch_seconds(2000 + int(date[4:6]), int(date[2:4]), int(date[0:2]), 0, 0, 0)
        except DecodeError:
            return None
        if len(_day_cache) >= _STATUS_CACHE_MAX:
            _day_cache.clear()
        _day_cache[date] = day
    seconds = time_of_day(time)
    return None if seconds is None else day + seconds


# --- binary ``$`` frames -------------------------------------------------------------------

BINARY_LENGTHS: Final = (32, 45, 46, 48)
"""Lengths of ``$`` frames with a 5-byte ID; a frame with an 8-byte ID is 42 bytes."""
BINARY_LONG_ID_LENGTH: Final = 42


def _bcd_bytes(low: int, high: int) -> frozenset[int]:
    """The bytes that are the BCD numbers ``low`` to ``high``."""
    return frozenset(value // 10 << 4 | value % 10 for value in range(low, high + 1))


_CLOCK_BYTES: Final = (
    _bcd_bytes(0, 23),  # hour
    _bcd_bytes(0, 59),  # minute
    _bcd_bytes(0, 60),  # second (a leap second is let through)
    _bcd_bytes(1, 31),  # day
    _bcd_bytes(1, 12),  # month
)
_HOURS, _MINUTES, _SECONDS, _DAYS, _MONTHS = _CLOCK_BYTES


def binary_id_length(header: bytes, start: int = 0) -> int:
    """5 or 8 (bytes of device ID) from the 15 bytes of a ``$`` frame at ``start``; 0 if
    neither.

    The time and date that follow the ID must be valid BCD (hour < 24, minute < 60,
    second < 61, day 1-31, month 1-12): this tells the two layouts apart. Five lookups of
    a byte in a set each; most garbage stops at the first.
    """
    if _valid_clock(header, start + 6):
        return 5
    if len(header) >= start + 15 and _valid_clock(header, start + 9):
        return 8
    return 0


def _valid_clock(data: bytes, offset: int) -> bool:
    return (
        len(data) >= offset + 5
        and data[offset] in _HOURS
        and data[offset + 1] in _MINUTES
        and data[offset + 2] in _SECONDS
        and data[offset + 3] in _DAYS
        and data[offset + 4] in _MONTHS
    )


def decode_binary(frame: bytes) -> Message:
    """Decode one ``$`` frame (32, 42, 45, 46 or 48 bytes) into a message."""
    size = len(frame)
    if size < 32 or frame[0] != 0x24:
        raise DecodeError("binary frame too short")
    # The framer tells the layouts apart; a 42-byte frame is the one with an 8-byte ID.
    shift = 3 if size == BINARY_LONG_ID_LENGTH else 0
    digits = frame.hex()
    o = 2 * shift
    ident = digits[2:12] if shift == 0 else digits[2:17]
    lat_text = digits[24 + o : 32 + o]
    lon_text = digits[34 + o : 43 + o]
    motion = digits[44 + o : 50 + o]
    if not (ident.isdigit() and lat_text.isdigit() and lon_text.isdigit() and motion.isdigit()):
        raise DecodeError("binary frame with non-BCD fields")
    flags = int(digits[43 + o], 16)
    packed = int(lat_text)  # DDMMmmmm
    latitude = packed // 1_000_000 + packed % 1_000_000 / 600_000
    packed = int(lon_text)  # DDDMMmmmm
    longitude = packed // 1_000_000 + packed % 1_000_000 / 600_000
    if latitude > 90 or longitude > 180:
        raise DecodeError("binary frame coordinates out of range")
    speed_course = int(motion)
    message: Message = {
        PROTOCOL_ID: PROTOCOL_H02,
        MESSAGE_TYPE: "$",
        IDENT: ident,
        VALID: bool(flags & 0x2),
        LATITUDE: latitude if flags & 0x4 else -latitude,
        LONGITUDE: longitude if flags & 0x8 else -longitude,
        SPEED: round(speed_course // 1000 * KNOTS_TO_KMH, 2),
        DIRECTION: speed_course % 1000,
    }
    if speed_course > _MAX_PACKED_MOTION or speed_course % 1000 > MAX_DIRECTION:
        enforce(message, MOTION_KEYS)
    timestamp = timestamp_of(digits[18 + o : 24 + o], digits[12 + o : 18 + o])
    if timestamp is not None:
        message[TIMESTAMP] = timestamp
    level = battery_from_scale(frame[16 + shift])
    if level is not None:
        message[BATTERY_LEVEL] = level
    message.update(status_params(int.from_bytes(frame[25 + shift : 29 + shift])))
    if size == 32:
        message[SEQNUM] = frame[31]
    elif size == 45 and shift == 0:
        _decode_binary_tail(frame, message)
    return message


def _decode_binary_tail(frame: bytes, message: Message) -> None:
    """Bytes 29-44 of a 45-byte frame (docs/protocol.md section 3.2, inferred layout)."""
    if frame[29] == 0xFF and frame[30] == 0x00:
        # Bytes 31-36 are firmware-dependent; trusted only behind the usual ff 00 marker.
        message[GSM_SIGNAL] = frame[31]
        message[SATELLITES] = frame[32]
        message[MILEAGE] = int.from_bytes(frame[33:37])
        enforce(message, _BINARY_TAIL_KEYS)
    mcc = int.from_bytes(frame[37:39])
    if 200 <= mcc <= 799:
        message[GSM_MCC] = mcc
        message[GSM_MNC] = frame[39]
        message[GSM_LAC] = int.from_bytes(frame[40:42])
        message[GSM_CELLID] = int.from_bytes(frame[42:44])
    message[SEQNUM] = frame[44]
