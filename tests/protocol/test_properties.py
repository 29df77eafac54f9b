"""Property tests: hostile input never escapes as anything but ProtocolError, buffers stay
bounded, and the way a valid stream is cut into reads does not change what it decodes to.

The number of examples comes from the hypothesis profile (tests/protocol/conftest.py):
``HYPOTHESIS_PROFILE=ci`` or ``long`` runs more.
"""

from __future__ import annotations

import contextlib
from typing import Final

from hypothesis import given, strategies as st

from custom_components.sinotrack.protocol import (
    Decoded,
    Event,
    Frame,
    Framer,
    ProtocolError,
    Rejected,
    TrackerConnection,
    h02,
    jt808,
)
from custom_components.sinotrack.protocol.limits import DROPPED, MAX_FUTURE, RANGES
from tests.support.frames import NOW, item

from .helpers import binary_frame, binary_tail_45, jt808_frame, location_body

ID: Final = "9170000001"
TERMINAL: Final = "009170000001"
POSITION: Final = "123456,A,2235.1777,N,11357.8913,E,010.00,090,150324"

H02_FRAMES: Final = [
    f"*HQ,{ID},V1,{POSITION},FFFFFBFF,460,00,9520,3671,5#".encode(),
    f"*HQ,{ID},V1,{POSITION},FFFFFBFF#\r\n".encode(),
    f"*HQ,{ID},V6,{POSITION},FFF7FBFF,310,260,32936,13641,8944501311217563382F,#".encode(),
    f"*HQ,{ID},V19,{POSITION},,195.63.13.195,89480610500392633029,BFFFFBFF#".encode(),
    f"*HQ,{ID},V4,S20,DONE,010203,{POSITION},F7FFFBFF#".encode(),
    f"*HQ,{ID},NBR,160169,460,0,0,2,9520,3671,-67,9520,3672,-70,150324,FFFFFBFF,6#".encode(),
    f"*HQ,{ID},LINK,123456,20,8,67,0,0,150324,FFFFFBFF#".encode(),
    f"*HQ,{ID},HTBT,85#".encode(),
    f"*HQ,{ID},SMS,Line one\nID:{ID}\r\nGPS:A-24-23#".encode(),
    f"*HQ,{ID},BC,123456,1,A,2235.1777,N,11357.8913,E,0,0,15123456,FFFFFBFF,460,00,1,2#".encode(),
    f"*HQ,{ID},ALRM,1,123456#".encode(),
    binary_frame(),
    binary_frame(clock="123506", status=0xFFFBFBFF, tail=b"\xff\x00\x08"),
]
BINARY_45: Final = [
    binary_frame(tail=binary_tail_45()),
    binary_frame(clock="123506", tail=binary_tail_45(satellites=9, seq=0x0B)),
]
JT808_FRAMES: Final = [
    jt808_frame(0x0200, TERMINAL, 1, location_body()),
    jt808_frame(
        0x0200, TERMINAL, 2, location_body(alarm=0x101, items=item(0x01, b"\x00\x00\x36\xc9"))
    ),
    jt808_frame(0x0002, TERMINAL, 0x7E7D, b""),
    jt808_frame(0x0102, TERMINAL, 4, b"auth\x7e\x7dcode"),
    jt808_frame(0x0109, TERMINAL, 5, b""),
    jt808_frame(0x0704, TERMINAL, 6, b"\x00\x01\x01\x00\x1c" + location_body()),
    jt808_frame(0x6006, TERMINAL, 7, b"\x01" + "OK".encode("utf-16-be")),
    jt808_frame(0x0200, TERMINAL, 8, location_body(), checksum=0x7E),
]
VALID: Final = H02_FRAMES + BINARY_45 + JT808_FRAMES


def feed_all(
    connection: TrackerConnection, data: bytes, cuts: list[int], max_frame: int = 4096
) -> list[Event]:
    """Feed ``data`` cut at ``cuts``; check the buffer bound after every read."""
    events: list[Event] = []
    start = 0
    for cut in [*sorted(cuts), len(data)]:
        events += connection.feed(data[start:cut], NOW)
        assert connection.buffered <= max(max_frame, 64)
        start = max(start, cut)
    events += connection.flush(NOW)
    assert connection.buffered <= max(max_frame, 64)
    return events


