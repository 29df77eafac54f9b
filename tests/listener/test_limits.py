"""Hostile input and limits: garbage, oversize frames, slow senders, caps, throttling."""

from __future__ import annotations

import asyncio
import contextlib
import socket

import pytest

from custom_components.sinotrack.listener import (
    CLOSED_GARBAGE,
    CLOSED_HANDSHAKE,
    CLOSED_IDLE,
    CLOSED_MEMORY,
    CLOSED_NOT_READING,
    REFUSED_NOT_ALLOWED,
    REFUSED_TOO_MANY,
    REFUSED_TOO_MANY_FROM_SOURCE,
    Listener,
    parse_networks,
)
from tests.support.client import Client
from tests.support.frames import H02_ID, h02_heartbeat, h02_v1
from tests.support.listeners import ListenerFactory, listener_warnings
from tests.support.plugin import ClientFactory
from tests.support.sink import RecordingSink
from tests.support.wait import until

# Bytes that never start a frame (no '*', '$', 'X' or 0x7E) and are not whitespace.
GARBAGE = bytes(b for b in range(1, 256) if b not in b"*$X~\r\n\t ") * 100


async def _assert_still_serving(listener: Listener, connect: ClientFactory) -> None:
    client = await connect(listener.port)
    await client.send(h02_heartbeat("5555555555"))
    assert await client.recv_text() == h02_heartbeat("5555555555")


