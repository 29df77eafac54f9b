"""A tracker's ID used from a second connection, against a live listener.

Behaviour (documented in the listener and the README): H02 has no authentication a server
could check, so the listener guards what it can. A second connection claiming an ID whose
connection is alive and reporting is refused and counted (``takeovers_refused``), and
gets no reply. It takes the ID over only once the old connection closed, or stayed silent
for ``takeover_silence`` (2 minutes) or three times its median report gap, whichever is
longer: a real tracker that changed network, or whose old link died without a FIN, goes
quiet on its old connection. A tracker's allowed networks refuse its ID from elsewhere.
A command's reply counts only from the connection the command was sent on. A tracker
sending more frames than a device can is throttled (reads paused), nothing dropped.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from custom_components.sinotrack.listener import (
    CLOSED_ID_IN_USE,
    CLOSED_NETWORK,
    CLOSED_REPLACED,
    parse_networks,
)
from custom_components.sinotrack.protocol import Command, CommandKind, message as p
from tests.support.defaults import WAIT
from tests.support.frames import h02_v1
from tests.support.listeners import ListenerFactory
from tests.support.net import closed_by_server, raw_connect
from tests.support.sink import RecordingSink
from tests.support.wait import until
from tools.simulator import SimulatedTracker

from .helpers import Bystanders

VICTIM = "4210051490"
SPOOF_LATITUDE = 10.5


def spoofed_v1(second: int) -> bytes:
    """A V1 of the victim's ID at a position the victim never reports (10.5 N)."""
    return (
        f"*HQ,{VICTIM},V1,1200{second:02d},A,1030.0000,N,07000.0000,E,000.00,000,"
        f"010125,FFFFFBFF,460,00,9520,3671,6#"
    ).encode()


