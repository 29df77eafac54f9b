"""JT/T 808 frames of our own, built from docs/protocol.md section 4 with helpers.py's builders."""

from __future__ import annotations

from typing import Final

import pytest

from custom_components.sinotrack.protocol import (
    AuthEvent,
    Decoded,
    DecodeError,
    FrameError,
    Message,
    ProtocolError,
    Rejected,
    TrackerConnection,
    jt808,
)
from custom_components.sinotrack.protocol.message import (
    ALARM_BITMASK,
    ALTITUDE,
    ARCHIVE,
    BATTERY_LEVEL,
    BATTERY_VOLTAGE,
    COMMAND_REPLY_ID,
    COMMAND_REPLY_SERIAL,
    COMMAND_RESPONSE,
    COMMAND_RESULT,
    CRASH,
    DIRECTION,
    ENGINE_BLOCKED,
    FATIGUE,
    GEOFENCE,
    GEOFENCE_IN,
    GEOFENCE_OUT,
    GSM_CELLID,
    GSM_LAC,
    GSM_MCC,
    GSM_MNC,
    GSM_SIGNAL,
    IDENT,
    IGNITION,
    LATITUDE,
    LONGITUDE,
    LOW_BATTERY,
    MESSAGE_TYPE,
    MILEAGE,
    OVERSPEED,
    POWER_CUT,
    POWER_VOLTAGE,
    PROTOCOL_ID,
    ROLLOVER,
    SATELLITES,
    SEQNUM,
    SIM_ICCID,
    SOS,
    SPEED,
    STATE_BITMASK,
    TIMESTAMP,
    VALID,
    Flag,
)
from tests.support.frames import NOW, item

from .helpers import POSITION_KEYS, epoch, jt808_content, jt808_frame, location_body

TERMINAL: Final = "009170000001"
"""A 10-digit Sinotrack ID padded to 12 BCD digits: the same tracker as ID 9170000001."""
ID: Final = "9170000001"
TERMINAL_2019: Final = "00000000009170000001"
TIME: Final = epoch("2024-03-15T12:34:56Z")
"""``location_body``'s clock 24-03-15 20:34:56 at the standard's GMT+8."""


def feed(frame: bytes, connection: TrackerConnection | None = None, now: float = NOW) -> Decoded:
    """Feed one frame; return its single Decoded event."""
    events = (connection or TrackerConnection()).feed(frame, now)
    assert len(events) == 1, events
    event = events[0]
    assert isinstance(event, Decoded), event
    return event


def decode_one(msg_id: int, body: bytes, *, serial: int = 1) -> Message:
    event = feed(jt808_frame(msg_id, TERMINAL, serial, body))
    assert len(event.messages) == 1
    return event.messages[0]


def ack(msg_id: int, serial: int, result: int = 0, *, reply_serial: int = 0) -> bytes:
    """The 0x8001 general response to ``msg_id`` with ``serial`` (docs/protocol.md section 4.3)."""
    body = serial.to_bytes(2, "big") + msg_id.to_bytes(2, "big") + bytes((result,))
    return jt808_frame(0x8001, TERMINAL, reply_serial, body)


# --- header --------------------------------------------------------------------------------------


def test_header_fields() -> None:
    frame = jt808.parse_frame(jt808_content(0x0200, TERMINAL, 0x1234, location_body()))
    assert frame.msg_id == 0x0200
    assert frame.serial == 0x1234
    assert frame.terminal == bytes.fromhex(TERMINAL)
    assert frame.ident == ID  # leading zeros stripped: the same ID as in H02
    assert frame.version_2019 is False
    assert frame.body == location_body()
    assert frame.checksum_ok is True
    assert frame.length_ok is True
    assert frame.packet_total == 0


def test_2019_header() -> None:
    content = jt808_content(0x0002, TERMINAL_2019, 7, b"", version=1)
    frame = jt808.parse_frame(content)
    assert frame.version_2019 is True
    assert frame.protocol_version == 1
    assert frame.terminal == bytes.fromhex(TERMINAL_2019)
    assert frame.ident == ID
    assert frame.serial == 7


