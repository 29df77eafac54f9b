"""H02 text and binary frames of our own, built from docs/protocol.md sections 2 and 3."""

from __future__ import annotations

from typing import Final

import pytest

from custom_components.sinotrack.protocol import (
    Decoded,
    DecodeError,
    Message,
    ProtocolError,
    TrackerConnection,
    h02,
)
from custom_components.sinotrack.protocol.message import (
    ALTITUDE,
    ARCHIVE,
    BATTERY_LEVEL,
    COMMAND_CODE,
    COMMAND_RESPONSE,
    COMMAND_RESULT,
    COMMAND_TIME,
    DIRECTION,
    ENGINE_BLOCKED,
    GEOFENCE,
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
    PROTOCOL_ID,
    SATELLITES,
    SEQNUM,
    SIM_ICCID,
    SOS,
    SPEED,
    STATE_BITMASK,
    TIMESTAMP,
    VALID,
    Flag,
    Key,
)
from tests.support.frames import NOW

from .helpers import POSITION_KEYS, binary_frame, binary_tail_45, epoch

ID: Final = "9170000001"
# 22 deg 35.1777' N, 113 deg 57.8913' E (Shenzhen), 12:34:56 UTC on 15 March 2024.
POSITION: Final = "123456,A,2235.1777,N,11357.8913,E,010.00,090,150324"
LAT: Final = 22 + 35.1777 / 60
LON: Final = 113 + 57.8913 / 60
TIME: Final = epoch("2024-03-15T12:34:56Z")


def decode_one(text: str, now: float = NOW) -> Message:
    found = h02.decode_text(text.encode(), now)
    assert len(found) == 1
    return found[0]


def assert_position(message: Message, *, valid: bool = True) -> None:
    assert message[LATITUDE] == pytest.approx(LAT, abs=1e-9)
    assert message[LONGITUDE] == pytest.approx(LON, abs=1e-9)
    assert message[VALID] is valid
    assert message[TIMESTAMP] == TIME


def assert_no_position(message: Message) -> None:
    assert not any(key in message for key in POSITION_KEYS)
    assert TIMESTAMP not in message


# --- message types -------------------------------------------------------------------------------


def test_v1_sinotrack_frame() -> None:
    message = decode_one(f"*HQ,{ID},V1,{POSITION},FFFFFBFF,460,00,9520,3671,5#")
    assert message[PROTOCOL_ID] == "h02"
    assert message[MESSAGE_TYPE] == "V1"
    assert message[IDENT] == ID
    assert_position(message)
    assert message[SPEED] == pytest.approx(18.52)  # 10 knots in km/h
    assert message[DIRECTION] == 90
    assert message[STATE_BITMASK] == 0xFFFFFBFF
    assert message[IGNITION] is False  # bit 10 clear: ACC off
    assert (message[GSM_MCC], message[GSM_MNC], message[GSM_LAC], message[GSM_CELLID]) == (
        460,
        0,
        9520,
        3671,
    )
    assert message[BATTERY_LEVEL] == 80  # 5 on the 1-6 scale
    assert not any(message[name] for name in (SOS, POWER_CUT, OVERSPEED))
    assert ALTITUDE not in message  # a parameter the frame does not carry is absent


def test_v1_lte_tail_with_hex_cell_id_first() -> None:
    message = decode_one(f"*HQ,{ID},V1,{POSITION},FF7FFBFF,,,9059e2c,8232,4#")
    assert message[GSM_CELLID] == 0x9059E2C  # 28-bit LTE cell id
    assert message[GSM_LAC] == 0x8232
    assert GSM_MCC not in message  # the MCC field is empty


def test_v1_hex_cell_tail_of_imei_units() -> None:
    message = decode_one(f"*HQ,353505220903211,V1,{POSITION},FFFBFFFF,106,14, 203,1cd#")
    assert (message[GSM_MCC], message[GSM_MNC], message[GSM_LAC], message[GSM_CELLID]) == (
        262,
        20,
        0x203,
        0x1CD,
    )


def test_v1_extended_tail() -> None:
    message = decode_one(f"*HQ,{ID},V1,{POSITION},FFFFDFFF,69129336,0,100.0,18,5141,5A20#")
    assert message[MILEAGE] == pytest.approx(69129.336)  # metres -> km
    assert message[ALTITUDE] == 18
    assert (message[GSM_LAC], message[GSM_CELLID]) == (0x5141, 0x5A20)


def test_v1_without_tail_or_status() -> None:
    message = decode_one(f"*HQ,{ID},V1,{POSITION}#")
    assert_position(message)
    assert STATE_BITMASK not in message
    assert SOS not in message


def test_v1_empty_time_gives_no_timestamp() -> None:
    message = decode_one(f"*HQ,{ID},V1,,V,2235.1777,N,11357.8913,E,0.00,0,,FFFFFBFF#")
    assert message[VALID] is False
    assert TIMESTAMP not in message
    assert message[LATITUDE] == pytest.approx(LAT)


