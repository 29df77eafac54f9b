"""Defaults every test suite shares, each defined once."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from custom_components.sinotrack.listener.config import DEFAULT_PORT
from custom_components.sinotrack.protocol import DEFAULT_JT808_UTC_OFFSET

__all__ = [
    "DEFAULT_PORT",
    "JT808_OFFSET",
    "JT808_UTC_OFFSET",
    "LOOPBACK",
    "LOOPBACK_HOSTS",
    "POLL",
    "WAIT",
]

LOOPBACK: Final = "127.0.0.1"
"""Where every test listener binds and every test client connects."""
LOOPBACK_HOSTS: Final = (LOOPBACK, "::1")
"""The hosts a test may connect to (the IPv6 tests use ``::1``)."""

WAIT: Final = 10.0
"""Seconds a test waits for something that takes milliseconds when all is well."""
POLL: Final = 0.005
"""Seconds between two looks at a condition that has no event to wait on."""

JT808_UTC_OFFSET: Final = DEFAULT_JT808_UTC_OFFSET
"""The JT/T 808 trackers' clock zone, in hours (the codec's and the option's default)."""
JT808_OFFSET: Final = timedelta(hours=JT808_UTC_OFFSET)
"""The same as a ``timedelta``: a tracker's local clock is UTC plus this."""
