"""Implausible values are dropped at the codec, counted and described; the rest is kept.

Frames are real ones (the corpus and Traccar's tests) with one field made implausible.
"""

from __future__ import annotations

import json
import math
from typing import Final

import pytest

from custom_components.sinotrack.protocol import Decoded, TrackerConnection
from custom_components.sinotrack.protocol.limits import (
    DROPPED,
    RANGES,
    bounded_int,
    enforce,
    finish_message,
)
from custom_components.sinotrack.protocol.message import (
    ALTITUDE,
    BATTERY_LEVEL,
    DIRECTION,
    GSM_CELLID,
    GSM_LAC,
    GSM_MCC,
    GSM_MNC,
    GSM_SIGNAL,
    LATITUDE,
    MILEAGE,
    SATELLITES,
    SPEED,
    TIMESTAMP,
    Message,
)
from tests.support.frames import NOW, item

from .helpers import binary_frame, binary_tail_45, epoch, jt808_frame, location_body

TERMINAL: Final = "009170000001"
LINK: Final = "*HQ,1600068860,LINK,112137,{rssi},{sats},{battery},0,0,081116,FFFFFBFF#"
"""Traccar's LINK sample (corpus), with its numbers as placeholders."""


def decode(frame: bytes, now: float = NOW) -> Decoded:
    connection = TrackerConnection()
    events = connection.feed(frame, now) + connection.flush(now)
    assert len(events) == 1, events
    event = events[0]
    assert isinstance(event, Decoded), event
    assert connection.values_dropped == event.dropped
    return event


def storable(event: Decoded) -> None:
    """What Home Assistant's JSON store would write: no huge integers, no inf or NaN."""
    json.dumps(event.messages, allow_nan=False)
    for message in event.messages:
        for value in message.values():
            if isinstance(value, int) and not isinstance(value, bool):
                assert abs(value) < 2**53


# --- H02 text -------------------------------------------------------------------------------------


def test_link_with_300_digit_numbers() -> None:
    huge = "9" * 300
    event = decode(LINK.format(rssi=huge, sats=huge, battery=huge).encode())
    (message,) = event.messages
    assert GSM_SIGNAL not in message
    assert SATELLITES not in message
    assert BATTERY_LEVEL not in message
    assert message[TIMESTAMP] == epoch("2016-11-08T11:21:37Z")  # the rest is kept
    assert event.dropped == 3
    assert event.warning is not None
    assert "gsm.signal.level" in event.warning
    storable(event)


def test_link_in_range_is_untouched() -> None:
    event = decode(LINK.format(rssi=20, sats=8, battery=67).encode())
    assert event.dropped == 0
    assert event.warning is None
    assert event.messages[0][SATELLITES] == 8


@pytest.mark.parametrize(("sats", "kept"), [("99", True), ("100", False), ("-5", False)])
def test_satellites_range(sats: str, kept: bool) -> None:
    event = decode(LINK.format(rssi=20, sats=sats, battery=67).encode())
    assert (SATELLITES in event.messages[0]) is kept
    assert event.dropped == (0 if kept else 1)


def test_s32_mileage_reply_with_400_digits() -> None:
    event = decode(f"*HQ,4210051415,V4,S32,{'9' * 400},000000#".encode())
    (message,) = event.messages
    assert MILEAGE not in message
    assert message["command.code"] == "S32"  # the reply still completes the command
    assert event.dropped == 1
    storable(event)


def test_s32_mileage_over_ten_million_km() -> None:
    event = decode(b"*HQ,4210051415,V4,S32,10000000.5,000000#")
    assert MILEAGE not in event.messages[0]
    assert decode(b"*HQ,4210051415,V4,S32,9999999.5,000000#").messages[0][MILEAGE] == 9999999.5


def test_v1_speed_of_a_jet() -> None:
    # 1000 knots is 1,852 km/h.
    frame = (
        b"*HQ,4210051415,V1,120000,A,2235.1777,N,11357.8913,E,999.99,0,150324,FFFFFBFF,"
        b"460,0,9520,3671#"
    )
    event = decode(frame)
    (message,) = event.messages
    assert SPEED not in message
    assert message[LATITUDE] == pytest.approx(22.586295)
    assert message[GSM_CELLID] == 3671
    assert event.dropped == 1


def test_v1_cell_fields_out_of_range() -> None:
    frame = (
        b"*HQ,4210051415,V1,120000,A,2235.1777,N,11357.8913,E,0.00,0,150324,FFFFFBFF,"
        b"460,1000,9520," + b"9" * 60 + b"#"
    )
    event = decode(frame)
    (message,) = event.messages
    assert message[GSM_MCC] == 460
    assert GSM_MNC not in message
    assert GSM_CELLID not in message
    assert message[GSM_LAC] == 9520
    assert event.dropped == 2
    storable(event)


def test_v1_dated_2099_has_no_timestamp() -> None:
    frame = b"*HQ,4210051415,V1,120000,A,2235.1777,N,11357.8913,E,0.00,0,150399,FFFFFBFF#"
    event = decode(frame)
    assert TIMESTAMP not in event.messages[0]
    assert event.dropped == 1
    assert event.warning is not None
    assert "ahead of the server clock" in event.warning


