"""Every frame of the shared Traccar corpus (../shared/protocol/frames-dev.jsonl) as a test.

Each record is checked against what Traccar asserts (``expect``) and against the reference
decode (``derived``) where it states a value. Where this codec deliberately differs, the
tables below say so and why; the test then asserts what this codec produces instead.

Traccar's names map to ours as follows (docs/protocol.md 5): latitude/longitude/valid/time ->
``position.*`` and ``timestamp``; knots -> km/h (x 1.852); course -> ``position.direction``;
``sat`` -> ``position.satellites``; ``batteryLevel`` -> ``battery.level``; ``battery`` (V) ->
``battery.voltage``; ``power`` (V) -> ``external.powersource.voltage``; ``status`` ->
``vehicle.state.bitmask``; ``iccid`` -> ``gsm.sim.iccid``; ``imei`` -> ``device.imei``;
``result`` -> ``command.response`` (or ``command.code``/``command.result``/``command.time``
for an H02 V4 reply).
"""

from __future__ import annotations

from typing import Any, Final

import pytest

from custom_components.sinotrack.protocol import (
    Command,
    CommandKind,
    Decoded,
    DecodeError,
    Frame,
    Framer,
    Message,
    ProtocolError,
    Skipped,
    TrackerConnection,
    commands,
    h02,
    jt808,
    normalize_ident,
)
from custom_components.sinotrack.protocol.message import (
    ALARM_BITMASK,
    ALTITUDE,
    ARCHIVE,
    BATTERY_LEVEL,
    BATTERY_VOLTAGE,
    COMMAND_CODE,
    COMMAND_RESPONSE,
    COMMAND_RESULT,
    COMMAND_TIME,
    DIRECTION,
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
    SATELLITES,
    SIM_ICCID,
    SOS,
    SPEED,
    STATE_BITMASK,
    TIMESTAMP,
    VALID,
    VIBRATION,
    Flag,
    Key,
)
from tests.support.frames import NOW

from . import corpus
from .corpus import Record
from .helpers import POSITION_KEYS, epoch, jt808_frame

NOW_DIGITS: Final = "20240315123456"
"""``NOW`` as the yyyyMMddHHmmss of the H02 V4 acks."""

# --- Where this codec differs from Traccar, and why ------------------------------------------