def test_v1_speed_with_leading_spaces_and_decimal_course() -> None:
    text = f"*HQ,{ID},V1,123456,A,2235.1777,N,11357.8913,E,  3.34,270.90,150324,FFFFFFFF#"
    message = decode_one(text)
    assert message[SPEED] == pytest.approx(3.34 * 1.852, abs=0.006)
    assert message[DIRECTION] == pytest.approx(270.9)
    assert message[IGNITION] is True


def test_v2_coding_scheme_digit_is_a_valid_fix() -> None:
    message = decode_one(
        f"*HQ,{ID},V2,123456,0,2235.1777,N,11357.8913,E,010.00,090,150324,FFFFFFFF#"
    )
    assert_position(message, valid=True)
    assert message[MESSAGE_TYPE] == "V2"


@pytest.mark.parametrize(("flag", "valid"), [("A", True), ("V", False), ("B", False), ("", False)])
def test_validity_flag(flag: str, valid: bool) -> None:
    text = f"*HQ,{ID},V1,123456,{flag},2235.1777,N,11357.8913,E,010.00,090,150324,FFFFFBFF#"
    assert decode_one(text)[VALID] is valid


def test_v4_acknowledgement_with_position() -> None:
    message = decode_one(f"*HQ,{ID},V4,S20,DONE,010203,{POSITION},F7FFFBFF#")
    assert message[MESSAGE_TYPE] == "V4"
    assert message[COMMAND_CODE] == "S20"
    assert message[COMMAND_RESULT] == "DONE"
    assert message[COMMAND_TIME] == "010203"
    assert_position(message)
    assert message[ENGINE_BLOCKED] is True  # bit 27 clear: oil/engine cut


def test_v4_acknowledgement_with_several_results() -> None:
    message = decode_one(f"*TH,{ID},V4,S1,OK,pass_word,010203,{POSITION},FFFFFBFF#")
    assert message[COMMAND_CODE] == "S1"
    assert message[COMMAND_RESULT] == "OK,pass_word"
    assert message[COMMAND_TIME] == "010203"


def test_v4_acknowledgement_without_position() -> None:
    message = decode_one(f"*HQ,{ID},V4,S20,DONE,010203#")
    assert (message[COMMAND_CODE], message[COMMAND_RESULT], message[COMMAND_TIME]) == (
        "S20",
        "DONE",
        "010203",
    )
    assert_no_position(message)


def test_v4_position_request_acknowledgement() -> None:
    message = decode_one(f"*HQ,{ID},V4,CR#")
    assert message[COMMAND_CODE] == "CR"
    assert message[COMMAND_RESULT] == ""
    assert_no_position(message)


def test_v4_mileage_reply() -> None:
    message = decode_one(f"*HQ,{ID},V4,S32,1234.5,000000#")
    assert message[COMMAND_CODE] == "S32"
    assert message[MILEAGE] == pytest.approx(1234.5)
    assert message[COMMAND_TIME] == "000000"


def test_v4_mileage_reply_with_position() -> None:
    message = decode_one(f"*HQ,{ID},V4,S32,87,000000,{POSITION},FFFFFBFF#")
    assert message[MILEAGE] == 87
    assert_position(message)


def test_v4_other_reply_has_no_mileage() -> None:
    assert MILEAGE not in decode_one(f"*HQ,{ID},V4,S71,22,010203#")


def test_v4_without_command_code_is_rejected() -> None:
    with pytest.raises(DecodeError):
        h02.decode_text(f"*HQ,{ID},V4#".encode(), NOW)


def test_v5_frame() -> None:
    message = decode_one(f"*HQ,{ID},V5,{POSITION},FFFFBBFF,470,01,21019,2033,2921283#")
    assert message[MESSAGE_TYPE] == "V5"
    assert_position(message)
    assert message["custom.alarm"] is True  # bit 14 clear
    assert BATTERY_LEVEL not in message  # 2921283 is not a battery value
    assert (message[GSM_MCC], message[GSM_MNC]) == (470, 1)


def test_v6_frame_with_iccid() -> None:
    text = f"*HQ,{ID},V6,{POSITION},FFF7FBFF,310,260,32936,13641,8944501311217563382F,#"
    message = decode_one(text)
    assert message[MESSAGE_TYPE] == "V6"
    assert_position(message)
    assert message[SIM_ICCID] == "8944501311217563382"
    assert message[POWER_CUT] is True  # bit 19 clear: running on the backup battery
    assert (message[GSM_LAC], message[GSM_CELLID]) == (32936, 13641)


def test_v8_frame() -> None:
    message = decode_one(f"*HQ,{ID},V8,{POSITION},FFFFFBFF#")
    assert message[MESSAGE_TYPE] == "V8"
    assert_position(message)


def test_v19_sim_fields_before_the_status() -> None:
    text = f"*HQ,{ID},V19,{POSITION},,195.63.13.195,89480610500392633029,BFFFFBFF#"
    message = decode_one(text)
    assert_position(message)  # the date is not swallowed (Traccar's regex loses it)
    assert message[STATE_BITMASK] == 0xBFFFFBFF
    assert message[SIM_ICCID] == "89480610500392633029"
    assert message["sensor.high.2.status"] is True  # bit 30 clear


