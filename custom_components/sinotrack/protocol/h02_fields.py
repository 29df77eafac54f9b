"""H02 text fields: the readers of the comma-separated fields of ``*HQ`` frames.

Fields are recognised by position and shape: the position block (time, validity,
coordinates with their hemispheres, speed, course, date), the status word that follows it,
and the tails some firmware appends (cells, mileage, altitude, battery). See
docs/protocol.md sections 2.2 to 2.4.
"""

from __future__ import annotations

import math
from typing import Final

from .h02_binary import (
    KNOTS_TO_KMH,
    MOTION_KEYS,
    status_params,
    timestamp_of,
)
from .limits import (
    MAX_CELLID,
    MAX_DIGITS,
    MAX_DIRECTION,
    MAX_MNC,
    MAX_SPEED,
    bounded_int,
    enforce,
)
from .message import (
    ALTITUDE,
    BATTERY_LEVEL,
    DIRECTION,
    GSM_CELLID,
    GSM_LAC,
    GSM_MCC,
    GSM_MNC,
    LATITUDE,
    LONGITUDE,
    MILEAGE,
    SIM_ICCID,
    SPEED,
    TIMESTAMP,
    VALID,
    DecodeError,
    Message,
    battery_from_scale,
)

_HEX_DIGITS: Final = frozenset("0123456789abcdefABCDEF")


def is_hex(value: str) -> bool:
    return bool(value) and _HEX_DIGITS.issuperset(value)


def ident_field(value: str) -> str:
    if not value:
        return ""
    if len(value) > 24 or not value.isalnum() or not value.isascii():
        raise DecodeError(f"invalid device ID {value[:32]!r}")
    return value


def coordinate(value: str, hemisphere: str, positive: str, negative: str, limit: float) -> float:
    """Parse one coordinate in any of the three H02 forms (docs/protocol.md section 2.3)."""
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


def number_field(value: str, limit: float) -> float:
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


def find_position(fields: list[str], start: int) -> int:
    """Index of the hhmmss field of the position block, or -1 when there is none."""
    last = len(fields) - 6
    for index in range(start, last + 1):
        if fields[index + 3] in ("N", "S") and fields[index + 5] in ("E", "W"):
            return index
    return -1


def decode_position(fields: list[str], index: int, message: Message) -> int:
    """Decode hhmmss,S,lat,NS,lon,EW,speed,course[,battery],ddmmyy,status.

    Returns the index of the first field after the status word.
    """
    validity = fields[index + 1]
    message[VALID] = validity == "A" or validity.isdigit()
    message[LATITUDE] = coordinate(fields[index + 2], fields[index + 3], "N", "S", 90.0)
    message[LONGITUDE] = coordinate(fields[index + 4], fields[index + 5], "E", "W", 180.0)
    message[SPEED] = speed = round(number_field(fields[index + 6], 1000.0) * KNOTS_TO_KMH, 2)
    course = fields[index + 7]
    message[DIRECTION] = direction = (
        (int(course) if len(course) <= MAX_DIGITS else math.inf)
        if course.isdigit()
        else number_field(course, 360.5)
    )
    if speed > MAX_SPEED or direction > MAX_DIRECTION:
        enforce(message, MOTION_KEYS)
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
    timestamp = timestamp_of(date, fields[index])
    if timestamp is not None:
        message[TIMESTAMP] = timestamp
    # The status word follows, possibly after V19's SIM fields (phone/IP, ICCID).
    for probe in range(cursor, min(cursor + 4, count)):
        field = fields[probe]
        if len(field) == 8 and is_hex(field):
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


def decode_tail(tail: list[str], message: Message) -> None:
    """Firmware-specific fields after the status word (docs/protocol.md section 2.2)."""
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
        if is_hex(tail[4]) and is_hex(tail[5]):
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
    elif is_hex(mcc_text) and 200 <= bounded_int(mcc_text, radix=16) <= 799:
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
        if is_hex(lac_text) or not lac_text:
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


def decode_cells(message: Message, mcc: str, mnc: str, lac: str, cid: str) -> None:
    message[GSM_MCC] = bounded_int(mcc)
    message[GSM_MNC] = bounded_int(mnc)
    message[GSM_LAC] = bounded_int(lac)
    message[GSM_CELLID] = bounded_int(cid)
    enforce(message, _CELL_KEYS)


def count_field(value: str) -> int:
    """A count of repeated fields (two digits at most)."""
    value = value.strip()
    if len(value) > 2 or not value.isdigit():
        raise DecodeError(f"invalid count {value[:16]!r}")
    return int(value)


def battery_field(value: str, message: Message) -> None:
    value = value.strip()
    if value.isdigit() and len(value) <= 3:
        level = battery_from_scale(int(value))
        if level is not None:
            message[BATTERY_LEVEL] = level


def status_and_time(fields: list[str], date_index: int, time: str, message: Message) -> None:
    if date_index < len(fields):
        timestamp = timestamp_of(fields[date_index], time)
        if timestamp is not None:
            message[TIMESTAMP] = timestamp
    if date_index + 1 < len(fields):
        status = fields[date_index + 1]
        if len(status) == 8 and is_hex(status):
            message.update(status_params(int(status, 16)))


def battery_percent(value: str, message: Message) -> None:
    value = value.strip()
    if value.isdigit() and len(value) <= 3 and int(value) <= 100:
        message[BATTERY_LEVEL] = int(value)
