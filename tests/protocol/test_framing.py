"""The stream framer (and the connection around it): splitting, detection, limits.

The per-connection codec on its own (replies, identity, warnings) is tested in
``test_connection.py``."""

from __future__ import annotations

import pytest

from custom_components.sinotrack.protocol import (
    Decoded,
    Frame,
    Framer,
    Rejected,
    Skipped,
    TrackerConnection,
    jt808,
)
from custom_components.sinotrack.protocol.message import (
    IDENT,
    MESSAGE_TYPE,
)
from tests.support.frames import NOW

from .helpers import (
    BIN32,
    BIN45,
    H02_STREAM,
    HTBT,
    ID,
    JT808_STREAM,
    JT_ESCAPED,
    JT_HEARTBEAT,
    JT_LOCATION,
    NBR,
    TERMINAL,
    V1,
    binary_frame,
    binary_tail_45,
    jt808_frame,
    messages,
    rejected,
)


def frames(items: list[Frame | Skipped]) -> list[Frame]:
    return [item for item in items if isinstance(item, Frame)]


def skipped(items: list[Frame | Skipped]) -> list[Skipped]:
    return [item for item in items if isinstance(item, Skipped)]


def feed_chunks(framer: Framer, chunks: list[bytes]) -> list[Frame | Skipped]:
    out: list[Frame | Skipped] = []
    for chunk in chunks:
        out += framer.feed(chunk)
        assert framer.buffered <= framer.max_frame
    return out


# --- splitting ----------------------------------------------------------------------------------


def test_h02_stream_in_one_chunk() -> None:
    framer = Framer()
    out = framer.feed(H02_STREAM)
    assert [(frame.kind, frame.data) for frame in frames(out)] == [
        ("h02-text", V1),
        ("h02-binary", BIN32),
        ("h02-text", NBR),
        ("h02-binary", BIN32),
        ("h02-text", HTBT),
    ]
    assert skipped(out) == []  # \r\n between frames is not garbage
    assert framer.protocol == "h02"
    assert framer.buffered == 0


@pytest.mark.parametrize("stream", [H02_STREAM, JT808_STREAM], ids=["h02", "jt808"])
def test_every_split_point(stream: bytes) -> None:
    whole = frames(Framer().feed(stream))
    for split in range(1, len(stream)):
        framer = Framer()
        assert frames(feed_chunks(framer, [stream[:split], stream[split:]])) == whole, split
        assert framer.buffered == 0


@pytest.mark.parametrize("stream", [H02_STREAM, JT808_STREAM], ids=["h02", "jt808"])
def test_byte_by_byte(stream: bytes) -> None:
    framer = Framer()
    chunks = [stream[index : index + 1] for index in range(len(stream))]
    assert frames(feed_chunks(framer, chunks)) == frames(Framer().feed(stream))


def test_jt808_stream() -> None:
    out = Framer().feed(JT808_STREAM)
    assert [jt808.unescape(frame.data) for frame in frames(out)] == [
        jt808.unescape(frame[1:-1])
        for frame in (JT_LOCATION, JT_HEARTBEAT, JT_ESCAPED, JT_LOCATION)
    ]
    # The framer yields the escaped content between the delimiters.
    assert frames(out)[2].data == JT_ESCAPED[1:-1]
    assert b"\x7d\x02" in frames(out)[2].data


def test_jt808_back_to_back_delimiters() -> None:
    # 7E 7E: the end of one frame and the start of the next.
    assert JT_LOCATION[-1:] + JT_HEARTBEAT[:1] == b"\x7e\x7e"
    connection = TrackerConnection()
    events = connection.feed(JT_LOCATION + JT_HEARTBEAT, NOW)
    assert [message[MESSAGE_TYPE] for message in messages(events)] == ["0x0200", "0x0002"]
    assert rejected(events) == []


def test_jt808_stray_delimiter_between_frames_is_ignored() -> None:
    events = TrackerConnection().feed(JT_LOCATION + b"\x7e" + JT_HEARTBEAT, NOW)
    assert [message[MESSAGE_TYPE] for message in messages(events)] == ["0x0200", "0x0002"]


def test_garbage_before_the_first_frame_is_skipped_and_reported() -> None:
    framer = Framer()
    out = framer.feed(b"GET / HTTP/1.1\r\n\r\n" + V1)
    assert [frame.data for frame in frames(out)] == [V1]
    (skip,) = skipped(out)
    assert skip.size == 18
    assert skip.sample == b"GET / HTTP/1.1\r\n\r\n"
    assert "garbage" in skip.reason