def test_imei_terminal_number_gets_its_check_digit() -> None:
    # 6 bytes that are not BCD: the IMEI without its Luhn digit, as a 48-bit integer.
    frame = jt808.parse_frame(jt808_content(0x0002, "4f07788ef676", 1, b""))
    assert frame.ident == "868935060005020"


def test_wrong_checksum_and_length_are_reported() -> None:
    frame = jt808.parse_frame(jt808_content(0x0002, TERMINAL, 1, b"", checksum=0x00))
    assert frame.checksum_ok is False
    frame = jt808.parse_frame(jt808_content(0x0002, TERMINAL, 1, b"", declared_length=5))
    assert frame.length_ok is False
    assert frame.checksum_ok is True


@pytest.mark.parametrize(
    "content",
    [
        b"",
        bytes(12),  # one byte short of the smallest frame
        jt808_content(0x0002, TERMINAL_2019, 1, b"", version=1)[:17],
        jt808_content(0x0200, TERMINAL, 1, b"", packet=(2, 1))[:14],
        jt808_content(0x0200, TERMINAL, 1, b"x", packet=(2, 3)),  # index past the total
        jt808_content(0x0200, TERMINAL, 1, b"x", packet=(0, 0)),
    ],
)
def test_bad_headers_raise_frame_error(content: bytes) -> None:
    with pytest.raises(FrameError):
        jt808.parse_frame(content)


def test_unescape() -> None:
    assert jt808.unescape(b"\x30\x7d\x02\x08\x7d\x01\x55") == b"\x30\x7e\x08\x7d\x55"
    assert jt808.escape(b"\x30\x7e\x08\x7d\x55") == b"\x30\x7d\x02\x08\x7d\x01\x55"
    with pytest.raises(FrameError):
        jt808.unescape(b"\x30\x7d\x03")
    assert issubclass(FrameError, ProtocolError)


# --- 0x0200 location -------------------------------------------------------------------------------


def test_location_basic_block() -> None:
    message = decode_one(0x0200, location_body(), serial=0x1234)
    assert message[PROTOCOL_ID] == "jt808"
    assert message[MESSAGE_TYPE] == "0x0200"
    assert message[IDENT] == ID
    assert message[LATITUDE] == pytest.approx(22.586145)
    assert message[LONGITUDE] == pytest.approx(113.907324)
    assert message[ALTITUDE] == 35
    assert message[SPEED] == pytest.approx(45.6)  # 1/10 km/h
    assert message[DIRECTION] == 123
    assert message[TIMESTAMP] == TIME
    assert message[VALID] is True
    assert message[IGNITION] is True
    assert message[SEQNUM] == 0x1234
    assert message[ALARM_BITMASK] == 0
    assert message[STATE_BITMASK] == 3
    assert not any(message[name] for name in jt808.ALARM_BITS)


def test_location_hemispheres_and_negative_altitude() -> None:
    body = location_body(status=0b1100, altitude=-12)
    message = decode_one(0x0200, body)
    assert message[LATITUDE] == pytest.approx(-22.586145)  # status bit 2: south
    assert message[LONGITUDE] == pytest.approx(-113.907324)  # status bit 3: west
    assert message[ALTITUDE] == -12
    assert message[VALID] is False
    assert message[IGNITION] is False


def test_location_out_of_range_is_rejected() -> None:
    with pytest.raises(DecodeError):
        jt808.decode_location(location_body(lat=90_000_001), ID, 8.0, "0x0200")
    with pytest.raises(DecodeError):
        jt808.decode_location(location_body()[:27], ID, 8.0, "0x0200")


@pytest.mark.parametrize("bit", range(32))
def test_alarm_bit(bit: int) -> None:
    message = decode_one(0x0200, location_body(alarm=1 << bit))
    assert {name for name in jt808.ALARM_BITS if message[name]} == {jt808.ALARM_BITS[bit]}
    assert message[ALARM_BITMASK] == 1 << bit


