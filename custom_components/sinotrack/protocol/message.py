"""Message model shared by the H02 and JT/T 808 decoders.

A decoded message is a flat ``dict`` keyed by flespi parameter names (``ident``,
``timestamp``, ``position.latitude``...), plus ``message.type`` and ``protocol.id``.
A parameter the frame does not carry is absent, never guessed.

Units: speed km/h, mileage km, altitude m, voltages V, ``timestamp`` in UTC seconds
since the Unix epoch (an ``int``).
"""

from __future__ import annotations

from typing import Any, Final

type Message = dict[str, Any]
"""One decoded message: flespi parameter name -> value."""


class ProtocolError(Exception):
    """Every error the codec raises is this type (or a subclass)."""


class FrameError(ProtocolError):
    """Bytes that cannot be a frame of the connection's protocol."""


class DecodeError(ProtocolError):
    """A well-delimited frame whose content cannot be decoded."""


class CommandError(ProtocolError):
    """A command that cannot be encoded (bad argument, unsupported by the protocol)."""


PROTOCOL_H02: Final = "h02"
PROTOCOL_JT808: Final = "jt808"

# Parameter names (flespi's where flespi has one).
IDENT: Final = "ident"
TIMESTAMP: Final = "timestamp"
MESSAGE_TYPE: Final = "message.type"
PROTOCOL_ID: Final = "protocol.id"
LATITUDE: Final = "position.latitude"
LONGITUDE: Final = "position.longitude"
SPEED: Final = "position.speed"
DIRECTION: Final = "position.direction"
ALTITUDE: Final = "position.altitude"
VALID: Final = "position.valid"
SATELLITES: Final = "position.satellites"
HDOP: Final = "position.hdop"
BATTERY_LEVEL: Final = "battery.level"
BATTERY_VOLTAGE: Final = "battery.voltage"
POWER_VOLTAGE: Final = "external.powersource.voltage"
IGNITION: Final = "engine.ignition.status"
MILEAGE: Final = "vehicle.mileage"
DEVICE_MODEL: Final = "device.model"
DEVICE_IMEI: Final = "device.imei"
VEHICLE_PLATE: Final = "vehicle.plate"
VEHICLE_PLATE_COLOR: Final = "vehicle.plate.color"
STATE_BITMASK: Final = "vehicle.state.bitmask"
ALARM_BITMASK: Final = "alarm.bitmask"
SEQNUM: Final = "event.seqnum"
GSM_MCC: Final = "gsm.mcc"
GSM_MNC: Final = "gsm.mnc"
GSM_LAC: Final = "gsm.lac"
GSM_CELLID: Final = "gsm.cellid"
GSM_SIGNAL: Final = "gsm.signal.level"
SIM_ICCID: Final = "gsm.sim.iccid"
ARCHIVE: Final = "message.archive"
"""True for fixes re-sent from the device's memory (blind-area / batch uploads)."""

SOS: Final = "sos.alarm"
POWER_CUT: Final = "power.cut.alarm"
CRASH: Final = "crash.event"
ROLLOVER: Final = "rollover.event"
OVERSPEED: Final = "overspeeding.event"
FATIGUE: Final = "fatigue.driving.status"
LOW_BATTERY: Final = "battery.low.alarm"
VIBRATION: Final = "vibration.alarm"
GEOFENCE_IN: Final = "geofence.in.alarm"
GEOFENCE_OUT: Final = "geofence.out.alarm"
GEOFENCE: Final = "geofence.alarm"
GNSS_ANTENNA_CUT: Final = "gnss.antenna.cut.alarm"
GNSS_ANTENNA_SHORT: Final = "gnss.antenna.short.alarm"
GNSS_FAULT: Final = "gnss.fault.alarm"
ILLEGAL_IGNITION: Final = "illegal.ignition.alarm"
BATTERY_REMOVED: Final = "battery.removed.alarm"
TEMPERATURE_ALARM: Final = "temperature.alarm"
THEFT: Final = "theft.alarm"
ILLEGAL_DISPLACEMENT: Final = "illegal.displacement.alarm"
DOOR_ILLEGAL_OPEN: Final = "door.illegal.open.alarm"
PARKING_TIMEOUT: Final = "parking.timeout.alarm"
DANGER_WARNING: Final = "danger.warning.alarm"
CUSTOM_ALARM: Final = "custom.alarm"
ENGINE_BLOCKED: Final = "engine.blocked.status"
ARMED: Final = "security.status"

