"""The serving cell of a decoded message."""

from __future__ import annotations

import math

import pytest

from custom_components.sinotrack.location import CellKey, cell_from_message
from custom_components.sinotrack.protocol.h02 import decode_text
from custom_components.sinotrack.protocol.message import (
    GSM_CELLID,
    GSM_LAC,
    GSM_MCC,
    GSM_MNC,
)

NOW = 1_710_460_800.0


def test_cell_of_a_v1_frame_with_its_tail() -> None:
    frame = (
        b"*HQ,4210051415,V1,123456,V,2235.1777,N,11357.8913,E,000.00,000,150324,"
        b"FFFFFBFF,460,0,9360,4082#"
    )
    [message] = decode_text(frame, NOW)

    assert cell_from_message(message) == CellKey(460, 0, 9360, 4082)


def test_a_message_without_a_cell_has_none() -> None:
    [message] = decode_text(
        b"*HQ,4210051415,V1,123456,A,2235.1777,N,11357.8913,E,000.00,000,150324,FFFFFBFF#",
        NOW,
    )

    assert cell_from_message(message) is None


@pytest.mark.parametrize(
    "values",
    [
        (460, 0, 9360, math.inf),
        (460, 0, 9360, 4082.5),
        (0, 0, 9360, 4082),
        (460, 0, True, 4082),
        (460, 0, "9360", 4082),
        (460, 0, 9360),
    ],
)
def test_incomplete_or_implausible_cells_are_none(values: tuple[object, ...]) -> None:
    message = dict(zip((GSM_MCC, GSM_MNC, GSM_LAC, GSM_CELLID), values, strict=False))

    assert cell_from_message(message) is None


def test_floats_that_are_whole_numbers_are_cells() -> None:
    message = {GSM_MCC: 262.0, GSM_MNC: 2.0, GSM_LAC: 801.0, GSM_CELLID: 86355.0}

    assert cell_from_message(message) == CellKey(262, 2, 801, 86355)
