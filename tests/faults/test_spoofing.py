"""A tracker's ID used from a second address, against a live listener.

Behaviour (documented in the listener and the README): H02 and JT/T 808 have no
authentication a server could check, and a real tracker that changes network (or whose
old TCP link died without a FIN) reconnects from a new address while its old connection
still looks open. So the newer connection takes over: the older one is closed, the
takeover is counted in the diagnostics (``id_takeovers``) and logged at WARNING (at most
once per 30 s per listener), and the diagnostics show the address the tracker's data now
comes from. The real tracker reconnects and takes its ID back the same way.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from custom_components.sinotrack.listener import CLOSED_REPLACED
from custom_components.sinotrack.protocol import message as p
from tools.simulator import SimulatedTracker

from .conftest import ListenerFactory
from .helpers import WAIT, Bystanders, Sink, closed_by_server, raw_connect, until

VICTIM = "4210051490"
SPOOF_LATITUDE = 10.5


def spoofed_v1(second: int) -> bytes:
    """A V1 of the victim's ID at a position the victim never reports (10.5 N)."""
    return (
        f"*HQ,{VICTIM},V1,1200{second:02d},A,1030.0000,N,07000.0000,E,000.00,000,"
        f"010125,FFFFFBFF,460,00,9520,3671,6#"
    ).encode()


async def test_id_used_from_a_second_address(
    make_listener: ListenerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    listener = await make_listener()
    bystanders = Bystanders(listener)
    await bystanders.start()
    sink = Sink()
    listener.register(VICTIM, sink)
    # Reports only when told to (the interval is long), so that no frame of the victim is
    # in flight when its connection is taken over.
    victim = SimulatedTracker(
        VICTIM, "h02", "127.0.0.1", listener.port, interval=3600, heartbeat=None,
        reconnect_delay=0.2, max_reconnect_delay=0.2, first_connect_attempts=1,
    )  # fmt: skip
    victim.start()
    loop = asyncio.get_running_loop()
    spoofer = None
    try:
        async with asyncio.timeout(WAIT):
            await victim.wait_connected()
        victim.send_position()
        await until(lambda: sink.positions == 2)  # on connecting, and this one
        victim_peer = listener.peer(VICTIM)
        assert victim_peer is not None
        assert victim_peer.startswith("127.0.0.1:")

        # The spoofer, from 127.0.0.2: its connection takes over, the victim's is closed.
        caplog.set_level(logging.DEBUG, logger="custom_components.sinotrack.listener")
        spoofer = await raw_connect(listener.port, source="127.0.0.2")
        await loop.sock_sendall(spoofer, spoofed_v1(1))
        await until(lambda: listener.stats.id_takeovers == 1)
        spoofer_peer = listener.peer(VICTIM)
        assert spoofer_peer is not None
        assert spoofer_peer.startswith("127.0.0.2:")
        diagnostics = listener.diagnostics()
        assert diagnostics["id_takeovers"] == 1
        assert diagnostics["trackers"][VICTIM]["peer"] == spoofer_peer
        warnings = [
            record.getMessage()
            for record in caplog.records
            if record.levelno == logging.WARNING and "replaces it" in record.getMessage()
        ]
        assert warnings == [
            f"Tracker {VICTIM} connected from {spoofer_peer} while its connection from"
            f" {victim_peer} was open; the new connection replaces it (a tracker that changed"
            " address, or another device using its ID)"
        ]
        # The spoofed position is taken (nothing tells it from the real tracker's).
        await until(lambda: any(m[p.LATITUDE] == SPOOF_LATITUDE for m in sink.messages))

        # The victim notices its closed connection, reconnects and takes the ID back.
        await until(lambda: victim.connects == 2)
        await closed_by_server(spoofer)
        assert listener.stats.id_takeovers == 2
        assert listener.stats.closed[CLOSED_REPLACED] == 2
        peer = listener.peer(VICTIM)
        assert peer is not None
        assert peer.startswith("127.0.0.1:")
        victim.send_position()
        await until(lambda: victim.positions_sent == sink.positions - 1)
        # Rate-limited: the second takeover within 30 s is logged at DEBUG only.
        takeovers = [r for r in caplog.records if "replaces it" in r.getMessage()]
        assert len(takeovers) == 1
    finally:
        if spoofer is not None:
            spoofer.close()
        await victim.stop()
    # Every position of the victim was delivered, plus the one spoofed.
    assert victim.positions_sent == sink.positions - 1
    assert [connected for connected, _ in sink.connections[:3]] == [True, True, True]
    await bystanders.check()
