"""The tracker side of ``bench_load``: many simulated trackers in their own process.

Started by ``bench_load`` (``python -m benchmarks._loadsim --port P --trackers N``), pinned
to its own core so that its CPU does not count against Home Assistant's. It is driven over
stdin with one JSON object per line and answers each on stdout, one JSON object per line:

``{"op": "connect", "spread": S, "interval": I}``
    Start the trackers, their first connections spread evenly over ``S`` seconds (each
    reports on connecting), then report every ``I`` seconds each. Answers
    ``{"connected": N}`` once all are connected.
``{"op": "burst", "frames": F}``
    Stop the regular reports; every tracker sends ``F`` position frames back to back
    (``SimulatedTracker.send_burst``, each frame one second after the previous one, with
    its own speed and course). Answers ``{"sent": total}`` once all are written.
``{"op": "stop", "out": PATH}``
    Stop every tracker, write what was sent to ``PATH`` (JSON: ``[tracker index, fix
    timestamp, wall time of the write, burst]`` per position frame) and answer
    ``{"stopped": N, "positions": total, "reconnects": R}``.

Only position frames are sent (no heartbeats), so that every message decoded on the other
side is one of the frames recorded here.

``--sources N`` binds the trackers' connections to ``N`` distinct loopback addresses
(``127.1.x.y``, tracker ``i`` on address ``i % N``), so that the listener sees them as
distinct sources; 0 connects from the default address (127.0.0.1).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from contextvars import ContextVar
import json
import os
from pathlib import Path
import sys
import time
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._measure import loopback_source
from tools.simulator import Fix, SimulatedTracker

FIRST_ID = 4_100_000_000
SOURCE_BLOCK = 1
"""Second byte of the trackers' source addresses (127.1.x.y)."""

_source: ContextVar[str | None] = ContextVar("source", default=None)
"""The source address of the connections made in this context (a tracker's task)."""


class BoundLoop(asyncio.SelectorEventLoop):
    """An event loop whose outgoing connections come from the context's source address."""

    async def create_connection(self, *args: Any, **kwargs: Any) -> Any:
        """``create_connection`` with ``local_addr`` set from the context, unless given."""
        address = _source.get()
        if address is not None and kwargs.get("local_addr") is None and "sock" not in kwargs:
            kwargs["local_addr"] = (address, 0)
        return await super().create_connection(*args, **kwargs)


def tracker_id(index: int) -> str:
    """The 10-digit ID of the ``index``-th tracker of the benchmark."""
    return str(FIRST_ID + index)


class Fleet:
    """The simulated trackers and what they sent."""

    def __init__(self, host: str, port: int, count: int, protocol: str, sources: int) -> None:
        self.host = host
        self.port = port
        self.count = count
        self.protocol = protocol
        self.sources = sources
        self.trackers: list[SimulatedTracker] = []
        self.sent: list[tuple[int, int, float, bool]] = []
        self.bursting = False
        self._drivers: list[asyncio.Task[None]] = []

    def _hook(self, index: int) -> Any:
        sent = self.sent
        clock = time.time

        def on_sent(fix: Fix) -> None:
            sent.append((index, fix.timestamp, clock(), fix.burst_index >= 0))

        return on_sent

    async def connect(self, spread: float, interval: float) -> int:
        for index in range(self.count):
            tracker = SimulatedTracker(
                tracker_id(index),
                self.protocol,
                self.host,
                self.port,
                interval=1e9,  # the regular reports are driven below, so they can stop
                heartbeat=None,
                route_offset=index * 7,
                start_delay=spread * index / self.count,
                first_connect_attempts=3,
                on_sent=self._hook(index),
            )
            self.trackers.append(tracker)
            address = loopback_source(SOURCE_BLOCK, index % self.sources) if self.sources else None
            token = _source.set(address)
            try:
                tracker.start()  # its task keeps a copy of this context
            finally:
                _source.reset(token)
            self._drivers.append(asyncio.create_task(self._drive(tracker, interval)))
        async with asyncio.timeout(spread + 60):
            await asyncio.gather(*(tracker.wait_connected() for tracker in self.trackers))
        return sum(tracker.connected for tracker in self.trackers)

    async def _drive(self, tracker: SimulatedTracker, interval: float) -> None:
        """Report every ``interval`` seconds after the first connection, until the burst."""
        loop = asyncio.get_running_loop()
        await tracker.wait_connected()
        due = loop.time() + interval
        while True:
            await asyncio.sleep(max(0.0, due - loop.time()))
            if self.bursting:
                return
            tracker.send_position()
            due += interval

    async def burst(self, frames: int) -> int:
        self.bursting = True
        for driver in self._drivers:
            driver.cancel()
        counts = await asyncio.gather(
            *(tracker.send_burst(frames, step_seconds=1) for tracker in self.trackers)
        )
        return sum(counts)

    async def stop(self, out: Path) -> dict[str, int]:
        for driver in self._drivers:
            driver.cancel()
        await asyncio.gather(*(tracker.stop() for tracker in self.trackers))
        await asyncio.to_thread(out.write_text, json.dumps(self.sent))
        return {
            "stopped": len(self.trackers),
            "positions": len(self.sent),
            "reconnects": sum(max(0, tracker.connects - 1) for tracker in self.trackers),
        }


async def serve(fleet: Fleet) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def answer(data: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(data) + "\n")
        sys.stdout.flush()

    while line := await reader.readline():
        request = json.loads(line)
        op = request["op"]
        try:
            if op == "connect":
                answer({"connected": await fleet.connect(request["spread"], request["interval"])})
            elif op == "burst":
                answer({"sent": await fleet.burst(request["frames"])})
            elif op == "stop":
                answer(await fleet.stop(Path(request["out"])))
                return
            else:
                answer({"error": f"unknown op {op!r}"})
        except Exception as err:  # noqa: BLE001 - reported to the driving process
            answer({"error": f"{type(err).__name__}: {err}"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--trackers", type=int, default=1000)
    parser.add_argument("--protocol", default="h02")
    parser.add_argument("--cpu", type=int, default=None, help="pin to this CPU")
    parser.add_argument("--sources", type=int, default=0, help="distinct source addresses")
    args = parser.parse_args()
    if args.cpu is not None:
        with contextlib.suppress(AttributeError, OSError):
            os.sched_setaffinity(0, {args.cpu})
    fleet = Fleet(args.host, args.port, args.trackers, args.protocol, args.sources)
    asyncio.run(serve(fleet), loop_factory=BoundLoop)


if __name__ == "__main__":
    main()