def test_alarm_names() -> None:
    # The flespi names of docs/protocol.md 5 sit on their standard bits; every bit has a name.
    bits = jt808.ALARM_BITS
    assert len(bits) == len(set(bits)) == 32
    expected = {0: SOS, 1: OVERSPEED, 2: FATIGUE, 7: LOW_BATTERY, 8: POWER_CUT, 20: GEOFENCE}
    expected |= {29: CRASH, 30: ROLLOVER}
    assert {bit: bits[bit] for bit in expected} == expected


def test_several_alarms_in_one_frame() -> None:
    alarm = (1 << 0) | (1 << 8) | (1 << 29) | (1 << 30)
    message = decode_one(0x0200, location_body(alarm=alarm))
    assert {name for name in jt808.ALARM_BITS if message[name]} == {SOS, POWER_CUT, CRASH, ROLLOVER}
    assert message[ALARM_BITMASK] == alarm


STATUS_BIT_NAMES: Final[dict[int, Flag]] = {
    0: IGNITION,
    1: VALID,
    10: ENGINE_BLOCKED,
    11: "electric.blocked.status",
    12: "door.locked.status",
    13: "door.open.status",
    18: "gps.satellites.status",
    19: "beidou.satellites.status",
    20: "glonass.satellites.status",
    21: "galileo.satellites.status",
    22: "movement.status",
}


@pytest.mark.parametrize("bit", sorted(STATUS_BIT_NAMES))
def test_status_bit(bit: int) -> None:
    message = decode_one(0x0200, location_body(status=1 << bit))
    names = set(STATUS_BIT_NAMES.values())
    assert {name for name in names if message[name]} == {STATUS_BIT_NAMES[bit]}
    assert message[STATE_BITMASK] == 1 << bit


def test_additional_items() -> None:
    items = (
        item(0x01, (14025).to_bytes(4, "big"))  # mileage 1/10 km
        + item(0x30, b"\x1f")  # signal
        + item(0x31, b"\x0e")  # satellites
        + item(0x99, b"\x01\x02\x03")  # unknown: skipped by its length
        + item(0x61, (1260).to_bytes(2, "big"))  # main power 0.01 V
    )
    message = decode_one(0x0200, location_body(items=items))
    assert message[MILEAGE] == pytest.approx(1402.5)
    assert message[GSM_SIGNAL] == 31
    assert message[SATELLITES] == 14
    assert message[POWER_VOLTAGE] == pytest.approx(12.6)


@pytest.mark.parametrize(("direction", "entering"), [(0, True), (1, False)])
def test_geofence_item(direction: int, entering: bool) -> None:
    value = b"\x01" + (7).to_bytes(4, "big") + bytes((direction,))
    message = decode_one(0x0200, location_body(alarm=1 << 20, items=item(0x12, value)))
    assert message["geofence.id"] == 7
    assert message[GEOFENCE_IN] is entering
    assert message[GEOFENCE_OUT] is not entering
    assert message[GEOFENCE] is True


def test_eb_cell_list() -> None:
    value = (460).to_bytes(2, "big") + b"\x00" + (0x262B).to_bytes(2, "big")
    value += (0x0F17).to_bytes(2, "big") + b"\x20"
    message = decode_one(0x0200, location_body(items=item(0xEB, value)))
    assert (message[GSM_MCC], message[GSM_MNC], message[GSM_LAC], message[GSM_CELLID]) == (
        460,
        0,
        0x262B,
        0x0F17,
    )


def test_eb_nested_items() -> None:
    iccid = bytes.fromhex("89860121842361895832")
    nested = (
        (12).to_bytes(2, "big") + b"\x00\xb2" + iccid
        + (6).to_bytes(2, "big") + b"\x00\x89" + b"\xff\xff\xff\xfe"  # active-low: power off
        + (4).to_bytes(2, "big") + b"\x00\x2d" + (4005).to_bytes(2, "big")  # battery mV
        + (3).to_bytes(2, "big") + b"\x00\xa8" + b"\x5c"  # battery %
        + (4).to_bytes(2, "big") + b"\x00\xce" + (1244).to_bytes(2, "big")  # power 0.01 V
    )  # fmt: skip
    message = decode_one(0x0200, location_body(items=item(0xEB, nested)))
    assert message[SIM_ICCID] == "89860121842361895832"
    assert message[POWER_CUT] is True
    assert message[ALARM_BITMASK] == 0
    assert message[BATTERY_VOLTAGE] == pytest.approx(4.005)
    assert message[BATTERY_LEVEL] == 92
    assert message[POWER_VOLTAGE] == pytest.approx(12.44)


