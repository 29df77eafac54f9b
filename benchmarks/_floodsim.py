"""The client side of ``bench_flood``: attackers or bystander trackers, in their own process.

Started by ``bench_flood`` as ``python -m benchmarks._floodsim ROLE --port P ...`` and pinned to
a core other than the listener's. Each connection is bound to its own loopback source
address (the whole of 127.0.0.0/8 is local), so the listener sees distinct sources. It prints
one JSON object per line on stdout: ``{"hello": ...}`` once running (attackers: once every
connection of the scenario has been tried, ``{"filled": ...}`` as well), and its figures when
told ``stop`` on stdin (one JSON object per line; bystanders also take ``late``).

Roles and what they send:

``bystanders``
    Registered trackers, each from its own address: an H02 ``V1`` position every
    ``--interval`` seconds, the next one only once the ``V4`` answer came (or after 10 s).
    Latency = write of the ``V1`` to the read of its ``V4``. A bystander whose connection is
    closed reconnects after a second, as a device does. ``late`` connects one more tracker
    (the "real tracker" of scenario d) and reports whether its ``V1`` was answered.
``attack a``
    One source, ``--connections`` connections, each with its own made-up ID, writing valid
    H02 ``BC`` blind-spot batches (as many segments as fit a 4 KiB frame, dated on the day
    of the month that is furthest back) at ``--rate`` bytes per second each.
``attack b``
    One source, ``--connections`` connections writing ``$`` bytes at ``--rate`` each.
``attack c``
    ``--sources`` x ``--connections`` connections, each with its own made-up JT/T 808
    terminal: sub-packages 1..255 of a 256-part message with a 1-byte body, then the same
    indexes again and again with ~2 KiB bodies (message 256 never comes), at ``--rate``.
``attack d``
    ``--sources`` x ``--connections`` connections, each sending one H02 ``HTBT`` heartbeat
    with its own made-up ID, then holding the connection without a word.
``attack e``
    One connection claiming the ID ``--spoof`` (a live bystander's) from another address:
    an H02 ``V1`` at a made-up position every half second (the ping-pong of a spoofer
    against the real tracker, which reconnects a second after it is closed).

Every attacker reads and throws away what the listener answers. Except in scenario d, it
reconnects at once when closed (counted), so the pressure stays up; a connection of
scenario d that is closed or refused stays away (its place is what it was holding).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Iterator
import contextlib
from dataclasses import dataclass, field
import datetime as dt
from functools import partial
import json
import math
import os
from pathlib import Path
import resource
import sys
import time
from typing import Any, Final

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._measure import loopback_source as source
from custom_components.sinotrack.protocol import jt808
from tests.support.defaults import LOOPBACK as HOST
from tools.simulator.frames import Fix, h02_heartbeat, h02_position

CONNECT_TIMEOUT: Final = 5.0
ACK_TIMEOUT: Final = 10.0
RECONNECT_DELAY: Final = 1.0
BYSTANDER_LATITUDE: Final = 22.5431
SPOOF_LATITUDE: Final = -33.8688
"""Where the spoofer says the tracker is (the sink tells its fixes apart by this)."""
FIRST_FAKE_ID: Final = 9_100_000_000
BC_FRAME_LIMIT: Final = 4096
JT808_PARTS: Final = 256
JT808_BIG_BODY: Final = 2048
JT808_MESSAGE: Final = 0x0704
READ_CHUNK: Final = 65536
SPOOF_RATE: Final = 2.0
"""Frames a second the spoofer sends (under the 5 a second a device may send)."""


def answer(data: dict[str, Any]) -> None:
    """One JSON line to the driving process."""
    sys.stdout.write(json.dumps(data) + "\n")
    sys.stdout.flush()


async def open_from(address: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection to the listener from ``address``."""
    async with asyncio.timeout(CONNECT_TIMEOUT):
        return await asyncio.open_connection(HOST, port, local_addr=(address, 0))


async def close(writer: asyncio.StreamWriter) -> None:
    """Close without waiting long for the other side."""
    writer.close()
    with contextlib.suppress(OSError, TimeoutError):
        async with asyncio.timeout(1):
            await writer.wait_closed()


