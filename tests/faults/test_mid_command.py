"""Commands to trackers that disconnect mid-command, against a live listener.

A command whose connection drops after it was sent fails with TrackerDisconnectedError
and is not sent again (the device may have executed it). A command queued for an offline
tracker waits for its next connection, whichever way the previous one ended.
"""

from __future__ import annotations

import asyncio
import contextlib

from custom_components.sinotrack.listener import (
    CommandResult,
    TrackerDisconnectedError,
)
from custom_components.sinotrack.protocol import Command, CommandKind, message as p
from tests.support.client import Client
from tests.support.defaults import WAIT
from tests.support.frames import h02_v1
from tests.support.listeners import ListenerFactory
from tests.support.sink import RecordingSink
from tests.support.wait import until
from tools.simulator import SimulatedTracker

from .helpers import Bystanders

MILEAGE = Command(CommandKind.MILEAGE)


class RawTracker:
    """A tracker over a plain stream: identifies, reads what the server sends, hangs up."""

    def __init__(self, ident: str, client: Client) -> None:
        self.ident = ident
        self.client = client

    @classmethod
    async def connect(cls, ident: str, port: int) -> RawTracker:
        """Connect as ``ident`` and send a position (answered with a V4)."""
        tracker = cls(ident, await Client.connect(port))
        await tracker.client.send(h02_v1(ident=ident))
        assert (await tracker.frame()).startswith(f"*HQ,{ident},V4,V1,".encode())
        return tracker

    async def frame(self, timeout: float = WAIT) -> bytes:  # noqa: ASYNC109
        """The next text frame the server sends."""
        return await self.client.recv_text(timeout)

    async def hang_up(self) -> None:
        """Close the connection."""
        await self.client.close()


async def test_trackers_that_disconnect_mid_command(make_listener: ListenerFactory) -> None:
    listener = await make_listener()
    bystanders = Bystanders(listener)
    await bystanders.start()
    sinks = {f"42100600{index:02d}": RecordingSink() for index in range(10)}
    for ident, sink in sinks.items():
        listener.register(ident, sink)
    answering = [
        SimulatedTracker(ident, "h02", "127.0.0.1", listener.port, interval=3600, heartbeat=None)
        for ident in list(sinks)[:5]
    ]
    for tracker in answering:
        tracker.start()
    hanging = [await RawTracker.connect(ident, listener.port) for ident in list(sinks)[5:]]
    try:
        async with asyncio.timeout(WAIT):
            for tracker in answering:
                await tracker.wait_connected()
        await until(lambda: all(sink.positions == 1 for sink in sinks.values()))

        # Ten commands at once; five trackers answer, five hang up once the command came.
        async def hang_up_on_command(tracker: RawTracker) -> bytes:
            command = await tracker.frame()
            await tracker.hang_up()
            return command

        commands = [
            asyncio.create_task(listener.send_command(ident, MILEAGE, timeout=WAIT))
            for ident in sinks
        ]
        received = await asyncio.gather(*(hang_up_on_command(t) for t in hanging))
        assert all(b",S32," in command for command in received)
        results = await asyncio.gather(*commands, return_exceptions=True)
        for result in results[:5]:
            assert isinstance(result, CommandResult), result
            assert result.reply[p.MILEAGE] == 0.0
        for result in results[5:]:
            assert isinstance(result, TrackerDisconnectedError), result
        stats = listener.stats
        assert (stats.commands_answered, stats.commands_disconnected) == (5, 5)

        # Queued for an offline tracker: sent once it is back, answered.
        ident = hanging[0].ident
        queued = asyncio.create_task(
            listener.send_command(ident, MILEAGE, timeout=WAIT, queue_if_offline=True)
        )
        await asyncio.sleep(0.1)
        assert not queued.done()
        assert listener.diagnostics()["commands"]["waiting"] == 1
        back = SimulatedTracker(ident, "h02", "127.0.0.1", listener.port, interval=3600)
        back.start()
        try:
            result = await queued
            assert result.reply[p.MILEAGE] == 0.0
            assert back.commands_answered == 1
        finally:
            await back.stop()

        # Queued, sent, and the tracker hangs up before answering: not sent again.
        ident = hanging[1].ident
        queued = asyncio.create_task(
            listener.send_command(ident, MILEAGE, timeout=WAIT, queue_if_offline=True)
        )
        raw = await RawTracker.connect(ident, listener.port)
        assert b",S32," in await raw.frame()
        await raw.hang_up()
        try:
            await queued
        except TrackerDisconnectedError:
            pass
        else:  # pragma: no cover - the assertion below says what went wrong
            raise AssertionError("the command did not fail")
        raw = await RawTracker.connect(ident, listener.port)
        with contextlib.suppress(TimeoutError):
            assert await raw.frame(timeout=0.3) == b"", "a command was sent again"
        await raw.hang_up()
        assert listener.stats.commands_disconnected == 6
        assert listener.diagnostics()["commands"]["waiting"] == 0
    finally:
        for tracker in answering:
            await tracker.stop()
        for hung in hanging:
            await hung.hang_up()
    # The trackers that answered lost nothing either.
    for tracker in answering:
        # (a command reply carries a position too)
        assert sinks[tracker.ident].positions == tracker.positions_sent + tracker.commands_answered
    await bystanders.check()
