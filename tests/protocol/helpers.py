"""Frame builders for the codec tests, written from docs/protocol.md and independent of the codec.

The tests build their own frames with these instead of the codec's encoders, so that a bug
in an encoder cannot hide the same bug in the decoder.
"""

from __future__ import annotations

from datetime import datetime
from functools import reduce
from typing import Final

from custom_components.sinotrack.protocol import Decoded, Event, Message, Rejected


def epoch(text: str) -> int:
    """UTC epoch seconds of an ISO time such as ``2024-03-15T12:34:56Z``."""
    return int(datetime.fromisoformat(text).timestamp())


# --- H02 ------------------------------------------------------------------------------------


def binary_frame(
    *,
    ident: str = "9170000001",
    clock: str = "123456",
    date: str = "150324",
    lat: str = "22351777",
    battery: int = 0x06,
    lon: str = "113578913",
    flags: int = 0xE,
    speed: str = "010",
    course: str = "090",
    status: int = 0xFFFFFBFF,
    tail: bytes = b"\xff\x00\x07",
) -> bytes:
    """An H02 ``$`` frame (docs/protocol.md section 3.1): 29 fixed bytes, then ``tail``.

    ``ident`` is 10 digits (5-byte ID) or 16 nibbles (8-byte ID, 42-byte frames).
    """
    digits = ident + clock + date + lat + f"{battery:02x}" + lon + f"{flags:x}" + speed + course
    return b"$" + bytes.fromhex(digits) + status.to_bytes(4, "big") + tail


def binary_tail_45(
    *,
    signal: int = 0x14,
    satellites: int = 6,
    mileage: int = 0,
    mcc: int = 460,
    mnc: int = 0,
    lac: int = 0x262B,
    cid: int = 0x0F17,
    seq: int = 0x0A,
) -> bytes:
    """Bytes 29-44 of a 45-byte ``$`` frame (docs/protocol.md section 3.2)."""
    return (
        b"\xff\x00"
        + bytes((signal, satellites))
        + mileage.to_bytes(4, "big")
        + mcc.to_bytes(2, "big")
        + bytes((mnc,))
        + lac.to_bytes(2, "big")
        + cid.to_bytes(2, "big")
        + bytes((seq,))
    )


# --- JT/T 808 -------------------------------------------------------------------------------


def xor(data: bytes) -> int:
    return reduce(lambda a, b: a ^ b, data, 0)


def jt808_escape(data: bytes) -> bytes:
    out = bytearray()
    for byte in data:
        if byte == 0x7E:
            out += b"\x7d\x02"
        elif byte == 0x7D:
            out += b"\x7d\x01"
        else:
            out.append(byte)
    return bytes(out)


def jt808_content(
    msg_id: int,
    terminal: str,
    serial: int,
    body: bytes,
    *,
    version: int | None = None,
    packet: tuple[int, int] | None = None,
    declared_length: int | None = None,
    checksum: int | None = None,
) -> bytes:
    """Un-escaped bytes between the delimiters: header, body, checksum (docs/protocol.md 4.1).

    ``terminal`` is the terminal number as hex (12 digits, or 20 with ``version``);
    ``version`` makes a 2019 header; ``packet`` = (total, index) sets the sub-package bit.
    """
    attr = len(body) if declared_length is None else declared_length
    if packet is not None:
        attr |= 0x2000
    if version is not None:
        attr |= 0x4000
    header = msg_id.to_bytes(2, "big") + attr.to_bytes(2, "big")
    if version is not None:
        header += bytes((version,))
    header += bytes.fromhex(terminal) + serial.to_bytes(2, "big")
    if packet is not None:
        header += packet[0].to_bytes(2, "big") + packet[1].to_bytes(2, "big")
    data = header + body
    return data + bytes((xor(data) if checksum is None else checksum,))


def jt808_frame(
    msg_id: int,
    terminal: str,
    serial: int,
    body: bytes,
    *,
    version: int | None = None,
    packet: tuple[int, int] | None = None,
    declared_length: int | None = None,
    checksum: int | None = None,
) -> bytes:
    """A whole JT/T 808 frame as sent on the wire (escaped, with both 0x7E)."""
    content = jt808_content(
        msg_id,
        terminal,
        serial,
        body,
        version=version,
        packet=packet,
        declared_length=declared_length,
        checksum=checksum,
    )
    return b"\x7e" + jt808_escape(content) + b"\x7e"


def bcd(text: str) -> bytes:
    return bytes.fromhex(text)


def location_body(
    *,
    alarm: int = 0,
    status: int = 0x0000_0003,
    lat: int = 22_586_145,
    lon: int = 113_907_324,
    altitude: int = 35,
    speed: int = 456,
    direction: int = 123,
    clock: str = "240315203456",
    items: bytes = b"",
) -> bytes:
    """A 0x0200 body: the 28-byte basic block (docs/protocol.md 4.7), then additional items."""
    return (
        alarm.to_bytes(4, "big")
        + status.to_bytes(4, "big")
        + lat.to_bytes(4, "big")
        + lon.to_bytes(4, "big")
        + altitude.to_bytes(2, "big", signed=True)
        + speed.to_bytes(2, "big")
        + direction.to_bytes(2, "big")
        + bcd(clock)
        + items
    )


# --- sample frames -------------------------------------------------------------------------

ID: Final = "9170000001"
V1: Final = f"*HQ,{ID},V1,123456,A,2235.1777,N,11357.8913,E,010.00,090,150324,FFFFFBFF#".encode()
NBR: Final = f"*HQ,{ID},NBR,123456,460,0,0,1,9520,3671,-67,150324,FFFFFBFF,6#".encode()
HTBT: Final = f"*HQ,{ID},HTBT,85#".encode()
BIN32: Final = binary_frame()
BIN45: Final = binary_frame(tail=binary_tail_45())
TERMINAL: Final = "009170000001"
JT_LOCATION: Final = jt808_frame(0x0200, TERMINAL, 1, location_body())
JT_HEARTBEAT: Final = jt808_frame(0x0002, TERMINAL, 2, b"")
JT_ESCAPED: Final = jt808_frame(0x0002, TERMINAL, 0x7E7D, b"")
H02_STREAM: Final = V1 + b"\r\n" + BIN32 + NBR + BIN32 + HTBT + b"\r\n"
JT808_STREAM: Final = JT_LOCATION + JT_HEARTBEAT + JT_ESCAPED + JT_LOCATION


# --- events ---------------------------------------------------------------------------------


def decoded(events: list[Event]) -> list[Decoded]:
    return [event for event in events if isinstance(event, Decoded)]


def rejected(events: list[Event]) -> list[Rejected]:
    return [event for event in events if isinstance(event, Rejected)]


def messages(events: list[Event]) -> list[Message]:
    return [message for event in decoded(events) for message in event.messages]


POSITION_KEYS = (
    "position.latitude",
    "position.longitude",
    "position.speed",
    "position.direction",
    "position.valid",
    "position.altitude",
)
