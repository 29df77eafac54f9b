"""H02 decoders: text frames (``*HQ,...#``) by type, their replies, and binary ``$`` frames.

This module decodes each text type and answers it; the fields of text frames are read in
:mod:`.h02_fields`, binary frames and the status word in :mod:`.h02_binary`.

Decisions beyond the wire format (see docs/protocol.md sections 2 and 3):

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

from typing import Final

# Binary frames and the status word live in h02_binary; these names are part of this
# module's interface too.
from .h02_binary import (
    BINARY_LENGTHS as BINARY_LENGTHS,  # noqa: PLC0414
    BINARY_LONG_ID_LENGTH as BINARY_LONG_ID_LENGTH,  # noqa: PLC0414
    KNOTS_TO_KMH as KNOTS_TO_KMH,  # noqa: PLC0414
    MOTION_KEYS,
    STATUS_BITS as STATUS_BITS,  # noqa: PLC0414
    binary_id_length as binary_id_length,  # noqa: PLC0414
    decode_binary as decode_binary,  # noqa: PLC0414
    status_params as status_params,  # noqa: PLC0414
    time_of_day,
    timestamp_of,
)
from .h02_fields import (
    battery_field,
    battery_percent,
    coordinate,
    count_field,
    decode_cells,
    decode_position,
    decode_tail,
    find_position,
    ident_field,
    is_hex,
    number_field,
    status_and_time,
)
from .limits import (
    bounded_float,
    bounded_int,
    enforce,
    put,
)
from .message import (
    ALARM_CODE,
    ARCHIVE,
    BATTERY_LEVEL,
    COMMAND_CODE,
    COMMAND_RESPONSE,
    COMMAND_RESULT,
    COMMAND_TIME,
    DIRECTION,
    GEOFENCE,
    GSM_SIGNAL,
    IDENT,
    LATITUDE,
    LONGITUDE,
    LOW_BATTERY,
    MESSAGE_TYPE,
    MILEAGE,
    PROTOCOL_H02,
    PROTOCOL_ID,
    SATELLITES,
    SOS,
    SPEED,
    TIMESTAMP,
    VALID,
    DecodeError,
    Flag,
    Message,
    civil_from_days,
    days_in_month,
    epoch_seconds,
    utc_fields,
)

MAX_BATCH_SEGMENTS: Final = 96
"""Segments decoded from one ``BC`` blind-spot batch; the rest are reported, not decoded.
A segment is at least about 45 bytes (70 with its cell fields), so a frame of the default
4 KiB limit never holds more: the cap bounds the work of one frame when a larger frame
limit is configured, without cutting a batch of the default size."""


def _decode_v4(fields: list[str], message: Message) -> int:
    """V4: command acknowledgement, optionally followed by a position block."""
    if len(fields) < 4:
        raise DecodeError("V4 without a command code")
    message[COMMAND_CODE] = fields[3].strip()
    position = find_position(fields, 5)
    if position < 0:
        results = fields[4:]
        if results and time_of_day(results[-1]) is not None and len(results) > 1:
            message[COMMAND_TIME] = results[-1]
            results = results[:-1]
        message[COMMAND_RESULT] = ",".join(results)
        _mileage_reply(message, results)
        return len(fields)
    results = fields[4 : position - 1]
    message[COMMAND_TIME] = fields[position - 1]
    message[COMMAND_RESULT] = ",".join(results)
    _mileage_reply(message, results)
    return decode_position(fields, position, message)


def _mileage_reply(message: Message, results: list[str]) -> None:
    if message[COMMAND_CODE] == "S32" and results:
        value = results[0].strip()
        if value.replace(".", "", 1).isdigit():
            put(message, MILEAGE, bounded_float(value))


def _decode_nbr(fields: list[str], message: Message) -> None:
    """NBR,hhmmss,mcc,mnc,ta,count,(lac,cid,rxlev)*count,ddmmyy,status[,battery]."""
    count = count_field(fields[7])
    end = 8 + 3 * count
    if not 0 <= count <= 64 or end >= len(fields):
        raise DecodeError("NBR cell count does not match its fields")
    if count:
        decode_cells(message, fields[4], fields[5], fields[8], fields[9])
    status_and_time(fields, end, fields[3], message)
    if end + 2 < len(fields):
        battery_field(fields[end + 2], message)


def _decode_link(fields: list[str], message: Message) -> None:
    """LINK,hhmmss,rssi,satellites,battery%,steps,turnovers,ddmmyy,status."""
    if len(fields) < 11:
        raise DecodeError("LINK frame too short")
    put(message, GSM_SIGNAL, bounded_int(fields[4]))
    put(message, SATELLITES, bounded_int(fields[5]))
    put(message, BATTERY_LEVEL, bounded_int(fields[6]))
    status_and_time(fields, 9, fields[3], message)


def _decode_v3(fields: list[str], message: Message) -> None:
    """V3,hhmmss,MCCMNC,count,(lac,cid,rxlev,ta)*count,battery,reboot,X,ddmmyy,status."""
    operator = fields[4]
    count = count_field(fields[5])
    end = 6 + 4 * count
    if not 0 <= count <= 64 or end + 3 >= len(fields) or len(operator) < 4:
        raise DecodeError("V3 cell count does not match its fields")
    if count:
        decode_cells(message, operator[:3], operator[3:], fields[6], fields[7])
    status_and_time(fields, end + 3, fields[3], message)


def _decode_vp1(fields: list[str], message: Message) -> None:
    """VP1: ``A|B,lat,NS,lon,EW,speed,course,ddmmyy[,status,battery]`` or LBS cells."""
    if len(fields) < 8:
        raise DecodeError("VP1 frame too short")
    if fields[3] == "V":
        cell = fields[7].split("Y", 1)[0]
        decode_cells(message, fields[4], fields[5], fields[6], cell)
        return
    if len(fields) < 11:
        raise DecodeError("VP1 frame too short")
    message[VALID] = fields[3] == "A"
    message[LATITUDE] = coordinate(fields[4], fields[5], "N", "S", 90.0)
    message[LONGITUDE] = coordinate(fields[6], fields[7], "E", "W", 180.0)
    message[SPEED] = round(number_field(fields[8], 1000.0) * KNOTS_TO_KMH, 2)
    message[DIRECTION] = number_field(fields[9], 360.5)
    enforce(message, MOTION_KEYS)
    timestamp = timestamp_of(fields[10], "000000")
    if timestamp is not None:
        message[TIMESTAMP] = timestamp
    if len(fields) > 11 and len(fields[11]) == 8 and is_hex(fields[11]):
        message.update(status_params(int(fields[11], 16)))
    if len(fields) > 12:
        battery_field(fields[12], message)


_ALRM_TYPES: Final[dict[str, Flag]] = {"1": SOS, "2": LOW_BATTERY, "3": GEOFENCE}


def _decode_text_body(text: str, now: float) -> list[Message]:
    fields = text.split(",")
    if len(fields) < 3:
        raise DecodeError("text frame without a type")
    kind = fields[2].strip().upper()
    message: Message = {PROTOCOL_ID: PROTOCOL_H02, MESSAGE_TYPE: kind}
    ident = ident_field(fields[1].strip())
    if ident:
        message[IDENT] = ident
    if kind in {"V1", "V5", "V6", "V2", "V8"}:
        position = 3 if len(fields) > 8 and fields[6] in ("N", "S") else find_position(fields, 3)
        if position < 0:
            raise DecodeError(f"{kind} frame without a position")
        decode_tail(fields[decode_position(fields, position, message) :], message)
    elif kind == "V4":
        _decode_v4(fields, message)
    elif kind in {"HTBT", "V0"}:
        if len(fields) > 3:
            battery_percent(fields[3], message)
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
        position = find_position(fields, 3)
        if position < 0:
            raise DecodeError(f"unsupported text message type {kind[:16]!r}")
        decode_tail(fields[decode_position(fields, position, message) :], message)
    return [message]


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
        decode_position([stamp[2:], *parts[0:7]], 0, message)
        if len(stamp) == 8 and stamp.isdigit():
            seconds = time_of_day(stamp[2:])
            day = _recent_day(today, year, month, day_today, int(stamp[:2]))
            if seconds is not None and day is not None:
                message[TIMESTAMP] = day * 86400 + seconds
        if len(parts[8]) == 8 and is_hex(parts[8]):
            message.update(status_params(int(parts[8], 16)))
        if len(parts) >= 13:
            decode_tail(parts[9:13], message)
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
            ident = ident_field(parts[1].strip())
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
    """What the server sends back for a text frame (docs/protocol.md section 2.6), or None."""
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
