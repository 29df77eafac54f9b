"""Edge cases a tracker or an attacker can produce: bounded caches, odd fields, limits."""

from __future__ import annotations

import pytest

from custom_components.sinotrack.protocol import DecodeError, TrackerConnection, h02, jt808
from tests.support.frames import item

from .helpers import epoch, jt808_frame, location_body, messages, rejected

NOW = 1_700_000_000.0
TERMINAL = "009180271064"


def test_decoding_stays_right_past_the_bounded_caches() -> None:
    """Thousands of distinct status words and dates: every one decoded right.

    The caches of decoded status words and dates are bounded; when full they are emptied,
    so memory stays bounded while a hostile peer cycles through values.
    """
    connection = TrackerConnection()
    frames = []
    for index in range(5000):
        status = 0xFFFF0000 | index
        day = 1 + index % 28
        month = 1 + index // 28 % 12
        year = 10 + index // 336
        frames.append(
            f"*HQ,4210051415,V1,120000,A,2235.1777,N,11357.8913,E,0.00,0,"
            f"{day:02d}{month:02d}{year:02d},{status:08X}#".encode()
        )
    # The server clock is after the last date: no date is in the future.
    decoded = messages(connection.feed(b"".join(frames), epoch("2025-01-01T00:00:00Z")))
    assert len(decoded) == 5000
    assert [m["vehicle.state.bitmask"] for m in decoded] == [0xFFFF0000 | i for i in range(5000)]
    last = decoded[-1]
    # 0xFFFF1387: bit 3 clear (illegal ignition, active low), bit 10 clear (ACC off).
    assert last["illegal.ignition.alarm"] is True
    assert last["engine.ignition.status"] is False
    assert last["timestamp"] == 1_731_758_400  # 2024-11-16 12:00:00 UTC (index 4999)


def test_jt808_caches_are_bounded_too() -> None:
    connection = TrackerConnection()
    stream = b"".join(
        jt808_frame(
            0x0200,
            TERMINAL,
            index,
            location_body(
                alarm=index,
                clock=f"{10 + index // 336:02d}{1 + index // 28 % 12:02d}"
                f"{1 + index % 28:02d}120000",
            ),
        )
        for index in range(4500)
    )
    decoded = messages(connection.feed(stream, NOW))
    assert [m["alarm.bitmask"] for m in decoded] == list(range(4500))
    assert decoded[1]["sos.alarm"] is True
    assert decoded[2]["sos.alarm"] is False


def test_unknown_hemisphere_rejects_the_frame() -> None:
    frame = b"*HQ,4210051415,V1,120000,A,2235.1777,N,11357.8913,X,0.00,0,010120,FFFFFBFF#"
    with pytest.raises(DecodeError, match="hemisphere"):
        h02.decode_text(frame, NOW)


def test_blank_speed_is_zero() -> None:
    frame = b"*HQ,4210051415,V1,120000,A,2235.1777,N,11357.8913,E,   ,0,010120,FFFFFBFF#"
    (message,) = h02.decode_text(frame, NOW)
    assert message["position.speed"] == 0.0


def test_lte_tail_keeps_its_battery_scale() -> None:
    """``,,cid(hex),lac,battery``: an LTE cell id first, and the 1-6 battery scale last."""
    frame = b"*HQ,5905101893,V1,105759,A,37573392,S,145037022,E,000.00,173,280122,FF7FFBFF,,,9059e2c,8232,4#"
    (message,) = h02.decode_text(frame, NOW)
    assert message["gsm.cellid"] == 0x9059E2C
    assert message["gsm.lac"] == 0x8232
    assert message["battery.level"] == 60


def test_blind_spot_segment_with_an_impossible_day_has_no_timestamp() -> None:
    good = "A,2235.1777,N,11357.8913,E,1.00,10,14101010,FFFFFBFF,460,0,9520,3671"
    bad = "A,2235.1777,N,11357.8913,E,1.00,10,45101010,FFFFFBFF,460,0,9520,3671"
    frame = f"*HQ,4210051415,BC,101010,2,{good};{bad}#".encode()
    first, second = h02.decode_text(frame, NOW)
    assert "timestamp" in first
    assert "timestamp" not in second
    assert second["position.latitude"] == pytest.approx(22.586295)


def test_no_reply_for_no_message() -> None:
    assert h02.text_reply(b"*HQ,1,V1#", [], NOW) is None


def test_empty_checksum_is_zero() -> None:
    assert jt808.checksum(b"") == 0


def test_2019_terminal_that_is_not_bcd_is_rejected() -> None:
    content = (
        (0x0002).to_bytes(2)
        + (0x4000).to_bytes(2)
        + b"\x01"
        + bytes.fromhex("0a0b0c0d0e0f0a0b0c0d")
        + (1).to_bytes(2)
    )
    frame = b"\x7e" + jt808.escape(content + bytes((jt808.checksum(content),))) + b"\x7e"
    events = TrackerConnection().feed(frame, NOW)
    (event,) = rejected(events)
    assert "not BCD" in event.reason


def test_extended_item_reports_vibration() -> None:
    """0xEB nested item 0x00C5: bit 6 clear means vibration (active low)."""
    nested = (6).to_bytes(2) + (0x00C5).to_bytes(2) + (0xFFFFFFBF).to_bytes(4)
    body = location_body(items=item(0xEB, nested))
    (message,) = messages(TrackerConnection().feed(jt808_frame(0x0200, TERMINAL, 1, body), NOW))
    assert message["vibration.alarm"] is True


def test_oversized_sub_packaged_message_is_dropped() -> None:
    """Sub-packages adding up to more than 64 KiB are dropped, the connection goes on."""
    connection = TrackerConnection()
    part = bytes(1000)
    stream = b"".join(
        jt808_frame(0x0200, TERMINAL, index, part, packet=(100, index)) for index in range(1, 80)
    )
    events = connection.feed(stream, NOW)
    assert any("size limit" in event.reason for event in rejected(events))
    assert connection.buffered == 0
    # A normal frame afterwards still decodes.
    frame = jt808_frame(0x0200, TERMINAL, 200, location_body())
    assert len(messages(connection.feed(frame, NOW))) == 1