NOT_DECODED: Final[dict[str, str]] = {
    # JT/T 808 vendor items and messages that are not part of any ST-90x feature. The codec
    # decodes the standard position block of these frames (asserted below) and skips the item.
    "jt808-dec-008": "0x0702 driver identity (IC-card reader): ST-90x trackers have no card "
    "reader; the message is accepted (no reply, as in Traccar) with no card data",
    "jt808-dec-012": "Traccar's `motion` comes from a vendor 0xEB/0x00C5 flag undocumented for "
    "ST-90x; this codec reports movement from the standard status bit 22 only",
    "jt808-dec-014": "OBD `rpm` from a vendor 0xE6 `$OBD-RT` text item: no OBD on ST-90x",
    "jt808-dec-015": "`videoAlarm` (item 0x14, JT/T 1078 video terminals): no camera on ST-90x",
    "jt808-dec-017": "`motion` from vendor item 0xE5, undocumented for ST-90x",
    "jt808-dec-020": "0x0900 transparent data (GTSL driver id): not an ST-90x message; the frame "
    "is acknowledged and yields a message without data",
    "jt808-dec-030": "temperature sensors (item 0x51): not an ST-90x feature",
    "jt808-dec-033": "0x5501 electronic-lock record (and Traccar's 0x4401 vendor ack): not an "
    "ST-90x message; accepted without data or reply",
    "jt808-dec-035": "0x5502 electronic-lock position: not an ST-90x message; Traccar decodes a "
    "position from the lock's own layout, this codec yields a message without position",
    "jt808-dec-036": "`driverUniqueId` from vendor items 0x60-0x66 (driver/lock events): not "
    "ST-90x",
    "jt808-dec-040": "OBD `dtcs` inside 0x0900 transparent data (Jimi OBD): no OBD on ST-90x",
    "jt808-dec-046": "0x0900 transparent data with a vendor position block (Jimi): not an "
    "ST-90x message; accepted and acknowledged, no position",
    "jt808-dec-050": "temperatures from vendor items 0xE6/0xA7: not an ST-90x feature",
    "jt808-dec-051": "`hardAcceleration` from vendor driving-behaviour items (0xFE/0x70): not "
    "documented for ST-90x",
    "jt808-dec-053": "`( ... )` ASCII ELOCK frame (electronic locks): not JT/T 808 and not sent "
    "by ST-90x; the bytes are skipped (Traccar returns nothing for this one either)",
    "jt808-dec-054": "lock/seal records (items 0xD5/0xE8): not an ST-90x feature",
    "jt808-dec-055": "0x0900 transparent data with a vendor position block: not an ST-90x "
    "message; accepted and acknowledged, no position",
    "jt808-dec-057:removing": "`removing` from the vendor 0xEB/0x0089 alarm word (bit 12); "
    "only its power-off bit 0 is decoded (the standard lowBattery bit is)",
    "jt808-dec-058": "OBD block (items 0x80-0xA0, `dtcs`): no OBD on ST-90x",
    "jt808-dec-067": "0x5501 electronic-lock record (`charge`): not an ST-90x message",
    "jt808-dec-068": "`( ... )` ASCII ELOCK frame: not JT/T 808 and not sent by ST-90x; skipped",
    "jt808-dec-070": "0x5502 electronic-lock position: not an ST-90x message; no position",
    "jt808-dec-072": "`fuel2` from a vendor fuel sensor in 0xEB/0x0023: not an ST-90x feature",
    "jt808-dec-074": "battery from a lock status string in item 0x33 (`*M00,...`): electronic "
    "locks only",
    "jt808-dec-094": "`charge` from vendor item 0xF7 (VL300/AL300 layout): undocumented for "
    "ST-90x; the 0xF1 power voltage of the same frame is decoded",
    "jt808-dec-105": "AL300 model-specific alarm mapping (Traccar applies it only with the device "
    "model set): bit 16 is reported as vendor.16.alarm",
    "jt808-dec-106": "Jimi JC371 model-specific item 0xE8 (battery voltage)",
    "jt808-dec-107": "Jimi JC371 model-specific item 0xE8 (SOS); the standard alarm word of the "
    "frame is 0",
    "jt808-dec-108": "Jimi JC371 model-specific item 0xE8 (vibration); the standard alarm word "
    "of the frame is 0",
    "jt808-dec-109": "ADAS/DMS alarm label (item 0x64, JT/T 1078 cameras): not an ST-90x feature",
    "jt808-dec-111": "GL100 model-specific item 0xF8 carrying the ICCID",
    "jt808-dec-113": "GL100 sensor block in 0x0900 transparent data (`deviceTemp`)",
    "jt808-frm-114": "`( ... )` ASCII ELOCK frames share Traccar's JT/T 808 port; ST-90x never "
    "sends them, so this framer does not frame them (the bytes are skipped)",
    "jt808-enc-121": "0x8900 transparent downlink is a Jimi-specific command form; a custom "
    "command is sent as the standard 0x8300 text message instead",
}

VENDOR_HEADER: Final[dict[str, str]] = {
    # Electronic-lock frames (attr bit 15 set) use a vendor header with a 1-byte serial.
    # This codec reads the standard header, so the serial it sees differs from the reference
    # decode's and the declared length does not match (the frame is accepted with a warning
    # and yields no data: see NOT_DECODED).
    "jt808-dec-033": "0x5501 lock record",
    "jt808-dec-035": "0x5502 lock position",
    "jt808-dec-067": "0x5501 lock record",
    "jt808-dec-070": "0x5502 lock position",
}

NULL_RESULTS: Final[dict[str, str]] = {
    # Traccar returns no position for these. What this codec does instead:
    "h02-text-dec-007": "heartbeat without battery: a liveness message (no position) and the "
    "HTBT echo, so the tracker shows as online",
    "h02-text-dec-014": "empty latitude: DecodeError (the frame is rejected), as in Traccar",
    "h02-text-dec-018": "XT heartbeat: a liveness message without position",
    "h02-text-dec-051": "coordinates without a hemisphere letter: DecodeError (rejected)",
    "jt808-dec-053": "ASCII ELOCK frame: not framed at all (see NOT_DECODED)",
    "jt808-dec-084": "0x0100 registration: a message with the registration data (province, "
    "city, manufacturer, model, plate) and no position; answered with 0x8100",
    "jt808-dec-085": "0x0100 registration: registration data, no position; 0x8100",
    "jt808-dec-086": "0x0100 registration: registration data, no position; 0x8100",
    "jt808-dec-087": "0x0102 authentication: a liveness message, no position; 0x8001",
    "jt808-dec-089": "0x0102 authentication: a liveness message, no position; 0x8001",
    "jt808-dec-093": "0x0002 heartbeat: a liveness message, no position; 0x8001",
}