async def test_a_reporting_tracker_is_not_taken_over(
    make_listener: ListenerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    listener = await make_listener()
    bystanders = Bystanders(listener)
    await bystanders.start()
    sink = RecordingSink()
    listener.register(VICTIM, sink)
    victim = SimulatedTracker(
        VICTIM, "h02", "127.0.0.1", listener.port, interval=3600, heartbeat=None,
        reconnect_delay=0.2, max_reconnect_delay=0.2, first_connect_attempts=1, mileage_km=42.0,
    )  # fmt: skip
    victim.start()
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(WAIT):
            await victim.wait_connected()
        victim.send_position()
        await until(lambda: sink.positions == 2)  # on connecting, and this one
        victim_peer = listener.peer(VICTIM)

        # The spoofer, from 127.0.0.2: refused at its first frame, never answered.
        caplog.set_level(logging.WARNING, logger="custom_components.sinotrack.listener")
        spoofer = await raw_connect(listener.port, source="127.0.0.2")
        try:
            await loop.sock_sendall(spoofer, spoofed_v1(1))
            assert await closed_by_server(spoofer) == b""
        finally:
            spoofer.close()
        stats = listener.stats
        assert stats.takeovers_refused == 1
        assert stats.closed == {CLOSED_ID_IN_USE: 1}
        assert stats.id_takeovers == stats.sessions_replaced == 0
        assert listener.diagnostics()["spoofing"]["takeovers_refused"] == 1
        assert listener.peer(VICTIM) == victim_peer
        assert victim.connects == 1
        assert not any(m.get(p.LATITUDE) == SPOOF_LATITUDE for m in sink.messages)
        assert any(
            f"Refused tracker {VICTIM} from 127.0.0.2:" in r.getMessage() for r in caplog.records
        )

        # The owner's command goes to the real tracker; a forged reply from another
        # connection does not complete it (that connection is refused), the real one does.
        task = asyncio.create_task(
            listener.send_command(VICTIM, Command(CommandKind.MILEAGE), timeout=WAIT)
        )
        forger = await raw_connect(listener.port, source="127.0.0.3")
        try:
            await loop.sock_sendall(forger, f"*HQ,{VICTIM},V4,S32,999999,164549#".encode())
            await closed_by_server(forger)
        finally:
            forger.close()
        result = await task
        assert result.reply["vehicle.mileage"] == pytest.approx(42.0)
        assert stats.takeovers_refused == 2

        # The tracker itself reconnects (its old connection closed): accepted at once.
        victim.disconnect()
        await until(lambda: victim.connects == 2 and listener.is_connected(VICTIM))
        victim.send_position()
        await until(lambda: sink.positions == victim.positions_sent)
    finally:
        await victim.stop()
    await until(lambda: len(sink.connections) == 4)
    assert not any(m.get(p.LATITUDE) == SPOOF_LATITUDE for m in sink.messages)
    assert [connected for connected, _ in sink.connections] == [True, False, True, False]
    await bystanders.check()


async def test_a_silent_connection_is_taken_over(make_listener: ListenerFactory) -> None:
    """The tracker's old link went silent (no FIN): its new connection takes the ID."""
    listener = await make_listener(takeover_silence=0.3)
    sink = RecordingSink()
    listener.register(VICTIM, sink)
    loop = asyncio.get_running_loop()
    old = await raw_connect(listener.port)
    new = await raw_connect(listener.port, source="127.0.0.2")
    try:
        await loop.sock_sendall(old, h02_v1(ident=VICTIM))
        await until(lambda: sink.positions == 1)
        await asyncio.sleep(0.4)  # silent for longer than takeover_silence
        await loop.sock_sendall(new, h02_v1(ident=VICTIM))
        assert (await loop.sock_recv(new, 1024)).startswith(f"*HQ,{VICTIM},V4,V1,".encode())
        await closed_by_server(old)
        assert listener.stats.closed == {CLOSED_REPLACED: 1}
        assert listener.stats.id_takeovers == listener.stats.sessions_replaced == 1
        assert listener.stats.takeovers_refused == 0
        peer = listener.peer(VICTIM)
        assert peer is not None
        assert peer.startswith("127.0.0.2:")
        await until(lambda: sink.positions == 2)
    finally:
        old.close()
        new.close()


async def test_allowed_networks_of_a_tracker(make_listener: ListenerFactory) -> None:
    listener = await make_listener()
    bystanders = Bystanders(listener)
    await bystanders.start()
    sink = RecordingSink(networks=parse_networks(["127.0.0.1/32"]))
    listener.register(VICTIM, sink)
    loop = asyncio.get_running_loop()
    outsider = await raw_connect(listener.port, source="127.0.0.2")
    insider = await raw_connect(listener.port)
    try:
        await loop.sock_sendall(outsider, h02_v1(ident=VICTIM))
        assert await closed_by_server(outsider) == b""
        assert listener.stats.network_refused == 1
        assert listener.stats.closed == {CLOSED_NETWORK: 1}
        await loop.sock_sendall(insider, h02_v1(ident=VICTIM))
        assert (await loop.sock_recv(insider, 1024)).startswith(f"*HQ,{VICTIM},V4,V1,".encode())
        assert sink.positions == 1

        # The option narrowed while the tracker is connected: its connection closes now.
        sink.networks = parse_networks(["10.0.0.0/8"])
        listener.sink_changed(VICTIM)
        await closed_by_server(insider)
        assert listener.stats.network_refused == 2
        assert listener.stats.closed == {CLOSED_NETWORK: 2}
        assert listener.diagnostics()["spoofing"]["network_refused"] == 2
    finally:
        outsider.close()
        insider.close()
    await bystanders.check()


def sos_v1(ident: str, second: int, sos: bool) -> bytes:
    """A V1 with the SOS alarm bit (bit 18 clear = alarm) set or not."""
    status = "FFFBFBFF" if sos else "FFFFFBFF"
    return (
        f"*HQ,{ident},V1,1645{second % 60:02d},A,2232.6083,N,11404.8137,E,000.00,000,"
        f"221215,{status},460,00,9520,3671,6#"
    ).encode()


async def test_a_tracker_sending_more_frames_than_a_device_can_is_throttled(
    make_listener: ListenerFactory,
) -> None:
    """One connection toggling SOS as fast as it can: its reads pause, nothing is dropped."""
    listener = await make_listener(max_frame_rate=20, frame_burst=10)
    bystanders = Bystanders(listener)
    await bystanders.start()
    sink = RecordingSink()
    listener.register(VICTIM, sink)
    loop = asyncio.get_running_loop()
    sock = await raw_connect(listener.port, source="127.0.0.4")
    frames = 40
    try:
        await loop.sock_sendall(
            sock, b"".join(sos_v1(VICTIM, index, index % 2 == 0) for index in range(frames))
        )
        await until(lambda: sink.positions == frames)
        acks = b""
        while acks.count(b"#") < frames:
            acks += await loop.sock_recv(sock, 65536)
        assert acks.count(f"*HQ,{VICTIM},V4,V1,".encode()) == frames
    finally:
        sock.close()
    assert listener.stats.frame_rate_throttled > 0
    assert listener.diagnostics()["traffic"]["frame_rate_throttled"] > 0
    await bystanders.check()