def test_vi1_frame() -> None:
    text = f"*HQ,353505221264507,VI1,{POSITION},FFFFFFFF,cc,28,  db,d75b#"
    message = decode_one(text)
    assert message[MESSAGE_TYPE] == "VI1"
    assert_position(message)
    assert (message[GSM_MCC], message[GSM_MNC], message[GSM_LAC], message[GSM_CELLID]) == (
        204,
        40,
        0xDB,
        0xD75B,
    )


def test_unknown_type_with_position_block_is_decoded() -> None:
    message = decode_one(f"*HQ,{ID},V9,{POSITION},FFFFFBFF#")
    assert message[MESSAGE_TYPE] == "V9"
    assert_position(message)


def test_unknown_type_without_position_is_rejected() -> None:
    with pytest.raises(DecodeError):
        h02.decode_text(f"*HQ,{ID},BS,1,2,3#".encode(), NOW)


@pytest.mark.parametrize("head", ["*hq", "*HQ"])
def test_vp1_gps(head: str) -> None:
    # No time of day in VP1: midnight UTC of the date.
    text = f"{head},356327080425330,VP1,A,2702.7245,S,15251.9311,E,0.48,0.0000,150324#"
    message = decode_one(text)
    assert message[MESSAGE_TYPE] == "VP1"
    assert message[IDENT] == "356327080425330"
    assert message[LATITUDE] == pytest.approx(-(27 + 2.7245 / 60))
    assert message[LONGITUDE] == pytest.approx(152 + 51.9311 / 60)
    assert message[VALID] is True
    assert message[TIMESTAMP] == epoch("2024-03-15T00:00:00Z")


def test_vp1_with_status_and_battery() -> None:
    text = "*hq,356327080425330,VP1,B,2702.7245,S,15251.9311,E,0.48,0.0000,150324,FFFFFBFD,5#"
    message = decode_one(text)
    assert message[VALID] is False
    assert message[SOS] is True
    assert message[BATTERY_LEVEL] == 80


@pytest.mark.parametrize("head", ["*hq", "*HQ"])
def test_vp1_cells(head: str) -> None:
    message = decode_one(f"{head},356327081001239,VP1,V,470,002,92,3565,0Y92,19433,30#")
    assert (message[GSM_MCC], message[GSM_MNC], message[GSM_LAC], message[GSM_CELLID]) == (
        470,
        2,
        92,
        3565,
    )
    assert_no_position(message)


@pytest.mark.parametrize("kind", ["HTBT", "V0"])
def test_heartbeat_with_battery(kind: str) -> None:
    message = decode_one(f"*HQ,135790246811220,{kind},85#")
    assert message[MESSAGE_TYPE] == kind
    assert message[IDENT] == "135790246811220"
    assert message[BATTERY_LEVEL] == 85
    assert_no_position(message)


def test_heartbeat_without_battery_is_a_liveness_message() -> None:
    message = decode_one(f"*HQ,{ID},HTBT#")
    assert message == {PROTOCOL_ID: "h02", MESSAGE_TYPE: "HTBT", IDENT: ID}


def test_xt_heartbeat() -> None:
    message = decode_one("*HQ,356327080425330,XT,1,100#")
    assert message == {PROTOCOL_ID: "h02", MESSAGE_TYPE: "XT", IDENT: "356327080425330"}


def test_nbr_cells() -> None:
    text = f"*HQ,{ID},NBR,123456,460,0,0,2,9520,3671,-67,9520,3672,-70,150324,FFFFFBFF,6#"
    message = decode_one(text)
    assert message[MESSAGE_TYPE] == "NBR"
    assert (message[GSM_MCC], message[GSM_MNC], message[GSM_LAC], message[GSM_CELLID]) == (
        460,
        0,
        9520,
        3671,
    )
    assert message[TIMESTAMP] == TIME
    assert message[STATE_BITMASK] == 0xFFFFFBFF
    assert message[BATTERY_LEVEL] == 100
    assert LATITUDE not in message  # cells only: no fix


def test_nbr_with_wrong_cell_count_is_rejected() -> None:
    with pytest.raises(DecodeError):
        h02.decode_text(
            f"*HQ,{ID},NBR,123456,460,0,0,5,9520,3671,-67,150324,FFFFFBFF#".encode(), NOW
        )


def test_link() -> None:
    message = decode_one(f"*HQ,{ID},LINK,123456,20,8,67,0,0,150324,FFFFFBFF#")
    assert message[GSM_SIGNAL] == 20
    assert message[SATELLITES] == 8
    assert message[BATTERY_LEVEL] == 67
    assert message[TIMESTAMP] == TIME
    assert message[STATE_BITMASK] == 0xFFFFFBFF