QUIRKS: Final[dict[str, dict[Key, Any]]] = {
    # traccar_quirk frames: Traccar's regex lets an optional group swallow the date and/or the
    # status word (docs/protocol.md 2.2), so it uses the server time and loses the status.
    # Splitting on commas finds both; the values below are read off the frames by hand.
    "h02-text-dec-010": {  # ...,047,4,080918,EEE7FBDF,4261193,0 (4 = battery scale -> 60 %)
        TIMESTAMP: epoch("2018-09-08T05:40:48Z"),
        STATE_BITMASK: 0xEEE7FBDF,
        BATTERY_LEVEL: 60,
        POWER_CUT: True,  # bit 19 clear
    },
    "h02-text-dec-016": {  # V19: ...,200417,,<ip>,<ICCID>,BFFFFBFF
        TIMESTAMP: epoch("2017-04-20T21:44:52Z"),
        STATE_BITMASK: 0xBFFFFBFF,
        SIM_ICCID: "89480610500392633029",
    },
    "h02-text-dec-029": {  # V19: ICCID with a trailing '?'
        TIMESTAMP: epoch("2017-02-10T10:37:32Z"),
        STATE_BITMASK: 0xFFFFFBFF,
        SIM_ICCID: "8954314165044716555",
    },
    "h02-text-dec-043": {  # V19: ICCID with a trailing 'F'
        TIMESTAMP: epoch("2016-09-13T09:30:43Z"),
        STATE_BITMASK: 0xFFFFFBFF,
        SIM_ICCID: "8944538530000543700",
    },
}

CELL_MCC: Final[dict[str, int]] = {
    # Cell tails that are neither stated by Traccar nor by the reference decode: the MCC must
    # be the country of the reported coordinates (this is what tells decimal from hex tails).
    "h02-text-dec-002": 310,  # decimal; USA, Oklahoma
    "h02-text-dec-006": 470,  # decimal; Bangladesh
    "h02-text-dec-011": 0xCC,  # hex 'cc' = 204; Netherlands
    "h02-text-dec-013": 0xCC,  # hex; Netherlands
    "h02-text-dec-025": 246,  # decimal; Lithuania
    "h02-text-dec-032": 310,  # decimal; Puerto Rico (US MCC)
    "h02-text-dec-044": 0x125,  # hex '125' = 293; Slovenia
    "h02-text-dec-045": 712,  # decimal; Costa Rica
    "h02-text-dec-055": 0x2D4,  # hex '0002d4' = 724; Brazil
    "h02-text-dec-067": 0x106,  # hex '000106' = 262; Germany
    "h02-text-dec-069": 0x106,  # hex '106' = 262; Germany
    "h02-text-dec-070": 0x194,  # hex '194' = 404; India
    "h02-binary-dec-001": 470,  # 45-byte tail; Bangladesh
    "h02-binary-dec-004": 234,  # UK
    "h02-binary-dec-007": 732,  # Colombia
    "h02-binary-dec-011": 262,  # Germany
    "h02-binary-dec-013": 460,  # China
}

ATTRIBUTES: Final[dict[str, Key]] = {
    "sat": SATELLITES,
    "batteryLevel": BATTERY_LEVEL,
    "battery": BATTERY_VOLTAGE,
    "power": POWER_VOLTAGE,
    "status": STATE_BITMASK,
    "iccid": SIM_ICCID,
    "imei": "device.imei",
    "result": COMMAND_RESPONSE,
}
ALARMS: Final[dict[str, tuple[str, ...]]] = {
    "sos": (SOS,),
    "powerCut": (POWER_CUT,),
    "overspeed": (OVERSPEED,),
    "vibration": (VIBRATION,),
    "lowBattery": (LOW_BATTERY,),
    # Bits 15-17 are reserved by JT/T 808 and vendors disagree on them (docs/protocol.md 4.7);
    # Traccar calls 16 and 17 `tampering`. This codec names them by their bit number.
    "tampering": ("vendor.16.alarm", "vendor.17.alarm"),
}
H02_ALARM_PRIORITY: Final = ("vibration", "sos", "overspeed", "powerCut")
"""Traccar reports at most one H02 alarm per frame, in this order (docs/protocol.md section 2.5)."""
H02_ALARM_NAMES: Final[dict[str, Flag]] = {
    "vibration": VIBRATION,
    "sos": SOS,
    "overspeed": OVERSPEED,
    "powerCut": POWER_CUT,
}

