"""Server-to-device commands (docs/protocol.md 2.7 and 4.11) and the matching of their replies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import pytest

from custom_components.sinotrack import protocol
from custom_components.sinotrack.protocol import (
    Command,
    CommandError,
    CommandKind,
    EncodedCommand,
    Message,
    ProtocolError,
    TrackerConnection,
    commands,
    h02,
    jt808,
)

from .helpers import epoch, jt808_content, jt808_frame, location_body

ID: Final = "9170000001"
TERMINAL: Final = "009170000001"
TERMINAL_2019: Final = "00000000009170000001"
NOW: Final = epoch("2024-03-15T01:02:03Z")
"""The commands' hhmmss is the server's UTC time: 010203."""
V1: Final = f"*HQ,{ID},V1,123456,A,2235.1777,N,11357.8913,E,0,0,150324,FFFFFBFF#".encode()


def h02_connection() -> TrackerConnection:
    connection = TrackerConnection()
    connection.feed(V1, NOW)
    return connection


def jt808_connection(*, version: int | None = None) -> TrackerConnection:
    connection = TrackerConnection()
    terminal = TERMINAL if version is None else TERMINAL_2019
    connection.feed(jt808_frame(0x0002, terminal, 1, b"", version=version), NOW)
    return connection


def h02_reply(text: str) -> Message:
    (message,) = h02.decode_text(text.encode(), NOW)
    return message


def jt808_message(msg_id: int, body: bytes) -> Message:
    frame = jt808.parse_frame(jt808_content(msg_id, TERMINAL, 9, body))
    (message,) = jt808.decode_body(frame, frame.body, frame.ident, 8.0)
    return message


# --- H02 encoders -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "frame", "code"),
    [
        (Command(CommandKind.ENGINE_STOP), "S20,010203,1,1", "S20"),
        (Command(CommandKind.ENGINE_RESUME), "S20,010203,1,0", "S20"),
        (Command(CommandKind.ARM), "SCF,010203,0,0", "SCF"),
        (Command(CommandKind.DISARM), "SCF,010203,1,1", "SCF"),
        (Command(CommandKind.INTERVAL, interval=30), "S71,010203,22,30", "S71"),
        (Command(CommandKind.POSITION), "CR", "CR"),
        (Command(CommandKind.MILEAGE), "S32,000000,1", "S32"),
        (Command(CommandKind.CUSTOM, payload="S32,000000,1"), "S32,000000,1", "S32"),
        (Command(CommandKind.CUSTOM, payload="  s23,1.2.3.4,5013 "), "s23,1.2.3.4,5013", "S23"),
    ],
)
def test_h02_commands(command: Command, frame: str, code: str) -> None:
    encoded = h02_connection().encode(command, NOW)
    assert encoded.data == f"*HQ,{ID},{frame}#".encode()
    assert encoded.code == code
    assert encoded.protocol == "h02"


def test_h02_command_time_is_utc_of_now() -> None:
    encoded = commands.h02_command(
        ID, Command(CommandKind.ENGINE_STOP), epoch("2024-03-15T23:59:58Z")
    )
    assert encoded.data == f"*HQ,{ID},S20,235958,1,1#".encode()


# --- JT/T 808 encoders --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "msg_id", "body"),
    [
        (Command(CommandKind.ENGINE_STOP), 0x8105, b"\xf0"),
        (Command(CommandKind.ENGINE_RESUME), 0x8105, b"\xf1"),
        (Command(CommandKind.POSITION), 0x8201, b""),
        (Command(CommandKind.MILEAGE), 0x8201, b""),  # mileage is item 0x01 of the reply
        (
            Command(CommandKind.INTERVAL, interval=60),
            0x8103,
            b"\x01" + b"\x00\x00\x00\x29" + b"\x04" + (60).to_bytes(4, "big"),
        ),
        (Command(CommandKind.CUSTOM, payload="RELAY,1#"), 0x8300, b"\x01RELAY,1#"),
        (Command(CommandKind.CUSTOM, payload="*22*"), 0x8300, b"\x01*22*"),
    ],
)
def test_jt808_commands(command: Command, msg_id: int, body: bytes) -> None:
    connection = jt808_connection()  # its first reply used serial 0
    encoded = connection.encode(command, NOW)
    assert encoded.data == jt808_frame(msg_id, TERMINAL, 1, body)
    assert (encoded.msg_id, encoded.serial, encoded.protocol) == (msg_id, 1, "jt808")
    assert connection.encode(command, NOW).serial == 2  # every message gets its own serial


def test_jt808_command_keeps_the_2019_header() -> None:
    encoded = jt808_connection(version=1).encode(Command(CommandKind.ENGINE_STOP), NOW)
    assert encoded.data == jt808_frame(0x8105, TERMINAL_2019, 1, b"\xf0", version=1)


@pytest.mark.parametrize("kind", [CommandKind.ARM, CommandKind.DISARM])
def test_jt808_has_no_standard_arm_command(kind: CommandKind) -> None:
    with pytest.raises(CommandError):
        jt808_connection().encode(Command(kind), NOW)


def test_no_command_before_the_tracker_identified_itself() -> None:
    with pytest.raises(CommandError):
        TrackerConnection().encode(Command(CommandKind.POSITION), NOW)


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    ["", "   ", "x" * 257, "S20,é", "S20\n1", "S20\x00"],
)
@pytest.mark.parametrize("connection", [h02_connection, jt808_connection], ids=["h02", "jt808"])
def test_invalid_custom_payloads(payload: str, connection: Callable[[], TrackerConnection]) -> None:
    with pytest.raises(CommandError):
        connection().encode(Command(CommandKind.CUSTOM, payload=payload), NOW)


@pytest.mark.parametrize("payload", ["S20,1#", "*HQ,1,S20", "CR#"])
def test_h02_payload_cannot_contain_frame_markers(payload: str) -> None:
    with pytest.raises(CommandError):
        h02_connection().encode(Command(CommandKind.CUSTOM, payload=payload), NOW)


def test_longest_payload_is_accepted() -> None:
    encoded = h02_connection().encode(Command(CommandKind.CUSTOM, payload="x" * 256), NOW)
    assert len(encoded.data) == len(f"*HQ,{ID},#") + 256


@pytest.mark.parametrize("seconds", [0, 4, 86401, -5])
@pytest.mark.parametrize("connection", [h02_connection, jt808_connection], ids=["h02", "jt808"])
def test_interval_out_of_range(seconds: int, connection: Callable[[], TrackerConnection]) -> None:
    with pytest.raises(CommandError):
        connection().encode(Command(CommandKind.INTERVAL, interval=seconds), NOW)


def test_command_error_is_a_protocol_error() -> None:
    assert issubclass(CommandError, ProtocolError)


# --- reply matching -----------------------------------------------------------------------------


def test_h02_reply_matched_by_code() -> None:
    encoded = h02_connection().encode(Command(CommandKind.ENGINE_STOP), NOW)
    assert encoded.match(h02_reply(f"*HQ,{ID},V4,S20,DONE,010203#")) == "final"
    assert encoded.match(h02_reply(f"*HQ,{ID},V4,s20,DONE,010203#")) == "final"
    assert encoded.match(h02_reply(f"*HQ,{ID},V4,S71,22,10,010203#")) is None
    assert encoded.match(h02_reply(V1.decode())) is None
    assert encoded.match(h02_reply(f"*HQ,{ID},SMS,OK#")) is None


def test_h02_custom_command_matches_v4_and_sms() -> None:
    encoded = h02_connection().encode(Command(CommandKind.CUSTOM, payload="S32,000000,1"), NOW)
    assert encoded.match(h02_reply(f"*HQ,{ID},V4,S32,1234.5,000000#")) == "final"
    assert encoded.match(h02_reply(f"*HQ,{ID},SMS,Mileage:1234.5km#")) == "final"
    assert encoded.match(h02_reply(f"*HQ,{ID},V4,S20,DONE,010203#")) is None


def test_h02_mileage_reply() -> None:
    encoded = h02_connection().encode(Command(CommandKind.MILEAGE), NOW)
    reply = h02_reply(f"*HQ,{ID},V4,S32,1234.5,000000#")
    assert encoded.match(reply) == "final"
    assert reply["vehicle.mileage"] == pytest.approx(1234.5)


def jt808_encoded(command: Command) -> EncodedCommand:
    return jt808_connection().encode(command, NOW)


def terminal_response(serial: int, msg_id: int, result: int) -> Message:
    return jt808_message(
        0x0001, serial.to_bytes(2, "big") + msg_id.to_bytes(2, "big") + bytes((result,))
    )


def test_jt808_control_matched_by_serial_and_id() -> None:
    encoded = jt808_encoded(Command(CommandKind.ENGINE_STOP))
    assert encoded.match(terminal_response(encoded.serial, 0x8105, 0)) == "final"
    assert encoded.match(terminal_response(encoded.serial, 0x8105, 1)) == "final"  # failed
    assert encoded.match(terminal_response(encoded.serial + 1, 0x8105, 0)) is None
    assert encoded.match(terminal_response(encoded.serial, 0x8300, 0)) is None


def test_jt808_position_query_matched_by_serial() -> None:
    encoded = jt808_encoded(Command(CommandKind.POSITION))
    assert encoded.match(terminal_response(encoded.serial, 0x8201, 0)) == "ack"
    reply = jt808_message(0x0201, encoded.serial.to_bytes(2, "big") + location_body())
    assert encoded.match(reply) == "final"
    other = jt808_message(0x0201, (encoded.serial + 5).to_bytes(2, "big") + location_body())
    assert encoded.match(other) is None
    assert encoded.match(jt808_message(0x0200, location_body())) is None


def test_jt808_text_command_matched_by_ack_then_text_reply() -> None:
    encoded = jt808_encoded(Command(CommandKind.CUSTOM, payload="STATUS#"))
    assert encoded.match(terminal_response(encoded.serial, 0x8300, 0)) == "ack"
    assert encoded.match(terminal_response(encoded.serial, 0x8300, 3)) == "final"  # unsupported
    assert encoded.match(jt808_message(0x0701, b"OK")) == "final"
    assert encoded.match(jt808_message(0x6006, b"\x00OK")) == "final"
    serial = encoded.serial.to_bytes(2, "big")
    assert encoded.match(jt808_message(0x1300, serial + "OK".encode("utf-16-be"))) == "final"
    wrong = (encoded.serial + 1).to_bytes(2, "big")
    assert encoded.match(jt808_message(0x1300, wrong + "OK".encode("utf-16-be"))) is None


def test_jt808_text_replies_do_not_complete_other_commands() -> None:
    encoded = jt808_encoded(Command(CommandKind.ENGINE_STOP))
    assert encoded.match(jt808_message(0x0701, b"OK")) is None
    assert encoded.match(jt808_message(0x0002, b"")) is None


def test_h02_encoded_does_not_match_jt808_messages() -> None:
    encoded = h02_connection().encode(Command(CommandKind.ENGINE_STOP), NOW)
    assert encoded.match(terminal_response(0, 0x8105, 0)) is None


# --- engine payloads ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        "S20,000000,1,1",  # the H02 engine cut of the issue
        "S20,000000,1,0",
        "s20,000000,1,1",
        " S20 ,000000,1,1",
        "S 20,000000,1,1",
        "S20",
        "*HQ,4210051415,S20,000000,1,1#",
        "RELAY,1#",
        "relay,0#",
        "Relay 1",
        "RELAY",
        "DYD,000000#",
        "HFYD,000000#",
        "5550000",  # ST-90x SMS: stop the engine (password 0000)
        "9400000",  # resume
        "555 0000",
    ],
)
def test_engine_payloads(payload: str) -> None:
    assert commands.is_engine_payload(payload)


@pytest.mark.parametrize(
    "payload",
    [
        "S32,000000,1",
        "S71,000000,22,30",
        "SCF,000000,0,0",
        "CR",
        "S200,1",
        "RELAYS,1",
        "5551234abc",
        "8040000 1.2.3.4 5013",
        "WHERE#",
        "",
        "*",
    ],
)
def test_other_payloads(payload: str) -> None:
    assert not commands.is_engine_payload(payload)


def test_engine_payload_check_is_exported() -> None:
    assert protocol.is_engine_payload is commands.is_engine_payload