def test_v3_cells() -> None:
    text = (
        "*HQ,355488020882405,V3,123456,74001,02,010278,045142,128,-92,010278,026311,125,,"
        "02DE,0,X,150324,EFE7FBFF#"
    )
    message = decode_one(text)
    assert (message[GSM_MCC], message[GSM_MNC], message[GSM_LAC], message[GSM_CELLID]) == (
        740,
        1,
        10278,
        45142,
    )
    assert message[TIMESTAMP] == TIME
    assert message[POWER_CUT] is True
    assert not any(key in message for key in POSITION_KEYS)  # cells and a time, no fix


def test_sms_multi_line() -> None:
    text = "ST906_V_2.0 2024/06/07\nID:9170000001\r\nIP:1.2.3.4 5013\nUT:30,30,300"
    message = decode_one(f"*HQ,{ID},SMS,{text}#")
    assert message[MESSAGE_TYPE] == "SMS"
    assert message[COMMAND_RESPONSE] == text
    assert message[IDENT] == ID


def test_blind_spot_batch() -> None:
    segments = [
        "A,2235.1777,N,11357.8913,E,000.00,000,15123456,FFFFFBFF,460,00,9520,3671",
        "V,2235.1800,N,11357.8900,E,001.00,010,29010203,FFFBFBFF,460,00,9520,3672",
        "A,2235.1700,N,11357.8800,E,002.00,020,31235959,FFFFFBFF,460,00,9520,3673",
    ]
    found = h02.decode_text(f"*HQ,{ID},BC,123456,3,{';'.join(segments)}#".encode(), NOW)
    assert [message[MESSAGE_TYPE] for message in found] == ["BC"] * 3
    assert all(message[ARCHIVE] is True and message[IDENT] == ID for message in found)
    # DDHHmmss: the day of month is resolved against the server time (15 March 2024):
    # the 15th is today, the 29th is in February (a leap year), the 31st in January.
    assert [message[TIMESTAMP] for message in found] == [
        epoch("2024-03-15T12:34:56Z"),
        epoch("2024-02-29T01:02:03Z"),
        epoch("2024-01-31T23:59:59Z"),
    ]
    assert found[0][LATITUDE] == pytest.approx(LAT)
    assert found[1][VALID] is False
    assert found[1][SOS] is True  # bit 18 clear in the second segment only
    assert found[0][SOS] is False
    assert [message[GSM_CELLID] for message in found] == [3671, 3672, 3673]


def test_blind_spot_batch_without_segments_is_rejected() -> None:
    with pytest.raises(DecodeError):
        h02.decode_text(f"*HQ,{ID},BC,123456,0,#".encode(), NOW)


@pytest.mark.parametrize(("code", "name"), [("1", SOS), ("2", LOW_BATTERY), ("3", GEOFENCE)])
def test_alrm(code: str, name: Flag) -> None:
    message = decode_one(f"*HQ,{ID},ALRM,{code},123456#")
    assert message[MESSAGE_TYPE] == "ALRM"
    assert message[name] is True
    assert message["alarm.code"] == int(code)


def test_alrm_unknown_type_is_rejected() -> None:
    with pytest.raises(DecodeError):
        h02.decode_text(f"*HQ,{ID},ALRM,9,123456#".encode(), NOW)


@pytest.mark.parametrize(
    "frame",
    [
        b"HQ,1,V1#",  # no '*'
        b"*HQ,1,V1",  # no '#'
        b"*HQ#",  # no type
        f"*HQ,{ID}!,V1,{POSITION}#".encode(),  # ID with punctuation
        f"*HQ,{'9' * 30},V1,{POSITION}#".encode(),  # ID too long
        f"*HQ,{ID},V1,123456,A,2235.1777,N,11357.8913,E,1e400,090,150324#".encode(),
        f"*HQ,{ID},V1,123456,A,2235.1777,N,11357.8913,E,nan,090,150324#".encode(),
        f"*HQ,{ID},LINK,123456,x#".encode(),
        f"*HQ,{ID},V3,123456,7,1#".encode(),
        f"*HQ,{ID},VP1,A,1#".encode(),
    ],
)
def test_malformed_text_frames_raise_decode_error(frame: bytes) -> None:
    with pytest.raises(DecodeError):
        h02.decode_text(frame, NOW)


def test_decode_error_is_a_protocol_error() -> None:
    assert issubclass(DecodeError, ProtocolError)


# --- coordinates (docs/protocol.md section 2.3) ---------------------------------------------------