@pytest.mark.parametrize(
    ("items", "level"),
    [
        (item(0x06, b"\x3e"), 62),  # percentage byte
        (item(0x56, b"\x09\x00"), 90),  # tenths
        (item(0xE4, b"\x00\x63"), 99),  # second byte
        (item(0xD4, b"\x64"), 100),
        (item(0xE1, b"\x50"), 80),
        (item(0xE9, b"\x21"), 33),
        (item(0xFE, b"\x2a"), 42),
        (item(0x06, b"\xff"), None),  # out of range
        (item(0x56, b"\x0b\x00"), None),
    ],
)
def test_battery_items(items: bytes, level: int | None) -> None:
    message = decode_one(0x0200, location_body(items=items))
    assert message.get(BATTERY_LEVEL) == level


def test_battery_and_power_voltage_items() -> None:
    items = item(0x69, (386).to_bytes(2, "big")) + item(0xF1, (12428).to_bytes(4, "big"))
    message = decode_one(0x0200, location_body(items=items))
    assert message[BATTERY_VOLTAGE] == pytest.approx(3.86)
    assert message[POWER_VOLTAGE] == pytest.approx(12.428)


def test_truncated_last_item_is_ignored() -> None:
    items = item(0x30, b"\x11") + b"\x31\x05\x01"
    message = decode_one(0x0200, location_body(items=items))
    assert message[GSM_SIGNAL] == 0x11
    assert SATELLITES not in message


# --- time ------------------------------------------------------------------------------------------


def test_time_default_offset_is_gmt8() -> None:
    assert decode_one(0x0200, location_body(clock="240101050000"))[TIMESTAMP] == epoch(
        "2023-12-31T21:00:00Z"
    )


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (0.0, "2024-03-15T20:34:56Z"),
        (-3.0, "2024-03-15T23:34:56Z"),
        (5.5, "2024-03-15T15:04:56Z"),
        (8.0, "2024-03-15T12:34:56Z"),
    ],
)
def test_time_offset_is_configurable(offset: float, expected: str) -> None:
    connection = TrackerConnection(jt808_utc_offset=offset)
    event = feed(jt808_frame(0x0200, TERMINAL, 1, location_body()), connection)
    assert event.messages[0][TIMESTAMP] == epoch(expected)


def test_time_rolls_over() -> None:
    message = decode_one(0x0200, location_body(clock="231231235969"))
    assert message[TIMESTAMP] == epoch("2023-12-31T16:00:09Z")


@pytest.mark.parametrize("clock", ["241315203456", "240332203456", "240015203456", "2403152034ff"])
def test_impossible_time_gives_no_timestamp(clock: str) -> None:
    message = decode_one(0x0200, location_body(clock=clock))
    assert TIMESTAMP not in message
    assert message[LATITUDE] == pytest.approx(22.586145)


# --- batches ---------------------------------------------------------------------------------------


def batch(kind: int, bodies: list[bytes]) -> bytes:
    out = len(bodies).to_bytes(2, "big") + bytes((kind,))
    for body in bodies:
        out += len(body).to_bytes(2, "big") + body
    return out


@pytest.mark.parametrize(("kind", "archive"), [(0, False), (1, True)])
def test_location_batch(kind: int, archive: bool) -> None:
    bodies = [
        location_body(clock="240315203456", items=item(0x31, b"\x05")),
        location_body(clock="240315203526", speed=0),
    ]
    event = feed(jt808_frame(0x0704, TERMINAL, 9, batch(kind, bodies)))
    assert [message[MESSAGE_TYPE] for message in event.messages] == ["0x0704", "0x0704"]
    assert [message[TIMESTAMP] for message in event.messages] == [TIME, TIME + 30]
    assert all(message[ARCHIVE] is archive for message in event.messages)
    assert event.messages[0][SATELLITES] == 5
    assert event.messages[1][SPEED] == 0
    assert event.reply == ack(0x0704, 9)  # one answer for the whole batch


