"""JT/T 808 frames the server sends are byte for byte what the standard builds, whatever the
terminal, serial number and body (bytes that need escaping included), reply after reply."""

from __future__ import annotations

from hypothesis import given, strategies as st

from custom_components.sinotrack.protocol import jt808

from .helpers import jt808_frame, xor

NEEDS_ESCAPING = st.sampled_from([0x7E, 0x7D, 0x00, 0x01, 0x02])
"""Bytes drawn often: the two the escaping rewrites and those that follow them."""


def terminals(version_2019: bool) -> st.SearchStrategy[bytes]:
    size = 10 if version_2019 else 6
    return st.binary(min_size=size, max_size=size) | st.lists(
        NEEDS_ESCAPING, min_size=size, max_size=size
    ).map(bytes)


@given(
    data=st.data(),
    msg_id=st.sampled_from([jt808.GENERAL_RESPONSE, jt808.REGISTER_RESPONSE, 0x7E7D, 0x8300]),
    version_2019=st.booleans(),
    protocol_version=st.sampled_from([1, 0x7E, 0x7D]),
    serials=st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=4),
    body=st.binary(max_size=40) | st.lists(NEEDS_ESCAPING, max_size=12).map(bytes),
)
def test_built_frames_match_the_standard(
    data: st.DataObject,
    msg_id: int,
    version_2019: bool,
    protocol_version: int,
    serials: list[int],
    body: bytes,
) -> None:
    terminal = data.draw(terminals(version_2019))
    for serial in serials:  # the same connection's replies one after the other
        built = jt808.build_frame(
            msg_id,
            terminal,
            serial,
            body,
            version_2019=version_2019,
            protocol_version=protocol_version,
        )
        assert built == jt808_frame(
            msg_id,
            terminal.hex(),
            serial,
            body,
            version=protocol_version if version_2019 else None,
        )
        parsed = jt808.parse_frame(jt808.unescape(built[1:-1]))
        assert (parsed.serial, parsed.body, parsed.checksum_ok) == (serial, body, True)


@given(
    data=st.data(),
    msg_id=st.sampled_from(sorted(jt808.ACKNOWLEDGED)) | st.integers(0, 0xFFFF),
    version_2019=st.booleans(),
    protocol_version=st.sampled_from([1, 0x7E, 0x7D]),
    serials=st.lists(st.tuples(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF)), max_size=4),
    result=st.none() | st.sampled_from([0, 1, 2]),
)
def test_general_responses_match_the_standard(
    data: st.DataObject,
    msg_id: int,
    version_2019: bool,
    protocol_version: int,
    serials: list[tuple[int, int]],
    result: int | None,
) -> None:
    if msg_id in jt808.NOT_ACKNOWLEDGED or msg_id in (jt808.REGISTER, jt808.TIME_REQUEST):
        return
    terminal = data.draw(terminals(version_2019))
    for uplink, downlink in [(0x7E7D, 0x7D7E), *serials]:
        frame = jt808.Jt808Frame(
            msg_id=msg_id,
            serial=uplink,
            terminal=terminal,
            version_2019=version_2019,
            protocol_version=protocol_version if version_2019 else 0,
            encrypted=0,
            body=b"",
            packet_total=0,
            packet_index=0,
            checksum_ok=True,
            length_ok=True,
        )
        expected_result = 0 if result is None else result
        if msg_id not in jt808.ACKNOWLEDGED:
            expected_result = jt808.RESULT_UNSUPPORTED
        body = uplink.to_bytes(2) + msg_id.to_bytes(2) + bytes((expected_result,))
        reply = jt808.reply_for(frame, "1", downlink, 0.0, result=result)
        assert reply == jt808_frame(
            jt808.GENERAL_RESPONSE,
            terminal.hex(),
            downlink,
            body,
            version=protocol_version if version_2019 else None,
        )


@given(st.binary(max_size=3000) | st.binary(min_size=60, max_size=70))
def test_checksum_is_the_xor_of_every_byte(data: bytes) -> None:
    assert jt808.checksum(data) == xor(data)