@pytest.mark.parametrize(
    ("lat", "ns", "expected"),
    [
        ("2235.1777", "N", 22 + 35.1777 / 60),  # DDMM.MMMM
        ("5231.79283", "N", 52 + 31.79283 / 60),  # five decimals
        ("701.8915", "S", -(7 + 1.8915 / 60)),  # one degree digit
        ("38.6508", "N", 38.6508 / 60),  # no degree digits
        ("-23-3.3408", "S", -(23 + 3.3408 / 60)),  # -D-M.MMMM
        ("-23-35.3408", "S", -(23 + 35.3408 / 60)),
        ("37573392", "S", -(37 + 57.3392 / 60)),  # D+MMmmmm without a dot
        ("0000.0000", "N", 0.0),
        ("8959.9999", "S", -(89 + 59.9999 / 60)),
    ],
)
def test_latitude_forms(lat: str, ns: str, expected: float) -> None:
    text = f"*HQ,{ID},V1,123456,A,{lat},{ns},11357.8913,E,0.00,0,150324,FFFFFFFF#"
    assert decode_one(text)[LATITUDE] == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(
    ("lon", "ew", "expected"),
    [
        ("11357.8913", "E", 113 + 57.8913 / 60),  # DDDMM.MMMM
        ("00507.33983", "E", 5 + 7.33983 / 60),  # five decimals, leading zeros
        ("2117.4683", "E", 21 + 17.4683 / 60),  # two degree digits
        ("954.9490", "E", 9 + 54.9490 / 60),  # one degree digit
        ("38.6508", "W", -(38.6508 / 60)),  # no degree digits
        ("-48-2.8926", "W", -(48 + 2.8926 / 60)),  # -D-M.MMMM
        ("145037022", "E", 145 + 3.7022 / 60),  # D+MMmmmm
        ("17959.9999", "W", -(179 + 59.9999 / 60)),
    ],
)
def test_longitude_forms(lon: str, ew: str, expected: float) -> None:
    text = f"*HQ,{ID},V1,123456,A,2235.1777,N,{lon},{ew},0.00,0,150324,FFFFFFFF#"
    assert decode_one(text)[LONGITUDE] == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(
    ("lat", "ns", "lon", "ew"),
    [
        ("0.0000", "0", "0.0000", "0"),  # no hemisphere letter
        ("", "N", "11357.8913", "E"),  # empty
        ("2260.0000", "N", "11357.8913", "E"),  # 60 minutes
        ("9100.0000", "N", "11357.8913", "E"),  # over 90 degrees
        ("2235.1777", "N", "18100.0000", "E"),  # over 180 degrees
        ("22a5.1777", "N", "11357.8913", "E"),  # not a number
        ("2235.1777", "X", "11357.8913", "E"),  # bad hemisphere
        ("-2x-3.3", "S", "11357.8913", "E"),
        ("3757", "S", "11357.8913", "E"),  # too short for D+MMmmmm
    ],
)
def test_invalid_coordinates_are_rejected(lat: str, ns: str, lon: str, ew: str) -> None:
    text = f"*HQ,{ID},V1,123456,A,{lat},{ns},{lon},{ew},0.00,0,150324,FFFFFFFF#"
    with pytest.raises(DecodeError):
        h02.decode_text(text.encode(), NOW)


# --- the status word (docs/protocol.md section 2.5), every bit on its own -------------------------

# Active-low bit -> the parameter it raises, from the table of docs/protocol.md 2.5 (bits 11-13
# are reserved/undefined and raise nothing; bit 10 is the ignition, active-high).
STATUS_BIT_NAMES: Final[dict[int, Flag | None]] = {
    0: "vibration.alarm",
    1: SOS,
    2: OVERSPEED,
    3: "illegal.ignition.alarm",
    4: "geofence.in.alarm",
    5: "gnss.antenna.cut.alarm",
    6: "gnss.antenna.short.alarm",
    7: "geofence.out.alarm",
    8: "door.open.status",
    9: "security.status",
    10: None,
    11: None,
    12: None,
    13: None,
    14: "custom.alarm",
    15: OVERSPEED,
    16: "gnss.fault.alarm",
    17: "analog.overlimit.alarm",
    18: SOS,
    19: POWER_CUT,
    20: "battery.removed.alarm",
    21: "gnss.antenna.cut.alarm",
    22: "gnss.antenna.short.alarm",
    23: "sensor.low.2.status",
    24: "temperature.alarm",
    25: "password.wrong.alarm",
    26: "gprs.blocked.alarm",
    27: ENGINE_BLOCKED,
    28: "battery.removed.alarm",
    29: "sensor.high.1.status",
    30: "sensor.high.2.status",
    31: "sensor.low.1.status",
}
STATUS_NAMES: Final = {name for name in STATUS_BIT_NAMES.values() if name is not None}


def status_message(status: int) -> Message:
    return decode_one(f"*HQ,{ID},V1,{POSITION},{status:08X}#")


def test_idle_status_raises_nothing() -> None:
    message = status_message(0xFFFFFFFF)
    assert {name for name in STATUS_NAMES if message[name]} == set()
    assert message[IGNITION] is True
    assert message[STATE_BITMASK] == 0xFFFFFFFF


@pytest.mark.parametrize("bit", range(32))
def test_status_bit(bit: int) -> None:
    message = status_message(0xFFFFFFFF & ~(1 << bit))
    name = STATUS_BIT_NAMES[bit]
    assert {active for active in STATUS_NAMES if message[active]} == (
        set() if name is None else {name}
    )
    assert message[IGNITION] is (bit != 10)
    assert message[STATE_BITMASK] == 0xFFFFFFFF & ~(1 << bit)


