"""Load benchmark: 1,000 trackers on one Home Assistant, steady reports, then a burst.

One Home Assistant (in this process, the test harness's ``async_test_home_assistant`` with
its storage in a temporary directory, no recorder) has one config entry per tracker, all on
one listener port. The trackers are ``tools.simulator`` trackers in a separate process
(``benchmarks/_loadsim.py``), each process pinned to its own core, so that the simulator's
CPU is not counted against Home Assistant's. Each tracker connects from its own loopback
address (``127.1.x.y``; ``--sources`` sets how many there are), and the listener is started
by the benchmark with ``per_source_exempt=()`` before the entries share it, so that its
per-source caps and budgets apply as they would to trackers on the internet
(``--loopback-exempt`` keeps the listener's defaults instead).

Phases:

1. **connect**: the trackers connect, spread over one report interval; each reports on
   connecting. Memory per connected tracker = growth of this process's heap (tracemalloc,
   running from before the set-up, so that states replaced by the first reports count as
   freed; the benchmark's own records left out) from before the first connection until
   every tracker's first report is written, divided by the number of trackers.
2. **steady**: every tracker reports a position every ``--interval`` seconds (H02 V1
   frames along a route) for ``--steady`` seconds.
3. **burst**: every tracker sends ``--burst`` position frames back to back, as fast as
   TCP takes them (a fleet replaying stored fixes after an outage); every frame has its
   own time, speed, course and position. The phase ends when the last one is handled.
4. **cost of a message**: one more tracker sends frames that change 0, 1 or more values;
   the state writes each causes are counted.

Latency is from the simulator's write of a frame (wall clock, same machine) to the time the
tracker's runtime was done with the message carrying the frame's timestamp: its entities'
states written, those whose values it changed (a parked tracker's fix at the same place
changes none, by design: only news is written).
A message is *written* (handled) then; *lost* = sent - written (*decoded*, the
listener's count, also has the registration and authentication of JT/T 808 connections).
Event-loop lag is also shown net of garbage collection (``gc.callbacks``), whose pauses are
reported on their own: they are the whole of Home Assistant's, not the listener's.

    make bench                                       # every benchmark, defaults below
    scripts/envrun python benchmarks/bench_load.py --trackers 1000 --steady 60 --burst 60
    scripts/envrun python benchmarks/bench_load.py --quick      # a smoke run, seconds
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
import contextlib
import cProfile
from dataclasses import dataclass, field, replace
import gc
import json
import logging
import math
import os
from pathlib import Path
import pstats
import resource
import sys
import tempfile
import time
import tracemalloc
from typing import Any, Final

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from homeassistant import loader
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_STATE_CHANGED
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er, frame
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (
    async_test_home_assistant,
)

from benchmarks._hass import run_on_hass_loop
from benchmarks._loadsim import SOURCE_BLOCK, tracker_id
from benchmarks._measure import (
    GcMonitor,
    LagMonitor,
    Window,
    listener_counters,
    percentile,
    pin,
)
from custom_components.sinotrack import get_pool
from custom_components.sinotrack.const import (
    DOMAIN,
)
from custom_components.sinotrack.listener import ListenerConfig
from custom_components.sinotrack.protocol import Decoded, Message, TrackerConnection
from tests.support.defaults import LOOPBACK as HOST
from tests.support.hass import make_entry
from tests.support.net import free_port
from tools.simulator import AlarmKind, Fix
from tools.simulator.frames import h02_position

ROOT: Final = Path(__file__).resolve().parents[1]
PROBE_ID: Final = "4199999999"
PROBE: Final = -1
"""Tracker index of the probe of phase 4."""
LAG_INTERVAL: Final = 0.05
REGISTRY_SAVE_DELAY: Final = 12.0
"""Seconds after the set-up by which the entity and device registries have been saved."""
KIB: Final = 1024

# Targets (this machine, 2 cores: Home Assistant on one, the simulator on the other).
TARGET_P99_MS: Final = 25.0
TARGET_BURST_RATE: Final = 2000.0
TARGET_MEMORY_KIB: Final = 50.0
TARGET_BURST_LAG_P99_MS: Final = 50.0
TARGET_BURST_LAG_MAX_MS: Final = 250.0


# -- measurement ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Writes:
    """State writes of the trackers' entities, recorded by a ``state_changed`` listener."""

    entities: dict[str, tuple[int, str]] = field(default_factory=dict)
    """entity_id -> (tracker index, entity key)."""
    log: list[tuple[float, int, str]] = field(default_factory=list)
    """(last_updated, tracker index, entity key) of every write."""
    fixes: list[tuple[int, str, float]] = field(default_factory=list)
    """(tracker index, fix time, last_updated) of every position write."""
    probe: list[str] = field(default_factory=list)
    """Entity keys written for the probe tracker (phase 4)."""
    handled: list[tuple[int, int, float]] = field(default_factory=list)
    """(tracker index, message timestamp, wall time once the runtime and its entities were
    done with it) of every message: a message that changes no state (a parked tracker's fix
    at the same place) is written nowhere, but it is handled."""

    def watch(self, index: int, runtime: Any) -> None:
        """Record each message ``runtime`` handles (its entities' writes done on return)."""
        handle = runtime.handle_messages
        handled = self.handled

        def recorded(messages: list[dict[str, Any]]) -> None:
            handle(messages)
            done = time.time()
            for message in messages:
                stamp = message.get("timestamp")
                if isinstance(stamp, int):
                    handled.append((index, stamp, done))

        runtime.handle_messages = recorded

    @callback
    def on_state(self, event: Event[EventStateChangedData]) -> None:
        info = self.entities.get(event.data["entity_id"])
        new = event.data["new_state"]
        if info is None or new is None:
            return
        index, key = info
        if index == PROBE:
            self.probe.append(key)
            return
        written = new.last_updated_timestamp
        self.log.append((written, index, key))
        if key == "tracker" and (fix_time := new.attributes.get("fix_time")) is not None:
            self.fixes.append((index, str(fix_time), written))

    def written_messages(self) -> dict[tuple[int, int], float]:
        """(tracker index, message timestamp) -> when it was first handled, its entities
        written (those whose values it changed)."""
        written: dict[tuple[int, int], float] = {}
        for index, stamp, when in self.handled:
            written.setdefault((index, stamp), when)
        return written