def feed_whole(data: bytes) -> list[Event]:
    connection = TrackerConnection()
    return connection.feed(data, NOW) + connection.flush(NOW)


def summary(events: list[Event]) -> list[tuple[object, ...]]:
    return [
        ("decoded", event.messages, event.reply, event.warning)
        if isinstance(event, Decoded)
        else ("rejected",)
        for event in events
    ]


cuts_strategy = st.lists(st.integers(min_value=0, max_value=4096), max_size=12)


# --- hostile input ------------------------------------------------------------------------------


@given(
    data=st.binary(max_size=3000),
    cuts=cuts_strategy,
    protocol=st.sampled_from([None, "h02", "jt808"]),
    max_frame=st.sampled_from([64, 300, 4096]),
)
def test_random_bytes_never_raise(
    data: bytes, cuts: list[int], protocol: str | None, max_frame: int
) -> None:
    connection = TrackerConnection(protocol=protocol, max_frame=max_frame)
    events = feed_all(connection, data, cuts, max_frame)
    assert all(isinstance(event, (Decoded, Rejected)) for event in events)


# Text made of the characters H02 frames are made of reaches the field decoders.
h02_text = st.text(alphabet="0123456789ABCDEFHQNSEWVXabcdef,.-*# ;\n", max_size=200)


@given(body=h02_text)
def test_h02_text_decoder_raises_only_protocol_errors(body: str) -> None:
    frame = b"*" + body.replace("#", "").encode() + b"#"
    try:
        messages = h02.decode_text(frame, NOW)
    except ProtocolError:
        return
    h02.text_reply(frame, messages, NOW)


@given(
    kind=st.sampled_from(["V1", "V4", "NBR", "LINK", "V3", "VP1", "BC", "ALRM", "HTBT", "V19"]),
    fields=st.lists(st.text(alphabet="0123456789ABCDEFNSEWVX.-; ", max_size=12), max_size=30),
)
def test_h02_typed_frames_raise_only_protocol_errors(kind: str, fields: list[str]) -> None:
    frame = ",".join(["*HQ", ID, kind, *fields]).encode() + b"#"
    with contextlib.suppress(ProtocolError):
        h02.decode_text(frame, NOW)