def test_several_alarms_in_one_frame() -> None:
    # Traccar reports one alarm per frame; every active one is reported here.
    message = status_message(0xFFFFFFFF & ~((1 << 1) | (1 << 2) | (1 << 19) | (1 << 27)))
    assert {name for name in STATUS_NAMES if message[name]} == {
        SOS,
        OVERSPEED,
        POWER_CUT,
        ENGINE_BLOCKED,
    }


def test_lower_case_hex_status() -> None:
    assert decode_one(f"*HQ,{ID},V1,{POSITION},fffbffff#")[SOS] is True


# --- battery level from every place ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "level"),
    [("1", 0), ("2", 10), ("3", 20), ("4", 60), ("5", 80), ("6", 100), ("55", 55), ("100", 100)],
)
def test_battery_in_the_cell_tail(raw: str, level: int) -> None:
    message = decode_one(f"*HQ,{ID},V1,{POSITION},FFFFFBFF,460,00,9520,3671,{raw}#")
    assert message[BATTERY_LEVEL] == level


@pytest.mark.parametrize("kind", ["V5", "V6"])
def test_battery_in_v5_v6_tail(kind: str) -> None:
    message = decode_one(f"*HQ,{ID},{kind},{POSITION},FFFFFBFF,310,260,0,0,3#")
    assert message[BATTERY_LEVEL] == 20


def test_battery_zero_in_tail_is_absent() -> None:
    message = decode_one(f"*HQ,{ID},V1,{POSITION},FFFFFBFF,460,00,9520,3671,0#")
    assert BATTERY_LEVEL not in message


def test_battery_between_course_and_date() -> None:
    text = f"*HQ,{ID},V1,123456,A,2235.1777,N,11357.8913,E,000.5,047,4,150324,EEE7FBDF,4261193,0#"
    message = decode_one(text)
    assert message[BATTERY_LEVEL] == 60
    assert message[TIMESTAMP] == TIME  # the date after it is still found
    assert message[STATE_BITMASK] == 0xEEE7FBDF


def test_battery_percentage_of_the_document_tail() -> None:
    # [DOC-H02] V1: status,pw,count,mcc,mnc,(lac,cid)*count; pw 99 means 100 %.
    tail = "99,3,460,00,9520,3671,9520,3672,9520,3673"
    assert decode_one(f"*HQ,{ID},V1,{POSITION},FFFFFBFF,{tail}#")[BATTERY_LEVEL] == 100
    tail = "47,3,460,00,9520,3671,9520,3672,9520,3673"
    assert decode_one(f"*HQ,{ID},V1,{POSITION},FFFFFBFF,{tail}#")[BATTERY_LEVEL] == 47


def test_battery_over_100_in_heartbeat_is_absent() -> None:
    assert BATTERY_LEVEL not in decode_one(f"*HQ,{ID},HTBT,150#")


# --- time ------------------------------------------------------------------------------------------


def test_time_is_utc() -> None:
    message = decode_one(f"*HQ,{ID},V1,235959,A,2235.1777,N,11357.8913,E,0,0,311224,FFFFFFFF#")
    assert message[TIMESTAMP] == epoch("2024-12-31T23:59:59Z")


def test_second_69_rolls_over_to_the_next_minute() -> None:
    text = f"*HQ,{ID},NBR,160169,460,0,0,1,9520,3671,-67,150324,FFFFFBFF#"
    assert decode_one(text)[TIMESTAMP] == epoch("2024-03-15T16:02:09Z")
    text = f"*HQ,{ID},V1,235969,A,2235.1777,N,11357.8913,E,0,0,311224,FFFFFFFF#"
    assert decode_one(text)[TIMESTAMP] == epoch("2025-01-01T00:00:09Z")


def test_day_past_the_end_of_the_month_rolls_over() -> None:
    text = f"*HQ,{ID},V1,120000,A,2235.1777,N,11357.8913,E,0,0,300223,FFFFFFFF#"
    assert decode_one(text)[TIMESTAMP] == epoch("2023-03-02T12:00:00Z")


@pytest.mark.parametrize("date", ["151324", "320324", "150024", "000324", "1503", "15o324"])
def test_impossible_date_gives_no_timestamp(date: str) -> None:
    text = f"*HQ,{ID},V1,123456,A,2235.1777,N,11357.8913,E,0,0,{date},FFFFFFFF#"
    message = decode_one(text)
    assert TIMESTAMP not in message
    assert message[LATITUDE] == pytest.approx(LAT)  # the position is still reported


# --- replies (docs/protocol.md section 2.6) -------------------------------------------------------


def reply(text: str) -> bytes | None:
    frame = text.encode()
    return h02.text_reply(frame, h02.decode_text(frame, NOW), NOW)