def test_garbage_between_frames_is_skipped() -> None:
    out = Framer().feed(V1 + b"\x00\x01hello" + BIN32 + b"zz" + NBR)
    assert [frame.data for frame in frames(out)] == [V1, BIN32, NBR]
    assert [item.sample for item in skipped(out)] == [b"\x00\x01hello", b"zz"]


def test_garbage_becomes_rejected_events() -> None:
    events = TrackerConnection().feed(b"\x01\x02\x03" + JT_HEARTBEAT + b"junk" + JT_HEARTBEAT, NOW)
    assert [type(event).__name__ for event in events] == [
        "Rejected",
        "Decoded",
        "Rejected",
        "Decoded",
    ]
    assert rejected(events)[1].sample == b"junk"


def test_truncated_text_frame_before_a_new_one() -> None:
    out = Framer().feed(b"*HQ,9170000001,V1,1234" + V1)
    assert [frame.data for frame in frames(out)] == [V1]
    assert skipped(out)[0].sample == b"*HQ,9170000001,V1,1234"


# --- binary `$` frame lengths --------------------------------------------------------------------


def test_two_45_byte_frames_in_one_read() -> None:
    second = binary_frame(clock="123506", tail=binary_tail_45(seq=0x0B))
    out = Framer().feed(BIN45 + second)
    assert [frame.data for frame in frames(out)] == [BIN45, second]


def test_45_byte_frame_followed_by_a_text_frame() -> None:
    out = Framer().feed(BIN45 + V1)
    assert [frame.data for frame in frames(out)] == [BIN45, V1]


def test_45_byte_frame_alone() -> None:
    assert [frame.data for frame in frames(Framer().feed(BIN45))] == [BIN45]


def test_32_byte_frames_fed_byte_by_byte() -> None:
    stream = BIN32 + binary_frame(clock="123506") + BIN32
    framer = Framer()
    out = feed_chunks(framer, [stream[index : index + 1] for index in range(len(stream))])
    out += framer.flush()  # the last one: nothing follows it
    assert [len(frame.data) for frame in frames(out)] == [32, 32, 32]
    assert skipped(out) == []
    assert framer.buffered == 0


def test_lone_first_32_byte_frame_waits_for_what_follows() -> None:
    # 32 bytes after a `$` on a new connection: a whole frame, or the start of a 45-byte
    # one (docs/protocol.md section 1). The framer waits for the next byte, or for flush() when the
    # peer has gone quiet; Traccar guesses from the size of the first read instead.
    framer = Framer()
    assert frames(framer.feed(BIN32)) == []
    assert framer.buffered == 32
    assert [frame.data for frame in frames(framer.flush())] == [BIN32]
    assert framer.flush() == []
    # The length is now known: the next lone frame is not held back.
    assert [frame.data for frame in frames(framer.feed(BIN32))] == [BIN32]


def test_lone_first_32_bytes_of_a_45_byte_frame() -> None:
    framer = Framer()
    assert frames(framer.feed(BIN45[:32])) == []
    assert [frame.data for frame in frames(framer.feed(BIN45[32:]))] == [BIN45]


def test_connection_flush() -> None:
    connection = TrackerConnection()
    assert connection.feed(BIN32, NOW) == []
    (event,) = connection.flush(NOW)
    assert isinstance(event, Decoded)
    assert event.messages[0][IDENT] == ID
    assert connection.flush(NOW) == []


def test_45_byte_frames_fed_byte_by_byte() -> None:
    stream = BIN45 + BIN45 + BIN45
    framer = Framer()
    out = feed_chunks(framer, [stream[index : index + 1] for index in range(len(stream))])
    assert [frame.data for frame in frames(out)] == [BIN45] * 3
    assert skipped(out) == []


def test_45_byte_frames_split_at_32_once_the_length_is_known() -> None:
    framer = Framer()
    out = framer.feed(BIN45 + BIN45 + BIN45[:32])
    out += framer.feed(BIN45[32:])
    assert [frame.data for frame in frames(out)] == [BIN45] * 3


