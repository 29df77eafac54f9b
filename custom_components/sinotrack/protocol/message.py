"""The names module: every parameter name, the message type, the codec's errors.

A decoded message is a flat ``dict`` keyed by flespi parameter names (``ident``,
``timestamp``, ``position.latitude``...), plus ``message.type`` and ``protocol.id``.
A parameter the frame does not carry is absent, never guessed.

Every name is a constant here, and nowhere else in the integration is one spelt out.
:data:`Message` is a ``TypedDict`` (a plain ``dict`` at run time) so that mypy checks each
key and its value's type; :data:`Flag`, :data:`Measure` and :data:`Key` type a name chosen
at run time (a table of status bits, the ranges of ``limits``).

Units: speed km/h, mileage km, altitude m, voltages V, ``timestamp`` in UTC seconds
since the Unix epoch (an ``int``).
"""

from __future__ import annotations

from typing import Final, Literal, TypedDict


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

# -- parameter names (flespi's where flespi has one) -----------------------------------------

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
ALARM_CODE: Final = "alarm.code"
"""H02 ``ALRM``: the alarm number the device sent."""
SEQNUM: Final = "event.seqnum"
GSM_MCC: Final = "gsm.mcc"
GSM_MNC: Final = "gsm.mnc"
GSM_LAC: Final = "gsm.lac"
GSM_CELLID: Final = "gsm.cellid"
GSM_SIGNAL: Final = "gsm.signal.level"
SIM_ICCID: Final = "gsm.sim.iccid"
GEOFENCE_ID: Final = "geofence.id"
"""JT/T 808 item 0x12: the area whose border was crossed."""
PROVINCE_ID: Final = "province.id"
CITY_ID: Final = "city.id"
MANUFACTURER: Final = "manufacturer.code"
MANUFACTURER_DEVICE: Final = "manufacturer.device.code"
ARCHIVE: Final = "message.archive"
"""True for fixes re-sent from the device's memory (blind-area / batch uploads)."""

# Alarms and conditions (booleans).
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
ANALOG_OVERLIMIT: Final = "analog.overlimit.alarm"
PASSWORD_WRONG: Final = "password.wrong.alarm"  # noqa: S105 - a parameter name
GPRS_BLOCKED: Final = "gprs.blocked.alarm"
LCD_FAULT: Final = "lcd.fault.alarm"
TTS_FAULT: Final = "tts.fault.alarm"
CAMERA_FAULT: Final = "camera.fault.alarm"
ICCARD_FAULT: Final = "iccard.fault.alarm"
OVERSPEED_WARNING: Final = "overspeed.warning.alarm"
FATIGUE_WARNING: Final = "fatigue.warning.alarm"
VENDOR_15: Final = "vendor.15.alarm"
VENDOR_16: Final = "vendor.16.alarm"
VENDOR_17: Final = "vendor.17.alarm"
DRIVING_TIME_EXCEEDED: Final = "driving.time.exceeded.alarm"
ROUTE_ALARM: Final = "route.alarm"
ROUTE_TIME: Final = "route.time.alarm"
ROUTE_DEVIATION: Final = "route.deviation.alarm"
VSS_FAULT: Final = "vss.fault.alarm"
FUEL_ABNORMAL: Final = "fuel.abnormal.alarm"
ENGINE_BLOCKED: Final = "engine.blocked.status"
ELECTRIC_BLOCKED: Final = "electric.blocked.status"
ARMED: Final = "security.status"
DOOR_OPEN: Final = "door.open.status"
DOOR_LOCKED: Final = "door.locked.status"
SENSOR_HIGH_1: Final = "sensor.high.1.status"
SENSOR_HIGH_2: Final = "sensor.high.2.status"
SENSOR_LOW_1: Final = "sensor.low.1.status"
SENSOR_LOW_2: Final = "sensor.low.2.status"
GPS_USED: Final = "gps.satellites.status"
BEIDOU_USED: Final = "beidou.satellites.status"
GLONASS_USED: Final = "glonass.satellites.status"
GALILEO_USED: Final = "galileo.satellites.status"
MOVING: Final = "movement.status"

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

DROPPED: Final = "_dropped"
"""Private key: descriptions of the values a decoder dropped from a message. The connection
removes it (``limits.finish_message``); it never leaves the codec."""

# -- the message type ---------------------------------------------------------------------
# Literal keys below (a TypedDict or a Literal cannot name the constants above); mypy checks
# every use of a constant as a key against them, so a misspelt pair does not pass.

