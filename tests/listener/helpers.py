"""What only the listener tests use (the shared frames, client and sink are in tests/support)."""

from __future__ import annotations

import time

from tests.support.frames import JT808_LOCATION_BODY, jt808_uplink


def jt808_location(serial: int = 2) -> bytes:
    """A 0x0200 location uplink of the JT/T 808 tracker (body: JT808_LOCATION_BODY)."""
    return jt808_uplink(0x0200, serial, JT808_LOCATION_BODY)


def now() -> float:
    """The wall clock (the listener's ``time.time``)."""
    return time.time()
