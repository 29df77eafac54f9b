"""The sample frames a tracker sends, one set for every suite that plays a tracker.

Written from the wire formats (``docs/protocol.md``), not with the codec's encoders; only the
JT/T 808 envelope (header, checksum, escaping) comes from the codec (``jt808.build_frame``),
whose own tests check it against frames built byte by byte.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from custom_components.sinotrack.protocol import jt808
from custom_components.sinotrack.protocol.message import utc_fields

from .defaults import JT808_OFFSET

# -- trackers ------------------------------------------------------------------------------

H02_ID: Final = "4210051415"
"""The H02 text tracker (and the tracker of a test config entry)."""
OTHER_ID: Final = "4210051416"
"""Another H02 tracker (one the test has no entry or sink for)."""
H02_BINARY_ID: Final = "4106011660"
"""The tracker of :data:`H02_BINARY`."""
JT808_ID: Final = "13912345678"
"""The JT/T 808 tracker."""
JT808_TERMINAL: Final = jt808.encode_terminal(JT808_ID)
"""Its terminal number as sent in the header (6 BCD bytes)."""

T0: Final = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
"""Device time of the first fix of most tests."""
NOW: Final = int(datetime(2024, 3, 15, 12, 34, 56, tzinfo=UTC).timestamp())
"""A fixed server time (UTC epoch seconds) for the tests that feed the codec directly."""

# -- H02 -------------------------------------------------------------------------------------

# H02 status word (active low; bit 10 set = ignition on).
STATUS_IDLE: Final = 0xFFFFFBFF
"""Nothing active, ignition off."""
BIT_SOS: Final = 1 << 18
BIT_POWER_CUT: Final = 1 << 19
BIT_GEOFENCE_IN: Final = 1 << 4
BIT_GEOFENCE_OUT: Final = 1 << 7
BIT_ACC: Final = 1 << 10


def h02_status(*active: int, acc: bool = False) -> str:
    """The status word with the given alarm bits active (cleared) and the ignition state."""
    status = STATUS_IDLE
    for bit in active:
        status &= ~bit
    if acc:
        status |= BIT_ACC
    return f"{status:08X}"


def _ddmm(value: float, width: int) -> str:
    degrees = int(abs(value))
    minutes = (abs(value) - degrees) * 60
    return f"{degrees:0{width}d}{minutes:07.4f}"


def h02_position(
    when: datetime = T0,
    *,
    latitude: float = 9.939781666,
    longitude: float = -84.11178,
    knots: float = 10.0,
    course: int = 90,
    valid: bool = True,
    status: str = "FFFFFBFF",
) -> str:
    """The position block of an H02 frame: ``hhmmss,A,lat,N,lon,E,knots,course,ddmmyy,status``."""
    return (
        f"{when:%H%M%S},{'A' if valid else 'V'},"
        f"{_ddmm(latitude, 2)},{'N' if latitude >= 0 else 'S'},"
        f"{_ddmm(longitude, 3)},{'E' if longitude >= 0 else 'W'},"
        f"{knots:06.2f},{course:03d},{when:%d%m%y},{status}"
    )


def h02_v1(
    when: datetime = T0,
    *,
    ident: str = H02_ID,
    tail: str = "712,01,0,0,6",
    **position: Any,
) -> bytes:
    """An H02 V1 position report (UTC device time), answered with a V4 reply;
    ``position``: see :func:`h02_position`."""
    return f"*HQ,{ident},V1,{h02_position(when, **position)},{tail}#".encode()


def h02_v1_replies(ident: str, since: float, until: float) -> set[bytes]:
    """Every V4 reply the server may send for a V1 received between ``since`` and ``until``."""
    return {
        b"*HQ,%s,V4,V1,%04d%02d%02d%02d%02d%02d#" % (ident.encode(), *utc_fields(second))
        for second in range(int(since), int(until) + 1)
    }


def h02_heartbeat(ident: str = H02_ID) -> bytes:
    """An H02 heartbeat; echoed back unchanged."""
    return f"*HQ,{ident},HTBT#".encode()


H02_BINARY: Final = bytes.fromhex(
    "2441060116601245431311165035313006004318210e000000fffffbffff0024"
)
"""A 32-byte H02 binary position (no reply expected): tracker 4106011660 at 50.58855 N
4.53035 E, 2016-11-13 12:45:43 UTC, 0 knots, battery 100 %."""

# -- JT/T 808 --------------------------------------------------------------------------------

JT808_SOS: Final = 1 << 0
JT808_OVERSPEED: Final = 1 << 1
JT808_FATIGUE: Final = 1 << 2
JT808_LOW_BATTERY: Final = 1 << 7
JT808_POWER_CUT: Final = 1 << 8
JT808_CRASH: Final = 1 << 29
JT808_ROLLOVER: Final = 1 << 30
JT808_ACC_FIXED: Final = 0b11
"""Status word: ignition on (bit 0), position fixed (bit 1)."""

JT808_REGISTER_BODY: Final = (
    (11).to_bytes(2)
    + (22).to_bytes(2)
    + b"MAKER"
    + b"MODEL123".ljust(20, b"\0")
    + b"DEV1234"
    + b"\x01ABC"
)
"""A 0x0100 registration body: province, city, maker, model, terminal ID, plate colour, plate."""


def item(item_id: int, value: bytes) -> bytes:
    """One additional-information item of a location body: id, length, value."""
    return bytes((item_id, len(value))) + value


def mileage_item(km: float) -> bytes:
    """0x01: the odometer, in 0.1 km."""
    return item(0x01, round(km * 10).to_bytes(4))


def area_item(enter: bool, area: int = 7) -> bytes:
    """0x12: a circular area (type 1) entered (0) or left (1)."""
    return item(0x12, b"\x01" + area.to_bytes(4) + (b"\x00" if enter else b"\x01"))


def jt808_location(
    when: datetime = T0,
    *,
    alarm: int = 0,
    status: int = JT808_ACC_FIXED,
    latitude: float = 22.54321,
    longitude: float = 114.05789,
    altitude: int = 12,
    speed: float = 34.5,
    direction: int = 90,
    items: bytes = b"",
) -> bytes:
    """A 0x0200 body; ``when`` is UTC, sent as the tracker's local (GMT+8) time."""
    local = when + JT808_OFFSET
    return (
        alarm.to_bytes(4)
        + status.to_bytes(4)
        + round(latitude * 1e6).to_bytes(4)
        + round(longitude * 1e6).to_bytes(4)
        + altitude.to_bytes(2)
        + round(speed * 10).to_bytes(2)
        + direction.to_bytes(2)
        + bytes.fromhex(f"{local:%y%m%d%H%M%S}")
        + items
    )