def v1(ident: str, latitude: float, when: float) -> bytes:
    """An H02 V1 position of ``ident`` at ``when`` (answered with a V4)."""
    fix = Fix(
        timestamp=int(when),
        latitude=latitude,
        longitude=114.0579,
        speed_kmh=0.0,
        course=0,
        ignition=True,
        mileage_km=0.0,
        battery=90,
    )
    return h02_position(ident, fix)


# -- bystanders -----------------------------------------------------------------------------------


@dataclass(slots=True)
class Bystander:
    """A registered tracker reporting at a steady pace, its ack latencies recorded."""

    ident: str
    address: str
    port: int
    interval: float
    offset: float
    samples: list[tuple[float, float]] = field(default_factory=list)
    """(wall time of the V1 write, seconds to its V4; ``nan`` when none came)."""
    connects: int = 0
    closed: int = 0
    errors: int = 0

    async def run(self, stopping: asyncio.Event) -> None:
        """Report until ``stopping``; reconnect a second after any close."""
        await asyncio.sleep(self.offset)
        while not stopping.is_set():
            try:
                reader, writer = await open_from(self.address, self.port)
            except OSError, TimeoutError:
                self.errors += 1
                await asyncio.sleep(RECONNECT_DELAY)
                continue
            self.connects += 1
            try:
                await self._report(reader, writer, stopping)
            except OSError, asyncio.IncompleteReadError:
                self.closed += 1
            finally:
                await close(writer)
            if not stopping.is_set():
                await asyncio.sleep(RECONNECT_DELAY)

    async def _report(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, stopping: asyncio.Event
    ) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        while not stopping.is_set():
            wall = time.time()
            started = time.perf_counter()
            writer.write(v1(self.ident, BYSTANDER_LATITUDE, wall))
            await writer.drain()
            try:
                async with asyncio.timeout(ACK_TIMEOUT):
                    while b",V4," not in await reader.readuntil(b"#"):
                        pass
                self.samples.append((wall, time.perf_counter() - started))
            except TimeoutError:
                self.samples.append((wall, math.nan))
            due = max(due + self.interval, loop.time())
            await asyncio.sleep(due - loop.time())


async def late_tracker(ident: str, address: str, port: int) -> dict[str, Any]:
    """Connect one more tracker, send one V1: was it answered, and how fast."""
    started = time.perf_counter()
    try:
        reader, writer = await open_from(address, port)
    except (OSError, TimeoutError) as err:
        return {"served": False, "error": f"connect: {type(err).__name__}"}
    try:
        sent = time.perf_counter()
        writer.write(v1(ident, BYSTANDER_LATITUDE, time.time()))
        await writer.drain()
        async with asyncio.timeout(ACK_TIMEOUT):
            await reader.readuntil(b"#")
        return {
            "served": True,
            "ack_ms": (time.perf_counter() - sent) * 1000,
            "connect_ms": (sent - started) * 1000,
        }
    except (OSError, TimeoutError, asyncio.IncompleteReadError) as err:
        return {"served": False, "error": f"{type(err).__name__}"}
    finally:
        await close(writer)


async def bystanders(args: argparse.Namespace) -> None:
    """The ``bystanders`` role."""
    stopping = asyncio.Event()
    idents = args.ids.split(",")
    fleet = [
        Bystander(
            ident,
            source(1, index),
            args.port,
            args.interval,
            args.interval * index / len(idents),
        )
        for index, ident in enumerate(idents)
    ]
    tasks = [asyncio.create_task(tracker.run(stopping)) for tracker in fleet]
    answer({"hello": len(fleet)})
    reader = await stdin_reader()
    while line := await reader.readline():
        request = json.loads(line)
        if request["op"] == "late":
            answer({"late": await late_tracker(request["id"], source(2, 1), args.port)})
        elif request["op"] == "stop":
            break
    stopping.set()
    await asyncio.wait(tasks, timeout=ACK_TIMEOUT + 2)
    answer(
        {
            "samples": [sample for tracker in fleet for sample in tracker.samples],
            "connects": sum(tracker.connects for tracker in fleet),
            "closed": sum(tracker.closed for tracker in fleet),
            "errors": sum(tracker.errors for tracker in fleet),
        }
    )


# -- attackers ------------------------------------------------------------------------------------


def furthest_day(now: float) -> int:
    """The day of the month whose latest occurrence is furthest back from ``now``."""
    today = dt.datetime.fromtimestamp(now, dt.UTC).date()
    seen: dict[int, int] = {}
    for back in range(62):
        seen.setdefault((today - dt.timedelta(days=back)).day, back)
    return max(seen, key=lambda day: seen[day])


