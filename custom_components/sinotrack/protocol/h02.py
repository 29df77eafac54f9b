"""H02 decoders: text frames (``*HQ,...#``) and binary ``$`` frames.

Decisions beyond the wire format (see SPEC.md sections 2 and 3):

* Text frames are split on commas and fields are identified by position and shape, not by
  one regular expression, so an optional battery field or SIM info never swallows the
  date or the status word.
* Validity: ``A`` and a digit (a "coding scheme" some firmware puts there) are valid fixes;
  ``V``, ``B`` and an empty field are not (``B`` follows Traccar: not trusted as a fix).
* The status word is active-low; every named bit is decoded on every frame, so one frame
  can carry several alarms at once. Alarms that share a meaning (SOS on bit 1 or 18,
  overspeed on bit 2 or 15...) are merged into one parameter.
* The Sinotrack tail ``mcc,mnc,lac,cid[,x]`` is decimal on 10-digit-ID units and
  hexadecimal on some IMEI units: the MCC decides (a valid MCC is 200-799). A third field
  with hex letters or of 7+ characters is an LTE cell id given before the LAC. The last
  small value is the 1-6 battery scale of the binary frame.
* The V4 reply to the S32 mileage query carries the mileage (km) as its first result.
* Dates that are out of range give no ``timestamp`` (never a guessed one); time-of-day
  fields roll over (``16:01:69`` -> ``16:02:09``) the way devices mean them.
* Numbers are read with a length limit, and a value outside its plausible range
  (:data:`.limits.RANGES`) is not stored but noted under :data:`.limits.DROPPED`, which
  :class:`~.connection.TrackerConnection` removes and counts.
* ``BC`` batches: the day of the month is resolved arithmetically; at most
  :data:`MAX_BATCH_SEGMENTS` segments per frame.
"""

from __future__ import annotations

import math
from typing import Final

from .limits import (
    MAX_CELLID,
    MAX_DIGITS,
    MAX_DIRECTION,
    MAX_MNC,
    MAX_SPEED,
    bounded_float,
    bounded_int,
    enforce,
    put,
)
from .message import (
    ALARM_CODE,
    ALTITUDE,
    ANALOG_OVERLIMIT,
    ARCHIVE,
    ARMED,
    BATTERY_LEVEL,
    BATTERY_REMOVED,
    COMMAND_CODE,
    COMMAND_RESPONSE,
    COMMAND_RESULT,
    COMMAND_TIME,
    CUSTOM_ALARM,
    DIRECTION,
    DOOR_OPEN,
    ENGINE_BLOCKED,
    GEOFENCE,
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
    LOW_BATTERY,
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
    SIM_ICCID,
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
    civil_from_days,
    days_in_month,
    epoch_seconds,
    utc_fields,
)

KNOTS_TO_KMH: Final = 1.852
MAX_BATCH_SEGMENTS: Final = 96
"""Segments decoded from one ``BC`` blind-spot batch; the rest are reported, not decoded.
A segment is at least about 45 bytes (70 with its cell fields), so a frame of the default
4 KiB limit never holds more: the cap bounds the work of one frame when a larger frame
limit is configured, without cutting a batch of the default size."""

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

_MOTION_KEYS: Final = (SPEED, DIRECTION)
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


_HEX_DIGITS: Final = frozenset("0123456789abcdefABCDEF")


def _is_hex(value: str) -> bool:
    return bool(value) and _HEX_DIGITS.issuperset(value)


def _ident(value: str) -> str:
    if not value:
        return ""
    if len(value) > 24 or not value.isalnum() or not value.isascii():
        raise DecodeError(f"invalid device ID {value[:32]!r}")
    return value


def _coordinate(value: str, hemisphere: str, positive: str, negative: str, limit: float) -> float:
    """Parse one coordinate in any of the three H02 forms (SPEC.md section 2.3)."""
    if len(value) > _MAX_COORDINATE:
        raise DecodeError(f"invalid coordinate {value[:16]!r}")
    if value[:1] == "-":  # -D-M.MMMM
        degrees_text, _, minutes_text = value[1:].partition("-")
        degrees = float(int(degrees_text))
        minutes = float(minutes_text)
    elif "." in value:  # [D..]DDMM.MMMM: the last two integer digits are the minutes
        degrees, minutes = divmod(float(value), 100.0)
    else:  # D+MMmmmm
        if len(value) < 6 or not value.isdigit():
            raise DecodeError(f"invalid coordinate {value[:16]!r}")
        degrees = float(int(value[:-6] or 0))
        minutes = int(value[-6:-4]) + int(value[-4:]) / 10000
    if not 0.0 <= minutes < 60.0:  # also rejects nan and inf
        raise DecodeError(f"invalid coordinate {value[:16]!r}")
    result = degrees + minutes / 60
    if not 0.0 <= result <= limit:
        raise DecodeError(f"coordinate out of range {value[:16]!r}")
    if hemisphere == positive:
        return result
    if hemisphere == negative:
        return -result
    raise DecodeError(f"invalid hemisphere {hemisphere[:8]!r}")