def test_location_batch_item_past_the_body_is_rejected() -> None:
    body = batch(0, [location_body()])[:-3]
    events = TrackerConnection().feed(jt808_frame(0x0704, TERMINAL, 9, body), NOW)
    assert [type(event).__name__ for event in events] == ["Rejected"]


def test_0210_battery_ping() -> None:
    message = decode_one(0x0210, b"\x4f" + bytes.fromhex("240315203456"))
    assert message[BATTERY_LEVEL] == 79
    assert message[TIMESTAMP] == TIME
    assert not any(key in message for key in POSITION_KEYS)


def test_0210_batch_with_byte_lengths() -> None:
    body = location_body()
    event = feed(
        jt808_frame(0x0210, TERMINAL, 3, bytes((len(body),)) + body + bytes((len(body),)) + body)
    )
    assert len(event.messages) == 2
    assert all(message[ARCHIVE] is True for message in event.messages)
    assert event.reply == ack(0x0210, 3)


# --- other uplinks ---------------------------------------------------------------------------------


def register_body_2013() -> bytes:
    return (
        (44).to_bytes(2, "big")
        + (303).to_bytes(2, "big")
        + b"70111"
        + b"ST-903".ljust(20, b"\x00")
        + b"0567872"
        + b"\x01"
        + "粤B88888".encode("gbk")
    )


def test_register_2013() -> None:
    connection = TrackerConnection()
    event = feed(jt808_frame(0x0100, TERMINAL, 0x24, register_body_2013()), connection)
    message = event.messages[0]
    assert message[MESSAGE_TYPE] == "0x0100"
    assert message["province.id"] == 44
    assert message["city.id"] == 303
    assert message["manufacturer.code"] == "70111"
    assert message["device.model"] == "ST-903"
    assert message["manufacturer.device.code"] == "0567872"
    assert message["vehicle.plate.color"] == 1
    assert message["vehicle.plate"] == "粤B88888"
    assert not any(key in message for key in POSITION_KEYS)
    # 0x8100: the device's serial, result 0 (success), then the auth code issued.
    code = connection.auth_code
    assert code is not None
    body = (0x24).to_bytes(2, "big") + b"\x00" + code.encode()
    assert event.reply == jt808_frame(0x8100, TERMINAL, 0, body)
    assert event.auth is AuthEvent.ISSUED


def test_register_2011() -> None:
    body = b"\x00\x00\x00\x00" + b"70107" + b"HB-R03GB" + b"2366104" + b"\x00"
    message = decode_one(0x0100, body)
    assert message["device.model"] == "HB-R03GB"
    assert message["manufacturer.device.code"] == "2366104"
    assert "vehicle.plate" not in message


def test_register_2019() -> None:
    body = (
        b"\x00\x0b\x00\x01"
        + b"SINOTRACK".ljust(11, b"\x00")
        + b"ST-903".ljust(30, b"\x00")
        + b"A1B2C3".ljust(30, b"\x00")
        + b"\x00"
    )
    connection = TrackerConnection()
    event = feed(jt808_frame(0x0100, TERMINAL_2019, 5, body, version=1), connection)
    message = event.messages[0]
    assert message[IDENT] == ID
    assert message["manufacturer.code"] == "SINOTRACK"
    assert message["device.model"] == "ST-903"
    assert message["manufacturer.device.code"] == "A1B2C3"
    # The reply keeps the 2019 header: version flag, version byte, 10-byte terminal number.
    reply = b"\x00\x05\x00" + str(connection.auth_code).encode()
    assert event.reply == jt808_frame(0x8100, TERMINAL_2019, 0, reply, version=1)


def test_register_too_short_is_rejected() -> None:
    events = TrackerConnection().feed(jt808_frame(0x0100, TERMINAL, 1, b"\x00" * 10), NOW)
    assert [type(event).__name__ for event in events] == ["Rejected"]


