"""Uplink encoders of the simulated device: H02 text and binary, JT/T 808 bodies.

The project's codec (``custom_components.sinotrack.protocol``) is the server side: it
decodes uplinks and encodes replies and commands. These are the other direction, written
from the wire formats in the protocol reference; only the JT/T 808 envelope
(``jt808.build_frame``: header, checksum, escaping) is shared with the codec.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
import struct
import time
from typing import Final

KNOTS_TO_KMH: Final = 1.852


class AlarmKind(StrEnum):
    """Alarms the simulated tracker can raise."""

    SOS = "sos"
    POWER_CUT = "power_cut"
    CRASH = "crash"
    """JT/T 808 only: the H02 status word has no crash bit."""
    OVERSPEED = "overspeed"
    GEOFENCE_ENTER = "geofence_enter"
    GEOFENCE_EXIT = "geofence_exit"


@dataclass(frozen=True, slots=True)
class Fix:
    """One position report as the device generated it."""

    timestamp: int
    """UTC epoch seconds."""
    latitude: float
    longitude: float
    speed_kmh: float
    course: int
    ignition: bool
    mileage_km: float
    battery: int
    """Percent."""
    alarms: frozenset[AlarmKind] = frozenset()
    engine_blocked: bool = False
    armed: bool = False
    valid: bool = True
    satellites: int = 9
    signal: int = 24
    """GSM signal, CSQ 0-31."""
    altitude: int = 20
    seq: int = 0
    """Per-tracker fix counter (1 for the first fix generated)."""
    burst_index: int = -1
    """Position in a burst (0-based), -1 for a regular report."""
    replayed: bool = False
    """True when sent from the offline buffer after a reconnect."""


def battery_scale(percent: int) -> int:
    """The 1-6 battery scale of H02 position frames (6 = full) for a percentage."""
    if percent >= 90:
        return 6
    if percent >= 70:
        return 5
    if percent >= 50:
        return 4
    if percent >= 20:
        return 3
    if percent >= 10:
        return 2
    return 1


# --- H02 -----------------------------------------------------------------------------------

H02_IDLE_STATUS: Final = 0xFFFFFBFF
"""Active-low status word of a parked vehicle: only bit 10 (ACC) cleared = ignition off."""
_H02_ALARM_BITS: Final = {
    AlarmKind.SOS: (1 << 1) | (1 << 18),
    AlarmKind.POWER_CUT: 1 << 19,
    AlarmKind.OVERSPEED: 1 << 2,
    AlarmKind.GEOFENCE_ENTER: 1 << 4,
    AlarmKind.GEOFENCE_EXIT: 1 << 7,
}
H02_ALARMS: Final = frozenset(_H02_ALARM_BITS)
"""Alarms an H02 frame can carry."""
_H02_ACC: Final = 1 << 10
_H02_ARMED: Final = 1 << 9
_H02_ENGINE_CUT: Final = 1 << 27
_MCC: Final = 460
_MNC: Final = 0
_LAC: Final = 9520
_CELL: Final = 3671


def h02_status(fix: Fix) -> int:
    """The active-low H02 status word: a cleared bit is an active condition."""
    status = 0xFFFFFFFF
    if not fix.ignition:
        status &= ~_H02_ACC
    if fix.armed:
        status &= ~_H02_ARMED
    if fix.engine_blocked:
        status &= ~_H02_ENGINE_CUT
    for alarm in fix.alarms:
        status &= ~_H02_ALARM_BITS.get(alarm, 0)
    return status


def _minutes(value: float, degree_digits: int) -> tuple[str, str]:
    """(degrees, minutes in 1/10000) of ``abs(value)`` as digit strings, rounded once."""
    units = round(abs(value) * 600_000)  # 1/10000 minute
    degrees, rest = divmod(units, 600_000)
    return f"{degrees:0{degree_digits}d}", f"{rest:06d}"


def _clock(timestamp: int) -> tuple[str, str]:
    """(hhmmss, ddmmyy) in UTC."""
    t = time.gmtime(timestamp)
    return (
        f"{t.tm_hour:02d}{t.tm_min:02d}{t.tm_sec:02d}",
        f"{t.tm_mday:02d}{t.tm_mon:02d}{t.tm_year % 100:02d}",
    )


def _h02_position_block(fix: Fix) -> str:
    """``hhmmss,A,lat,N,lon,E,speed,course,ddmmyy,STATUS``."""
    hhmmss, ddmmyy = _clock(fix.timestamp)
    lat_deg, lat_min = _minutes(fix.latitude, 2)
    lon_deg, lon_min = _minutes(fix.longitude, 3)
    return (
        f"{hhmmss},{'A' if fix.valid else 'V'},"
        f"{lat_deg}{lat_min[:2]}.{lat_min[2:]},{'N' if fix.latitude >= 0 else 'S'},"
        f"{lon_deg}{lon_min[:2]}.{lon_min[2:]},{'E' if fix.longitude >= 0 else 'W'},"
        f"{fix.speed_kmh / KNOTS_TO_KMH:06.2f},{fix.course % 360:03d},{ddmmyy},"
        f"{h02_status(fix):08X}"
    )


def h02_position(ident: str, fix: Fix) -> bytes:
    """A V1 position frame with the Sinotrack cell and battery-scale tail."""
    return (
        f"*HQ,{ident},V1,{_h02_position_block(fix)},"
        f"{_MCC},{_MNC},{_LAC},{_CELL},{battery_scale(fix.battery)}#"
    ).encode("ascii")


def h02_heartbeat(ident: str, battery: int) -> bytes:
    """``*HQ,<ID>,HTBT,<battery %>#``."""
    return f"*HQ,{ident},HTBT,{battery}#".encode("ascii")