def test_v1_is_acknowledged_with_the_server_time() -> None:
    assert reply(f"*HQ,{ID},V1,{POSITION},FFFFFBFF#") == f"*HQ,{ID},V4,V1,20240315123456#".encode()


def test_v1_ack_uses_hq_even_for_th_devices() -> None:
    assert reply(f"*TH,{ID},V1,{POSITION},FFFFFBFF#") == f"*HQ,{ID},V4,V1,20240315123456#".encode()


def test_nbr_is_acknowledged() -> None:
    text = f"*HQ,{ID},NBR,123456,460,0,0,1,9520,3671,-67,150324,FFFFFBFF#"
    assert reply(text) == f"*HQ,{ID},V4,NBR,20240315123456#".encode()


@pytest.mark.parametrize(
    ("text", "echo"),
    [
        ("*HQ,135790246811220,HTBT#", b"*HQ,135790246811220,HTBT#"),
        ("*HQ,135790246811220,HTBT,85#", b"*HQ,135790246811220,HTBT#"),
        (f"*HQ,{ID},V0,85#", f"*HQ,{ID},V0#".encode()),
        (f"*TH,{ID},HTBT#", f"*TH,{ID},HTBT#".encode()),  # keeps the device's own code
    ],
)
def test_heartbeat_echo(text: str, echo: bytes) -> None:
    assert reply(text) == echo


@pytest.mark.parametrize(
    "text",
    [
        f"*HQ,{ID},V5,{POSITION},FFFFFBFF#",
        f"*HQ,{ID},V4,S20,DONE,010203#",
        f"*HQ,{ID},XT#",
        f"*HQ,{ID},LINK,123456,20,8,67,0,0,150324,FFFFFBFF#",
        f"*HQ,{ID},SMS,OK#",
    ],
)
def test_other_frames_get_no_reply(text: str) -> None:
    assert reply(text) is None


# --- binary `$` frames (docs/protocol.md section 3) -----------------------------------------------


def test_binary_32_bytes() -> None:
    frame = binary_frame()
    assert len(frame) == 32
    message = h02.decode_binary(frame)
    assert message[MESSAGE_TYPE] == "$"
    assert message[IDENT] == ID
    assert_position(message)
    assert message[SPEED] == pytest.approx(18.52)
    assert message[DIRECTION] == 90
    assert message[BATTERY_LEVEL] == 100
    assert message[STATE_BITMASK] == 0xFFFFFBFF
    assert message[SEQNUM] == 7
    assert GSM_MCC not in message


@pytest.mark.parametrize(
    ("flags", "valid", "lat_sign", "lon_sign"),
    [
        (0xE, True, 1, 1),
        (0xC, False, 1, 1),
        (0xA, True, -1, 1),
        (0x6, True, 1, -1),
        (0x2, True, -1, -1),
    ],
)
def test_binary_flag_nibble(flags: int, valid: bool, lat_sign: int, lon_sign: int) -> None:
    message = h02.decode_binary(binary_frame(flags=flags))
    assert message[VALID] is valid
    assert message[LATITUDE] == pytest.approx(lat_sign * LAT)
    assert message[LONGITUDE] == pytest.approx(lon_sign * LON)


def test_binary_45_bytes_with_tail() -> None:
    frame = binary_frame(tail=binary_tail_45(signal=21, satellites=9, mileage=1234, seq=0x2A))
    assert len(frame) == 45
    message = h02.decode_binary(frame)
    assert_position(message)
    assert message[GSM_SIGNAL] == 21
    assert message[SATELLITES] == 9
    assert message[MILEAGE] == 1234
    assert (message[GSM_MCC], message[GSM_MNC], message[GSM_LAC], message[GSM_CELLID]) == (
        460,
        0,
        0x262B,
        0x0F17,
    )
    assert message[SEQNUM] == 0x2A


def test_binary_45_bytes_without_the_ff00_marker() -> None:
    # Bytes 29-36 are firmware-dependent (docs/protocol.md 3.2): only trusted behind `ff 00`.
    tail = b"\x00\xbd\xf0\x90\x00\x00\x00\x00" + binary_tail_45()[8:]
    message = h02.decode_binary(binary_frame(tail=tail))
    assert SATELLITES not in message
    assert MILEAGE not in message
    assert message[GSM_MCC] == 460


def test_binary_42_bytes_with_8_byte_id() -> None:
    frame = binary_frame(ident="3524830841932930", tail=b"\xff\x01\x12\x00\x64\xba\x73\x00\x5e\xcc")
    assert len(frame) == 42
    message = h02.decode_binary(frame)
    assert message[IDENT] == "352483084193293"
    assert_position(message)
    assert message[STATE_BITMASK] == 0xFFFFFBFF


@pytest.mark.parametrize(
    ("raw", "level"),
    [
        (0x00, None),
        (0x01, 0),
        (0x02, 10),
        (0x03, 20),
        (0x04, 60),
        (0x05, 80),
        (0x06, 100),
        (0x07, 7),
        (0x50, 80),
        (0x64, 100),
        (0x65, None),
        (0xF1, 0),
        (0xF3, 20),
        (0xF4, 60),
        (0xF6, 100),
        (0xF7, None),
        (0xFF, None),
    ],
)
def test_binary_battery_byte(raw: int, level: int | None) -> None:
    message = h02.decode_binary(binary_frame(battery=raw))
    assert message.get(BATTERY_LEVEL) == level