JT808_ACKNOWLEDGED: Final = {0x0002, 0x0003, 0x0102, 0x0107, 0x0200, 0x0210, 0x0704, 0x0900, 0x6006}
JT808_UNANSWERED: Final = {0x0001, 0x0701, 0x0702, 0x1300, 0x2070, 0x5501, 0x5502}


def _has_position(message: Message) -> bool:
    return LATITUDE in message and LONGITUDE in message


def _approx(actual: Any, expected: float, tolerance: float = 1e-6) -> None:
    assert actual == pytest.approx(expected, abs=tolerance)


def _check_traccar_expect(record: Record, found: list[Message]) -> None:
    """What the Traccar test asserts for this frame, in our names."""
    key = record["id"]
    expect = record["expect"]
    if expect.get("null"):
        assert key in NULL_RESULTS
        assert not any(name in message for message in found for name in POSITION_KEYS)
        return
    if key in NOT_DECODED:
        return  # asserted by the generic checks: what this codec does produce
    assert found, "Traccar decodes something here"
    first = found[0]
    if expect.get("position") or expect.get("positions"):
        assert all(_has_position(message) for message in found)
        assert -90 <= first[LATITUDE] <= 90
        assert -180 <= first[LONGITUDE] <= 180
    if "time" in expect:
        assert first[TIMESTAMP] == epoch(expect["time"])
    if "valid" in expect:
        assert first[VALID] is expect["valid"]
    if "latitude" in expect:
        _approx(first[LATITUDE], expect["latitude"], expect["tolerance_deg"])
        _approx(first[LONGITUDE], expect["longitude"], expect["tolerance_deg"])
    if expect.get("attributes"):
        assert set(first) - {IDENT, MESSAGE_TYPE, PROTOCOL_ID}
    for name, value in expect.get("attribute", {}).items():
        if name == "alarm":
            for alarm in value.split(","):
                if f"{key}:{alarm}" in NOT_DECODED:
                    continue
                assert any(first.get(flag) is True for flag in ALARMS[alarm]), alarm
        elif name == "result" and first[PROTOCOL_ID] == "h02" and first[MESSAGE_TYPE] == "V4":
            parts = (first[COMMAND_CODE], first[COMMAND_RESULT], first.get(COMMAND_TIME, ""))
            assert ",".join(part for part in parts if part) == value
        elif isinstance(value, float):
            _approx(first[ATTRIBUTES[name]], value)
        else:
            assert first[ATTRIBUTES[name]] == value


# --- H02 text ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "record",
    corpus.params(lambda r: r["protocol"] == "h02-text" and r["layer"] == "protocol-decoder"),
)
def test_h02_text_frame(record: Record | None) -> None:
    record = corpus.require(record)
    key = record["id"]
    frame = record["frame_ascii"].encode()
    derived = record["derived"]
    if key in NULL_RESULTS and "DecodeError" in NULL_RESULTS[key]:
        with pytest.raises(DecodeError):
            h02.decode_text(frame, NOW)
        events = TrackerConnection().feed(frame, NOW)
        assert [type(event).__name__ for event in events] == ["Rejected"]
        return
    found = h02.decode_text(frame, NOW)
    assert len(found) == 1
    message = found[0]
    assert message[PROTOCOL_ID] == "h02"
    assert message[MESSAGE_TYPE] == derived["type"]
    ident = record["frame_ascii"].split(",")[1]
    assert derived.get("id", ident) in (ident, None)
    if ident:
        assert message[IDENT] == ident
    else:
        assert IDENT not in message  # *HQ,,V1,...: the connection supplies the ID
    _check_h02_derived(key, derived, message)
    _check_traccar_expect(record, found)
    _check_h02_connection(record, found)


