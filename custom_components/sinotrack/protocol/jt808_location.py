"""JT/T 808 positions: the location report (0x0200), its additional items and batches.

The basic information is 28 bytes: alarm word, status word, latitude and longitude in
millionths of a degree (the status word's bits 2 and 3 give the hemispheres), altitude in
metres, speed in tenths of km/h, direction in degrees and the device's local time in BCD.
Every alarm bit and the named status bits become boolean parameters. The additional items
that follow (id, length, value) are decoded when their id is known (each handler checks the
length it needs); unknown items and a truncated last item are skipped. See
docs/protocol.md section 4.7.
"""

from __future__ import annotations

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
    CRASH,
    DANGER_WARNING,
    DEVICE_IMEI,
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
    ROLLOVER,
    ROUTE_ALARM,
    ROUTE_DEVIATION,
    ROUTE_TIME,
    SATELLITES,
    SIM_ICCID,
    SOS,
    SPEED,
    STATE_BITMASK,
    THEFT,
    TIMESTAMP,
    TTS_FAULT,
    VALID,
    VENDOR_15,
    VENDOR_16,
    VENDOR_17,
    VIBRATION,
    VSS_FAULT,
    DecodeError,
    Flag,
    Message,
    epoch_seconds,
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


# --- batches -------------------------------------------------------------------------------


def base_message(kind: str, ident: str) -> Message:
    """The parameters every JT/T 808 message has."""
    return {PROTOCOL_ID: PROTOCOL_JT808, MESSAGE_TYPE: kind, IDENT: ident}


def decode_batch(body: bytes, ident: str, utc_offset: float, kind: str) -> list[Message]:
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


def decode_batch_alt(body: bytes, ident: str, utc_offset: float, kind: str) -> list[Message]:
    """0x0210: a 7-byte battery + time ping, or items with a 1-byte length."""
    if len(body) == 7:
        message = base_message(kind, ident)
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
