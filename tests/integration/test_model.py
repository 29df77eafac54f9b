"""The pure tracker rules of ``model.py``: the alarm event rate limit and what may be
stored. Plain values, no Home Assistant."""

from __future__ import annotations

import math
from typing import Any

from homeassistant.helpers.json import json_bytes
import pytest

from custom_components.sinotrack.model import (
    ALARM_EVENT_INTERVAL,
    MAX_SAFE_INT,
    AlarmRateLimit,
    storable,
    storable_items,
    storable_timestamp,
)


def test_one_event_per_type_per_interval() -> None:
    limit = AlarmRateLimit()
    assert ALARM_EVENT_INTERVAL == 30.0
    assert limit.allow("sos", 1000.0)
    assert not limit.allow("sos", 1000.5)
    assert not limit.allow("sos", 1029.9)
    assert limit.allow("power_cut", 1029.9)  # another type has its own window
    assert limit.allow("sos", 1030.0)
    assert not limit.allow("sos", 1031.0)
    assert limit.suppressed == {"sos": 3}
    assert limit.suppressed_total == 3


def test_a_clock_set_back_does_not_hold_events_back() -> None:
    limit = AlarmRateLimit()
    assert limit.allow("sos", 5000.0)
    assert limit.allow("sos", 1000.0)  # the server clock went back an hour
    assert not limit.allow("sos", 1010.0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("text", True),
        (True, True),
        (None, True),
        (0, True),
        (MAX_SAFE_INT, True),
        (-MAX_SAFE_INT, True),
        (MAX_SAFE_INT + 1, False),
        (10**300, False),
        (-(2**64), False),
        (1.5, True),
        (math.inf, False),
        (-math.inf, False),
        (math.nan, False),
        ([1], False),
        ({"a": 1}, False),
        (b"bytes", False),
    ],
)
def test_storable(value: Any, expected: bool) -> None:
    assert storable(value) is expected
    if expected:
        json_bytes({"value": value})  # Home Assistant's writer takes it


def test_storable_items_drop_what_the_writer_refuses() -> None:
    kept = storable_items({"a": 1, "b": 10**30, 3: "x", "c": math.nan, "d": "ok"})
    assert kept == {"a": 1, "d": "ok"}
    assert json_bytes(kept)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, True),
        (1767323045.0, True),
        (-1.0, False),
        (1e300, False),
        (math.nan, False),
        (True, False),
        ("1", False),
    ],
)
def test_storable_timestamp(value: Any, expected: bool) -> None:
    assert storable_timestamp(value) is expected
