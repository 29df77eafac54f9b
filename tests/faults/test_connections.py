"""Hostile connections against a live listener, while real trackers keep reporting.

Every test runs three bystanders (simulated trackers speaking H02 text, H02 binary and
JT/T 808, one position every 50 ms) through the attack and checks at the end that each
kept its one connection and that every position it sent was delivered: the other trackers
keep being served and nothing is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import time
import tracemalloc

import pytest

from custom_components.sinotrack.listener import (
    CLOSED_BY_PEER,
    CLOSED_EVICTED,
    CLOSED_GARBAGE,
    CLOSED_HANDSHAKE,
    CLOSED_IDLE,
    CLOSED_REPLACED,
    REFUSED_TOO_MANY_FROM_SOURCE,
)
from custom_components.sinotrack.protocol import jt808
from tests.support.defaults import WAIT
from tests.support.frames import h02_v1
from tests.support.listeners import ListenerFactory
from tests.support.net import closed_by_server, raw_connect
from tests.support.sink import RecordingSink
from tests.support.wait import until

from .conftest import raise_open_files
from .helpers import Bystanders, h02_binary, start_bystanders

IDLE = 2000
"""Idle connections of the flood test."""
HANDSHAKE = 8.0


async def open_idle(port: int, count: int, source: str | None = None) -> list[socket.socket]:
    """``count`` connections that never send, opened in batches the backlog can take."""
    sockets: list[socket.socket] = []
    try:
        for start in range(0, count, 250):
            batch = await asyncio.gather(
                *(raw_connect(port, source) for _ in range(min(250, count - start)))
            )
            sockets.extend(batch)
    except BaseException:
        close_all(sockets)
        raise
    return sockets


def close_all(sockets: list[socket.socket]) -> None:
    for sock in sockets:
        sock.close()


# -- many idle connections --------------------------------------------------------------------


async def test_2000_idle_connections_are_capped_and_closed_trackers_still_served(
    make_listener: ListenerFactory, bystanders_for: list[Bystanders]
) -> None:
    if not raise_open_files(2 * IDLE + 512):
        pytest.skip(f"the open-file limit cannot hold {IDLE} connections in one process")
    # Long enough for all of them to be open before the first ones time out (on a slow CI
    # machine, with coverage and asyncio's debug mode, opening 2,000 takes a few seconds).
    listener = await make_listener(max_connections=IDLE, handshake_timeout=HANDSHAKE)
    bystanders = await start_bystanders(listener, bystanders_for)

    started = time.monotonic()
    idle = await open_idle(listener.port, IDLE)
    try:
        # The cap: the bystanders hold 3 of the 2,000 places; the last 3 idle connections
        # each evict the oldest connection that never identified (nothing is refused).
        await until(lambda: listener.stats.evicted == len(Bystanders.IDS))
        await until(lambda: listener.connection_count == IDLE)
        assert listener.stats.refused == {}
        assert listener.stats.closed == {CLOSED_EVICTED: len(Bystanders.IDS)}
        await bystanders.served()  # reporting on through the flood

        # Closed after the handshake timeout (not before); the bystanders are not.
        await until(
            lambda: listener.connection_count == len(Bystanders.IDS), timeout=HANDSHAKE + WAIT
        )
        assert time.monotonic() - started >= HANDSHAKE
        assert listener.stats.closed == {
            CLOSED_EVICTED: len(Bystanders.IDS),
            CLOSED_HANDSHAKE: IDLE - len(Bystanders.IDS),
        }
        assert listener.diagnostics()["connections"]["identified"] == len(Bystanders.IDS)
    finally:
        close_all(idle)

    # The places are free again: a new tracker connects and is served.
    sink = RecordingSink()
    listener.register("4210000099", sink)
    newcomer = await raw_connect(listener.port)
    try:
        loop = asyncio.get_running_loop()
        await loop.sock_sendall(newcomer, h02_v1(ident="4210000099"))
        await until(lambda: sink.positions == 1)
    finally:
        newcomer.close()
    await bystanders.check()


async def test_one_source_cannot_take_every_place(
    make_listener: ListenerFactory, bystanders_for: list[Bystanders]
) -> None:
    """The per-source cap (loopback is exempt by default, so the test removes the exemption)."""
    listener = await make_listener(max_connections_per_source=50, per_source_exempt=())
    bystanders = await start_bystanders(listener, bystanders_for)  # from 127.0.0.1

    idle = await open_idle(listener.port, 80, source="127.0.0.3")
    try:
        await until(lambda: sum(listener.stats.refused.values()) == 30)
        assert listener.stats.refused == {REFUSED_TOO_MANY_FROM_SOURCE: 30}
        assert listener.connection_count == 50 + len(Bystanders.IDS)
        await bystanders.served()
    finally:
        close_all(idle)
    await bystanders.check()


# -- endless frames, garbage ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "filler"),
    [
        pytest.param(b"*HQ,4210051499,V1,", b"1234567890,", id="h02-text"),
        pytest.param(b"\x7e\x02\x00", b"\x01\x02\x03\x04", id="jt808"),
    ],
)
async def test_endless_frame_without_terminator(
    make_listener: ListenerFactory, bystanders_for: list[Bystanders], start: bytes, filler: bytes
) -> None:
    """A frame that never ends, at full speed: dropped, the connection closed, memory bounded."""
    listener = await make_listener(max_read_rate=0)
    bystanders = await start_bystanders(listener, bystanders_for)
    chunk = filler * (65536 // len(filler))
    loop = asyncio.get_running_loop()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        sock = await raw_connect(listener.port)
        sent = 0
        try:
            await loop.sock_sendall(sock, start)
            with contextlib.suppress(ConnectionError):
                async with asyncio.timeout(WAIT):
                    while sent < 64 * 1024 * 1024:  # never: the server closes first
                        await loop.sock_sendall(sock, chunk)
                        sent += len(chunk)
            await closed_by_server(sock)
        finally:
            sock.close()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert sent < 64 * 1024 * 1024
    await until(lambda: listener.stats.closed.get(CLOSED_GARBAGE) == 1)
    # The connection was closed after a few dropped frames, not after everything sent.
    assert listener.stats.rejected_bytes <= listener.config.max_rejected_bytes + 2 * (
        listener.config.read_size + listener.config.max_frame
    )
    assert peak < 2 * 1024 * 1024, f"{peak} bytes allocated at the peak"
    await bystanders.check()


async def test_endless_frame_trickled_after_a_good_frame(
    make_listener: ListenerFactory, bystanders_for: list[Bystanders]
) -> None:
    """An identified connection that trickles a frame that never ends is closed when idle."""
    listener = await make_listener(idle_timeout=1.0)
    bystanders = await start_bystanders(listener, bystanders_for)
    sink = RecordingSink()
    listener.register("4210051498", sink)
    loop = asyncio.get_running_loop()
    sock = await raw_connect(listener.port)
    try:
        await loop.sock_sendall(sock, h02_v1(ident="4210051498") + b"*HQ,4210051498,V1,")
        with contextlib.suppress(ConnectionError):
            async with asyncio.timeout(WAIT):
                while len(sink.connections) < 2:
                    await loop.sock_sendall(sock, b"9")
                    await asyncio.sleep(0.02)
    finally:
        sock.close()
    assert listener.stats.closed == {CLOSED_IDLE: 1}
    assert sink.positions == 1
    await bystanders.served()
    await bystanders.check()


async def test_random_bytes_at_full_speed(
    make_listener: ListenerFactory, bystanders_for: list[Bystanders]
) -> None:
    """Connections sending random bytes as fast as they can are closed; the rest is served."""
    listener = await make_listener(max_read_rate=0)
    bystanders = await start_bystanders(listener, bystanders_for)
    noise = random.Random(6).randbytes(256 * 1024)
    loop = asyncio.get_running_loop()

    async def blast(seed: int) -> int:
        sock = await raw_connect(listener.port)
        offset = seed * 4099 % len(noise)
        data = noise[offset:] + noise[:offset]
        sent = 0
        try:
            with contextlib.suppress(ConnectionError):
                async with asyncio.timeout(WAIT):
                    while True:
                        await loop.sock_sendall(sock, data)
                        sent += len(data)
        finally:
            sock.close()
        return sent

    rounds = 5
    for round_ in range(rounds):
        await asyncio.gather(*(blast(round_ * 8 + index) for index in range(8)))
    await until(lambda: sum(listener.stats.closed.values()) == 8 * rounds)
    # Two blasts can send the same noise frame, i.e. claim the same random (unknown) ID:
    # the newer connection then replaces the older.
    assert set(listener.stats.closed) <= {CLOSED_GARBAGE, CLOSED_REPLACED}
    assert listener.stats.closed[CLOSED_GARBAGE] > 0
    # Noise between two 0x7E makes JT/T 808 frames with bad checksums and random IDs: the
    # codec accepts them (some firmware gets the checksum wrong), but no such ID is offered
    # for discovery: that takes a frame without a warning.
    assert listener.stats.frame_warnings > 0
    assert listener.stats.unknown_trackers == 0
    await bystanders.served()
    await bystanders.check()


# -- half-open connections --------------------------------------------------------------------


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(h02_v1(ident="4210051497"), id="h02-text"),
        pytest.param(h02_binary("4210051497"), id="h02-binary"),
    ],
)
async def test_peer_that_shuts_down_its_side(
    make_listener: ListenerFactory, bystanders_for: list[Bystanders], frame: bytes
) -> None:
    """A FIN right after the last frame: the frame is delivered, the server closes too."""
    listener = await make_listener()
    bystanders = await start_bystanders(listener, bystanders_for)
    sink = RecordingSink()
    listener.register("4210051497", sink)
    sock = await raw_connect(listener.port)
    try:
        await asyncio.get_running_loop().sock_sendall(sock, frame)
        sock.shutdown(socket.SHUT_WR)
        await closed_by_server(sock)  # the server's side is closed as well
    finally:
        sock.close()
    await until(lambda: len(sink.connections) == 2)
    assert sink.positions == 1
    assert [connected for connected, _ in sink.connections] == [True, False]
    assert listener.stats.closed == {CLOSED_BY_PEER: 1}
    assert listener.connection_count == len(Bystanders.IDS)
    await bystanders.check()


async def test_peer_that_vanishes_without_a_fin(
    make_listener: ListenerFactory, bystanders_for: list[Bystanders]
) -> None:
    """A tracker gone silent (network lost, no FIN): closed by the idle timeout."""
    listener = await make_listener(idle_timeout=1.0)
    bystanders = await start_bystanders(listener, bystanders_for)
    sink = RecordingSink()
    listener.register("4210051496", sink)
    sock = await raw_connect(listener.port)
    try:
        await asyncio.get_running_loop().sock_sendall(sock, h02_v1(ident="4210051496"))
        await until(lambda: len(sink.connections) == 1)
        assert listener.is_connected("4210051496")
        # Silent from now on: never reads, never writes, never closes.
        await until(lambda: len(sink.connections) == 2, timeout=WAIT)
    finally:
        sock.close()
    assert not listener.is_connected("4210051496")
    assert listener.stats.closed == {CLOSED_IDLE: 1}
    assert listener.tracker_diagnostics("4210051496") is not None
    await bystanders.check()


# -- discovery ----------------------------------------------------------------------------------


def bad_checksum(frame: bytes) -> bytes:
    """``frame`` (a JT/T 808 frame, delimiters included) with a checksum that does not match."""
    content = jt808.unescape(frame[1:-1])
    return b"\x7e" + jt808.escape(content[:-1] + bytes((content[-1] ^ 0x55,))) + b"\x7e"


async def test_an_unknown_id_is_offered_only_from_a_clean_frame(
    make_listener: ListenerFactory,
) -> None:
    """Frames with bad checksums are decoded (tolerated firmware bug) but offer no tracker."""
    listener = await make_listener(discovery_delay=0)  # offered at its first good frame
    offered: list[str] = []
    listener.set_unknown_tracker_callback(lambda ident, protocol, peer: offered.append(ident))
    terminal = jt808.encode_terminal("13912340077")
    heartbeat = jt808.build_frame(0x0002, terminal, 1, b"")
    loop = asyncio.get_running_loop()
    sock = await raw_connect(listener.port)
    try:
        await loop.sock_sendall(sock, bad_checksum(heartbeat))
        await until(lambda: listener.stats.frames == 1)
        assert listener.stats.frame_warnings == 1
        assert offered == []
        await loop.sock_sendall(sock, heartbeat)
        await until(lambda: listener.stats.frames == 2)
        assert offered == ["13912340077"]
        await loop.sock_sendall(sock, heartbeat)  # once per ID
        await until(lambda: listener.stats.frames == 3)
        assert offered == ["13912340077"]
    finally:
        sock.close()


# -- bind address -------------------------------------------------------------------------------


def _dual_stack() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            probe.bind(("::", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _dual_stack(), reason="no dual-stack IPv6 socket on this host")
async def test_all_addresses_serve_ipv4_trackers(
    make_listener: ListenerFactory, bystanders_for: list[Bystanders]
) -> None:
    """Issue item 8: ``::`` ("all addresses") serves IPv4 trackers too."""
    listener = await make_listener(host="::")
    bystanders = await start_bystanders(listener, bystanders_for)  # IPv4, to 127.0.0.1
    await bystanders.served()
    diagnostics = listener.diagnostics()
    assert diagnostics["addresses"] == [f":::{listener.port}"]
    for tracker in diagnostics["trackers"].values():
        assert tracker["peer"].startswith("127.0.0.1:")
    await bystanders.check()