def bc_frame(ident: str, now: float) -> bytes:
    """A valid H02 BC batch with as many segments as fit in one 4 KiB frame."""
    clock = time.strftime("%H%M%S", time.gmtime(now))
    stamp = f"{furthest_day(now):02d}{clock}"
    segment = f"A,2232.6083,N,11404.8137,E,000.00,000,{stamp},FFFFFBFF,460,00,9520,3671"
    head = f"*HQ,{ident},BC,{clock},"
    count = (BC_FRAME_LIMIT - len(head) - 8) // (len(segment) + 1)
    body = ";".join([segment] * count)
    return f"{head}{len(body)},{body}#".encode("ascii")


def jt808_part(terminal: bytes, serial: int, index: int, body: bytes) -> bytes:
    """One sub-package (``index`` of ``JT808_PARTS``); the body's bytes need no escaping."""
    attr = 0x2000 | (len(body) & 0x3FF)
    head = (
        JT808_MESSAGE.to_bytes(2)
        + attr.to_bytes(2)
        + terminal
        + (serial & 0xFFFF).to_bytes(2)
        + JT808_PARTS.to_bytes(2)
        + index.to_bytes(2)
    )
    check = jt808.checksum(head) ^ jt808.checksum(body)
    return b"\x7e" + jt808.escape(head) + body + jt808.escape(bytes((check,))) + b"\x7e"


type Stream = Callable[[], Iterator[bytes]]