def _check_h02_derived(key: str, derived: dict[str, Any], message: Message) -> None:
    if "latitude" in derived:
        _approx(message[LATITUDE], derived["latitude"])
        _approx(message[LONGITUDE], derived["longitude"])
        assert message[VALID] is derived["valid"]
        _approx(message[SPEED], derived["speed_knots"] * 1.852, 0.006)
        _approx(message[DIRECTION], derived["course"])
    if key in QUIRKS:
        for name, value in QUIRKS[key].items():
            assert message[name] == value, name
    elif "fix_time" in derived:
        if derived["fix_time"] is None:
            assert TIMESTAMP not in message  # no date in the frame: none is guessed
        else:
            assert message[TIMESTAMP] == epoch(derived["fix_time"])
    if "device_time" in derived:
        assert message[TIMESTAMP] == epoch(derived["device_time"])
    if "status" in derived:
        assert message[STATE_BITMASK] == derived["status"]
        assert message[IGNITION] is derived["ignition"]
        _check_h02_alarm(derived["traccar_alarm"], message)
    if derived.get("cells"):
        cell = derived["cells"][0]
        assert (message[GSM_MCC], message[GSM_MNC], message[GSM_LAC], message[GSM_CELLID]) == (
            cell["mcc"],
            cell["mnc"],
            cell["lac"],
            cell["cid"],
        )
    if key in CELL_MCC:
        assert message[GSM_MCC] == CELL_MCC[key]
    if "batteryLevel" in derived:  # LINK, and the battery byte of `$` frames
        if derived["batteryLevel"] is None:
            assert BATTERY_LEVEL not in message
        else:
            assert message[BATTERY_LEVEL] == derived["batteryLevel"]
    if "rssi" in derived:
        assert message[GSM_SIGNAL] == derived["rssi"]
        assert message[SATELLITES] == derived["sat"]
    if "result" in derived:
        if derived["type"] == "V4":
            parts = (message[COMMAND_CODE], message[COMMAND_RESULT], message[COMMAND_TIME])
            assert ",".join(part for part in parts if part) == derived["result"]
        else:
            assert message[COMMAND_RESPONSE] == derived["result"]
    # V3's 4-hex-digit `battery` (derived only, unit undocumented) is deliberately not decoded.


def _check_h02_alarm(traccar_alarm: str | None, message: Message) -> None:
    """Traccar's single alarm is the first active one in priority order; we report each."""
    rank = (
        len(H02_ALARM_PRIORITY)
        if traccar_alarm is None
        else H02_ALARM_PRIORITY.index(traccar_alarm)
    )
    for name in H02_ALARM_PRIORITY[:rank]:
        assert message[H02_ALARM_NAMES[name]] is False, name
    if traccar_alarm is not None:
        assert message[H02_ALARM_NAMES[traccar_alarm]] is True


def _check_h02_connection(record: Record, found: list[Message]) -> None:
    """The same frame through a connection: same messages, and the reply Traccar sends."""
    frame = record["frame_ascii"].encode()
    connection = TrackerConnection()
    if IDENT not in found[0]:
        # An empty ID is only accepted on a connection whose tracker is already known.
        connection.feed(b"*HQ,4210051415,HTBT#", NOW)
    events = connection.feed(frame, NOW)
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, Decoded)
    ident = found[0].get(IDENT, "4210051415")
    assert event.messages == [{**found[0], IDENT: ident}]
    expected = record["derived"].get("traccar_reply")
    if expected is not None:
        expected = expected.replace("<yyyyMMddHHmmss UTC now>", NOW_DIGITS)
        expected = expected.replace("*HQ,None,", f"*HQ,{ident},")  # reference decode's None
        assert event.reply == expected.encode()
    else:
        assert event.reply is None


# --- H02 binary --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "record",
    corpus.params(lambda r: r["protocol"] == "h02-binary" and r["layer"] == "protocol-decoder"),
)
def test_h02_binary_frame(record: Record | None) -> None:
    record = corpus.require(record)
    frame = bytes.fromhex(record["frame_hex"])
    derived = record["derived"]
    assert len(frame) == derived["length"]
    message = h02.decode_binary(frame)
    assert message[MESSAGE_TYPE] == "$"
    assert message[IDENT] == derived["id"]
    _check_h02_derived(record["id"], derived, message)
    _check_traccar_expect(record, [message])
    # Through a connection (one frame, fresh connection: the length is found by the framer;
    # a lone 32-byte frame waits for what follows, or for the peer to go quiet: flush).
    connection = TrackerConnection()
    events = connection.feed(frame, NOW)
    if len(frame) == 32:
        assert events == []
        events = connection.flush(NOW)
    assert len(events) == 1
    assert isinstance(events[0], Decoded)
    assert events[0].messages == [message]
    assert events[0].reply is None


# --- JT/T 808 ----------------------------------------------------------------------------------