Message = TypedDict(
    "Message",
    {
        "ident": str,
        "timestamp": int,
        "message.type": str,
        "protocol.id": str,
        "position.latitude": float,
        "position.longitude": float,
        "position.speed": float,
        "position.direction": float,
        "position.altitude": float,
        "position.valid": bool,
        "position.satellites": float,
        "position.hdop": float,
        "battery.level": float,
        "battery.voltage": float,
        "external.powersource.voltage": float,
        "engine.ignition.status": bool,
        "vehicle.mileage": float,
        "device.model": str,
        "device.imei": str,
        "vehicle.plate": str,
        "vehicle.plate.color": int,
        "vehicle.state.bitmask": int,
        "alarm.bitmask": int,
        "alarm.code": int,
        "event.seqnum": int,
        "gsm.mcc": float,
        "gsm.mnc": float,
        "gsm.lac": float,
        "gsm.cellid": float,
        "gsm.signal.level": float,
        "gsm.sim.iccid": str,
        "geofence.id": int,
        "province.id": int,
        "city.id": int,
        "manufacturer.code": str,
        "manufacturer.device.code": str,
        "message.archive": bool,
        "sos.alarm": bool,
        "power.cut.alarm": bool,
        "crash.event": bool,
        "rollover.event": bool,
        "overspeeding.event": bool,
        "fatigue.driving.status": bool,
        "battery.low.alarm": bool,
        "vibration.alarm": bool,
        "geofence.in.alarm": bool,
        "geofence.out.alarm": bool,
        "geofence.alarm": bool,
        "gnss.antenna.cut.alarm": bool,
        "gnss.antenna.short.alarm": bool,
        "gnss.fault.alarm": bool,
        "illegal.ignition.alarm": bool,
        "battery.removed.alarm": bool,
        "temperature.alarm": bool,
        "theft.alarm": bool,
        "illegal.displacement.alarm": bool,
        "door.illegal.open.alarm": bool,
        "parking.timeout.alarm": bool,
        "danger.warning.alarm": bool,
        "custom.alarm": bool,
        "analog.overlimit.alarm": bool,
        "password.wrong.alarm": bool,
        "gprs.blocked.alarm": bool,
        "lcd.fault.alarm": bool,
        "tts.fault.alarm": bool,
        "camera.fault.alarm": bool,
        "iccard.fault.alarm": bool,
        "overspeed.warning.alarm": bool,
        "fatigue.warning.alarm": bool,
        "vendor.15.alarm": bool,
        "vendor.16.alarm": bool,
        "vendor.17.alarm": bool,
        "driving.time.exceeded.alarm": bool,
        "route.alarm": bool,
        "route.time.alarm": bool,
        "route.deviation.alarm": bool,
        "vss.fault.alarm": bool,
        "fuel.abnormal.alarm": bool,
        "engine.blocked.status": bool,
        "electric.blocked.status": bool,
        "security.status": bool,
        "door.open.status": bool,
        "door.locked.status": bool,
        "sensor.high.1.status": bool,
        "sensor.high.2.status": bool,
        "sensor.low.1.status": bool,
        "sensor.low.2.status": bool,
        "gps.satellites.status": bool,
        "beidou.satellites.status": bool,
        "glonass.satellites.status": bool,
        "galileo.satellites.status": bool,
        "movement.status": bool,
        "command.code": str,
        "command.result": str,
        "command.time": str,
        "command.reply.serial": int,
        "command.reply.id": int,
        "command.response": str,
        "_dropped": list[str],
    },
    total=False,
)
"""One decoded message: parameter name -> value; a plain ``dict`` at run time."""

type Measure = Literal[
    "position.speed",
    "position.direction",
    "position.altitude",
    "position.satellites",
    "position.hdop",
    "gsm.signal.level",
    "gsm.mcc",
    "gsm.mnc",
    "gsm.lac",
    "gsm.cellid",
    "vehicle.mileage",
    "battery.level",
    "battery.voltage",
    "external.powersource.voltage",
]
"""Parameters with a plausible range (``limits.RANGES``): numbers."""

type Flag = Literal[
    "engine.ignition.status",
    "position.valid",
    "sos.alarm",
    "power.cut.alarm",
    "crash.event",
    "rollover.event",
    "overspeeding.event",
    "fatigue.driving.status",
    "battery.low.alarm",
    "vibration.alarm",
    "geofence.in.alarm",
    "geofence.out.alarm",
    "geofence.alarm",
    "gnss.antenna.cut.alarm",
    "gnss.antenna.short.alarm",
    "gnss.fault.alarm",
    "illegal.ignition.alarm",
    "battery.removed.alarm",
    "temperature.alarm",
    "theft.alarm",
    "illegal.displacement.alarm",
    "door.illegal.open.alarm",
    "parking.timeout.alarm",
    "danger.warning.alarm",
    "custom.alarm",
    "analog.overlimit.alarm",
    "password.wrong.alarm",
    "gprs.blocked.alarm",
    "lcd.fault.alarm",
    "tts.fault.alarm",
    "camera.fault.alarm",
    "iccard.fault.alarm",
    "overspeed.warning.alarm",
    "fatigue.warning.alarm",
    "vendor.15.alarm",
    "vendor.16.alarm",
    "vendor.17.alarm",
    "driving.time.exceeded.alarm",
    "route.alarm",
    "route.time.alarm",
    "route.deviation.alarm",
    "vss.fault.alarm",
    "fuel.abnormal.alarm",
    "engine.blocked.status",
    "electric.blocked.status",
    "security.status",
    "door.open.status",
    "door.locked.status",
    "sensor.high.1.status",
    "sensor.high.2.status",
    "sensor.low.1.status",
    "sensor.low.2.status",
    "gps.satellites.status",
    "beidou.satellites.status",
    "glonass.satellites.status",
    "galileo.satellites.status",
    "movement.status",
]
"""Parameters that are booleans (alarm and status bits)."""

type Key = Literal[
    Measure,
    Flag,
    "ident",
    "timestamp",
    "message.type",
    "protocol.id",
    "position.latitude",
    "position.longitude",
    "device.model",
    "device.imei",
    "vehicle.plate",
    "vehicle.plate.color",
    "vehicle.state.bitmask",
    "alarm.bitmask",
    "alarm.code",
    "event.seqnum",
    "gsm.sim.iccid",
    "geofence.id",
    "province.id",
    "city.id",
    "manufacturer.code",
    "manufacturer.device.code",
    "message.archive",
    "command.code",
    "command.result",
    "command.time",
    "command.reply.serial",
    "command.reply.id",
    "command.response",
]
"""Every parameter name (all but the private ``DROPPED``): for a key chosen at run time."""


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