@given(data=st.binary(min_size=31, max_size=48))
def test_h02_binary_decoder_raises_only_protocol_errors(data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        h02.decode_binary(b"$" + data)


@given(
    msg_id=st.sampled_from(
        [0x0001, 0x0100, 0x0200, 0x0201, 0x0210, 0x0701, 0x0704, 0x6006, 0x1300]
    ),
    body=st.binary(max_size=300),
    version=st.sampled_from([None, 1]),
)
def test_jt808_body_decoder_raises_only_protocol_errors(
    msg_id: int, body: bytes, version: int | None
) -> None:
    terminal = TERMINAL if version is None else "0" * 10 + ID
    wire = jt808_frame(msg_id, terminal, 1, body, version=version)
    events = TrackerConnection().feed(wire, NOW)
    assert len(events) == 1
    with contextlib.suppress(ProtocolError):
        frame = jt808.parse_frame(jt808.unescape(wire[1:-1]))
        jt808.decode_body(frame, frame.body, frame.ident, 8.0)


@given(
    data=st.binary(max_size=200),
    location_items=st.binary(max_size=200),
)
def test_jt808_frame_parser_raises_only_protocol_errors(data: bytes, location_items: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        frame = jt808.parse_frame(data)
        jt808.decode_body(frame, frame.body, frame.ident, 8.0)
    with contextlib.suppress(ProtocolError):
        jt808.decode_location(location_body(items=location_items), ID, 8.0, "0x0200")


# --- mutated valid frames -----------------------------------------------------------------------


@st.composite
def mutated_streams(draw: st.DrawFn) -> bytes:
    frames = draw(st.lists(st.sampled_from(VALID), min_size=1, max_size=5))
    data = bytearray(b"".join(frames))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        position = draw(st.integers(min_value=0, max_value=len(data)))
        action = draw(st.sampled_from(["flip", "truncate", "insert", "duplicate", "delete"]))
        if action == "flip" and position < len(data):
            data[position] ^= 1 << draw(st.integers(min_value=0, max_value=7))
        elif action == "truncate":
            del data[position:]
        elif action == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
        elif action == "duplicate":
            end = draw(st.integers(min_value=position, max_value=len(data)))
            data[position:position] = data[position:end]
        elif action == "delete":
            del data[position : position + draw(st.integers(min_value=1, max_value=8))]
    return bytes(data)


@given(data=mutated_streams(), cuts=cuts_strategy, max_frame=st.sampled_from([128, 4096]))
def test_mutated_frames_never_raise(data: bytes, cuts: list[int], max_frame: int) -> None:
    connection = TrackerConnection(max_frame=max_frame)
    events = feed_all(connection, data, cuts, max_frame)
    assert all(isinstance(event, (Decoded, Rejected)) for event in events)


@given(
    frame=st.sampled_from(VALID),
    position=st.integers(min_value=0, max_value=200),
    bit=st.integers(0, 7),
)
def test_bit_flipped_frames_decode_or_raise_protocol_error(
    frame: bytes, position: int, bit: int
) -> None:
    data = bytearray(frame)
    data[position % len(data)] ^= 1 << bit
    for item_ in Framer().feed(bytes(data)):
        if not isinstance(item_, Frame):
            continue
        raw = item_.data
        try:
            if raw[:1] == b"*":
                h02.decode_text(raw, NOW)
            elif raw[:1] == b"$":
                h02.decode_binary(raw)
            elif raw[:1] != b"X":
                parsed = jt808.parse_frame(jt808.unescape(raw))
                jt808.decode_body(parsed, parsed.body, parsed.ident, 8.0)
        except ProtocolError:
            pass


# --- valid streams ------------------------------------------------------------------------------


@given(frames=st.lists(st.sampled_from(H02_FRAMES), min_size=1, max_size=8), cuts=cuts_strategy)
def test_h02_stream_cut_anywhere_decodes_the_same(frames: list[bytes], cuts: list[int]) -> None:
    data = b"".join(frames)
    whole = feed_whole(data)
    assert not any(isinstance(event, Rejected) for event in whole)
    assert len(whole) == len(frames)
    assert summary(feed_all(TrackerConnection(), data, cuts)) == summary(whole)


@given(
    frames=st.lists(st.sampled_from(H02_FRAMES[:-2] + BINARY_45), min_size=1, max_size=6),
    cuts=cuts_strategy,
)
def test_45_byte_stream_cut_anywhere_decodes_the_same(frames: list[bytes], cuts: list[int]) -> None:
    # A `$` frame's length is ambiguous until what follows it is known (docs/protocol.md section 1);
    # the framer waits for it, even when a read ends 32 bytes into a 45-byte frame.
    data = b"".join(frames)
    whole = feed_whole(data)
    assert not any(isinstance(event, Rejected) for event in whole)
    assert len(whole) == len(frames)
    assert summary(feed_all(TrackerConnection(), data, cuts)) == summary(whole)


@given(frames=st.lists(st.sampled_from(JT808_FRAMES), min_size=1, max_size=8), cuts=cuts_strategy)
def test_jt808_stream_cut_anywhere_decodes_the_same(frames: list[bytes], cuts: list[int]) -> None:
    data = b"".join(frames)
    whole = feed_whole(data)
    assert not any(isinstance(event, Rejected) for event in whole)
    assert len(whole) == len(frames)
    assert summary(feed_all(TrackerConnection(), data, cuts)) == summary(whole)


H02_TEXT: Final = [frame for frame in H02_FRAMES if frame[:1] == b"*"]


@given(
    frames=st.one_of(
        st.lists(st.sampled_from(H02_TEXT), min_size=1, max_size=6),
        st.lists(st.sampled_from(JT808_FRAMES), min_size=1, max_size=6),
    ),
    cuts=cuts_strategy,
)
def test_framer_output_does_not_depend_on_the_cuts(frames: list[bytes], cuts: list[int]) -> None:
    # One protocol per connection; no binary `$` frames, whose length may need the next frame.
    data = b"".join(frames)
    whole = [item_.data for item_ in Framer().feed(data) if isinstance(item_, Frame)]
    framer = Framer()
    pieces: list[bytes] = []
    start = 0
    for cut in [*sorted(cuts), len(data)]:
        pieces += [item_.data for item_ in framer.feed(data[start:cut]) if isinstance(item_, Frame)]
        start = max(start, cut)
    assert pieces == whole
    assert framer.buffered == 0


# --- every value that comes out is plausible --------------------------------------------------------


def assert_plausible(events: list[Event], now: float = NOW) -> None:
    """Every decoded value within its range (limits.RANGES), no date a day ahead of ``now``."""
    for event in events:
        if not isinstance(event, Decoded):
            continue
        for message in event.messages:
            assert DROPPED not in message
            for key, bounds in RANGES.items():
                value = message.get(key)
                if value is not None:
                    assert bounds.low <= value <= bounds.high, (key, value, message)
            stamp = message.get("timestamp")
            assert stamp is None or stamp <= now + MAX_FUTURE


number = st.one_of(
    st.integers(min_value=-(10**6), max_value=10**6).map(str),
    st.integers(min_value=0, max_value=60).map(lambda size: "9" * size),
    st.sampled_from(["", "1e9", "nan", "inf", "-0", "99.999", "FFFFFFFF", "1_000"]),
)


@given(
    template=st.sampled_from(H02_FRAMES[:11]),
    replacements=st.lists(st.tuples(st.integers(0, 40), number), max_size=6),
)
def test_h02_text_with_implausible_numbers_gives_plausible_values(
    template: bytes, replacements: list[tuple[int, str]]
) -> None:
    fields = template.decode("latin-1").split(",")
    for index, value in replacements:
        position = 3 + index % max(1, len(fields) - 3)
        fields[position] = value
    connection = TrackerConnection()
    assert_plausible(connection.feed(",".join(fields).encode("latin-1"), NOW))


@given(
    altitude=st.integers(-32768, 32767),
    speed=st.integers(0, 65535),
    direction=st.integers(0, 65535),
    items=st.lists(
        st.tuples(
            st.sampled_from(
                [0x01, 0x06, 0x30, 0x31, 0x56, 0x61, 0x69, 0xD5, 0xE4, 0xEB, 0xF0, 0xF1]
            ),
            st.binary(max_size=16),
        ),
        max_size=6,
    ),
)
def test_jt808_with_implausible_numbers_gives_plausible_values(
    altitude: int, speed: int, direction: int, items: list[tuple[int, bytes]]
) -> None:
    body = location_body(
        altitude=altitude,
        speed=speed,
        direction=direction,
        items=b"".join(item(item_id, value) for item_id, value in items),
    )
    assert_plausible(TrackerConnection().feed(jt808_frame(0x0200, TERMINAL, 1, body), NOW))


@given(
    data=st.binary(min_size=16, max_size=16), speed=st.integers(0, 999), course=st.integers(0, 999)
)
def test_h02_binary_with_implausible_numbers_gives_plausible_values(
    data: bytes, speed: int, course: int
) -> None:
    frame = binary_frame(speed=f"{speed:03d}", course=f"{course:03d}", tail=b"\xff\x00" + data[2:])
    connection = TrackerConnection()
    assert_plausible(connection.feed(frame, NOW) + connection.flush(NOW))


@given(data=mutated_streams(), cuts=cuts_strategy)
def test_mutated_frames_give_plausible_values(data: bytes, cuts: list[int]) -> None:
    assert_plausible(feed_all(TrackerConnection(), data, cuts, 4096))