def h02_reply(ident: str, code: str, results: Sequence[str], command_time: str, fix: Fix) -> bytes:
    """A V4 command reply: code, results, the command's time, then the position block."""
    head = ",".join((code, *results, command_time))
    return f"*HQ,{ident},V4,{head},{_h02_position_block(fix)}#".encode("ascii")


def h02_binary_position(ident: str, fix: Fix) -> bytes:
    """A 32-byte ``$`` frame: BCD ID, time, date, coordinates, speed, course, status."""
    if len(ident) != 10 or not ident.isdigit():
        raise ValueError(f"H02 binary frames need a 10-digit ID, not {ident!r}")
    hhmmss, ddmmyy = _clock(fix.timestamp)
    lat_deg, lat_min = _minutes(fix.latitude, 2)
    lon_deg, lon_min = _minutes(fix.longitude, 3)
    flags = (0x2 if fix.valid else 0) | (0x4 if fix.latitude >= 0 else 0)
    flags |= 0x8 if fix.longitude >= 0 else 0
    knots = min(999, round(fix.speed_kmh / KNOTS_TO_KMH))
    return b"".join(
        (
            b"$",
            bytes.fromhex(f"{ident}{hhmmss}{ddmmyy}{lat_deg}{lat_min}"),
            bytes((battery_scale(fix.battery),)),
            bytes.fromhex(f"{lon_deg}{lon_min}{flags:x}{knots:03d}{fix.course % 360:03d}"),
            h02_status(fix).to_bytes(4),
            bytes((0xFF, 0x00, fix.seq & 0xFF)),
        )
    )


# --- JT/T 808 ------------------------------------------------------------------------------

# Uplink message ids.
TERMINAL_RESPONSE: Final = 0x0001
HEARTBEAT: Final = 0x0002
REGISTER: Final = 0x0100
AUTHENTICATE: Final = 0x0102
LOCATION: Final = 0x0200
POSITION_REPLY: Final = 0x0201
LOCATION_BATCH: Final = 0x0704
TEXT_REPLY: Final = 0x6006
# Downlink message ids.
GENERAL_RESPONSE: Final = 0x8001
REGISTER_RESPONSE: Final = 0x8100
SET_PARAMETERS: Final = 0x8103
TERMINAL_CONTROL: Final = 0x8105
POSITION_QUERY: Final = 0x8201
TEXT_MESSAGE: Final = 0x8300

RESULT_SUCCESS: Final = 0
RESULT_UNSUPPORTED: Final = 3
REGISTER_TERMINAL_ALREADY_REGISTERED: Final = 3
"""0x8100 result: the server holds an auth code for this terminal and sends none."""