def _eb_power_off(hex_value: str) -> bool:
    """Whether a vendor 0xEB item carries the active-low power-off flag (0x0089 bit 0 = 0)."""
    value = bytes.fromhex(hex_value)
    if len(value) >= 8 and int.from_bytes(value[0:2]) > 200 and (len(value) - 3) % 5 == 0:
        return False  # a cell list
    position = 0
    while position + 4 <= len(value):
        length = int.from_bytes(value[position : position + 2])
        kind = int.from_bytes(value[position + 2 : position + 4])
        data = value[position + 4 : position + 2 + length]
        position += 2 + length
        if kind == 0x0089 and len(data) == 4 and not data[3] & 1:
            return True
    return False


def _check_location(message: Message, location: dict[str, Any]) -> None:
    _approx(message[LATITUDE], location["latitude"])
    _approx(message[LONGITUDE], location["longitude"])
    assert message[ALTITUDE] == location["altitude_m"]
    _approx(message[SPEED], location["speed_kmh"])
    assert message[DIRECTION] == location["course"]
    assert message[TIMESTAMP] == epoch(location["fix_time_utc_if_gmt8"])
    assert message[ALARM_BITMASK] == location["alarm_word"]
    assert message[STATE_BITMASK] == location["status_word"]
    assert message[VALID] is location["valid"]
    assert message[IGNITION] is location["acc_on"]
    power_off_item = any(
        item["id"] == "0xEB" and _eb_power_off(item["hex"]) for item in location["extra_items"]
    )
    for bit, name in enumerate(jt808.ALARM_BITS):
        expected = bit in location["alarm_bits_set"]
        if name == POWER_CUT and power_off_item:
            expected = True
        assert message[name] is expected, name
    for name, bit in jt808.STATUS_BITS:
        assert message[name] is (bit in location["status_bits_set"]), name
    if location.get("extra_tlv_exact"):
        for item in location["extra_items"]:
            if "mileage_km" in item:
                _approx(message[MILEAGE], item["mileage_km"])
            if "rssi" in item:
                assert message[GSM_SIGNAL] == item["rssi"]
            if "satellites" in item:
                assert message[SATELLITES] == item["satellites"]
    fixed = location.get("vendor_fixed_tail_18")
    if fixed is not None:
        assert message[MILEAGE] == fixed["mileage_km"]
        _approx(message[BATTERY_VOLTAGE], fixed["battery_v"])
        assert message[GSM_SIGNAL] == fixed["rssi"]


def _expected_jt808_reply(record: Record, code: str | None) -> bytes | None:
    """The reply to this frame on a fresh connection (serial 0, like Traccar's)."""
    derived = record["derived"]
    msg_id = int(derived["msg_id"], 16)
    terminal = derived["terminal_id_hex"]
    serial = derived["serial"].to_bytes(2)
    if msg_id == 0x0100:
        # Traccar's auth code is the terminal number; ours is a random one issued here.
        assert code is not None
        assert len(code) == 16
        assert code.isdigit()
        return jt808_frame(0x8100, terminal, 0, serial + b"\x00" + code.encode())
    if msg_id in JT808_ACKNOWLEDGED:
        return jt808_frame(0x8001, terminal, 0, serial + msg_id.to_bytes(2) + b"\x00")
    assert msg_id in JT808_UNANSWERED
    return None