_MAX_COORDINATE: Final = 24
"""Longest coordinate field read (``DDDMM.MMMMMM`` with room to spare): numbers stay small."""


def _time_of_day(value: str) -> int | None:
    if len(value) != 6 or not value.isdigit():
        return None
    packed = int(value)
    return packed // 10000 * 3600 + packed // 100 % 100 * 60 + packed % 100


_day_cache: dict[str, int] = {}


def _timestamp(date: str, time: str) -> int | None:
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
    seconds = _time_of_day(time)
    return None if seconds is None else day + seconds


def _number(value: str, limit: float) -> float:
    """A non-negative decimal below ``limit``; empty means 0 (spaces allowed around it)."""
    try:
        result = float(value)
    except ValueError:
        if value.strip():
            raise
        return 0.0
    if not 0 <= result < limit:  # also rejects nan and inf
        raise DecodeError(f"value out of range {value[:16]!r}")
    return result


def _find_position(fields: list[str], start: int) -> int:
    """Index of the hhmmss field of the position block, or -1 when there is none."""
    last = len(fields) - 6
    for index in range(start, last + 1):
        if fields[index + 3] in ("N", "S") and fields[index + 5] in ("E", "W"):
            return index
    return -1


def _decode_position(fields: list[str], index: int, message: Message) -> int:
    """Decode hhmmss,S,lat,NS,lon,EW,speed,course[,battery],ddmmyy,status.

    Returns the index of the first field after the status word.
    """
    validity = fields[index + 1]
    message[VALID] = validity == "A" or validity.isdigit()
    message[LATITUDE] = _coordinate(fields[index + 2], fields[index + 3], "N", "S", 90.0)
    message[LONGITUDE] = _coordinate(fields[index + 4], fields[index + 5], "E", "W", 180.0)
    message[SPEED] = speed = round(_number(fields[index + 6], 1000.0) * KNOTS_TO_KMH, 2)
    course = fields[index + 7]
    message[DIRECTION] = direction = (
        (int(course) if len(course) <= MAX_DIGITS else math.inf)
        if course.isdigit()
        else _number(course, 360.5)
    )
    if speed > MAX_SPEED or direction > MAX_DIRECTION:
        enforce(message, _MOTION_KEYS)
    count = len(fields)
    cursor = index + 8
    date = ""
    if cursor < count:
        field = fields[cursor]
        if len(field) == 6 and field.isdigit():
            date = field
            cursor += 1
        elif (
            cursor + 1 < count
            and len(fields[cursor + 1]) == 6
            and fields[cursor + 1].isdigit()
            and 0 < len(field) <= 3
            and field.isdigit()
        ):
            level = battery_from_scale(int(field))
            if level is not None:
                message[BATTERY_LEVEL] = level
            date = fields[cursor + 1]
            cursor += 2
        elif not field:
            cursor += 1
    timestamp = _timestamp(date, fields[index])
    if timestamp is not None:
        message[TIMESTAMP] = timestamp
    # The status word follows, possibly after V19's SIM fields (phone/IP, ICCID).
    for probe in range(cursor, min(cursor + 4, count)):
        field = fields[probe]
        if len(field) == 8 and _is_hex(field):
            for sim in fields[cursor:probe]:
                _iccid(sim, message)
            message.update(status_params(int(field, 16)))
            return probe + 1
    return cursor


def _iccid(value: str, message: Message) -> None:
    digits = value.rstrip("Ff?")
    if 18 <= len(digits) <= 20 and digits.isdigit():
        message[SIM_ICCID] = digits


def _cell_int(value: str, radix: int) -> float:
    value = value.strip()
    return bounded_int(value, radix=radix) if value else 0


_TAIL_KEYS: Final = (GSM_MCC, GSM_MNC, GSM_LAC, GSM_CELLID, MILEAGE, ALTITUDE)