async def test_garbage_closes_the_connection_not_the_listener(
    make_listener: ListenerFactory, connect: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    listener = await make_listener()
    client = await connect(listener.port)
    await client.send(GARBAGE)
    assert await client.wait_closed_by_server() == b""
    diagnostics = listener.diagnostics()
    assert diagnostics["connections"]["closed"] == {CLOSED_GARBAGE: 1}
    assert diagnostics["rejected"]["bytes"] > listener.config.max_rejected_bytes
    warnings = listener_warnings(caplog)
    assert len(warnings) == 1  # one warning, not one per frame
    assert "Skipped" in warnings[0].getMessage()
    await _assert_still_serving(listener, connect)


async def test_a_run_of_bad_frames_after_good_ones_closes_the_connection(
    make_listener: ListenerFactory, connect: ClientFactory
) -> None:
    listener = await make_listener(max_rejected_frames=5)
    sink = RecordingSink()
    listener.register(H02_ID, sink)
    client = await connect(listener.port)
    bad = b"*HQ,4210051415,ZZ9,1#"
    # Bad frames between good ones are tolerated (undecodable types from real firmware)...
    await client.send((bad * 5 + h02_heartbeat()) * 3)
    for _ in range(3):
        assert await client.recv_text() == h02_heartbeat()
    # ...a longer run of them is not.
    await client.send(bad * 6)
    await client.wait_closed_by_server()
    assert listener.stats.closed == {CLOSED_GARBAGE: 1}
    await until(lambda: sink.connections[-1][0] is False)


async def test_oversize_frame_closes_the_connection(
    make_listener: ListenerFactory, connect: ClientFactory
) -> None:
    listener = await make_listener()
    client = await connect(listener.port)
    await client.send(h02_heartbeat())
    assert await client.recv_text() == h02_heartbeat()
    await client.send(b"*HQ,4210051415,V1," + b"9" * 3 * listener.config.max_frame + b"#")
    await client.wait_closed_by_server()
    assert listener.stats.closed == {CLOSED_GARBAGE: 1}
    assert "text frame too long" in listener.stats.rejected_reasons
    await _assert_still_serving(listener, connect)


async def test_slow_sender_is_closed(
    make_listener: ListenerFactory, connect: ClientFactory
) -> None:
    listener = await make_listener(handshake_timeout=0.3, idle_timeout=0.3)
    client = await connect(listener.port)

    async def trickle() -> None:
        # A frame that never ends, one byte every 20 ms: always active, never a frame.
        with contextlib.suppress(ConnectionError):
            for byte in h02_v1()[:-1] * 10:
                await client.send(bytes((byte,)))
                await asyncio.sleep(0.02)

    sender = asyncio.create_task(trickle())
    try:
        await client.wait_closed_by_server(timeout=3)
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
    assert listener.stats.closed == {CLOSED_HANDSHAKE: 1}


async def test_idle_connection_is_closed(
    make_listener: ListenerFactory, connect: ClientFactory
) -> None:
    listener = await make_listener(idle_timeout=0.2)
    sink = RecordingSink()
    listener.register(H02_ID, sink)
    client = await connect(listener.port)
    await client.send(h02_v1())
    await client.recv_text()
    await client.wait_closed_by_server(timeout=3)
    await until(lambda: not listener.is_connected(H02_ID))
    assert listener.stats.closed == {CLOSED_IDLE: 1}
    assert sink.connections == [(True, client.peer), (False, client.peer)]
    tracker = listener.tracker_diagnostics(H02_ID)
    assert tracker is not None
    assert tracker["disconnect_reason"] == CLOSED_IDLE


async def test_peer_that_never_reads_is_closed(
    make_listener: ListenerFactory, connect: ClientFactory
) -> None:
    listener = await make_listener(max_write_buffer=4096, max_frame_rate=0)
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    raw.setblocking(False)
    await asyncio.get_running_loop().sock_connect(raw, ("127.0.0.1", listener.port))
    reader, writer = await asyncio.open_connection(sock=raw)
    client = Client(reader, writer)
    try:
        await until(lambda: listener.connection_count == 1)
        # Shrink the server's kernel send buffer so that its own buffer fills quickly.
        (session,) = listener.admission.connections
        assert session._transport is not None
        session._transport.get_extra_info("socket").setsockopt(
            socket.SOL_SOCKET, socket.SO_SNDBUF, 4096
        )
        with contextlib.suppress(ConnectionError):
            for _ in range(200):
                await client.send(h02_heartbeat() * 100)  # 2 KB of echoes each, never read
                await asyncio.sleep(0)
                if listener.stats.closed:
                    break
        await until(lambda: listener.stats.closed == {CLOSED_NOT_READING: 1})
    finally:
        await client.close()


async def test_connection_cap(make_listener: ListenerFactory, connect: ClientFactory) -> None:
    listener = await make_listener(max_connections=2)
    for ident in ("1", "2"):
        listener.register(ident, RecordingSink())
    first = await connect(listener.port)
    second = await connect(listener.port)
    for client, ident in ((first, "1"), (second, "2")):
        await client.send(h02_heartbeat(ident))
        assert await client.recv_text() == h02_heartbeat(ident)
    # Both places hold configured trackers: nothing to evict, the newcomer is refused.
    third = await connect(listener.port)
    await third.wait_closed_by_server()
    assert listener.stats.refused == {REFUSED_TOO_MANY: 1}
    for client, ident in ((first, "1"), (second, "2")):
        await client.send(h02_heartbeat(ident))
        assert await client.recv_text() == h02_heartbeat(ident)
    await first.close()
    await until(lambda: listener.connection_count == 1)
    fourth = await connect(listener.port)
    await fourth.send(h02_heartbeat("1"))
    assert await fourth.recv_text() == h02_heartbeat("1")


async def test_per_source_cap(make_listener: ListenerFactory, connect: ClientFactory) -> None:
    listener = await make_listener(max_connections_per_source=1, per_source_exempt=())
    first = await connect(listener.port)
    await until(lambda: listener.connection_count == 1)
    second = await connect(listener.port)
    await second.wait_closed_by_server()
    assert listener.stats.refused == {REFUSED_TOO_MANY_FROM_SOURCE: 1}
    other = await connect(listener.port, source="127.0.0.2")
    for client in (first, other):
        await client.send(h02_heartbeat())
        assert await client.recv_text() == h02_heartbeat()


async def test_loopback_is_exempt_from_the_per_source_cap_by_default(
    make_listener: ListenerFactory, connect: ClientFactory
) -> None:
    listener = await make_listener(max_connections_per_source=1)
    clients = [await connect(listener.port) for _ in range(3)]
    for index, client in enumerate(clients):
        await client.send(h02_heartbeat(str(index + 1)))
        assert await client.recv_text() == h02_heartbeat(str(index + 1))
    assert listener.stats.refused == {}


async def test_allowed_networks(make_listener: ListenerFactory, connect: ClientFactory) -> None:
    listener = await make_listener(allowed_networks=parse_networks(["127.0.0.2/32", "10.0.0.0/8"]))
    refused = await connect(listener.port)
    await refused.wait_closed_by_server()
    allowed = await connect(listener.port, source="127.0.0.2")
    await allowed.send(h02_heartbeat())
    assert await allowed.recv_text() == h02_heartbeat()
    assert listener.stats.refused == {REFUSED_NOT_ALLOWED: 1}


async def test_read_rate_limit_pauses_and_resumes(
    make_listener: ListenerFactory, connect: ClientFactory
) -> None:
    listener = await make_listener(max_read_rate=20000, read_burst=0, read_size=1024)
    sink = RecordingSink()
    listener.register(H02_ID, sink)
    client = await connect(listener.port)
    frames = h02_v1() * 60  # ~6 KB: 1 KB at once, the rest at 20 KB/s
    await client.send(frames)
    await until(lambda: len(sink.messages) == 60)
    assert listener.stats.throttled > 0
    assert listener.stats.bytes_in == len(frames)
    assert listener.stats.reads >= len(frames) // 1024
    assert listener.stats.rejected_frames == 0


def test_config_validation() -> None:
    from custom_components.sinotrack.listener import ListenerConfig

    with pytest.raises(ValueError, match="port"):
        ListenerConfig(port=70000)
    with pytest.raises(ValueError, match="idle_timeout"):
        ListenerConfig(idle_timeout=0)
    with pytest.raises(ValueError, match="max_frame"):
        ListenerConfig(max_frame=0)
    with pytest.raises(ValueError, match="jt808_utc_offset"):
        ListenerConfig(jt808_utc_offset=20)
    with pytest.raises(ValueError, match="does not appear to be"):
        parse_networks(["not a network"])
    assert ListenerConfig().sweep_interval == 5.0


async def test_memory_budget_closes_unknown_holders_and_pauses_configured_ones(
    make_listener: ListenerFactory, connect: ClientFactory
) -> None:
    listener = await make_listener(memory_budget=3000)
    sink = RecordingSink()
    listener.register(H02_ID, sink)
    tracker = await connect(listener.port)
    await tracker.send(h02_v1())
    await tracker.recv_text()
    partial = b"*HQ," + H02_ID.encode() + b",V1," + b"1" * 2500  # no '#' yet: held
    await tracker.send(partial)
    await until(lambda: listener.admission.held >= 2500)

    # Someone else's partial frame takes the listener over its budget: closed, not the tracker.
    stranger = await connect(listener.port)
    await stranger.send(h02_heartbeat("77") + b"*HQ,77,V1," + b"2" * 2000)
    await stranger.wait_closed_by_server()
    assert listener.stats.memory_closed == 1
    assert listener.stats.closed == {CLOSED_MEMORY: 1}
    assert listener.admission.held <= 3000

    # The configured tracker going over it alone: its reads pause (for a second at a time),
    # it is not closed; the end of its (malformed) frame arrives, then a heartbeat: answered.
    await tracker.send(b"3" * 1000)
    await until(lambda: listener.stats.memory_paused >= 1)
    await tracker.send(b",#" + h02_heartbeat())
    assert await tracker.recv_text() == h02_heartbeat()
    await until(lambda: listener.admission.held == 0)
    assert listener.is_connected(H02_ID)
    assert listener.diagnostics()["memory"]["closed"] == 1


async def test_a_connection_reads_little_before_its_first_good_frame(
    make_listener: ListenerFactory, connect: ClientFactory
) -> None:
    listener = await make_listener(unidentified_read_size=1024)
    client = await connect(listener.port)
    await client.send(GARBAGE[:3000] + h02_heartbeat())
    assert await client.recv_text() == h02_heartbeat()
    # 3,000 bytes of garbage took three reads at least (1 KiB each), not one of 16 KiB.
    assert listener.stats.reads >= 3


async def test_the_loop_iteration_budget_is_shared(
    make_listener: ListenerFactory, connect: ClientFactory
) -> None:
    listener = await make_listener(loop_read_budget=2048, max_frame_rate=0)
    sinks = {f"42100006{n:02d}": RecordingSink() for n in range(4)}
    clients = []
    for ident, sink in sinks.items():
        listener.register(ident, sink)
        client = await connect(listener.port)
        await client.send(h02_v1(ident=ident))
        await client.recv_text()
        clients.append(client)
    await asyncio.gather(
        *(c.send(h02_v1(ident=i) * 40) for c, i in zip(clients, sinks, strict=True))
    )
    await until(lambda: all(len(sink.messages) == 41 for sink in sinks.values()))
    assert listener.stats.iteration_deferred > 0
    assert listener.stats.rejected_frames == 0


async def test_the_loop_iteration_time_budget_defers_without_losing_a_frame(
    make_listener: ListenerFactory, connect: ClientFactory
) -> None:
    """Past the iteration's time, a ready connection takes one byte and waits for the next
    iteration: the work of one iteration is bounded, and every frame still arrives."""
    listener = await make_listener(loop_read_time=1e-9, max_frame_rate=0)
    sinks = {f"42100007{n:02d}": RecordingSink() for n in range(4)}
    clients = []
    for ident, sink in sinks.items():
        listener.register(ident, sink)
        client = await connect(listener.port)
        await client.send(h02_v1(ident=ident))
        await client.recv_text()
        clients.append(client)
    reads = listener.stats.reads
    await asyncio.gather(
        *(c.send(h02_v1(ident=i) * 40) for c, i in zip(clients, sinks, strict=True))
    )
    await until(lambda: all(len(sink.messages) == 41 for sink in sinks.values()))
    assert listener.stats.iteration_deferred > 0
    assert listener.stats.rejected_frames == 0
    # Each deferred connection's notice read was one byte: many more reads than chunks.
    assert listener.stats.reads - reads > 8