_JT808_ALARM_BITS: Final = {
    AlarmKind.SOS: 1 << 0,
    AlarmKind.OVERSPEED: 1 << 1,
    AlarmKind.POWER_CUT: 1 << 8,
    AlarmKind.GEOFENCE_ENTER: 1 << 20,
    AlarmKind.GEOFENCE_EXIT: 1 << 20,
    AlarmKind.CRASH: 1 << 29,
}
JT808_ALARMS: Final = frozenset(_JT808_ALARM_BITS)
GEOFENCE_AREA_ID: Final = 1
_BASIC: Final = struct.Struct(">IIIIhHH")
MAX_BODY: Final = 1023


def jt808_alarm_word(fix: Fix) -> int:
    """Alarm DWORD (1 = active)."""
    alarm = 0
    for kind in fix.alarms:
        alarm |= _JT808_ALARM_BITS.get(kind, 0)
    return alarm


def jt808_status_word(fix: Fix) -> int:
    """Status DWORD: ACC, fix, S/W hemispheres, oil cut, GPS used."""
    status = 1 << 18  # GPS used
    if fix.ignition:
        status |= 1 << 0
    if fix.valid:
        status |= 1 << 1
    if fix.latitude < 0:
        status |= 1 << 2
    if fix.longitude < 0:
        status |= 1 << 3
    if fix.engine_blocked:
        status |= 1 << 10
    return status


def bcd_time(timestamp: int, utc_offset: float) -> bytes:
    """6-byte BCD ``YYMMDDhhmmss`` of the local time ``utc_offset`` hours from UTC."""
    t = time.gmtime(timestamp + round(utc_offset * 3600))
    return bytes.fromhex(
        f"{t.tm_year % 100:02d}{t.tm_mon:02d}{t.tm_mday:02d}"
        f"{t.tm_hour:02d}{t.tm_min:02d}{t.tm_sec:02d}"
    )


def jt808_location_body(fix: Fix, utc_offset: float) -> bytes:
    """A 0x0200 body: the basic block, then mileage, signal, satellites, battery items."""
    body = [
        _BASIC.pack(
            jt808_alarm_word(fix),
            jt808_status_word(fix),
            round(abs(fix.latitude) * 1e6),
            round(abs(fix.longitude) * 1e6),
            fix.altitude,
            min(0xFFFF, round(fix.speed_kmh * 10)),
            fix.course % 360,
        ),
        bcd_time(fix.timestamp, utc_offset),
        b"\x01\x04" + round(fix.mileage_km * 10).to_bytes(4),
        bytes((0x30, 1, fix.signal, 0x31, 1, fix.satellites, 0xE4, 2, 0, fix.battery)),
    ]
    if AlarmKind.GEOFENCE_EXIT in fix.alarms or AlarmKind.GEOFENCE_ENTER in fix.alarms:
        leaving = AlarmKind.GEOFENCE_EXIT in fix.alarms
        body.append(b"\x12\x06\x01" + GEOFENCE_AREA_ID.to_bytes(4) + bytes((int(leaving),)))
    return b"".join(body)


def jt808_batch_bodies(fixes: Iterable[Fix], utc_offset: float) -> list[bytes]:
    """0x0704 blind-area batches (type 1) of the fixes, each body within 1023 bytes."""
    bodies: list[bytes] = []
    items: list[bytes] = []
    size = 3
    for fix in fixes:
        item = jt808_location_body(fix, utc_offset)
        item = len(item).to_bytes(2) + item
        if size + len(item) > MAX_BODY:
            bodies.append(len(items).to_bytes(2) + b"\x01" + b"".join(items))
            items, size = [], 3
        items.append(item)
        size += len(item)
    if items:
        bodies.append(len(items).to_bytes(2) + b"\x01" + b"".join(items))
    return bodies


def jt808_register_body(ident: str) -> bytes:
    """0x0100 (2013): province, city, maker, model, terminal id, plate colour 0, no plate."""
    return b"".join(
        (
            (44).to_bytes(2),  # Guangdong
            (303).to_bytes(2),  # Shenzhen
            b"SINOT",
            b"ST-903".ljust(20, b"\x00"),
            ident[-7:].rjust(7, "0").encode("ascii"),
            b"\x00",
        )
    )


def jt808_response_body(serial: int, msg_id: int, result: int) -> bytes:
    """0x0001 terminal general response."""
    return serial.to_bytes(2) + msg_id.to_bytes(2) + bytes((result,))


def jt808_text_reply_body(text: str) -> bytes:
    """0x6006 text reply: encoding byte 0 (ASCII/GBK), then the text."""
    return b"\x00" + text.encode("gbk", "replace")
