"""The listener's budgets under attack, while real trackers keep reporting.

Each attack comes from its own loopback address and the test lifts the loopback exemption
(``per_source_exempt=()``), so that the per-source budgets apply as to an internet peer.
Nothing here is timed: the tests assert that the bystanders got their acks and every
message, and that the budget meant to stop the attack counted it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib
from pathlib import Path
import resource
import socket
import struct
import tracemalloc
from typing import Any

import pytest

from custom_components.sinotrack.listener import CLOSED_GARBAGE, CLOSED_MEMORY, Listener
from custom_components.sinotrack.protocol import jt808
from tests.support.defaults import WAIT
from tests.support.listeners import ListenerFactory
from tests.support.net import raw_connect
from tests.support.wait import until

from .helpers import Bystanders, start_bystanders

FLOODERS = 50
"""Connections of the flooding source (its per-source cap)."""


def bc_batch(ident: str, segments: int = 48) -> bytes:
    """An H02 ``BC`` blind-spot batch of ``segments`` fixes (under the 4 KiB frame limit)."""
    segment = "A,2235.1777,N,11357.8913,E,000.00,000,15123456,FFFFFBFF,460,00,9520,3671"
    return f"*HQ,{ident},BC,123456,{segments},{';'.join([segment] * segments)}#".encode()


async def blast(port: int, source: str, data: bytes, stop: asyncio.Event) -> None:
    """Send ``data`` over and over from ``source`` until ``stop`` (or the server closes)."""
    loop = asyncio.get_running_loop()
    sock = await raw_connect(port, source)
    try:
        with contextlib.suppress(ConnectionError):
            while not stop.is_set():
                await loop.sock_sendall(sock, data)
    finally:
        sock.close()


async def flood(
    listener: Listener,
    source: str,
    payload: Callable[[int], bytes],
    bystanders: Bystanders,
    engaged: Callable[[], bool],
) -> None:
    """``FLOODERS`` connections from ``source`` send ``payload(index)`` until the budget
    meant to stop them has ``engaged`` and the bystanders reported three more positions
    each; then the flood stops."""
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(blast(listener.port, source, payload(index), stop))
        for index in range(FLOODERS)
    ]
    try:
        await until(engaged)
        await bystanders.served()
    finally:
        stop.set()
        for task in tasks:
            task.cancel()  # a send blocked by back-pressure never returns by itself
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_one_source_sending_bc_batches_cannot_take_the_loop(
    make_listener: ListenerFactory, bystanders_for: list[Bystanders]
) -> None:
    """Issue item 3: 50 connections from one address at full speed, valid BC batches."""
    listener = await make_listener(per_source_exempt=())
    bystanders = await start_bystanders(listener, bystanders_for)  # from 127.0.0.1

    stats = listener.stats
    await flood(
        listener,
        "127.0.0.5",
        lambda i: bc_batch(f"42100050{i:02d}") * 8,
        bystanders,
        lambda: stats.source_throttled > 0 and stats.iteration_deferred > 0,
    )

    # The source's byte budget and its share of the loop's iterations held it back (reads
    # paused, TCP back-pressure), while nothing was dropped.
    assert stats.source_throttled > 0
    assert stats.iteration_deferred > 0
    assert stats.rejected_frames == 0
    traffic = listener.diagnostics()["traffic"]
    assert traffic["source_throttled"] == stats.source_throttled
    await bystanders.check()


async def test_one_source_sending_garbage_costs_little(
    make_listener: ListenerFactory, bystanders_for: list[Bystanders]
) -> None:
    """Issue item 3: ``$`` garbage from 50 connections: each run is one skipped event."""
    listener = await make_listener(per_source_exempt=())
    bystanders = await start_bystanders(listener, bystanders_for)

    stats = listener.stats
    await flood(
        listener,
        "127.0.0.6",
        lambda i: b"$" * 16384,
        bystanders,
        lambda: stats.throttled > 0 and stats.closed.get(CLOSED_GARBAGE, 0) > 0,
    )

    # Never identified: the small budget of a connection before its first good frame.
    assert stats.throttled > 0
    # Closed for garbage after a bounded number of skipped events each, not one per byte.
    assert stats.closed.get(CLOSED_GARBAGE, 0) > 0
    assert stats.rejected_frames <= stats.connections_total * 21
    assert stats.rejected_bytes > 100 * stats.rejected_frames
    await bystanders.check()


def subpackage(terminal: bytes, serial: int, total: int, index: int, body: bytes) -> bytes:
    """One JT/T 808 packet (index of total) of a sub-packaged 0x0200."""
    content = (
        struct.pack(">HH", 0x0200, len(body) | 0x2000)
        + terminal
        + struct.pack(">HHH", serial, total, index)
        + body
    )
    return b"\x7e" + jt808.escape(content + bytes((jt808.checksum(content),))) + b"\x7e"


async def test_jt808_subpackages_stay_within_the_memory_budget(
    make_listener: ListenerFactory, bystanders_for: list[Bystanders]
) -> None:
    """Issue item 2: 200 connections each holding an incomplete 256-part message."""
    budget = 4 * 1024 * 1024
    listener = await make_listener(memory_budget=budget, max_unknown_connections=400)
    bystanders = await start_bystanders(listener, bystanders_for)
    loop = asyncio.get_running_loop()
    peaks: list[int] = []

    sockets: list[socket.socket] = []

    async def attacker(number: int) -> None:
        terminal = jt808.encode_terminal(f"1390000{number:04d}")
        # 64 KiB of parts (the codec's cap per connection), then the same parts again
        # (replacing the stored ones), never the last part: never complete.
        packets = b"".join(
            subpackage(terminal, index, 256, index, bytes([index % 200]) * 1000)
            for index in range(1, 65)
        )
        sock = await raw_connect(listener.port)
        sockets.append(sock)
        with contextlib.suppress(ConnectionError):
            async with asyncio.timeout(WAIT):
                await loop.sock_sendall(sock, packets + packets)

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tasks = [asyncio.create_task(attacker(number)) for number in range(200)]
        while not all(task.done() for task in tasks):
            peaks.append(listener.admission.held)
            await asyncio.sleep(0.005)
        await asyncio.gather(*tasks)
        await until(lambda: listener.stats.frames >= 100 * 64)
        peaks.append(listener.admission.held)
        grown = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
        for sock in sockets:
            sock.close()

    stats = listener.stats
    assert stats.memory_closed > 0
    assert stats.closed.get(CLOSED_MEMORY, 0) == stats.memory_closed
    assert max(peaks) <= budget
    assert listener.diagnostics()["memory"]["budget"] == budget
    assert grown < 32 * 1024 * 1024
    await bystanders.served()
    await bystanders.check()


def _open_files() -> int | None:
    fd_dir = Path("/proc/self/fd")
    return sum(1 for _ in fd_dir.iterdir()) if fd_dir.is_dir() else None


async def test_out_of_descriptors_pauses_accepting_and_never_reaches_the_loop(
    make_listener: ListenerFactory, bystanders_for: list[Bystanders]
) -> None:
    """Issue item 7: ``accept`` failing with EMFILE must not reach the exception handler
    (Home Assistant treats it as fatal and stops); accepting resumes when a place frees."""
    listener = await make_listener(max_connections=1000)
    bystanders = await start_bystanders(listener, bystanders_for)
    loop = asyncio.get_running_loop()
    handled: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: handled.append(context))
    clients = [socket.socket() for _ in range(40)]  # their descriptors exist before the cap
    for sock in clients:
        sock.setblocking(False)
    open_now = _open_files()
    if open_now is None:
        pytest.skip("needs /proc/self/fd")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (open_now + 10, hard))
        try:
            await asyncio.gather(
                *(loop.sock_connect(s, ("127.0.0.1", listener.port)) for s in clients)
            )
            await until(lambda: listener.stats.accept_paused > 0)
            await bystanders.served(1)  # the connected trackers are still served
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        # Descriptors again: the waiting connections are accepted.
        await until(lambda: listener.connection_count == len(Bystanders.IDS) + len(clients))
        assert listener.diagnostics()["accept"]["paused"] == listener.stats.accept_paused
        assert handled == []
    finally:
        loop.set_exception_handler(previous)
        for sock in clients:
            sock.close()
    await bystanders.check()
