"""The per-connection codec (``TrackerConnection``): decoding and replies, one bad frame among
good ones, JT/T 808 warnings, and the connection's one tracker identity."""

from __future__ import annotations

import pytest

from custom_components.sinotrack.protocol import Rejected, TrackerConnection
from custom_components.sinotrack.protocol.message import (
    BATTERY_LEVEL,
    IDENT,
    LATITUDE,
    MESSAGE_TYPE,
    SATELLITES,
)
from tests.support.frames import NOW

from .helpers import (
    BIN45,
    HTBT,
    ID,
    JT_HEARTBEAT,
    JT_LOCATION,
    NBR,
    TERMINAL,
    V1,
    binary_frame,
    decoded,
    jt808_frame,
    location_body,
    messages,
    rejected,
)


def test_connection_decodes_and_replies() -> None:
    connection = TrackerConnection()
    events = connection.feed(V1 + HTBT, NOW)
    assert [event.reply for event in decoded(events)] == [
        f"*HQ,{ID},V4,V1,20240315123456#".encode(),
        f"*HQ,{ID},HTBT#".encode(),
    ]
    assert connection.ident == ID
    assert connection.protocol == "h02"
    assert messages(events)[1][BATTERY_LEVEL] == 85


def test_a_bad_frame_does_not_hide_the_good_ones_around_it() -> None:
    bad = f"*HQ,{ID},V1,123456,A,22x5.1777,N,11357.8913,E,0,0,150324,FFFFFBFF#".encode()
    events = TrackerConnection().feed(V1 + bad + NBR, NOW)
    assert [type(event).__name__ for event in events] == ["Decoded", "Rejected", "Decoded"]
    assert rejected(events)[0].sample == bad[:32]
    assert rejected(events)[0].size == len(bad)


def test_jt808_wrong_checksum_is_accepted_with_a_warning() -> None:
    # docs/protocol.md 6.5: Traccar does not verify the checksum and devices get it wrong; log it.
    frame = jt808_frame(0x0200, TERMINAL, 1, location_body(), checksum=0x00)
    events = TrackerConnection().feed(frame, NOW)
    (event,) = decoded(events)
    assert event.warning is not None
    assert "checksum" in event.warning
    assert event.messages[0][LATITUDE] == pytest.approx(22.586145)
    assert event.reply is not None  # still acknowledged, or the device would resend it


def test_jt808_length_mismatch_is_accepted_with_a_warning() -> None:
    frame = jt808_frame(0x0200, TERMINAL, 1, location_body(), declared_length=20)
    (event,) = decoded(TrackerConnection().feed(frame, NOW))
    assert event.warning is not None
    assert "length" in event.warning
    assert event.messages[0][LATITUDE] == pytest.approx(22.586145)


def test_jt808_good_frame_has_no_warning() -> None:
    (event,) = decoded(TrackerConnection().feed(JT_LOCATION, NOW))
    assert event.warning is None


def test_h02_frame_with_another_id_is_rejected() -> None:
    connection = TrackerConnection()
    other = V1.replace(ID.encode(), b"9170000002")
    events = connection.feed(V1 + other + NBR, NOW)
    assert [type(event).__name__ for event in events] == ["Decoded", "Rejected", "Decoded"]
    assert "9170000002" in rejected(events)[0].reason
    assert connection.ident == ID


def test_h02_binary_frame_with_another_id_is_rejected() -> None:
    connection = TrackerConnection()
    events = connection.feed(V1 + binary_frame(ident="9170000002"), NOW) + connection.flush(NOW)
    assert [type(event).__name__ for event in events] == ["Decoded", "Rejected"]


def test_jt808_frame_with_another_terminal_is_rejected() -> None:
    connection = TrackerConnection()
    other = jt808_frame(0x0200, "009170000002", 2, location_body())
    events = connection.feed(JT_LOCATION + other + JT_HEARTBEAT, NOW)
    assert [type(event).__name__ for event in events] == ["Decoded", "Rejected", "Decoded"]
    assert isinstance(events[1], Rejected)
    assert connection.ident == ID


def test_h02_and_jt808_ids_compare_without_leading_zeros() -> None:
    connection = TrackerConnection()
    events = connection.feed(JT_LOCATION, NOW)
    assert connection.ident == ID == messages(events)[0][IDENT]


def test_empty_h02_id_takes_the_connections_id() -> None:
    anonymous = V1.replace(ID.encode(), b"")
    assert TrackerConnection().feed(anonymous, NOW)[0].__class__ is Rejected
    connection = TrackerConnection()
    events = connection.feed(HTBT + anonymous, NOW)
    assert [message[IDENT] for message in messages(events)] == [ID, ID]
    assert decoded(events)[1].reply == f"*HQ,{ID},V4,V1,20240315123456#".encode()


def test_binary_frame_through_the_connection() -> None:
    events = TrackerConnection().feed(BIN45 + V1, NOW)
    first, second = decoded(events)
    assert first.messages[0][SATELLITES] == 6
    assert first.reply is None
    assert second.messages[0][MESSAGE_TYPE] == "V1"
