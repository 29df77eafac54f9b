"""The codec's timers: ``timer()`` says when, ``handle_timer(now)`` does what is due."""

from __future__ import annotations

from typing import Final

from custom_components.sinotrack.protocol import Decoded, Rejected, TrackerConnection
from custom_components.sinotrack.protocol.connection import QUIET_FLUSH
from custom_components.sinotrack.protocol.message import IDENT
from tests.support.frames import NOW

from .helpers import binary_frame, jt808_frame, location_body

TERMINAL: Final = "009170000001"
LONE_BINARY: Final = binary_frame(tail=b"\xff\x00\x07")
"""32 bytes: a whole frame, or the start of a 45-byte one, until the peer goes quiet."""


def test_no_timer_while_nothing_is_held() -> None:
    connection = TrackerConnection()
    assert connection.timer() is None
    assert connection.handle_timer(NOW + 3600) == []


def test_bytes_held_back_are_decoded_once_the_peer_is_quiet() -> None:
    connection = TrackerConnection()
    assert connection.feed(LONE_BINARY, NOW) == []
    assert connection.timer() == NOW + QUIET_FLUSH
    assert connection.handle_timer(NOW + QUIET_FLUSH / 2) == []
    (event,) = connection.handle_timer(NOW + QUIET_FLUSH)
    assert isinstance(event, Decoded)
    assert event.messages[0][IDENT] == "9170000001"
    assert connection.timer() is None


def test_every_read_moves_the_quiet_deadline() -> None:
    connection = TrackerConnection()
    connection.feed(LONE_BINARY[:20], NOW)
    connection.feed(LONE_BINARY[20:], NOW + 0.4)
    assert connection.timer() == NOW + 0.4 + QUIET_FLUSH
    assert connection.handle_timer(NOW + QUIET_FLUSH) == []
    assert len(connection.handle_timer(NOW + 0.4 + QUIET_FLUSH)) == 1


def test_an_incomplete_sub_packaged_message_expires_after_60_s() -> None:
    body = location_body()
    connection = TrackerConnection()
    connection.feed(jt808_frame(0x0200, TERMINAL, 1, body[:20], packet=(2, 1)), NOW)
    assert connection.held_bytes == 20
    assert connection.timer() == NOW + 60
    assert connection.handle_timer(NOW + 59.9) == []
    assert connection.held_bytes == 20
    (event,) = connection.handle_timer(NOW + 60)
    assert isinstance(event, Rejected)
    assert "expired" in event.reason
    assert event.size == 20
    assert connection.held_bytes == 0
    assert connection.timer() is None


def test_the_quiet_delay_is_the_connections() -> None:
    connection = TrackerConnection(quiet_flush=0.02)
    connection.feed(LONE_BINARY, NOW)
    assert connection.timer() == NOW + 0.02
    assert len(connection.handle_timer(NOW + 0.02)) == 1
