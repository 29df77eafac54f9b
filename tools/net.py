"""Port probes shared by the development tools, the tests and the benchmarks.

Kept apart from ``tools.devhass`` (which starts Home Assistant) so that a test or a benchmark
that only needs a free port imports nothing else.
"""

from __future__ import annotations

import os
from pathlib import Path
import random
import socket
import time
from typing import Final

EPHEMERAL_RANGE_FILE: Final = Path("/proc/sys/net/ipv4/ip_local_port_range")
FALLBACK_EPHEMERAL: Final = (32768, 60999)
"""Linux's default range of ports the kernel gives outgoing connections."""
FIRST_PORT: Final = 10000


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = (int(part) for part in EPHEMERAL_RANGE_FILE.read_text().split())
    except OSError, ValueError:
        return FALLBACK_EPHEMERAL
    return low, high


def _bindable(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        probe = socket.socket(family)
    except OSError:
        return True  # no IPv6 on this machine: nothing can hold the port there
    with probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now, outside the kernel's ephemeral range.

    A port the kernel may give an outgoing connection at any moment (a test's own clients,
    another test process) would make a later bind to it, e.g. moving a listener from
    ``127.0.0.1`` to ``::``, fail at random; ports below that range are only taken on
    purpose. The port must also be free on every address (``::``), where listeners move.
    """
    low, high = _ephemeral_range()
    candidates = [*range(FIRST_PORT, low), *range(high + 1, 65536)]
    chooser = random.Random(os.getpid() ^ time.monotonic_ns())  # noqa: S311 - not a secret
    for _ in range(200):
        port: int = chooser.choice(candidates)
        if _bindable(host, port) and _bindable("::", port):
            return port
    with socket.socket() as probe:  # nothing free outside the range: let the kernel choose
        probe.bind((host, 0))
        chosen: int = probe.getsockname()[1]
    return chosen


def port_in_use(host: str, port: int) -> bool:
    """Whether ``host:port`` cannot be bound (someone listens there)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False