def _decode_tail(tail: list[str], message: Message) -> None:
    """Firmware-specific fields after the status word (SPEC.md section 2.2)."""
    count = len(tail)
    if count >= 4:
        mcc, mnc, lac, cid = tail[0], tail[1], tail[2], tail[3]
        if (
            len(mcc) == 3
            and mcc.isdigit()
            and mnc.isdigit()
            and lac.isdigit()
            and cid.isdigit()
            and len(lac) < 7
            and "2" <= mcc[0] <= "7"
        ):
            # The common Sinotrack tail: decimal mcc,mnc,lac,cid[,battery scale | ICCID].
            # MCC has 3 digits and LAC 6 at most: only MNC and CID can be out of range.
            message[GSM_MCC] = int(mcc)
            message[GSM_MNC] = mnc_value = int(mnc) if len(mnc) <= MAX_DIGITS else math.inf
            message[GSM_LAC] = int(lac)
            message[GSM_CELLID] = cid_value = int(cid) if len(cid) <= MAX_DIGITS else math.inf
            if mnc_value > MAX_MNC or cid_value > MAX_CELLID:
                enforce(message, (GSM_MNC, GSM_CELLID))
            if count >= 5:
                extra = tail[4]
                if len(extra) <= 3 and extra.isdigit():
                    level = battery_from_scale(int(extra))
                    if level is not None:
                        message[BATTERY_LEVEL] = level
                else:
                    _iccid(extra, message)
            return
    _decode_other_tail(tail, message)
    enforce(message, _TAIL_KEYS)


def _decode_other_tail(tail: list[str], message: Message) -> None:
    """The rarer tails: odometer block, document variant, hexadecimal and LTE cells."""
    count = len(tail)
    if count == 6 and "." in tail[2]:  # odometer,temp,fuel,altitude,lac(hex),cid(hex)
        if tail[0].isdigit():
            message[MILEAGE] = bounded_int(tail[0]) / 1000
        altitude = tail[3].strip()
        if altitude.lstrip("-").isdigit():
            message[ALTITUDE] = (
                -bounded_int(altitude[1:]) if altitude[0] == "-" else bounded_int(altitude)
            )
        if _is_hex(tail[4]) and _is_hex(tail[5]):
            message[GSM_LAC] = bounded_int(tail[4], radix=16)
            message[GSM_CELLID] = bounded_int(tail[5], radix=16)
        return
    if count < 4:
        return
    if (
        count >= 4
        and tail[1].isdigit()
        and count == 4 + 2 * bounded_int(tail[1])
        and len(tail[0]) == 2
    ):
        # Document variant: pw,count,mcc,mnc,(lac,cid)*count with pw a percentage.
        if tail[0].isdigit():
            percent = int(tail[0])
            message[BATTERY_LEVEL] = 100 if percent == 99 else percent
        return
    mcc_text = tail[0].strip()
    radix = 0
    if mcc_text.isdigit() and 200 <= bounded_int(mcc_text) <= 799:
        radix = 10
    elif _is_hex(mcc_text) and 200 <= bounded_int(mcc_text, radix=16) <= 799:
        radix = 16
    elif not mcc_text and not tail[1].strip():
        radix = 10
    decimal_family = radix == 10  # Sinotrack's 10-digit-ID firmware
    if radix:
        lac_text, cid_text = tail[2].strip(), tail[3].strip()
        if radix == 10 and (len(lac_text) >= 7 or not lac_text.isdigit()):
            # LTE: a 28-bit hex cell id comes first, then the area code (both hex).
            radix = 16
            lac_text, cid_text = cid_text, lac_text
        if _is_hex(lac_text) or not lac_text:
            if mcc_text:
                message[GSM_MCC] = bounded_int(
                    mcc_text, radix=10 if radix == 10 and mcc_text.isdigit() else 16
                )
                message[GSM_MNC] = _cell_int(tail[1], radix)
            message[GSM_LAC] = _cell_int(lac_text, radix)
            message[GSM_CELLID] = _cell_int(cid_text, radix)
    if count >= 5:
        extra = tail[4].strip()
        if decimal_family and extra.isdigit() and len(extra) <= 3:
            level = battery_from_scale(int(extra))
            if level is not None:
                message[BATTERY_LEVEL] = level
        else:
            _iccid(extra, message)


_CELL_KEYS: Final = (GSM_MCC, GSM_MNC, GSM_LAC, GSM_CELLID)


def _decode_cells(message: Message, mcc: str, mnc: str, lac: str, cid: str) -> None:
    message[GSM_MCC] = bounded_int(mcc)
    message[GSM_MNC] = bounded_int(mnc)
    message[GSM_LAC] = bounded_int(lac)
    message[GSM_CELLID] = bounded_int(cid)
    enforce(message, _CELL_KEYS)