@pytest.mark.parametrize(
    ("msg_id", "body"),
    [(0x0102, b"authentication"), (0x0002, b""), (0x0003, b"")],
)
def test_liveness_messages(msg_id: int, body: bytes) -> None:
    event = feed(jt808_frame(msg_id, TERMINAL, 6, body))
    assert event.messages == [{PROTOCOL_ID: "jt808", MESSAGE_TYPE: f"0x{msg_id:04X}", IDENT: ID}]
    assert event.reply == ack(msg_id, 6)


def test_time_request_is_answered_with_utc_time() -> None:
    event = feed(jt808_frame(0x0109, TERMINAL, 2, b""))
    body = (2024).to_bytes(2, "big") + bytes((3, 15, 12, 34, 56, 0))
    assert event.reply == jt808_frame(0x8109, TERMINAL, 0, body)


def test_terminal_response() -> None:
    message = decode_one(0x0001, (0x0102).to_bytes(2, "big") + b"\x81\x05\x00")
    assert message[COMMAND_REPLY_SERIAL] == 0x0102
    assert message[COMMAND_REPLY_ID] == 0x8105
    assert message[COMMAND_RESULT] == "success"
    message = decode_one(0x0001, b"\x00\x01\x83\x00\x03")
    assert message[COMMAND_RESULT] == "unsupported"


def test_terminal_response_too_short_is_rejected() -> None:
    events = TrackerConnection().feed(jt808_frame(0x0001, TERMINAL, 1, b"\x00\x01"), NOW)
    assert [type(event).__name__ for event in events] == ["Rejected"]


def test_position_reply() -> None:
    event = feed(jt808_frame(0x0201, TERMINAL, 4, (77).to_bytes(2, "big") + location_body()))
    message = event.messages[0]
    assert message[MESSAGE_TYPE] == "0x0201"
    assert message[COMMAND_REPLY_SERIAL] == 77
    assert message[LATITUDE] == pytest.approx(22.586145)
    assert message[TIMESTAMP] == TIME
    assert event.reply is None  # an answer itself


@pytest.mark.parametrize(
    "body",
    [
        (17).to_bytes(4, "big") + b"MD,SET CONFIG OK!",  # length-prefixed
        b"MD,SET CONFIG OK!",  # plain text
        b"MD,SET CONFIG OK!\x00\r\n",
    ],
)
def test_command_reply_text(body: bytes) -> None:
    event = feed(jt808_frame(0x0701, TERMINAL, 4, body))
    assert event.messages[0][COMMAND_RESPONSE] == "MD,SET CONFIG OK!"
    assert event.reply is None


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (b"\x01" + "Set OK! 已设置".encode("utf-16-be"), "Set OK! 已设置"),
        (b"\x00" + "<VER:1.02> 已设置".encode("gbk"), "<VER:1.02> 已设置"),
    ],
)
def test_text_reply_6006(body: bytes, text: str) -> None:
    event = feed(jt808_frame(0x6006, TERMINAL, 4, body))
    assert event.messages[0][COMMAND_RESPONSE] == text
    assert event.reply == ack(0x6006, 4)


def test_text_reply_1300() -> None:
    event = feed(jt808_frame(0x1300, TERMINAL, 4, b"\x00\x09" + "Set OK!".encode("utf-16-be")))
    assert event.messages[0][COMMAND_RESPONSE] == "Set OK!"
    assert event.messages[0][COMMAND_REPLY_SERIAL] == 9
    assert event.reply is None


# --- replies ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("msg_id", [0x0002, 0x0003, 0x0102, 0x0107, 0x0200, 0x0704, 0x0900, 0x6006])
def test_general_response_for_every_message_that_needs_one(msg_id: int) -> None:
    frame = jt808.parse_frame(jt808_content(msg_id, TERMINAL, 0x0A0B, b""))
    assert jt808.reply_for(frame, ID, 5, NOW) == ack(msg_id, 0x0A0B, reply_serial=5)