# Replies to server commands.
COMMAND_CODE: Final = "command.code"
"""H02: the acknowledged command (``S20``, ``S32``, ``CR``...)."""
COMMAND_RESULT: Final = "command.result"
"""H02: the V4 result fields after the code; JT808 0x0001: the result name."""
COMMAND_TIME: Final = "command.time"
"""H02: the hhmmss the server put in the command, echoed by the device."""
COMMAND_REPLY_SERIAL: Final = "command.reply.serial"
"""JT808: serial number of the server message this answers."""
COMMAND_REPLY_ID: Final = "command.reply.id"
"""JT808: message id of the server message this answers."""
COMMAND_RESPONSE: Final = "command.response"
"""Free text the device sent back (H02 SMS, JT808 0x0701 / 0x6006 / 0x1300)."""


def battery_from_scale(raw: int) -> int | None:
    """Battery percentage from the device's battery byte or tail value.

    Values 1-6 are a coarse scale (1-3 -> 0, 10, 20 %; 4-6 -> 60, 80, 100 %), 7-100 are
    already a percentage, 0xF1-0xF6 carry the scale value in the low nibble.
    """
    if 1 <= raw <= 3:
        return (raw - 1) * 10
    if 4 <= raw <= 6:
        return (raw - 1) * 20
    if 7 <= raw <= 100:
        return raw
    if 0xF1 <= raw <= 0xF6:
        return battery_from_scale(raw - 0xF0)
    return None


# Days before each month in a non-leap year (index 1-12).
_DAYS_BEFORE_MONTH: Final = (0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334)


def days_in_month(year: int, month: int) -> int:
    """Days in a month of the proleptic Gregorian calendar."""
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def epoch_seconds(year: int, month: int, day: int, hour: int, minute: int, second: int) -> int:
    """UTC seconds since the epoch, computed arithmetically.

    Time-of-day fields roll over (``16:01:69`` is ``16:02:09``, as devices and Traccar's
    lenient calendar mean it) and a day past the end of its month rolls into the next
    month. Month must be 1-12 and day 1-31: anything else raises :class:`DecodeError`
    so that no timestamp is guessed.
    """
    if not 1 <= month <= 12 or not 1 <= day <= 31:
        raise DecodeError(f"invalid date {year:04d}-{month:02d}-{day:02d}")
    y = year - 1
    days = y * 365 + y // 4 - y // 100 + y // 400 - 719162  # days from 0001-01-01 to epoch
    days += _DAYS_BEFORE_MONTH[month] + day - 1
    if month > 2 and (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)):
        days += 1
    return days * 86400 + hour * 3600 + minute * 60 + second


def civil_from_days(days: int) -> tuple[int, int, int]:
    """(year, month, day) of a day count since the epoch (proleptic Gregorian)."""
    days += 719468
    era = days // 146097
    doe = days - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (month <= 2), month, day


def utc_fields(now: float) -> tuple[int, int, int, int, int, int]:
    """(year, month, day, hour, minute, second) in UTC of epoch seconds."""
    whole = int(now)
    year, month, day = civil_from_days(whole // 86400)
    seconds = whole % 86400
    return year, month, day, seconds // 3600, seconds // 60 % 60, seconds % 60


def normalize_ident(ident: str) -> str:
    """The form IDs are compared in: digits (and letters) without leading zeros.

    A JT/T 808 terminal number pads the same ID with zeros to 12 or 20 digits, so
    ``009180271064`` and ``9180271064`` are one tracker.
    """
    return ident.strip().lstrip("0") or "0"