def test_binary_time_is_utc_and_rolls_over() -> None:
    message = h02.decode_binary(binary_frame(clock="235969", date="311224"))
    assert message[TIMESTAMP] == epoch("2025-01-01T00:00:09Z")


def test_binary_impossible_date_gives_no_timestamp() -> None:
    message = h02.decode_binary(binary_frame(date="151324"))
    assert TIMESTAMP not in message
    assert message[LATITUDE] == pytest.approx(LAT)


@pytest.mark.parametrize(
    "frame",
    [
        binary_frame()[:31],  # too short
        b"#" + binary_frame()[1:],  # not '$'
        binary_frame(lat="2235177a"),  # not BCD
        binary_frame(lat="95000000"),  # over 90 degrees
    ],
)
def test_invalid_binary_frames_raise_decode_error(frame: bytes) -> None:
    with pytest.raises(DecodeError):
        h02.decode_binary(frame)


def test_binary_status_word_is_the_text_status_word() -> None:
    status = 0xFFFFFFFF & ~((1 << 0) | (1 << 18))
    binary = h02.decode_binary(binary_frame(status=status))
    text = status_message(status)
    names: set[Key] = {*STATUS_NAMES, IGNITION, STATE_BITMASK}
    assert {name: binary[name] for name in names} == {name: text[name] for name in names}


# --- BC: dates by arithmetic, segments capped ------------------------------------------------------

BC_SEGMENT: Final = (
    "A,2235.1777,N,11357.8913,E,000.00,000,{day:02d}123456,FFFFFBFF,460,00,9520,3671"
)


@pytest.mark.parametrize(
    ("now", "day", "expected"),
    [
        ("2025-03-01T00:00:00Z", 31, "2025-01-31T12:34:56Z"),  # February has no 31st
        ("2025-03-01T00:00:00Z", 29, "2025-01-29T12:34:56Z"),  # not a leap year
        ("2024-03-01T00:00:00Z", 29, "2024-02-29T12:34:56Z"),  # a leap year
        ("2025-05-01T00:00:00Z", 31, "2025-03-31T12:34:56Z"),  # April has 30 days
        ("2025-01-02T00:00:00Z", 31, "2024-12-31T12:34:56Z"),  # across the year
        ("2025-01-02T00:00:00Z", 2, "2025-01-02T12:34:56Z"),  # today
        ("2025-01-02T00:00:00Z", 1, "2025-01-01T12:34:56Z"),  # earlier this month
        ("2000-03-01T00:00:00Z", 29, "2000-02-29T12:34:56Z"),  # 2000: a leap year
        ("2100-03-01T00:00:00Z", 29, "2100-01-29T12:34:56Z"),  # 2100: not one
    ],
)
def test_blind_spot_dates(now: str, day: int, expected: str) -> None:
    frame = f"*HQ,{ID},BC,123456,1,{BC_SEGMENT.format(day=day)}#".encode()
    (message,) = h02.decode_text(frame, epoch(now))
    assert message[TIMESTAMP] == epoch(expected)


@pytest.mark.parametrize("day", [0, 32, 99])
def test_blind_spot_impossible_day_gives_no_timestamp(day: int) -> None:
    frame = f"*HQ,{ID},BC,123456,1,{BC_SEGMENT.format(day=day)}#".encode()
    (message,) = h02.decode_text(frame, NOW)
    assert TIMESTAMP not in message


def test_blind_spot_segments_are_capped() -> None:
    count = h02.MAX_BATCH_SEGMENTS + 10
    segments = ";".join(BC_SEGMENT.format(day=1 + index % 28) for index in range(count))
    frame = f"*HQ,{ID},BC,123456,{count},{segments}#".encode()
    connection = TrackerConnection(max_frame=len(frame) + 1)
    (event,) = connection.feed(frame, NOW)
    assert isinstance(event, Decoded)
    assert len(event.messages) == h02.MAX_BATCH_SEGMENTS
    assert event.warning is not None
    assert f"{count} segments" in event.warning
    assert "10 after the first" in event.warning


def test_blind_spot_batch_of_the_default_frame_size_is_not_capped() -> None:
    # The shortest segments that fit the default 4 KiB frame are all decoded.
    segment = "A,2235.1777,N,11357.8913,E,0,0,01123456,FFFFFBFF"
    count = (4096 - 40) // (len(segment) + 1)
    frame = f"*HQ,{ID},BC,123456,{count},{';'.join([segment] * count)}#".encode()
    assert len(frame) <= 4096
    (event,) = TrackerConnection().feed(frame, NOW)
    assert isinstance(event, Decoded)
    assert len(event.messages) == count
    assert event.warning is None