@dataclass(slots=True)
class Attack:
    """Connections of one scenario and their counters."""

    port: int
    rate: float
    gate: asyncio.Semaphore
    connects: int = 0
    failed: int = 0
    closed: int = 0
    bytes_sent: int = 0
    frames_sent: int = 0
    open_now: int = 0

    async def hold(
        self, address: str, stopping: asyncio.Event, stream: Stream, *, reconnect: bool = True
    ) -> None:
        """Connect from ``address``, write ``stream``'s chunks at ``rate``; again when closed."""
        while not stopping.is_set():
            try:
                async with self.gate:
                    reader, writer = await open_from(address, self.port)
            except OSError, TimeoutError:
                self.failed += 1
                if not reconnect:
                    return
                await asyncio.sleep(RECONNECT_DELAY)
                continue
            self.connects += 1
            self.open_now += 1
            drain = asyncio.create_task(self._discard(reader))
            try:
                await self._write(writer, stream(), stopping, drain)
            except OSError:
                pass
            finally:
                self.open_now -= 1
                drain.cancel()
                await close(writer)
            if stopping.is_set() or not reconnect:
                return
            self.closed += 1

    async def _discard(self, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(OSError):
            while await reader.read(READ_CHUNK):
                pass

    async def _write(
        self,
        writer: asyncio.StreamWriter,
        chunks: Iterator[bytes],
        stopping: asyncio.Event,
        drain: asyncio.Task[None],
    ) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        for chunk in chunks:
            if stopping.is_set() or drain.done() or writer.is_closing():
                return
            if not chunk:
                # Nothing more to say: hold the connection until it closes or the end.
                stop = asyncio.create_task(stopping.wait())
                await asyncio.wait([stop, drain], return_when=asyncio.FIRST_COMPLETED)
                stop.cancel()
                return
            writer.write(chunk)
            await writer.drain()
            self.bytes_sent += len(chunk)
            self.frames_sent += 1
            if self.rate > 0:
                due = max(due + len(chunk) / self.rate, loop.time() - 1.0)
                await asyncio.sleep(max(0.0, due - loop.time()))


def bc_stream(ident: str) -> Iterator[bytes]:
    """BC batches for ever."""
    frame = bc_frame(ident, time.time())
    while True:
        yield frame


def garbage_stream(chunk: int) -> Iterator[bytes]:
    """``$`` bytes for ever."""
    data = b"$" * chunk
    while True:
        yield data


def jt808_stream(ident: int) -> Iterator[bytes]:
    """Small parts 1..255, then big re-sent parts 1..255 for ever (part 256 never sent)."""
    terminal = jt808.encode_terminal(f"{ident:012d}")
    serial = 0
    for index in range(1, JT808_PARTS):
        serial += 1
        yield jt808_part(terminal, serial, index, b"\x31")
    big = bytes(0x30 + i % 10 for i in range(JT808_BIG_BODY))
    while True:
        for index in range(1, JT808_PARTS):
            serial += 1
            yield jt808_part(terminal, serial, index, big)


def heartbeat_stream(ident: str) -> Iterator[bytes]:
    """One HTBT, then silence (an empty chunk: hold the connection)."""
    yield h02_heartbeat(ident, 80)
    yield b""


def spoof_stream(ident: str) -> Iterator[bytes]:
    """V1 frames at the spoofer's made-up position (sent ``SPOOF_RATE`` a second)."""
    while True:
        yield v1(ident, SPOOF_LATITUDE, time.time())


def streams(args: argparse.Namespace) -> list[tuple[str, Stream]]:
    """(source address, stream) of every connection of the scenario."""
    scenario = args.scenario
    if scenario == "e":
        return [(source(3, 7), lambda: spoof_stream(args.spoof))]
    out: list[tuple[str, Stream]] = []
    blocks = args.sources if scenario in {"c", "d"} else 1
    for block in range(blocks):
        address = source(10 + block, 0) if scenario in {"c", "d"} else source(3, 0)
        for index in range(args.connections):
            fake = FIRST_FAKE_ID + block * args.connections + index
            stream: Stream
            if scenario == "a":
                stream = partial(bc_stream, str(fake))
            elif scenario == "b":
                stream = partial(garbage_stream, args.chunk)
            elif scenario == "c":
                stream = partial(jt808_stream, fake)
            else:
                stream = partial(heartbeat_stream, str(fake))
            out.append((address, stream))
    return out


async def attack(args: argparse.Namespace) -> None:
    """The ``attack`` role."""
    stopping = asyncio.Event()
    scenario = args.scenario
    rate = (
        SPOOF_RATE * len(v1(args.spoof, SPOOF_LATITUDE, time.time()))
        if scenario == "e"
        else args.rate
    )
    run = Attack(args.port, rate, asyncio.Semaphore(args.parallel))
    connections = streams(args)
    answer({"hello": len(connections)})
    tasks = [
        asyncio.create_task(run.hold(address, stopping, stream, reconnect=scenario != "d"))
        for address, stream in connections
    ]

    async def filled() -> None:
        while run.connects + run.failed < len(connections):  # noqa: ASYNC110 - counters
            await asyncio.sleep(0.05)
        answer({"filled": {"open": run.open_now, "failed": run.failed}})

    filler = asyncio.create_task(filled())
    reader = await stdin_reader()
    while line := await reader.readline():
        if json.loads(line)["op"] == "stop":
            break
    open_at_stop = run.open_now
    stopping.set()
    filler.cancel()
    await asyncio.wait(tasks, timeout=10)
    answer(
        {
            "connections": len(connections),
            "connects": run.connects,
            "failed": run.failed,
            "closed_by_listener": run.closed,
            "open_at_stop": open_at_stop,
            "bytes_sent": run.bytes_sent,
            "frames_sent": run.frames_sent,
        }
    )


async def stdin_reader() -> asyncio.StreamReader:
    """Our stdin as a stream."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


def main() -> None:
    """Parse the role and run it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("role", choices=["bystanders", "attack"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cpu", type=int, default=None, help="pin to this CPU")
    parser.add_argument("--ids", default="", help="bystanders: their IDs, comma-separated")
    parser.add_argument("--interval", type=float, default=0.5, help="bystanders: report period")
    parser.add_argument("--scenario", default="a", choices=["a", "b", "c", "d", "e"])
    parser.add_argument("--sources", type=int, default=1, help="attack c, d: source addresses")
    parser.add_argument("--connections", type=int, default=50, help="per source address")
    parser.add_argument("--rate", type=float, default=32768, help="bytes/s per connection")
    parser.add_argument("--chunk", type=int, default=4096, help="attack b: bytes per write")
    parser.add_argument("--spoof", default="", help="attack e: the ID to claim")
    parser.add_argument("--parallel", type=int, default=200, help="connects in flight")
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if args.cpu is not None:
        with contextlib.suppress(AttributeError, OSError):
            os.sched_setaffinity(0, {args.cpu})
    asyncio.run(bystanders(args) if args.role == "bystanders" else attack(args))


if __name__ == "__main__":
    main()