JT808_LOCATION_UTC: Final = 1705285800
"""2024-01-15 10:30:00 at GMT+8, in UTC epoch seconds: the time of :data:`JT808_LOCATION_BODY`."""
JT808_LOCATION_BODY: Final = jt808_location(
    datetime.fromtimestamp(JT808_LOCATION_UTC, UTC), status=0b10
)
"""A 0x0200 body: no alarm, position fixed, ignition off."""


def jt808_parse(frame: bytes) -> tuple[int, int, bytes]:
    """(message id, serial, body) of a JT/T 808 frame the server sent."""
    content = jt808.unescape(frame[1:-1])
    return int.from_bytes(content[0:2]), int.from_bytes(content[10:12]), content[12:-1]


def jt808_uplink(
    msg_id: int, serial: int, body: bytes = b"", terminal: bytes = JT808_TERMINAL
) -> bytes:
    """A JT/T 808 uplink of the tracker :data:`JT808_ID` (or ``terminal``)."""
    return jt808.build_frame(msg_id, terminal, serial, body)


def jt808_register(serial: int = 0) -> bytes:
    """A 0x0100 registration (answered with a 0x8100 that carries the auth code)."""
    return jt808_uplink(0x0100, serial, JT808_REGISTER_BODY)


def jt808_auth(serial: int = 1, code: str = JT808_ID) -> bytes:
    """A 0x0102 authentication with ``code`` (the one the 0x8100 issued, see issued_code)."""
    return jt808_uplink(0x0102, serial, code.encode())


def issued_code(reply: bytes) -> str:
    """The auth code a 0x8100 registration reply carries (body: serial, result 0, code)."""
    msg_id, _, body = jt808_parse(reply)
    assert msg_id == 0x8100
    assert body[2] == 0, "registration not accepted"
    return body[3:].decode()


def jt808_general_response(device_serial: int, msg_id: int, server_serial: int) -> bytes:
    """The 0x8001 the server must send for an uplink (result 0 = success)."""
    body = device_serial.to_bytes(2) + msg_id.to_bytes(2) + b"\x00"
    return jt808_uplink(0x8001, server_serial, body)