@pytest.mark.parametrize(
    "record",
    corpus.params(lambda r: r["protocol"] == "jt808" and r["layer"] == "protocol-decoder"),
)
def test_jt808_frame(record: Record | None) -> None:
    record = corpus.require(record)
    key = record["id"]
    raw = bytes.fromhex(record["frame_hex"])
    derived = record["derived"]
    if derived.get("kind") == "ascii-parenthesized":
        assert key in NOT_DECODED
        events = TrackerConnection().feed(raw, NOW)
        assert events
        assert not any(isinstance(event, Decoded) for event in events)
        _check_traccar_expect(record, [])
        return
    assert raw[:1] == raw[-1:] == b"\x7e"
    content = raw[1:-1]
    frame = jt808.parse_frame(content)
    assert frame.msg_id == int(derived["msg_id"], 16)
    assert frame.checksum_ok is derived["checksum_ok"]
    if key in VENDOR_HEADER:
        assert not frame.length_ok
    else:
        assert frame.serial == derived["serial"]
        assert frame.length_ok is derived["body_len_matches"]
    assert frame.version_2019 is derived["version_flag_2019"]
    assert frame.encrypted == derived["encrypt"]
    assert bool(frame.packet_total) is derived["subpackage"]
    assert frame.terminal.hex() == derived["terminal_id_hex"]
    ident = frame.ident
    assert ident == normalize_ident(derived["terminal_id"])
    found = jt808.decode_body(frame, frame.body, ident, 8.0)
    assert found
    for message in found:
        assert message[PROTOCOL_ID] == "jt808"
        assert message[MESSAGE_TYPE] == f"0x{frame.msg_id:04X}"
        assert message[IDENT] == ident
    if "location" in derived:
        assert len(found) == 1
        _check_location(found[0], derived["location"])
    elif "locations" in derived:
        assert len(found) == derived["batch_count"] == len(derived["locations"])
        for message, location in zip(found, derived["locations"], strict=True):
            _check_location(message, location)
            assert message[ARCHIVE] is (derived["batch_type"] == 1)
    elif key in NOT_DECODED or record["expect"].get("null"):
        assert not any(_has_position(message) for message in found)
    if "register" in derived:
        register = derived["register"]
        assert found[0]["province.id"] == register["province_id"]
        assert found[0]["city.id"] == register["city_id"]
        assert found[0]["manufacturer.code"] == register["manufacturer_id"]
        assert found[0]["device.model"] == register["terminal_model"]
        assert found[0]["manufacturer.device.code"] == register["terminal_dev_id"]
        assert found[0]["vehicle.plate.color"] == register["plate_color"]
        assert found[0]["vehicle.plate"] == bytes.fromhex(register["plate_hex"]).decode("gbk")
    _check_traccar_expect(record, found)

    # The frame as it arrives on TCP, through a connection.
    wire_hex: str = record.get("frame_hex_wire") or record["frame_hex"]
    wire = bytes.fromhex(wire_hex)
    assert wire == b"\x7e" + jt808.escape(content) + b"\x7e"
    connection = TrackerConnection()
    events = connection.feed(wire, NOW)
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, Decoded)
    # Dates more than a day after the test's server clock are dropped (and counted).
    future = [m for m in found if m.get(TIMESTAMP, 0) > NOW + 86_400]
    expected = [{k: v for k, v in m.items() if k != TIMESTAMP or m not in future} for m in found]
    assert event.messages == expected
    assert event.dropped == len(future)
    if future:
        assert event.warning is not None
        assert "ahead of the server clock" in event.warning
    # A wrong checksum or length is logged, not fatal (docs/protocol.md 6.5; Traccar does not check).
    if not frame.checksum_ok:
        assert event.warning is not None
        assert "checksum" in event.warning
    elif not frame.length_ok:
        assert event.warning is not None
        assert "length" in event.warning
    elif not future:
        assert event.warning is None
    assert event.reply == _expected_jt808_reply(record, connection.auth_code)


# --- framers -----------------------------------------------------------------------------------


@pytest.mark.parametrize("record", corpus.params(lambda r: r["layer"] == "frame-decoder"))
def test_frame_decoder(record: Record | None) -> None:
    record = corpus.require(record)
    key = record["id"]
    data = bytes.fromhex(record["frame_hex"])
    first = bytes.fromhex(record["expect"]["first_frame_hex"])
    protocol = "jt808" if record["protocol"] == "jt808" else "h02"
    if key in NOT_DECODED:  # the ( ... ) ELOCK frame
        for framer in (Framer(), Framer(protocol)):
            out = framer.feed(data)
            assert out
            assert all(isinstance(item, Skipped) for item in out)
            assert framer.buffered == 0
        return
    framer = Framer(protocol)
    # Traccar frames a lone 32-byte `$` read at once; this framer waits for the next byte
    # (32 bytes may be the start of a 45-byte frame) or for flush() when the peer is quiet.
    out = framer.feed(data) + framer.flush()
    frames = [item for item in out if isinstance(item, Frame)]
    assert frames
    if protocol == "jt808":
        # The framer yields the escaped bytes between the delimiters.
        assert b"\x7e" + jt808.unescape(frames[0].data) + b"\x7e" == first
    else:
        assert frames[0].data == first
    assert framer.buffered == 0  # everything consumed, including a trailing \r\n
    if data[:1] == b"$" and len(frames) > 1:
        assert frames[1].kind == "h02-text"  # binary and text frames in one read
    if data[:2] == b"$$":
        # Traccar's garbage-prefix test: the two '$' are reported as skipped.
        assert isinstance(out[0], Skipped)
    auto = Framer()
    auto_out = auto.feed(data) + auto.flush()
    if data[:1] == b"X":
        # Detection starts on `*XX,`, a valid `$` frame or 0x7E. An `X` frame carries nothing
        # this codec (or Traccar) decodes, so an `X` before the first real frame is skipped.
        assert all(isinstance(item, Skipped) for item in auto_out)
    elif data[:2] == b"$$":
        # A `$` might start an H02 binary frame until 14 more bytes show it cannot; the
        # 9-byte test frame is shorter than any real JT/T 808 frame (15+ bytes), which
        # always settles it (test_framing.py). Auto-detection may still be waiting here,
        # but must not frame anything else.
        assert [item.data for item in auto_out if isinstance(item, Frame)] in (
            [],
            [frames[0].data],
        )
    else:
        assert auto_out == out
        assert auto.protocol == protocol