def _decode_v4(fields: list[str], message: Message) -> int:
    """V4: command acknowledgement, optionally followed by a position block."""
    if len(fields) < 4:
        raise DecodeError("V4 without a command code")
    message[COMMAND_CODE] = fields[3].strip()
    position = _find_position(fields, 5)
    if position < 0:
        results = fields[4:]
        if results and _time_of_day(results[-1]) is not None and len(results) > 1:
            message[COMMAND_TIME] = results[-1]
            results = results[:-1]
        message[COMMAND_RESULT] = ",".join(results)
        _mileage_reply(message, results)
        return len(fields)
    results = fields[4 : position - 1]
    message[COMMAND_TIME] = fields[position - 1]
    message[COMMAND_RESULT] = ",".join(results)
    _mileage_reply(message, results)
    return _decode_position(fields, position, message)


def _mileage_reply(message: Message, results: list[str]) -> None:
    if message[COMMAND_CODE] == "S32" and results:
        value = results[0].strip()
        if value.replace(".", "", 1).isdigit():
            put(message, MILEAGE, bounded_float(value))


def _decode_nbr(fields: list[str], message: Message) -> None:
    """NBR,hhmmss,mcc,mnc,ta,count,(lac,cid,rxlev)*count,ddmmyy,status[,battery]."""
    count = _count(fields[7])
    end = 8 + 3 * count
    if not 0 <= count <= 64 or end >= len(fields):
        raise DecodeError("NBR cell count does not match its fields")
    if count:
        _decode_cells(message, fields[4], fields[5], fields[8], fields[9])
    _status_and_time(fields, end, fields[3], message)
    if end + 2 < len(fields):
        _battery_field(fields[end + 2], message)


def _count(value: str) -> int:
    """A count of repeated fields (two digits at most)."""
    value = value.strip()
    if len(value) > 2 or not value.isdigit():
        raise DecodeError(f"invalid count {value[:16]!r}")
    return int(value)


def _battery_field(value: str, message: Message) -> None:
    value = value.strip()
    if value.isdigit() and len(value) <= 3:
        level = battery_from_scale(int(value))
        if level is not None:
            message[BATTERY_LEVEL] = level


def _status_and_time(fields: list[str], date_index: int, time: str, message: Message) -> None:
    if date_index < len(fields):
        timestamp = _timestamp(fields[date_index], time)
        if timestamp is not None:
            message[TIMESTAMP] = timestamp
    if date_index + 1 < len(fields):
        status = fields[date_index + 1]
        if len(status) == 8 and _is_hex(status):
            message.update(status_params(int(status, 16)))


def _decode_link(fields: list[str], message: Message) -> None:
    """LINK,hhmmss,rssi,satellites,battery%,steps,turnovers,ddmmyy,status."""
    if len(fields) < 11:
        raise DecodeError("LINK frame too short")
    put(message, GSM_SIGNAL, bounded_int(fields[4]))
    put(message, SATELLITES, bounded_int(fields[5]))
    put(message, BATTERY_LEVEL, bounded_int(fields[6]))
    _status_and_time(fields, 9, fields[3], message)


def _decode_v3(fields: list[str], message: Message) -> None:
    """V3,hhmmss,MCCMNC,count,(lac,cid,rxlev,ta)*count,battery,reboot,X,ddmmyy,status."""
    operator = fields[4]
    count = _count(fields[5])
    end = 6 + 4 * count
    if not 0 <= count <= 64 or end + 3 >= len(fields) or len(operator) < 4:
        raise DecodeError("V3 cell count does not match its fields")
    if count:
        _decode_cells(message, operator[:3], operator[3:], fields[6], fields[7])
    _status_and_time(fields, end + 3, fields[3], message)