def test_a_date_within_a_day_ahead_is_kept() -> None:
    # Device clocks drift: tomorrow at noon, seen at 12:34 today, is kept.
    frame = b"*HQ,4210051415,V1,120000,A,2235.1777,N,11357.8913,E,0.00,0,160324,FFFFFBFF#"
    assert decode(frame).messages[0][TIMESTAMP] == epoch("2024-03-16T12:00:00Z")


def test_tail_mileage_and_altitude_out_of_range() -> None:
    # odometer (m), temperature, fuel, altitude, lac (hex), cid (hex)
    frame = (
        b"*HQ,4210051415,V1,120000,A,2235.1777,N,11357.8913,E,0.00,0,150324,FFFFFBFF,"
        + b"9" * 40
        + b",25,1.5,-32768,262B,"
        + b"F" * 20
        + b"#"
    )
    event = decode(frame)
    (message,) = event.messages
    assert MILEAGE not in message
    assert ALTITUDE not in message
    assert GSM_CELLID not in message
    assert message[GSM_LAC] == 0x262B
    assert event.dropped == 3
    storable(event)


# --- H02 binary -----------------------------------------------------------------------------------


def test_binary_speed_and_course_out_of_range() -> None:
    event = decode(binary_frame(speed="999", course="999", tail=b"\xff\x00\x07"))
    (message,) = event.messages
    assert SPEED not in message
    assert DIRECTION not in message
    assert message[LATITUDE] == pytest.approx(22.586295)
    assert event.dropped == 2


def test_binary_45_tail_out_of_range() -> None:
    tail = binary_tail_45(signal=200, satellites=255, mileage=0xFFFFFFFF, mcc=460, mnc=255)
    event = decode(binary_frame(tail=tail))
    (message,) = event.messages
    assert GSM_SIGNAL not in message
    assert SATELLITES not in message
    assert MILEAGE not in message
    assert message[GSM_MNC] == 255
    assert event.dropped == 3


# --- JT/T 808 -------------------------------------------------------------------------------------


def test_jt808_altitude_speed_direction_out_of_range() -> None:
    body = location_body(altitude=-32768, speed=18520, direction=720)
    event = decode(jt808_frame(0x0200, TERMINAL, 1, body))
    (message,) = event.messages
    assert ALTITUDE not in message
    assert SPEED not in message
    assert DIRECTION not in message
    assert message[TIMESTAMP] == epoch("2024-03-15T12:34:56Z")
    assert event.dropped == 3


def test_jt808_items_out_of_range() -> None:
    items = (
        item(0x01, (0xFFFFFFFF).to_bytes(4, "big"))  # mileage 429 million km
        + item(0x30, b"\xff")  # signal
        + item(0x31, b"\xfa")  # satellites
        + item(0xF0, (65535).to_bytes(2, "big") * 2 + bytes(9))  # MCC, MNC 65535
    )
    event = decode(jt808_frame(0x0200, TERMINAL, 1, location_body(items=items)))
    (message,) = event.messages
    for key in (MILEAGE, GSM_SIGNAL, SATELLITES, GSM_MCC, GSM_MNC):
        assert key not in message, key
    assert message[GSM_CELLID] == 0
    assert event.dropped == 5


def test_jt808_date_in_2099() -> None:
    event = decode(jt808_frame(0x0200, TERMINAL, 1, location_body(clock="990101000000")))
    assert TIMESTAMP not in event.messages[0]
    assert event.dropped == 1


def test_dropped_values_are_counted_on_the_connection() -> None:
    connection = TrackerConnection()
    bad = jt808_frame(0x0200, TERMINAL, 1, location_body(altitude=-32768))
    good = jt808_frame(0x0200, TERMINAL, 2, location_body())
    events = connection.feed(bad + good + bad, NOW)
    assert [event.dropped for event in events if isinstance(event, Decoded)] == [1, 0, 1]
    assert connection.values_dropped == 2


# --- the table and the helpers --------------------------------------------------------------------


def test_every_range_has_a_reason() -> None:
    for key, bounds in RANGES.items():
        assert bounds.low < bounds.high, key
        assert bounds.reason, key


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_values_are_dropped(value: float) -> None:
    message: Message = {SPEED: value, BATTERY_LEVEL: 50}
    enforce(message, (SPEED, BATTERY_LEVEL))
    notes = finish_message(message, NOW)
    assert notes is not None
    assert len(notes) == 1
    assert message == {BATTERY_LEVEL: 50}
    assert DROPPED not in message


def test_bounded_int() -> None:
    assert bounded_int(" 42 ") == 42
    assert bounded_int("ff", radix=16) == 255
    assert bounded_int("9" * 4000) == math.inf
    with pytest.raises(ValueError, match="not a number"):
        bounded_int("." * 40)
    with pytest.raises(ValueError, match="invalid literal"):
        bounded_int("x" * 40)
    with pytest.raises(ValueError, match="invalid literal"):
        bounded_int("12a")


def test_a_batch_dropping_many_values_keeps_its_warning_short() -> None:
    segment = "A,2235.1777,N,11357.8913,E,999.99,999,01123456,FFFFFBFF"
    frame = f"*HQ,4210051415,BC,123456,40,{';'.join([segment] * 40)}#".encode()
    event = decode(frame)
    assert len(event.messages) == 40
    assert event.dropped == 80
    assert event.warning is not None
    assert "(80 in all)" in event.warning
    assert len(event.warning) < 600