# --- encoders ----------------------------------------------------------------------------------

H02_COMMANDS: Final = {
    "alarmArm": Command(CommandKind.ARM),
    "alarmDisarm": Command(CommandKind.DISARM),
    "engineStop": Command(CommandKind.ENGINE_STOP),
    "engineResume": Command(CommandKind.ENGINE_RESUME),
    "positionPeriodic": Command(CommandKind.INTERVAL, interval=10),
}
ENCODER_NOW: Final = epoch("2024-03-15T01:02:03Z")
"""Traccar's encoder tests use the time 01:02:03."""


@pytest.mark.parametrize(
    "record",
    corpus.params(lambda r: r["layer"] in ("protocol-encoder", "frame-encoder")),
)
def test_encoder(record: Record | None) -> None:
    record = corpus.require(record)
    key = record["id"]
    expect = record["expect"]
    if record["layer"] == "frame-encoder":
        logical = bytes.fromhex(expect["input_hex"])
        escaped = b"\x7e" + jt808.escape(logical[1:-1]) + b"\x7e"
        assert escaped.hex() == expect["escaped_output_hex"]
        return
    spec = record["command"]
    ident = spec["uniqueId"]
    if record["protocol"] == "h02-text":
        encoded = commands.h02_command(ident, H02_COMMANDS[spec["command"]], ENCODER_NOW)
        assert encoded.data.decode() == expect["encoder_output_ascii"]
        return
    if spec["command"] == "engineStop":
        command = Command(CommandKind.ENGINE_STOP)
    else:
        text = spec.get("text", "Test, Command, 123#")
        command = Command(CommandKind.CUSTOM, payload=text)
    msg_id, body = commands.jt808_command_body(command)
    # Traccar always sends serial 0000.
    data = jt808.build_frame(msg_id, jt808.encode_terminal(ident), 0, body)
    if key in NOT_DECODED:  # 0x8900: ours is the standard 0x8300 text message
        assert msg_id == jt808.TEXT_MESSAGE
        assert data == jt808_frame(0x8300, "0b3a73ce2ff2", 0, b"\x01TEST")
        return
    assert data.hex() == expect["encoder_output_hex"]


# --- the tables themselves ---------------------------------------------------------------------


@pytest.mark.skipif(not corpus.RECORDS, reason=corpus.MISSING_REASON)
def test_tables_name_real_records() -> None:
    ids = {record["id"] for record in corpus.RECORDS}
    for key in (*NOT_DECODED, *VENDOR_HEADER, *NULL_RESULTS, *QUIRKS, *CELL_MCC):
        assert key.split(":")[0] in ids, key
    quirks = {record["id"] for record in corpus.RECORDS if "traccar_quirk" in record}
    assert quirks == set(QUIRKS)
    nulls = {record["id"] for record in corpus.RECORDS if record["expect"].get("null")}
    assert nulls == set(NULL_RESULTS)


def test_decoders_raise_only_protocol_errors_on_corpus_shapes() -> None:
    """The corpus's two rejected H02 shapes, without the corpus."""
    for frame in (
        b"*HQ,353505510948929,V1,,V,,N,,E,0.00,0,,FFFFF7FF,f0,a,11a0,c0c6#",
        b"*HQ,353588020068342,V1,000000,V,0.0000,0,0.0000,0,0.00,0.00,000000,ffffffff#",
    ):
        with pytest.raises(ProtocolError):
            h02.decode_text(frame, NOW)
