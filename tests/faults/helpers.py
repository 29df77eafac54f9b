"""Bystanders (real trackers that must keep being served) and raw clients for the fault tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib
import socket
from typing import Final

from custom_components.sinotrack.listener import IPNetwork, Listener
from custom_components.sinotrack.protocol import Message, TrackerSettings, message as p
from tools.simulator import Fix, SimulatedTracker, WireProtocol
from tools.simulator.frames import h02_binary_position

WAIT: Final = 10.0
"""Seconds a test waits for something that takes milliseconds when all is well."""


async def until(predicate: Callable[[], bool], timeout: float = WAIT) -> None:  # noqa: ASYNC109
    """Wait for ``predicate`` to hold (polled every few ms); fail after ``timeout``."""
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 - polls state that has no event to wait on
            await asyncio.sleep(0.005)


class Sink:
    """A TrackerSink that records what it is given; ``networks``: its allowed networks."""

    def __init__(self, networks: tuple[IPNetwork, ...] = ()) -> None:
        self.messages: list[Message] = []
        self.connections: list[tuple[bool, str | None]] = []
        self.networks = networks
        self.settings = TrackerSettings()

    def tracker_settings(self) -> TrackerSettings:
        return self.settings

    @property
    def allowed_networks(self) -> tuple[IPNetwork, ...]:
        return self.networks

    def auth_code_issued(self, code: str) -> None:
        self.settings = TrackerSettings(self.settings.jt808_utc_offset, code)

    def registration_refused(self, peer: str) -> None:
        """Nothing to record."""

    def handle_messages(self, messages: list[Message]) -> None:
        self.messages.extend(messages)

    def connection_changed(self, connected: bool, peer: str | None) -> None:
        self.connections.append((connected, peer))

    @property
    def positions(self) -> int:
        return sum(1 for message in self.messages if p.LATITUDE in message)


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
        self.sinks: dict[str, Sink] = {}
        self.trackers: list[SimulatedTracker] = []
        for protocol, ident in self.IDS.items():
            self.sinks[ident] = Sink()
            self.trackers.append(
                SimulatedTracker(
                    ident,
                    protocol,
                    "127.0.0.1",
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


async def raw_connect(port: int, source: str | None = None) -> socket.socket:
    """A non-blocking client socket connected to ``127.0.0.1:port`` (from ``source``)."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        if source is not None:
            sock.bind((source, 0))
        await loop.sock_connect(sock, ("127.0.0.1", port))
    except BaseException:
        sock.close()
        raise
    return sock


async def closed_by_server(sock: socket.socket, timeout: float = WAIT) -> bytes:  # noqa: ASYNC109
    """Read until the server closes the connection (FIN or RST); what came before."""
    loop = asyncio.get_running_loop()
    received = b""
    async with asyncio.timeout(timeout):
        while True:
            try:
                chunk = await loop.sock_recv(sock, 65536)
            except ConnectionError:
                return received
            if not chunk:
                return received
            received += chunk


def h02_v1(ident: str, second: int = 0) -> bytes:
    """An H02 V1 position of ``ident`` (answered with a V4 reply)."""
    return (
        f"*HQ,{ident},V1,1645{second % 60:02d},A,2232.6083,N,11404.8137,E,000.00,000,"
        f"221215,FFFFFBFF,460,00,9520,3671,6#"
    ).encode()


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
