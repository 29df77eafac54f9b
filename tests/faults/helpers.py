"""Bystanders: real trackers that must keep being served while a fault test attacks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib
from typing import Final

from custom_components.sinotrack.listener import Listener
from tests.support.defaults import LOOPBACK, WAIT
from tests.support.sink import RecordingSink
from tests.support.wait import until
from tools.simulator import Fix, SimulatedTracker, WireProtocol
from tools.simulator.frames import h02_binary_position


class Bystanders:
    """Well-behaved simulated trackers, one per protocol, reporting while a test attacks
    (every 0.2 s by default: the most a real device sends, under the listener's frame rate).

    ``check()`` stops them and asserts that each was served all along: one connection
    (never closed, never replaced), every position it sent decoded and delivered.
    """

    IDS: Final = {
        WireProtocol.H02: "4210000001",
        WireProtocol.H02_BINARY: "4210000002",
        WireProtocol.JT808: "13912340003",
    }

    def __init__(self, listener: Listener, interval: float = 0.2) -> None:
        self.listener = listener
        self.sinks: dict[str, RecordingSink] = {}
        self.trackers: list[SimulatedTracker] = []
        for protocol, ident in self.IDS.items():
            self.sinks[ident] = RecordingSink()
            self.trackers.append(
                SimulatedTracker(
                    ident,
                    protocol,
                    LOOPBACK,
                    listener.port,
                    interval=interval,
                    heartbeat=None,
                    first_connect_attempts=1,
                )
            )
        self._unregister: list[Callable[[], None]] = []

    async def start(self) -> None:
        for ident, sink in self.sinks.items():
            self._unregister.append(self.listener.register(ident, sink))
        for tracker in self.trackers:
            tracker.start()
        async with asyncio.timeout(WAIT):
            for tracker in self.trackers:
                await tracker.wait_connected()
        await until(lambda: all(sink.positions > 0 for sink in self.sinks.values()))

    @property
    def positions(self) -> int:
        """Positions delivered so far, all bystanders together."""
        return sum(sink.positions for sink in self.sinks.values())

    async def served(self, more: int = 3) -> None:
        """Wait until each bystander has ``more`` positions delivered beyond the present."""
        targets = {ident: sink.positions + more for ident, sink in self.sinks.items()}
        await until(lambda: all(self.sinks[i].positions >= n for i, n in targets.items()))

    async def check(self) -> None:
        """Stop; every position sent was delivered, over the one connection each had."""
        for tracker in self.trackers:
            assert tracker.connected, f"{tracker.ident} lost its connection"
        for tracker in self.trackers:
            await tracker.stop()
        pairs = [(tracker, self.sinks[tracker.ident]) for tracker in self.trackers]
        with contextlib.suppress(TimeoutError):
            await until(
                lambda: all(
                    s.positions >= t.positions_sent and len(s.connections) >= 2 for t, s in pairs
                )
            )
        for tracker, sink in pairs:
            assert tracker.error is None, tracker.error
            assert tracker.connects == 1, f"{tracker.ident} reconnected"
            assert sink.positions == tracker.positions_sent, (
                f"{tracker.ident}: {tracker.positions_sent} positions sent,"
                f" {sink.positions} delivered"
            )
            assert [connected for connected, _ in sink.connections] == [True, False]
        for unregister in self._unregister:
            unregister()

    async def abort(self) -> None:
        for tracker in self.trackers:
            await tracker.stop()
        for unregister in self._unregister:
            unregister()


def h02_binary(ident: str) -> bytes:
    """A 32-byte H02 ``$`` position of ``ident`` (no reply expected)."""
    fix = Fix(
        timestamp=1_790_000_000,
        latitude=22.5431,
        longitude=114.0579,
        speed_kmh=0.0,
        course=0,
        ignition=False,
        mileage_km=0.0,
        battery=100,
    )
    return h02_binary_position(ident, fix)


async def start_bystanders(listener: Listener, started: list[Bystanders]) -> Bystanders:
    """Start a group of bystander trackers on ``listener``; ``started`` stops it at the end."""
    group = Bystanders(listener)
    started.append(group)
    await group.start()
    return group