def test_unknown_message_is_answered_unsupported() -> None:
    event = feed(jt808_frame(0x0F0F, TERMINAL, 3, b"\x01\x02"))
    assert event.messages == [{PROTOCOL_ID: "jt808", MESSAGE_TYPE: "0x0F0F", IDENT: ID}]
    assert event.reply == ack(0x0F0F, 3, result=3)


@pytest.mark.parametrize("msg_id", [0x0001, 0x0201, 0x0701, 0x0702, 0x1300, 0x2070])
def test_answers_get_no_reply(msg_id: int) -> None:
    frame = jt808.parse_frame(jt808_content(msg_id, TERMINAL, 1, b""))
    assert jt808.reply_for(frame, ID, 0, NOW) is None


def test_reply_serial_counts_up_per_connection() -> None:
    connection = TrackerConnection()
    first = feed(jt808_frame(0x0002, TERMINAL, 10, b""), connection)
    second = feed(jt808_frame(0x0002, TERMINAL, 11, b""), connection)
    assert first.reply == ack(0x0002, 10, reply_serial=0)
    assert second.reply == ack(0x0002, 11, reply_serial=1)


def test_replies_are_escaped() -> None:
    # Device serial 0x7E7D: the reply body carries it, escaped as 7D 02 7D 01.
    event = feed(jt808_frame(0x0002, TERMINAL, 0x7E7D, b""))
    assert event.reply is not None
    assert event.reply == ack(0x0002, 0x7E7D)
    assert b"\x7d\x02\x7d\x01" in event.reply
    assert event.reply.count(b"\x7e") == 2
    content = jt808.unescape(event.reply[1:-1])
    assert content[-1] == jt808_content(0x8001, TERMINAL, 0, b"\x7e\x7d\x00\x02\x00")[-1]


def test_build_frame_rejects_an_oversized_body() -> None:
    with pytest.raises(ProtocolError):
        jt808.build_frame(0x8300, bytes.fromhex(TERMINAL), 0, bytes(1024))


def test_encode_terminal() -> None:
    assert jt808.encode_terminal(ID) == bytes.fromhex(TERMINAL)
    assert jt808.encode_terminal(ID, version_2019=True) == bytes.fromhex(TERMINAL_2019)
    assert jt808.encode_terminal("123456789012345").hex() == "0b3a73ce2ff2"
    for bad in ("12ab", "1" * 21):
        with pytest.raises(ProtocolError):
            jt808.encode_terminal(bad, version_2019=True)


# --- sub-packaged messages -------------------------------------------------------------------------


def split_location() -> tuple[bytes, bytes, bytes]:
    body = location_body(items=item(0x01, (14025).to_bytes(4, "big")) + item(0x31, b"\x0b"))
    return body, body[:20], body[20:]


@pytest.mark.parametrize("order", [(1, 2), (2, 1)])
def test_sub_packages_are_reassembled(order: tuple[int, int]) -> None:
    body, first, second = split_location()
    parts = {1: first, 2: second}
    connection = TrackerConnection()
    events: list[Decoded] = []
    for index in order:
        frame = jt808_frame(0x0200, TERMINAL, 40 + index, parts[index], packet=(2, index))
        events.append(feed(frame, connection))
    assert events[0].messages == []
    assert events[0].reply is not None  # every packet is acknowledged
    (message,) = events[1].messages
    assert message == decode_one(0x0200, body, serial=40 + order[1])
    assert message[MILEAGE] == pytest.approx(1402.5)
    assert message[SATELLITES] == 11


def test_sub_package_of_another_message_starts_over() -> None:
    _, first, second = split_location()
    connection = TrackerConnection()
    assert feed(jt808_frame(0x0200, TERMINAL, 1, first, packet=(2, 1)), connection).messages == []
    assert feed(jt808_frame(0x0704, TERMINAL, 2, first, packet=(3, 1)), connection).messages == []
    # The 0x0200 part 1 was dropped when another message began: part 2 alone completes nothing.
    assert feed(jt808_frame(0x0200, TERMINAL, 3, second, packet=(2, 2)), connection).messages == []