# -- the simulator process ------------------------------------------------------------------------


class Simulator:
    """``benchmarks/_loadsim.py`` in a child process, driven over its stdin and stdout."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process

    @classmethod
    async def start(
        cls, port: int, trackers: int, protocol: str, cpu: int | None, sources: int
    ) -> Simulator:
        command = [sys.executable, "-m", "benchmarks._loadsim", "--port", str(port)]
        command += ["--trackers", str(trackers), "--protocol", protocol]
        command += ["--sources", str(sources)]
        if cpu is not None:
            command += ["--cpu", str(cpu)]
        env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=ROOT,
            env=env,
        )
        return cls(process)

    async def request(self, timeout: float, **request: Any) -> dict[str, Any]:  # noqa: ASYNC109
        stdin, stdout = self._process.stdin, self._process.stdout
        assert stdin is not None
        assert stdout is not None
        stdin.write(json.dumps(request).encode() + b"\n")
        await stdin.drain()
        async with asyncio.timeout(timeout):
            line = await stdout.readline()
        if not line:
            raise RuntimeError(f"the simulator exited (status {await self._process.wait()})")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"simulator: {answer['error']}")
        return answer

    async def close(self) -> None:
        if self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()
            await self._process.wait()


# -- set-up ---------------------------------------------------------------------------------------


class MemoryProbe:
    """tracemalloc snapshots of this process's heap, the benchmark's own records left out."""

    FILTERS: Final = (
        tracemalloc.Filter(inclusive=False, filename_pattern=__file__),
        tracemalloc.Filter(inclusive=False, filename_pattern=tracemalloc.__file__),
    )

    def __init__(self) -> None:
        tracemalloc.start()

    def snapshot(self) -> tracemalloc.Snapshot:
        gc.collect()
        return tracemalloc.take_snapshot().filter_traces(self.FILTERS)

    @staticmethod
    def stop() -> None:
        tracemalloc.stop()

    @staticmethod
    def growth(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot) -> int:
        return sum(stat.size_diff for stat in after.compare_to(before, "filename"))

    @staticmethod
    def top(
        before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, count: int
    ) -> list[tuple[str, float]]:
        """The files whose allocations grew most: (file, bytes per tracker)."""
        stats = after.compare_to(before, "filename")
        root = str(Path(sys.prefix).resolve())
        return [
            (
                str(stat.traceback[0].filename).replace(root, "<venv>").replace(str(ROOT), "."),
                stat.size_diff / count,
            )
            for stat in stats[:8]
        ]


async def until(condition: Callable[[], bool], timeout: float, what: str) -> None:  # noqa: ASYNC109
    try:
        async with asyncio.timeout(timeout):
            while not condition():  # noqa: ASYNC110 - polls counters that have no event
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise RuntimeError(f"timed out waiting for {what}") from None


# -- phase 4: entities written per message --------------------------------------------------------


def probe_frames() -> Iterator[tuple[str, bytes]]:
    """Frames of one tracker, each changing something more than the one before."""
    fix = Fix(
        timestamp=int(time.time()) - 3600,
        latitude=22.5431,
        longitude=114.0579,
        speed_kmh=0.0,
        course=90,
        ignition=False,
        mileage_km=0.0,
        battery=100,
    )
    yield "first frame of the tracker", h02_position(PROBE_ID, fix)
    yield "the same frame again", h02_position(PROBE_ID, fix)
    fix = replace(fix, timestamp=fix.timestamp + 10)
    yield "time only (a parked tracker)", h02_position(PROBE_ID, fix)
    fix = replace(fix, timestamp=fix.timestamp + 10, course=180)
    yield "time + course (disabled entity)", h02_position(PROBE_ID, fix)
    fix = replace(fix, timestamp=fix.timestamp + 10, battery=60)
    yield "time + battery", h02_position(PROBE_ID, fix)
    fix = replace(fix, timestamp=fix.timestamp + 10, ignition=True)
    yield "time + ignition on", h02_position(PROBE_ID, fix)
    fix = replace(fix, timestamp=fix.timestamp + 10, speed_kmh=40.0, latitude=22.5441)
    yield "time + moving (speed, position)", h02_position(PROBE_ID, fix)
    fix = replace(fix, timestamp=fix.timestamp + 10, speed_kmh=50.0, latitude=22.5451)
    yield "time + speed + position (driving)", h02_position(PROBE_ID, fix)
    fix = replace(fix, timestamp=fix.timestamp + 10, alarms=frozenset({AlarmKind.SOS}))
    yield "time + SOS alarm raised", h02_position(PROBE_ID, fix)
    fix = replace(fix, timestamp=fix.timestamp + 10)
    yield "time, SOS still set", h02_position(PROBE_ID, fix)
    fix = replace(
        fix,
        timestamp=fix.timestamp + 10,
        alarms=frozenset({AlarmKind.POWER_CUT}),
        speed_kmh=0.0,
        ignition=False,
        latitude=22.5461,
        course=0,
        battery=30,
    )
    yield "everything changes", h02_position(PROBE_ID, fix)


@dataclass(slots=True)
class ProbeRow:
    frame: str
    changed: list[str]
    written: list[str]


def changed_values(before: Message | None, after: Message) -> list[str]:
    if before is None:
        return sorted(after)
    return sorted(key for key in {*before, *after} if before.get(key) != after.get(key))


async def probe(hass: HomeAssistant, port: int, writes: Writes) -> list[ProbeRow]:
    """Phase 4: frames changing 0, 1, N values, and the state writes each causes."""
    rows: list[ProbeRow] = []
    codec = TrackerConnection()
    previous: Message | None = None
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        for name, data in probe_frames():
            events = codec.feed(data, time.time())
            assert len(events) == 1
            assert isinstance(events[0], Decoded)
            message = events[0].messages[0]
            writes.probe.clear()
            writer.write(data)
            await writer.drain()
            async with asyncio.timeout(10):
                await reader.readuntil(b"#")
            await hass.async_block_till_done()
            rows.append(ProbeRow(name, changed_values(previous, message), sorted(writes.probe)))
            previous = message
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return rows


# -- the benchmark --------------------------------------------------------------------------------


@dataclass(slots=True)
class Results:
    trackers: int
    setup_seconds: float = 0.0
    setup_kib: float = 0.0
    enabled_entities: int = 0
    connected: int = 0
    connect_kib: float = 0.0
    connect_top: list[tuple[str, float]] = field(default_factory=list)
    steady: Window = field(default_factory=lambda: Window("steady"))
    burst: Window = field(default_factory=lambda: Window("burst"))
    sent: list[tuple[int, int, float, bool]] = field(default_factory=list)
    written: dict[tuple[int, int], float] = field(default_factory=dict)
    writes: Writes = field(default_factory=Writes)
    lag: LagMonitor | None = None
    gc: GcMonitor = field(default_factory=GcMonitor)
    decoded: int = 0
    rejected: int = 0
    reconnects: int = 0
    closed: dict[str, int] = field(default_factory=dict)
    counters: dict[str, float] = field(default_factory=dict)
    probe: list[ProbeRow] = field(default_factory=list)


async def run(args: argparse.Namespace, pinned: bool) -> Results:
    results = Results(args.trackers)
    loop = asyncio.get_running_loop()
    with tempfile.TemporaryDirectory(prefix="sinotrack-bench-") as config_dir:
        async with async_test_home_assistant(config_dir=config_dir) as hass:
            hass.data.pop(loader.DATA_CUSTOM_COMPONENTS, None)  # load custom_components/
            frame.async_setup(hass)
            try:
                with results.gc:
                    await _run(hass, loop, args, pinned, results, Path(config_dir))
            finally:
                await hass.async_stop(force=True)
    return results


async def _run(
    hass: HomeAssistant,
    loop: asyncio.AbstractEventLoop,
    args: argparse.Namespace,
    pinned: bool,
    results: Results,
    config_dir: Path,
) -> None:
    count = args.trackers
    port = free_port(HOST)
    say(f"setting up {count} config entries on port {port}...")
    if not args.loopback_exempt:
        # The first acquire sets a shared listener's limits: the entries below get this one,
        # whose per-source caps and budgets apply to loopback sources too.
        await get_pool(hass).acquire(ListenerConfig(host=HOST, port=port, per_source_exempt=()))
    memory = MemoryProbe()
    before = memory.snapshot()
    started = time.perf_counter()
    entries = [
        make_entry(tracker_id(index), port, title=f"Tracker {index}") for index in range(count)
    ]
    entries.append(make_entry(PROBE_ID, port, title="Probe"))
    for entry in entries:
        entry.add_to_hass(hass)
    assert await async_setup_component(hass, DOMAIN, {})
    await hass.async_block_till_done()
    results.setup_seconds = time.perf_counter() - started
    # Let the registries write their files (they cache the JSON of every entry) first.
    await asyncio.sleep(args.registry_delay)
    await hass.async_block_till_done()
    connect_before = memory.snapshot()
    results.setup_kib = MemoryProbe.growth(before, connect_before) / KIB / len(entries)
    not_loaded = [entry.title for entry in entries if entry.state is not ConfigEntryState.LOADED]
    if not_loaded:
        raise RuntimeError(f"entries not loaded: {not_loaded[:5]}...")
    listener = get_pool(hass).get(port)
    assert listener is not None

    writes = results.writes
    index_of = {entry.entry_id: index for index, entry in enumerate(entries[:-1])}
    index_of[entries[-1].entry_id] = PROBE
    for registry_entry in er.async_get(hass).entities.values():
        index = index_of.get(registry_entry.config_entry_id or "")
        if index is not None and registry_entry.disabled_by is None:
            key = registry_entry.unique_id.split("_", 1)[1]
            writes.entities[registry_entry.entity_id] = (index, key)
    results.enabled_entities = sum(1 for index, _ in writes.entities.values() if index == 0)
    hass.bus.async_listen(EVENT_STATE_CHANGED, writes.on_state)
    for entry in entries[:-1]:
        writes.watch(index_of[entry.entry_id], entry.runtime_data)
    lag = results.lag = LagMonitor(loop, LAG_INTERVAL, results.gc)
    lag.start()
    say(f"  {results.setup_seconds:.1f} s; starting the simulator")

    simulator = await Simulator.start(
        port, count, args.protocol, 1 if pinned else None, args.sources
    )
    try:
        # 1. connect: memory per connected tracker.
        answer = await simulator.request(
            args.interval + 120, op="connect", spread=args.interval, interval=args.interval
        )
        results.connected = answer["connected"]
        await until(
            lambda: len({index for index, _, _ in writes.handled}) >= count,
            60,
            "the first report of every tracker",
        )
        connected = memory.snapshot()
        memory.stop()
        results.connect_kib = MemoryProbe.growth(connect_before, connected) / KIB / count
        results.connect_top = MemoryProbe.top(connect_before, connected, count)
        if args.memory_detail:
            for stat in connected.compare_to(connect_before, "lineno")[:25]:
                say(f"  {stat}")
        del before, connect_before, connected
        gc.collect()
        await asyncio.sleep(1.0)  # the loop lag of the measurement stays out of the window
        say(f"  {results.connected} trackers connected; steady load for {args.steady} s...")

        # 2. steady load.
        results.steady.begin()
        await asyncio.sleep(args.steady)
        results.steady.finish()

        # 3. burst.
        say(f"  burst of {args.burst} frames per tracker...")
        expected = len(writes.handled) + count * args.burst
        profiler = cProfile.Profile() if args.profile else None
        results.burst.begin()
        if profiler is not None:
            profiler.enable()
        await simulator.request(600, op="burst", frames=args.burst)
        await until(lambda: len(writes.handled) >= expected, 600, "the burst to be handled")
        if profiler is not None:
            profiler.disable()
        results.burst.finish(max(when for _, _, when in writes.handled) + 1e-6)
        if profiler is not None:
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)
        await asyncio.sleep(1.0)  # anything late would still be counted

        out = config_dir / "sent.json"
        answer = await simulator.request(120, op="stop", out=str(out))
        results.reconnects = answer["reconnects"]
        results.sent = [
            (int(index), int(stamp), float(wall), bool(burst))
            for index, stamp, wall, burst in json.loads(out.read_text())
        ]
    finally:
        await simulator.close()
    lag.stop()
    results.written = writes.written_messages()
    results.decoded = listener.stats.messages
    results.rejected = listener.stats.rejected_frames
    results.closed = dict(listener.stats.closed)
    results.counters = listener_counters(listener.diagnostics())

    # 4. entities written per message.
    say("  cost of one message in state writes...")
    results.probe = await probe(hass, port, writes)


# -- report ---------------------------------------------------------------------------------------


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def report(results: Results, args: argparse.Namespace, pinned: bool) -> bool:
    """Print every figure with its target; True when every target is met."""
    steady, burst = results.steady, results.burst
    sent = results.sent
    written = results.written
    lost = [(i, s) for i, s, _, _ in sent if (i, s) not in written]
    latencies_steady = [
        (written[i, s] - wall) * 1000
        for i, s, wall, is_burst in sent
        if not is_burst and wall in steady and (i, s) in written
    ]
    latencies_burst = [
        (written[i, s] - wall) * 1000
        for i, s, wall, is_burst in sent
        if is_burst and (i, s) in written
    ]
    steady_msgs = sum(1 for when in written.values() if when in steady)
    burst_msgs = sum(1 for when in written.values() if when in burst)
    buckets = Counter(int(when - burst.start) for when in written.values() if when in burst)
    full = [buckets[second] for second in range(int(burst.seconds))]  # whole seconds only
    burst_peak = max(full, default=burst_msgs / max(burst.seconds, 1e-9))
    burst_rate = burst_msgs / burst.seconds if burst.seconds else math.nan
    steady_rate = steady_msgs / steady.seconds

    writes_by_phase: dict[str, Counter[str]] = defaultdict(Counter)
    for when, _, key in results.writes.log:
        if when in steady:
            writes_by_phase["steady"][key] += 1
        elif when in burst:
            writes_by_phase["burst"][key] += 1
    steady_writes = sum(writes_by_phase["steady"].values())
    burst_writes = sum(writes_by_phase["burst"].values())
    burst_keys = writes_by_phase["burst"]

    lag = results.lag
    assert lag is not None
    lag_steady = lag.lag_ms(steady)
    lag_burst = lag.lag_ms(burst)
    lag_burst_net = lag.lag_ms(burst, net_of_gc=True)
    p50, p99 = percentile(latencies_steady, 50), percentile(latencies_steady, 99)
    bp50, bp99 = percentile(latencies_burst, 50), percentile(latencies_burst, 99)
    memory = results.connect_kib
    # JT/T 808 trackers also send a registration and an authentication on each connection.
    ok_lost = not lost and results.decoded >= len(sent)
    ok_p99 = p99 < TARGET_P99_MS
    ok_burst = burst_peak >= TARGET_BURST_RATE
    ok_memory = memory < TARGET_MEMORY_KIB
    ok_lag = lag_burst[1] < TARGET_BURST_LAG_P99_MS and lag_burst[2] < TARGET_BURST_LAG_MAX_MS

    rows: list[tuple[str, str, str, str]] = [
        ("Trackers connected (one port)", f"{results.connected:,}", f"{results.trackers:,}", ""),
        ("Messages per second, steady (sustained)", f"{steady_rate:,.0f}", "", ""),
        ("Messages per second, burst (sustained)", f"{burst_rate:,.0f}", "", ""),
        (
            "Messages per second, burst peak (1 s)",
            f"{burst_peak:,.0f}",
            f">= {TARGET_BURST_RATE:,.0f}",
            verdict(ok_burst),
        ),
        (
            "Latency frame -> state written, steady p50 / p99",
            f"{p50:.1f} / {p99:.1f} ms",
            f"p99 < {TARGET_P99_MS:.0f} ms",
            verdict(ok_p99),
        ),
        ("Latency, burst p50 / p99 (queued)", f"{bp50:,.0f} / {bp99:,.0f} ms", "", ""),
        (
            "CPU seconds per 1,000 messages, steady / burst",
            f"{steady.cpu / max(steady_msgs, 1) * 1000:.2f} / "
            f"{burst.cpu / max(burst_msgs, 1) * 1000:.2f}",
            "",
            "",
        ),
        (
            "Memory per connected tracker",
            f"{memory:.1f} KiB",
            f"< {TARGET_MEMORY_KIB:.0f} KiB",
            verdict(ok_memory),
        ),
        (
            "Event loop lag, steady p50 / p99 / max",
            "{:.1f} / {:.1f} / {:.1f} ms".format(*lag_steady),
            "",
            "",
        ),
        (
            "Event loop lag, burst p50 / p99 / max",
            "{:.1f} / {:.1f} / {:.1f} ms".format(*lag_burst),
            f"p99 < {TARGET_BURST_LAG_P99_MS:.0f} ms, max < {TARGET_BURST_LAG_MAX_MS:.0f} ms",
            verdict(ok_lag),
        ),
        (
            "Event loop lag net of GC, burst p50 / p99 / max",
            "{:.1f} / {:.1f} / {:.1f} ms".format(*lag_burst_net),
            "",
            "",
        ),
        (
            "Full garbage collections, steady / burst",
            f"{results.gc.summary(steady)} / {results.gc.summary(burst)}",
            "",
            "",
        ),
        (
            "Messages lost (sent / decoded / written)",
            f"{len(lost)} ({len(sent):,} / {results.decoded:,} / {len(sent) - len(lost):,})",
            "0",
            verdict(ok_lost),
        ),
        (
            "State writes per message, steady / burst",
            f"{steady_writes / max(steady_msgs, 1):.2f} / {burst_writes / max(burst_msgs, 1):.2f}",
            "",
            "",
        ),
        (
            # Only news is written: a fix at the parked place moves nothing.
            "Burst: Speed / Location written",
            f"{burst_keys['speed']:,} / {burst_keys['tracker']:,} of {burst_msgs:,}",
            "",
            "",
        ),
    ]
    print()
    print(
        f"Load: {results.trackers:,} trackers ({args.protocol}), one port, report every "
        f"{args.interval:g} s for {steady.seconds:.0f} s, then a burst of {args.burst} frames "
        f"each ({results.trackers * args.burst:,} messages in {burst.seconds:.1f} s)."
    )
    print(
        f"Python {sys.version.split()[0]}, Home Assistant {_ha_version()}, "
        f"{'Home Assistant and the simulator pinned to one core each' if pinned else 'not pinned'}; "
        f"trackers from {_sources(args)}; "
        f"set-up of the {results.trackers + 1:,} entries {results.setup_seconds:.1f} s, "
        f"{results.setup_kib:.0f} KiB each ({results.enabled_entities} enabled entities per tracker)."
    )
    print()
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    widths = [
        max(width, len(title))
        for width, title in zip(widths, ("Figure", "Value", "Target", "Result"), strict=True)
    ]
    print(
        f"| {'Figure':<{widths[0]}} | {'Value':>{widths[1]}} | {'Target':<{widths[2]}} | "
        f"{'Result':<{widths[3]}} |"
    )
    print(
        f"|{'-' * (widths[0] + 2)}|{'-' * (widths[1] + 1)}:|{'-' * (widths[2] + 2)}|{'-' * (widths[3] + 2)}|"
    )
    for name, value, target, result in rows:
        print(
            f"| {name:<{widths[0]}} | {value:>{widths[1]}} | {target:<{widths[2]}} | "
            f"{result:<{widths[3]}} |"
        )
    print()
    print(
        "Memory per connected tracker by file:",
        ", ".join(f"{name} {size / KIB:.1f} KiB" for name, size in results.connect_top),
    )
    print("Garbage collections, steady:", results.gc.detail(steady))
    print("Garbage collections, burst: ", results.gc.detail(burst))
    nonzero = {key: value for key, value in results.counters.items() if value}
    print("Listener counters:", ", ".join(f"{key}={value:,.0f}" for key, value in nonzero.items()))
    print("Steady writes by entity:", _keys(writes_by_phase["steady"]))
    print("Burst writes by entity: ", _keys(burst_keys))
    if results.rejected or results.reconnects or results.closed:
        print(
            f"Rejected frames {results.rejected}, simulator reconnects {results.reconnects}, "
            f"connections closed {results.closed}"
        )
    print()
    print("Entities written per message, against the values that changed (one tracker):")
    print()
    name_width = max(len(row.frame) for row in results.probe)
    print(f"| {'Frame':<{name_width}} | Values changed | State writes | Entities written |")
    print(f"|{'-' * (name_width + 2)}|---------------:|-------------:|------------------|")
    for row in results.probe:
        print(
            f"| {row.frame:<{name_width}} | {len(row.changed):>14} | {len(row.written):>12} | "
            f"{', '.join(row.written) or '-'} |"
        )
    print()
    return ok_lost and ok_p99 and ok_burst and ok_memory and ok_lag


def _sources(args: argparse.Namespace) -> str:
    exempt = (
        "loopback exempt from per-source limits"
        if args.loopback_exempt
        else ("per-source limits on loopback too")
    )
    if not args.sources:
        return f"127.0.0.1 ({exempt})"
    return f"{args.sources:,} source addresses 127.{SOURCE_BLOCK}.x.y ({exempt})"


def _keys(counter: Counter[str]) -> str:
    return ", ".join(f"{key} {count:,}" for key, count in counter.most_common())


def _ha_version() -> str:
    from homeassistant.const import __version__

    return __version__


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--trackers", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between reports")
    parser.add_argument("--steady", type=float, default=60.0, help="seconds of steady load")
    parser.add_argument("--burst", type=int, default=60, help="frames per tracker in the burst")
    parser.add_argument("--protocol", default="h02", choices=["h02", "jt808"])
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the burst (figures then not comparable)"
    )
    parser.add_argument(
        "--memory-detail", action="store_true", help="the lines that allocated on connecting"
    )
    parser.add_argument(
        "--check", action="store_true", help="exit with status 1 when a target is missed"
    )
    parser.add_argument(
        "--sources",
        type=int,
        default=None,
        help="distinct source addresses of the trackers (default: one each; 0: 127.0.0.1)",
    )
    parser.add_argument(
        "--loopback-exempt",
        action="store_true",
        help="the listener's default limits (loopback sources free of the per-source limits)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run of a few seconds (50 trackers; figures not comparable)",
    )
    args = parser.parse_args()
    args.registry_delay = REGISTRY_SAVE_DELAY
    if args.quick:
        args.trackers, args.interval, args.steady, args.burst = 50, 2.0, 3.0, 20
        args.registry_delay = 1.0
    if args.sources is None:
        args.sources = args.trackers
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, max(soft, 4 * args.trackers + 256))
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    pinned = pin(0)
    results = run_on_hass_loop(run(args, pinned))
    met = report(results, args, pinned)
    if args.check and not met:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
