"""Made-up tracker IDs against a live listener, while real trackers keep reporting.

An unknown ID is offered for discovery only if it is digits only (as the config flow
accepts), after its connection stayed up and kept sending good frames for
``discovery_delay`` (30 s), and at most 3 new IDs per source address an hour. Unknown-ID
connections have their own cap and idle timeout, and make room for a configured tracker
when the listener is full.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
import socket

from custom_components.sinotrack.listener import (
    CLOSED_EVICTED,
    CLOSED_IDLE,
    CLOSED_UNKNOWN_CAP,
    Listener,
)
from tests.support.frames import T0, h02_v1
from tests.support.listeners import ListenerFactory
from tests.support.net import closed_by_server, raw_connect
from tests.support.sink import RecordingSink
from tests.support.wait import until

from .helpers import Bystanders

type Offered = list[tuple[str, str, str]]


async def served_listener(
    make_listener: ListenerFactory, started: list[Bystanders], **config: object
) -> tuple[Listener, Bystanders, Offered]:
    listener = await make_listener(**config)
    offered: Offered = []
    listener.set_unknown_tracker_callback(lambda *args: offered.append(args))
    group = Bystanders(listener)
    started.append(group)
    await group.start()
    return listener, group, offered


async def report(port: int, ident: str, source: str | None = None) -> socket.socket:
    """A connection that sent one V1 of ``ident`` and got its ack."""
    loop = asyncio.get_running_loop()
    sock = await raw_connect(port, source)
    await loop.sock_sendall(sock, h02_v1(ident=ident))
    assert (await loop.sock_recv(sock, 1024)).startswith(f"*HQ,{ident},V4,".encode())
    return sock


async def test_only_digit_ids_are_offered(
    make_listener: ListenerFactory, bystanders_for: list[Bystanders]
) -> None:
    listener, bystanders, offered = await served_listener(
        make_listener, bystanders_for, discovery_delay=0
    )
    letters = await report(listener.port, "CALLSUPPORT0800123456")
    digits = await report(listener.port, "4210000077")
    try:
        await until(lambda: len(offered) == 1)
        assert offered[0][:2] == ("4210000077", "h02")
        assert listener.stats.discovery_not_digits == 1
        assert listener.diagnostics()["discovery"] == {
            "offered": 1,
            "not_digits": 1,
            "rate_limited": 0,
        }
    finally:
        letters.close()
        digits.close()
    await bystanders.check()


async def test_a_source_introduces_at_most_three_ids_an_hour(
    make_listener: ListenerFactory, bystanders_for: list[Bystanders]
) -> None:
    listener, bystanders, offered = await served_listener(
        make_listener, bystanders_for, discovery_delay=0, per_source_exempt=()
    )
    sockets = []
    try:
        sockets.extend(
            [await report(listener.port, f"42100001{n:02d}", "127.0.0.7") for n in range(5)]
        )
        await until(lambda: listener.stats.discovery_rate_limited == 2)
        assert [ident for ident, _, _ in offered] == ["4210000100", "4210000101", "4210000102"]
        # Another address is not held back by the first one's introductions.
        sockets.append(await report(listener.port, "4210000199", "127.0.0.8"))
        await until(lambda: len(offered) == 4)
        assert offered[3][2].startswith("127.0.0.8:")
    finally:
        for sock in sockets:
            sock.close()
    await bystanders.check()


async def test_an_id_is_offered_after_good_frames_over_the_delay(
    make_listener: ListenerFactory, bystanders_for: list[Bystanders]
) -> None:
    listener, bystanders, offered = await served_listener(
        make_listener, bystanders_for, discovery_delay=0.5
    )
    loop = asyncio.get_running_loop()
    # Hit and run: one frame, then gone. Never offered.
    hit = await report(listener.port, "4210000201")
    hit.close()
    # Stays and keeps reporting: offered at its first good frame past the delay.
    stays = await report(listener.port, "4210000202")
    try:
        assert offered == []
        await asyncio.sleep(0.6)
        await loop.sock_sendall(stays, h02_v1(T0 + timedelta(seconds=1), ident="4210000202"))
        await until(lambda: len(offered) == 1)
        assert offered[0][0] == "4210000202"
    finally:
        stays.close()
    assert [ident for ident, _, _ in offered] == ["4210000202"]
    await bystanders.check()


async def test_unknown_ids_have_their_own_cap_and_idle_timeout(
    make_listener: ListenerFactory, bystanders_for: list[Bystanders]
) -> None:
    listener, bystanders, _ = await served_listener(
        make_listener, bystanders_for, max_unknown_connections=5, unknown_idle_timeout=1.0
    )
    sockets = []
    try:
        for number in range(8):
            sock = await raw_connect(listener.port)
            sockets.append(sock)
            await asyncio.get_running_loop().sock_sendall(
                sock, h02_v1(ident=f"42100003{number:02d}")
            )
        await until(lambda: listener.stats.closed.get(CLOSED_UNKNOWN_CAP, 0) == 3)
        for sock in sockets[5:]:
            assert await closed_by_server(sock) == b""
        # A configured tracker is not an unknown one: it gets in.
        sink = RecordingSink()
        listener.register("4210000399", sink)
        sockets.append(await report(listener.port, "4210000399"))
        # The unknown ones go after their short idle timeout; the configured one stays.
        await until(lambda: listener.stats.closed.get(CLOSED_IDLE, 0) == 5)
        assert listener.is_connected("4210000399")
    finally:
        for sock in sockets:
            sock.close()
    await bystanders.check()


async def test_a_full_listener_makes_room_for_a_configured_tracker(
    make_listener: ListenerFactory, bystanders_for: list[Bystanders]
) -> None:
    """Issue item 7: made-up IDs hold every place; the real tracker still gets in."""
    listener, bystanders, _ = await served_listener(
        make_listener, bystanders_for, max_connections=len(Bystanders.IDS) + 3
    )
    squatters = [await report(listener.port, f"42100004{n:02d}") for n in range(3)]
    try:
        assert listener.connection_count == len(Bystanders.IDS) + 3
        sink = RecordingSink()
        listener.register("4210000499", sink)
        tracker = await report(listener.port, "4210000499")
        squatters.append(tracker)
        await until(lambda: sink.positions == 1)
        assert await closed_by_server(squatters[0]) == b""  # the oldest unknown one
        assert listener.stats.evicted == 1
        assert listener.stats.closed == {CLOSED_EVICTED: 1}
        assert listener.stats.refused == {}
    finally:
        for sock in squatters:
            sock.close()
    await bystanders.check()