def test_45_byte_frame_with_a_marker_like_byte_at_offset_32() -> None:
    # Byte 32 is the satellite count: 36 is 0x24, a `$`. Once the connection's length is
    # known, a read ending inside such a frame must not cut it at 32.
    frame36 = binary_frame(tail=binary_tail_45(satellites=0x24))  # 36 satellites
    framer = Framer()
    out = framer.feed(BIN45 + BIN45 + frame36[:40])
    out += framer.feed(frame36[40:] + BIN45)
    assert [frame.data for frame in frames(out)] == [BIN45, BIN45, frame36, BIN45]


def test_first_45_byte_frame_with_a_marker_like_byte_at_offset_32() -> None:
    frame36 = binary_frame(tail=binary_tail_45(satellites=0x24))
    framer = Framer()
    out = framer.feed(frame36 + BIN45 + BIN45) + framer.flush()
    assert [frame.data for frame in frames(out)] == [frame36, BIN45, BIN45]


def test_42_byte_frames_with_an_8_byte_id() -> None:
    frame = binary_frame(ident="3524830841932930", tail=bytes(10))
    assert len(frame) == 42
    out = Framer().feed(frame + frame + V1)
    assert [frame.data for frame in frames(out)] == [frame, frame, V1]
    events = TrackerConnection().feed(frame, NOW)
    assert messages(events)[0][IDENT] == "352483084193293"


def test_46_and_48_byte_frames_alone() -> None:
    for size in (46, 48):
        frame = binary_frame(tail=b"\xff" + bytes(size - 30))
        assert len(frame) == size
        assert [item.data for item in frames(Framer().feed(frame))] == [frame]


def test_x_frames_are_framed_but_carry_nothing() -> None:
    x_frame = b"X" + BIN32[1:]
    connection = TrackerConnection()
    connection.feed(V1, NOW)
    events = connection.feed(x_frame + NBR, NOW)
    assert [type(event).__name__ for event in events] == ["Rejected", "Decoded"]
    assert rejected(events)[0].size == 32


def test_invalid_binary_header_is_skipped() -> None:
    bad = binary_frame(clock="996099")  # hour 99: not a frame
    out = Framer("h02").feed(bad + V1)
    assert [frame.data for frame in frames(out)] == [V1]
    assert skipped(out)


# --- detection ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "protocol"),
    [
        (V1, "h02"),
        (b"*TH,1,V1#", "h02"),
        (BIN32, "h02"),
        (BIN45, "h02"),
        (JT_HEARTBEAT, "jt808"),
        (b"\r\n\x00garbage*HQ," + V1[4:], "h02"),
        (b"GET /\r\n" + JT_HEARTBEAT, "jt808"),
    ],
)
def test_protocol_detection(data: bytes, protocol: str) -> None:
    framer = Framer()
    out = framer.feed(data) + framer.flush()
    assert framer.protocol == protocol
    assert len(frames(out)) == 1


def test_detection_waits_for_enough_bytes() -> None:
    framer = Framer()
    assert framer.feed(b"*HQ") == []
    assert framer.protocol is None
    assert framer.buffered == 3
    assert [frame.data for frame in frames(framer.feed(V1[3:]))] == [V1]
    assert framer.protocol == "h02"


def test_dollar_garbage_before_a_jt808_frame() -> None:
    # `$` could start an H02 binary frame until 14 more bytes show it cannot.
    out = Framer().feed(b"$$" + JT_HEARTBEAT)
    assert [frame.data for frame in frames(out)] == [JT_HEARTBEAT[1:-1]]
    assert skipped(out)[0].sample == b"$$"


@pytest.mark.parametrize("data", [b"*ab", b"*abc", b"$" + bytes(20), b"hello"])
def test_no_detection_from_look_alikes(data: bytes) -> None:
    framer = Framer()
    framer.feed(data + b"\x00" * 20)
    assert framer.protocol is None


def test_no_protocol_switch_after_detection() -> None:
    connection = TrackerConnection()
    events = connection.feed(V1 + JT_HEARTBEAT + NBR, NOW)
    assert connection.protocol == "h02"
    assert [message[MESSAGE_TYPE] for message in messages(events)] == ["V1", "NBR"]
    assert rejected(events)


def test_explicit_protocol() -> None:
    framer = Framer("jt808")
    out = framer.feed(V1 + JT_HEARTBEAT)
    assert [frame.kind for frame in frames(out)] == ["jt808"]


# --- limits -------------------------------------------------------------------------------------


