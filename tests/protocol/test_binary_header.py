"""Which ``$`` headers start an H02 binary frame: a valid BCD clock after a 5- or 8-byte ID."""

from __future__ import annotations

from hypothesis import given, strategies as st

from custom_components.sinotrack.protocol import h02


def clock_is_valid(clock: bytes) -> bool:
    """hhmmssddmm in BCD: hour < 24, minute < 60, second < 61, day 1-31, month 1-12."""
    digits = clock.hex()
    if not digits.isdigit():
        return False
    hour, minute, second, day, month = (int(digits[i : i + 2]) for i in range(0, 10, 2))
    return hour < 24 and minute < 60 and second < 61 and 1 <= day <= 31 and 1 <= month <= 12


def expected_id_length(header: bytes) -> int:
    if clock_is_valid(header[6:11]):
        return 5
    if clock_is_valid(header[9:14]):
        return 8
    return 0


BCD_LIKE = st.integers(0, 0x9F) | st.sampled_from([0x00, 0x01, 0x12, 0x23, 0x24, 0x31, 0x59, 0x60])


@given(
    before=st.binary(max_size=20),
    header=st.lists(BCD_LIKE | st.integers(0, 255), min_size=15, max_size=15).map(bytes),
    after=st.binary(max_size=20),
)
def test_id_length_from_the_clock(before: bytes, header: bytes, after: bytes) -> None:
    # The header is read in place, wherever it is in the data received.
    assert h02.binary_id_length(before + header + after, len(before)) == expected_id_length(header)
    assert h02.binary_id_length(header) == expected_id_length(header)


def test_clock_bounds() -> None:
    ident = bytes.fromhex("2491700000")  # `$` and the first four ID bytes
    for clock, valid in [
        ("2359603112", True),
        ("0000000101", True),
        ("2400000101", False),
        ("2360000101", False),
        ("2359610101", False),
        ("2359593201", False),
        ("2359590001", False),
        ("2359590113", False),
        ("2359590100", False),
        ("0a00000101", False),
    ]:
        header = ident + b"\x01" + bytes.fromhex(clock) + b"\xff" * 4
        assert (h02.binary_id_length(header) == 5) is valid, clock
