"""Port probes shared by the development tools, the tests and the benchmarks.

Kept apart from ``tools.devhass`` (which starts Home Assistant) so that a test or a benchmark
that only needs a free port imports nothing else.
"""

from __future__ import annotations

import socket


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
    return port


def port_in_use(host: str, port: int) -> bool:
    """Whether ``host:port`` cannot be bound (someone listens there)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False