def test_text_frame_without_end_is_dropped_and_the_framer_resyncs() -> None:
    framer = Framer(max_frame=256)
    out = feed_chunks(framer, [b"*HQ,9170000001,V1," + b"A" * 100] * 5)
    assert frames(out) == []
    assert skipped(out)
    assert "too long" in skipped(out)[0].reason
    assert framer.buffered <= 256
    assert [frame.data for frame in frames(framer.feed(V1))] == [V1]


def test_text_frame_up_to_the_limit_is_kept() -> None:
    frame = b"*HQ,9170000001,SMS," + b"a" * 200 + b"#"
    framer = Framer(max_frame=256)
    out = feed_chunks(framer, [frame[:100], frame[100:]])
    assert [item.data for item in frames(out)] == [frame]


def test_jt808_frame_without_end_is_dropped() -> None:
    framer = Framer(max_frame=512)
    chunks = [JT_HEARTBEAT, b"\x7e" + b"\x01" * 300, b"\x01" * 300, b"\x01" * 300]
    out = feed_chunks(framer, chunks)
    assert len(frames(out)) == 1
    assert any("too long" in item.reason for item in skipped(out))
    assert framer.buffered <= 512


def test_jt808_default_limit_allows_the_largest_frame() -> None:
    body = bytes(range(256)) * 3 + bytes(255)  # 1023 bytes, with 7E and 7D to escape
    frame = jt808_frame(0x0900, TERMINAL, 1, body)
    assert len(frame) > 1023 + 15
    events = TrackerConnection().feed(frame, NOW)
    assert [type(event).__name__ for event in events] == ["Decoded"]


def test_garbage_without_any_frame_start_is_not_kept() -> None:
    framer = Framer(max_frame=128)
    feed_chunks(framer, [b"A" * 100] * 10)
    assert framer.buffered <= 128
    assert framer.protocol is None


def test_connection_buffer_is_bounded() -> None:
    connection = TrackerConnection(max_frame=300)
    for _ in range(10):
        connection.feed(b"*HQ,1,SMS," + b"x" * 100, NOW)
        assert connection.buffered <= 300


# --- runs of garbage: one event each, cheap to skip ------------------------------------------------


def _feed_in_reads(connection: TrackerConnection, data: bytes, read: int = 4096) -> list[Rejected]:
    found: list[Rejected] = []
    for offset in range(0, len(data), read):
        found += rejected(connection.feed(data[offset : offset + read], NOW))
    return found


@pytest.mark.parametrize(
    "junk",
    [b"$" * 16384, b"*" * 16384, b"X" * 16384, b"$*X" * 5462, b"\x7e\x00" * 8192],
    ids=["dollar", "star", "x", "markers", "jt808-short"],
)
def test_16_kib_of_garbage_is_a_handful_of_events(junk: bytes) -> None:
    connection = TrackerConnection()
    lead = JT_HEARTBEAT if junk[:1] == b"\x7e" else V1
    assert messages(connection.feed(lead, NOW))
    found = _feed_in_reads(connection, junk)
    assert 1 <= len(found) <= 8  # at most about one per read, not one per byte
    # The good frame after it is still found.
    follow = JT_HEARTBEAT if lead is JT_HEARTBEAT else V1
    assert messages(connection.feed(follow, NOW) + connection.flush(NOW))


def test_dollar_garbage_in_one_read_is_one_event() -> None:
    connection = TrackerConnection()
    events = connection.feed(V1 + b"$" * 16384 + V1, NOW)
    assert [type(event).__name__ for event in events] == ["Decoded", "Rejected", "Decoded"]
    assert rejected(events)[0].size == 16384


def test_dollar_garbage_before_detection_is_one_event() -> None:
    framer = Framer()
    out = framer.feed(b"$" * 16384 + V1)
    assert len(skipped(out)) == 1
    assert [frame.data for frame in frames(out)] == [V1]


def test_binary_frame_inside_star_garbage_is_found() -> None:
    # A run of '*' with no '#' is skipped at once, but not a binary frame within it.
    out = Framer("h02").feed(b"*" * 5000 + BIN32 + b"*" * 5000 + V1)
    assert [frame.data for frame in frames(out)] == [BIN32, V1]
    assert len(skipped(out)) == 2


def test_random_garbage_between_frames_is_one_event_per_run() -> None:
    junk = bytes(range(256)).replace(b"#", b"") * 16  # every byte value but '#': no text frame
    out = Framer("h02").feed(V1 + junk + V1)
    assert [frame.data for frame in frames(out)] == [V1, V1]
    assert len(skipped(out)) <= 4