def _decode_vp1(fields: list[str], message: Message) -> None:
    """VP1: ``A|B,lat,NS,lon,EW,speed,course,ddmmyy[,status,battery]`` or LBS cells."""
    if len(fields) < 8:
        raise DecodeError("VP1 frame too short")
    if fields[3] == "V":
        cell = fields[7].split("Y", 1)[0]
        _decode_cells(message, fields[4], fields[5], fields[6], cell)
        return
    if len(fields) < 11:
        raise DecodeError("VP1 frame too short")
    message[VALID] = fields[3] == "A"
    message[LATITUDE] = _coordinate(fields[4], fields[5], "N", "S", 90.0)
    message[LONGITUDE] = _coordinate(fields[6], fields[7], "E", "W", 180.0)
    message[SPEED] = round(_number(fields[8], 1000.0) * KNOTS_TO_KMH, 2)
    message[DIRECTION] = _number(fields[9], 360.5)
    enforce(message, _MOTION_KEYS)
    timestamp = _timestamp(fields[10], "000000")
    if timestamp is not None:
        message[TIMESTAMP] = timestamp
    if len(fields) > 11 and len(fields[11]) == 8 and _is_hex(fields[11]):
        message.update(status_params(int(fields[11], 16)))
    if len(fields) > 12:
        _battery_field(fields[12], message)


_ALRM_TYPES: Final[dict[str, Flag]] = {"1": SOS, "2": LOW_BATTERY, "3": GEOFENCE}


def _decode_text_body(text: str, now: float) -> list[Message]:
    fields = text.split(",")
    if len(fields) < 3:
        raise DecodeError("text frame without a type")
    kind = fields[2].strip().upper()
    message: Message = {PROTOCOL_ID: PROTOCOL_H02, MESSAGE_TYPE: kind}
    ident = _ident(fields[1].strip())
    if ident:
        message[IDENT] = ident
    if kind in {"V1", "V5", "V6", "V2", "V8"}:
        position = 3 if len(fields) > 8 and fields[6] in ("N", "S") else _find_position(fields, 3)
        if position < 0:
            raise DecodeError(f"{kind} frame without a position")
        _decode_tail(fields[_decode_position(fields, position, message) :], message)
    elif kind == "V4":
        _decode_v4(fields, message)
    elif kind in {"HTBT", "V0"}:
        if len(fields) > 3:
            _battery_percent(fields[3], message)
    elif kind == "XT":
        pass
    elif kind == "NBR":
        _decode_nbr(fields, message)
    elif kind == "LINK":
        _decode_link(fields, message)
    elif kind == "V3":
        _decode_v3(fields, message)
    elif kind == "VP1":
        _decode_vp1(fields, message)
    elif kind == "ALRM":
        if len(fields) < 4 or fields[3].strip() not in _ALRM_TYPES:
            raise DecodeError("ALRM frame with an unknown alarm type")
        message[_ALRM_TYPES[fields[3].strip()]] = True
        message[ALARM_CODE] = int(fields[3])
    elif kind == "BC":
        return _decode_blind_batch(fields, message, now)
    else:
        position = _find_position(fields, 3)
        if position < 0:
            raise DecodeError(f"unsupported text message type {kind[:16]!r}")
        _decode_tail(fields[_decode_position(fields, position, message) :], message)
    return [message]


def _battery_percent(value: str, message: Message) -> None:
    value = value.strip()
    if value.isdigit() and len(value) <= 3 and int(value) <= 100:
        message[BATTERY_LEVEL] = int(value)


def _decode_blind_batch(fields: list[str], header: Message, now: float) -> list[Message]:
    """BC,hhmmss,length,seg;seg;... with seg = S,lat,NS,lon,EW,speed,course,DDHHmmss,status,...

    A segment's date is a day of the month only: the month and year are the latest ones at
    or before the server time ``now`` that have that day. At most MAX_BATCH_SEGMENTS
    segments are decoded.
    """
    segments = ",".join(fields[5:]).split(";", MAX_BATCH_SEGMENTS)[:MAX_BATCH_SEGMENTS]
    today = int(now) // 86400
    year, month, day_today = civil_from_days(today)
    messages: list[Message] = []
    for segment in segments:
        parts = segment.split(",", 13)
        if len(parts) < 9:
            continue
        message = header.copy()
        message[ARCHIVE] = True
        stamp = parts[7]
        _decode_position([stamp[2:], *parts[0:7]], 0, message)
        if len(stamp) == 8 and stamp.isdigit():
            seconds = _time_of_day(stamp[2:])
            day = _recent_day(today, year, month, day_today, int(stamp[:2]))
            if seconds is not None and day is not None:
                message[TIMESTAMP] = day * 86400 + seconds
        if len(parts[8]) == 8 and _is_hex(parts[8]):
            message.update(status_params(int(parts[8], 16)))
        if len(parts) >= 13:
            _decode_tail(parts[9:13], message)
        messages.append(message)
    if not messages:
        raise DecodeError("BC frame without a segment")
    return messages