def test_too_many_sub_packages_are_rejected() -> None:
    frame = jt808_frame(0x0200, TERMINAL, 1, b"x", packet=(1000, 1))
    events = TrackerConnection().feed(frame, NOW)
    assert [type(event).__name__ for event in events] == ["Rejected"]


def test_resent_sub_packages_are_counted_at_their_new_size() -> None:
    # Each index first with one byte, then again with a full 1,023-byte body: the stored
    # total follows the replacements and stays under the limit.
    connection = TrackerConnection()
    serial = 0
    for size in (1, 1023):
        for index in range(1, 256):
            serial += 1
            frame = jt808_frame(0x0200, TERMINAL, serial, b"x" * size, packet=(256, index))
            connection.feed(frame, NOW)
            assert connection.held_bytes <= jt808.Reassembler.MAX_BYTES
    assert connection.held_bytes < 64 * 1023  # the message over the limit was dropped


def test_held_bytes_is_exact() -> None:
    connection = TrackerConnection()
    feed(jt808_frame(0x0200, TERMINAL, 1, b"a" * 100, packet=(3, 1)), connection)
    feed(jt808_frame(0x0200, TERMINAL, 2, b"b" * 300, packet=(3, 2)), connection)
    assert connection.held_bytes == 400
    feed(jt808_frame(0x0200, TERMINAL, 3, b"c" * 50, packet=(3, 1)), connection)  # replaced
    assert connection.held_bytes == 350
    connection.feed(jt808_frame(0x0200, TERMINAL, 4, b"d" * 20, packet=(3, 2))[:30], NOW)
    assert connection.held_bytes == 350 + 30  # and the partial frame the framer holds


def test_sub_package_body_over_1023_bytes_is_rejected() -> None:
    connection = TrackerConnection()
    # 1,100 bytes without 0x7E/0x7D fit the framer's limit; the standard allows 1,023.
    events = connection.feed(jt808_frame(0x0200, TERMINAL, 1, b"y" * 1100, packet=(2, 1)), NOW)
    assert [type(event).__name__ for event in events] == ["Rejected"]
    assert isinstance(events[0], Rejected)
    assert "1023" in events[0].reason
    assert connection.held_bytes == 0


def test_incomplete_message_expires_after_60_s_on_feed() -> None:
    _, first, second = split_location()
    connection = TrackerConnection()
    feed(jt808_frame(0x0200, TERMINAL, 1, first, packet=(2, 1)), connection)
    assert connection.held_bytes == len(first)
    events = connection.feed(jt808_frame(0x0200, TERMINAL, 2, second, packet=(2, 2)), NOW + 61)
    assert [type(event).__name__ for event in events] == ["Rejected", "Decoded"]
    assert isinstance(events[0], Rejected)
    assert "expired" in events[0].reason
    # The second part alone completes nothing; it waits (and expires in turn).
    assert isinstance(events[1], Decoded)
    assert events[1].messages == []
    assert connection.held_bytes == len(second)


def test_incomplete_message_completed_within_60_s() -> None:
    _, first, second = split_location()
    connection = TrackerConnection()
    feed(jt808_frame(0x0200, TERMINAL, 1, first, packet=(2, 1)), connection)
    event = feed(jt808_frame(0x0200, TERMINAL, 2, second, packet=(2, 2)), connection, NOW + 59)
    assert len(event.messages) == 1
    assert connection.held_bytes == 0


def test_expire_drops_an_incomplete_message() -> None:
    _, first, _ = split_location()
    connection = TrackerConnection()
    feed(jt808_frame(0x0200, TERMINAL, 1, first, packet=(2, 1)), connection)
    connection.handle_timer(NOW + 30)
    assert connection.held_bytes == len(first)
    connection.handle_timer(NOW + 60.5)
    assert connection.held_bytes == 0


def test_one_message_in_progress_per_connection() -> None:
    connection = TrackerConnection()
    for msg_id in (0x0200, 0x0704, 0x0900, 0x0200):
        connection.feed(jt808_frame(msg_id, TERMINAL, 1, b"p" * 1000, packet=(9, 1)), NOW)
        assert connection.held_bytes == 1000