def _recent_day(today: int, year: int, month: int, day_today: int, day: int) -> int | None:
    """Days since the epoch of the latest date at or before ``today`` whose day is ``day``.

    This month when the day has come, otherwise the latest earlier month that has that day
    (at most two months back: of two consecutive months, one has 31 days).
    """
    if not 1 <= day <= 31:
        return None
    if day <= day_today:
        return today - (day_today - day)
    for _ in range(2):
        month -= 1
        if month == 0:
            year, month = year - 1, 12
        if day <= days_in_month(year, month):
            return epoch_seconds(year, month, day, 0, 0, 0) // 86400
    return None  # pragma: no cover - of two consecutive months one has 31 days


def decode_text(frame: bytes, now: float) -> list[Message]:
    """Decode one ``*...#`` frame (markers included). ``now``: server time, epoch seconds."""
    if frame[:1] != b"*" or frame[-1:] != b"#":
        raise DecodeError("text frame must start with '*' and end with '#'")
    text = frame[1:-1].decode("latin-1")
    if ",SMS," in text[:40]:
        parts = text.split(",", 3)
        if len(parts) == 4 and parts[2] == "SMS":
            message: Message = {PROTOCOL_ID: PROTOCOL_H02, MESSAGE_TYPE: "SMS"}
            ident = _ident(parts[1].strip())
            if ident:
                message[IDENT] = ident
            raw = frame[1:-1].split(b",", 3)[3]
            message[COMMAND_RESPONSE] = raw.decode("utf-8", "replace")
            return [message]
    try:
        return _decode_text_body(text, now)
    except (ValueError, IndexError, OverflowError) as err:  # a huge number: int -> float
        raise DecodeError(f"malformed text frame: {err}") from None


def text_reply(frame: bytes, messages: list[Message], now: float) -> bytes | None:
    """What the server sends back for a text frame (SPEC.md section 2.6), or None."""
    if not messages:
        return None
    message = messages[0]
    kind = message[MESSAGE_TYPE]
    if kind in {"V1", "NBR"}:
        return b"*HQ,%s,V4,%s,%s#" % (
            message.get(IDENT, "").encode(),
            kind.encode(),
            _ack_time(now),
        )
    if kind in {"HTBT", "V0"}:
        return heartbeat_echo(frame)
    return None


_ack_time_cache: list[tuple[int, bytes]] = [(-1, b"")]


def _ack_time(now: float) -> bytes:
    """``yyyyMMddHHmmss`` (UTC) of ``now``, formatted once per second."""
    second = int(now)
    cached_second, text = _ack_time_cache[0]
    if cached_second != second:
        text = b"%04d%02d%02d%02d%02d%02d" % utc_fields(now)
        _ack_time_cache[0] = (second, text)
    return text


def heartbeat_echo(frame: bytes) -> bytes:
    """The HTBT/V0 echo: the received frame up to and including its type, then ``#``."""
    head = frame[:-1].split(b",", 3)
    return b",".join(head[:3]) + b"#"


# --- binary ``$`` frames -------------------------------------------------------------------

BINARY_LENGTHS: Final = (32, 45, 46, 48)
"""Lengths of ``$`` frames with a 5-byte ID; a frame with an 8-byte ID is 42 bytes."""
BINARY_LONG_ID_LENGTH: Final = 42


def binary_id_length(header: bytes) -> int:
    """5 or 8 (bytes of device ID) from the first 15 bytes of a ``$`` frame; 0 if neither.

    The time and date that follow the ID must be valid BCD (hour < 24, minute and
    second < 60, day 1-31, month 1-12): this tells the two layouts apart.
    """
    if _valid_clock(header, 6):
        return 5
    if len(header) >= 15 and _valid_clock(header, 9):
        return 8
    return 0


def _valid_clock(data: bytes, offset: int) -> bool:
    if len(data) < offset + 5 or data[offset] > 0x23:  # hour 00-23: most garbage stops here
        return False
    digits = data[offset : offset + 5].hex()  # hhmmssddmm
    if len(digits) != 10 or not digits.isdigit():
        return False
    packed = int(digits)
    return (
        packed // 100_000_000 < 24
        and packed // 1_000_000 % 100 < 60
        and packed // 10_000 % 100 < 61
        and 1 <= packed // 100 % 100 <= 31
        and 1 <= packed % 100 <= 12
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
        enforce(message, _MOTION_KEYS)
    timestamp = _timestamp(digits[18 + o : 24 + o], digits[12 + o : 18 + o])
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
    """Bytes 29-44 of a 45-byte frame (SPEC.md section 3.2, inferred layout)."""
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
