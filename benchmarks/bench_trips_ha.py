"""Cost of trip detection per message in Home Assistant: the runtime's whole path.

One Home Assistant (in this process, the test harness's ``async_test_home_assistant``, no
recorder) with one tracker entry, every entity enabled by default. Three scenarios of one
vehicle reporting every 10 s, handed to the runtime as decoded H02 position messages, one
per frame, as the listener does:

* a commuting day: parked from midnight, a 25-minute city trip in the morning, parked, a
  25-minute trip back in the evening, parked until midnight (8,640 messages, 96 % parked);
* parked only: a whole day parked (8,640 messages), the parked share alone;
* driving only: four hours of city driving with red lights (1,440 messages).

Each is run with trip detection on and with it off (the trip log's feed and tick replaced
by nothing) and, to tell the parts apart, with only the fixes' figures read, with those fed to
the detector alone, and with the whole trip log but the trip sensors' writes left out.
The modes are interleaved, each run in a fresh Home Assistant, and the figures are the
best (and the median) CPU time per message, and the median of the ratios with and without
trip detection of one repetition ("paired": the machine's drift weighs least on it). The fixes are dated today from local
midnight on, as a live tracker's are, and each arrives at its own time: Home Assistant's
clocks, the event loop's too, run in simulated time (compressed; ``_hass.simulated``), so
the rules that count server time (the trip sensors' once-a-minute writes) run, and the
timers (the trip log's and the runtime's saves, the minute tick) fire, as they would live.
Figures are printed, never asserted (target: under 10 % more).

The same reports are also sent as they arrive live, through the listener: H02 V1 frames on
a real TCP connection to 127.0.0.1, one frame per read (the client, in its own process,
sends the next one when the V4 answer came), this process's CPU time counted (reading,
decoding, answering, the runtime and the entities): what a message costs Home Assistant
from its bytes on, with trip detection and without.

With ``--instructions`` each scenario runs once more per mode (trip detection off and on,
the runtime alone and from the bytes on) under valgrind's callgrind, which counts the
instructions this process runs while it takes the messages (counting is switched on at the
first message and off after the last; the client process is not counted). Instructions
do not drift with the machine's load as seconds do: the same run repeats to about 0.1 %,
so the ratio is the figure to trust to a percent (it leaves out the kernel's time, the
store's file writes, and the cost of cache misses). ``make setup`` installs valgrind.

    scripts/envrun python benchmarks/bench_trips_ha.py
    scripts/envrun python benchmarks/bench_trips_ha.py --quick
    scripts/envrun python benchmarks/bench_trips_ha.py --instructions
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
import os
from pathlib import Path
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Final

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from homeassistant import loader
from homeassistant.const import CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.helpers import frame
from homeassistant.helpers.entity_platform import DATA_ENTITY_PLATFORM
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_test_home_assistant,
)

from benchmarks._hass import run_on_hass_loop, simulated, timers_due
from benchmarks.bench_trips import START, Vehicle, messages_of
from custom_components.sinotrack import get_pool
from custom_components.sinotrack.const import CONF_BIND_ADDRESS, CONF_TRACKER_ID, DOMAIN
from custom_components.sinotrack.listener import ListenerConfig
from custom_components.sinotrack.model.trip_data import Fix
from custom_components.sinotrack.model.trip_feed import read_fix
from custom_components.sinotrack.protocol import Message, message as p
from custom_components.sinotrack.protocol.h02_binary import KNOTS_TO_KMH
from custom_components.sinotrack.runtime import SinotrackRuntime
from custom_components.sinotrack.trip_sensor import TripSensor
from tests.support.defaults import LOOPBACK as HOST
from tests.support.frames import H02_ID, h02_status, h02_v1
from tools.net import free_port

IDENT = H02_ID
TARGET = 0.10
INTERVAL = 10.0
"""Seconds between two reports, parked or driving."""
OFF, FIXES, DETECTOR, UNWRITTEN, ON = "off", "fixes", "detector", "unwritten", "on"
WIRE_OFF, WIRE_ON = "wire off", "wire on"
"""Trip detection off and on, the reports sent through the listener."""
MODES: tuple[str, ...] = (OFF, FIXES, DETECTOR, UNWRITTEN, ON)
"""Trip detection off; only the fixes' figures read from the messages; those through the
detector (no listener, no save); the whole trip log with the trip sensors' writes left
out; the whole trip log."""


def commuting_day() -> list[Fix]:
    """Parked until 07:30, 25 minutes to work, parked until 17:30, 25 minutes home, parked
    until midnight: a report every 10 s."""
    vehicle = Vehicle(1)
    vehicle.time = START
    fixes = [*vehicle.park(7.5 * 3600, INTERVAL)]
    fixes += vehicle.city_trip(25, INTERVAL)
    fixes += vehicle.park(START + 17.5 * 3600 - vehicle.time, INTERVAL)
    fixes += vehicle.city_trip(25, INTERVAL)
    fixes += vehicle.park(START + 86400 - vehicle.time, INTERVAL)
    return fixes


def parked_only() -> list[Fix]:
    """A day parked (ignition off, GPS jitter of a few metres), a report every 10 s."""
    vehicle = Vehicle(3)
    vehicle.time = START
    return [*vehicle.park(86400, INTERVAL)]


def driving_only() -> list[Fix]:
    """Four hours of city driving (legs between red lights) from 08:00, a report every 10 s."""
    vehicle = Vehicle(2)
    vehicle.time = START + 8 * 3600
    return [*vehicle.city_trip(240, INTERVAL)]


SCENARIOS: dict[str, Callable[[], list[Fix]]] = {
    "commuting day": commuting_day,
    "parked only": parked_only,
    "driving only": driving_only,
}


def today(messages: list[Message]) -> list[Message]:
    """``messages`` moved to today (from local midnight on), as a live tracker's fixes are:
    "today" is then the day of the trips, as it is for a live tracker."""
    shift = dt_util.start_of_local_day().timestamp() - START
    return [{**message, p.TIMESTAMP: int(message[p.TIMESTAMP] + shift)} for message in messages]


COUNTED: list[bool] = [False]
"""Whether this process runs under callgrind, counting only what ``counting`` switches on."""


def counting(on: bool) -> None:
    """Switch callgrind's counting of this process on or off (nothing outside callgrind)."""
    if COUNTED[0]:
        control = shutil.which("callgrind_control") or "callgrind_control"
        subprocess.run(  # noqa: S603 - valgrind's own tool, fixed arguments
            [control, "--instr", "on" if on else "off", str(os.getpid())],
            check=True,
            capture_output=True,
        )


def nothing_at_all(**_kwargs: Any) -> None:
    """Write nothing."""


def nothing(*_figures: Any) -> None:
    """Take a fix's figures and do nothing with them."""


async def handle(hass: HomeAssistant, runtime: SinotrackRuntime, messages: list[Message]) -> float:
    """CPU seconds for the runtime to take ``messages``, each as one frame arriving at its
    own time (simulated: the timers due meanwhile, saves and ticks, run in their turn; the
    event loop's follow-up work included)."""
    times = [float(message[p.TIMESTAMP]) for message in messages]
    loop = hass.loop
    with simulated(loop, times[0]) as clock:
        counting(True)
        begin = time.process_time()
        for index, message in enumerate(messages):
            clock.set(times[index])
            runtime.handle_messages([message])
            if timers_due(loop):
                await asyncio.sleep(0)
            if index % 50 == 0:
                await hass.async_block_till_done()
        await hass.async_block_till_done()
        seconds = time.process_time() - begin
        counting(False)
        return seconds


def h02_frames(messages: list[Message]) -> list[bytes]:
    """The H02 V1 frames ``messages`` arrive as (their time, position, speed, ignition)."""
    return [
        h02_v1(
            datetime.fromtimestamp(message[p.TIMESTAMP], UTC),
            latitude=message[p.LATITUDE],
            longitude=message[p.LONGITUDE],
            knots=message.get(p.SPEED, 0.0) / KNOTS_TO_KMH,
            status=h02_status(acc=bool(message.get(p.IGNITION))),
        )
        for message in messages
    ]


CLIENT: Final = """
import socket, sys
frames = sys.stdin.buffer.read().split(b"\\n")
with socket.create_connection((sys.argv[1], int(sys.argv[2]))) as sock:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for frame in frames:
        sock.sendall(frame)
        if not sock.recv(256):
            sys.exit("the listener closed the connection")
"""
"""The tracker: sends each frame when the answer to the last came, in its own process."""


async def send(runtime: SinotrackRuntime, port: int, frames: list[bytes], start: float) -> float:
    """CPU seconds of this process from the first of ``frames`` on, sent by a client
    process to the listener on ``port`` one at a time, each when the answer to the last
    came (Home Assistant's clocks in simulated time from ``start`` on, set to each
    message's own time)."""
    handle_messages = runtime.handle_messages
    begin: list[float] = []
    loop = runtime.hass.loop
    with simulated(loop, start) as clock:

        def at_their_time(messages: list[Message]) -> None:
            if not begin:
                counting(True)
                begin.append(time.process_time())
            clock.set(float(messages[0][p.TIMESTAMP]))
            handle_messages(messages)

        runtime.handle_messages = at_their_time  # type: ignore[method-assign]
        try:
            client = await asyncio.create_subprocess_exec(
                sys.executable, "-c", CLIENT, HOST, str(port), stdin=asyncio.subprocess.PIPE
            )
            await client.communicate(b"\n".join(frames))
            seconds = time.process_time() - begin[0]
            counting(False)
            if client.returncode:
                raise RuntimeError(f"the client failed ({client.returncode})")
            return seconds
        finally:
            runtime.handle_messages = handle_messages  # type: ignore[method-assign]


def partial_feed(runtime: SinotrackRuntime, *, detector: bool) -> Callable[..., None]:
    """A trip log's feed that only reads the fixes' figures (and with ``detector`` feeds
    them to its detector): its parts' costs told apart."""
    take = runtime.trips.detector.add_values if detector else nothing

    def feed(messages: list[Message], now: datetime) -> None:
        received = now.timestamp()
        for message in messages:
            if p.LATITUDE in message:
                read_fix(message, received, take)

    return feed


async def measure(messages: list[Message], *, mode: str, config_dir: str) -> tuple[float, int]:
    """CPU seconds per message in ``mode``, in a fresh Home Assistant, and the trip
    sensors' writes."""
    async with async_test_home_assistant(config_dir=config_dir) as hass:
        hass.data.pop(loader.DATA_CUSTOM_COMPONENTS, None)  # load custom_components/
        frame.async_setup(hass)
        try:
            port = free_port(HOST)
            if mode in (WIRE_OFF, WIRE_ON):
                # Compressed time: the listener takes the reports as fast as they come (its
                # per-tracker limits, far above a live tracker's one report in 10 s, lifted).
                unlimited = ListenerConfig(host=HOST, port=port, max_frame_rate=0, max_read_rate=0)
                await get_pool(hass).acquire(unlimited)
            entry = MockConfigEntry(
                domain=DOMAIN,
                title="Car",
                unique_id=IDENT,
                data={CONF_TRACKER_ID: IDENT, CONF_PORT: port, CONF_BIND_ADDRESS: HOST},
            )
            entry.add_to_hass(hass)
            assert await hass.config_entries.async_setup(entry.entry_id)
            await hass.async_block_till_done()
            runtime: SinotrackRuntime = entry.runtime_data
            messages = today(messages)
            log: Any = runtime.trips
            if mode in (WIRE_OFF, WIRE_ON):
                if mode == WIRE_OFF:
                    log.tick = log.feed = lambda *_args: None
                frames = h02_frames(messages)
                start = float(messages[0][p.TIMESTAMP])
                seconds = await send(runtime, entry.data[CONF_PORT], frames, start)
                return seconds / len(messages), 0
            runtime.connection_changed(True, HOST)
            await hass.async_block_till_done()
            if mode in (OFF, FIXES, DETECTOR):
                log.tick = lambda *_args: None
                log.feed = (
                    (lambda *_args: None)
                    if mode == OFF
                    else partial_feed(runtime, detector=mode == DETECTOR)
                )
            writes = [0]

            def counted(write: Callable[..., None]) -> Callable[..., None]:
                def wrapper(**kwargs: Any) -> None:
                    writes[0] += 1
                    write(**kwargs)

                return wrapper

            for platform in hass.data[DATA_ENTITY_PLATFORM][DOMAIN]:
                for entity in platform.entities.values():
                    if isinstance(entity, TripSensor):
                        write = entity._write if mode == ON else nothing_at_all
                        entity._write = counted(write)  # type: ignore[method-assign]
            seconds = await handle(hass, runtime, messages)
            return seconds / len(messages), writes[0]
        finally:
            await hass.async_stop(force=True)


async def scenario(name: str, fixes: list[Fix], repeat: int) -> None:
    """Run one scenario's modes interleaved ``repeat`` times (every other time in the
    reverse order, so that a drift of the machine's speed weighs on both sides) and print
    its figures: the best and the median of each mode, and the median of the ratios of
    the runs with trip detection and without of the same repetition."""
    messages = messages_of(fixes)
    order = (*MODES, WIRE_OFF, WIRE_ON)
    results: dict[str, list[float]] = {mode: [] for mode in order}
    writes: dict[str, int] = {}
    for repetition in range(repeat):
        for mode in order if repetition % 2 == 0 else reversed(order):
            with tempfile.TemporaryDirectory(prefix="sinotrack-bench-") as config_dir:
                per_message, writes[mode] = await measure(
                    messages, mode=mode, config_dir=config_dir
                )
                results[mode].append(per_message)
    best = {mode: min(values) for mode, values in results.items()}
    median = {mode: statistics.median(values) for mode, values in results.items()}

    def paired(without: str, with_it: str) -> float:
        return statistics.median(
            on / off - 1 for off, on in zip(results[without], results[with_it], strict=True)
        )

    off, on = best[OFF], best[ON]
    print(f"{name}: {len(messages):,} messages, a report every {INTERVAL:.0f} s")
    print(
        f"  {off * 1e6:.1f} us CPU per message without trip detection, {on * 1e6:.1f} us "
        f"with it: {on / off - 1:+.1%} best of {repeat} (medians {median[OFF] * 1e6:.1f} / "
        f"{median[ON] * 1e6:.1f} us; paired {paired(OFF, ON):+.1%}; target under "
        f"{TARGET:.0%})"
    )
    wire_off, wire_on = best[WIRE_OFF], best[WIRE_ON]
    print(
        f"  through the listener: {wire_off * 1e6:.1f} us without, {wire_on * 1e6:.1f} us "
        f"with it: {wire_on / wire_off - 1:+.1%} (medians {median[WIRE_OFF] * 1e6:.1f} / "
        f"{median[WIRE_ON] * 1e6:.1f} us; paired {paired(WIRE_OFF, WIRE_ON):+.1%})"
    )
    unwritten = best[UNWRITTEN]
    print(
        f"  without the trip sensors' writes: {unwritten * 1e6:.1f} us, "
        f"{unwritten / off - 1:+.1%} (median {median[UNWRITTEN] / median[OFF] - 1:+.1%})"
    )
    previous = OFF
    for mode, part in (
        (FIXES, "the fixes' figures read from the messages"),
        (DETECTOR, "the detector"),
        (UNWRITTEN, "the trip log's bookkeeping, listeners and saves"),
        (ON, f"the trip sensors' {writes[ON]:,} writes"),
    ):
        print(
            f"    {part}: {(best[mode] - best[previous]) * 1e6:+.1f} us a message "
            f"(median {(median[mode] - median[previous]) * 1e6:+.1f} us)"
        )
        previous = mode


async def run(args: argparse.Namespace) -> None:
    """Print the figures."""
    repeat = 1 if args.quick else args.repeat
    print(f"Python {sys.version.split()[0]}, one core")
    for name, fixes in chosen(args).items():
        await scenario(name, fixes, repeat)


def chosen(args: argparse.Namespace) -> dict[str, list[Fix]]:
    """The fixes of the scenarios asked for (thinned with ``--quick``)."""
    found: dict[str, list[Fix]] = {}
    for name, make in SCENARIOS.items():
        if args.scenario and name not in args.scenario:
            continue
        fixes = make()
        found[name] = fixes[:: max(1, len(fixes) // 600)] if args.quick else fixes
    return found


async def counted_run(args: argparse.Namespace) -> None:
    """One mode of one scenario, in this process run by callgrind (``--counted``)."""
    COUNTED[0] = True
    (fixes,) = chosen(args).values()
    with tempfile.TemporaryDirectory(prefix="sinotrack-bench-") as config_dir:
        await measure(messages_of(fixes), mode=args.counted, config_dir=config_dir)


def instructions(args: argparse.Namespace) -> None:
    """Print each scenario's instructions per message, trip detection off and on, the
    runtime alone and from the bytes on: each mode run once under callgrind."""
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        sys.exit("valgrind is not installed: make setup installs it")
    print(f"Python {sys.version.split()[0]}, instructions counted by valgrind's callgrind")
    for name, fixes in chosen(args).items():
        counts: dict[str, float] = {}
        for mode in (OFF, ON, WIRE_OFF, WIRE_ON):
            with tempfile.TemporaryDirectory(prefix="sinotrack-callgrind-") as work:
                out = Path(work) / "callgrind.out"
                command = [
                    shutil.which("valgrind") or "valgrind",
                    "--tool=callgrind",
                    "--instr-atstart=no",
                    f"--callgrind-out-file={out}",
                    sys.executable,
                    __file__,
                    "--counted",
                    mode,
                    "--scenario",
                    name,
                    *(["--quick"] if args.quick else []),
                ]
                env = {**os.environ, "PYTHONHASHSEED": "0"}
                done = subprocess.run(  # noqa: S603 - valgrind running this script, fixed arguments
                    command, env=env, capture_output=True, text=True, check=False
                )
                totals = (
                    [line for line in out.read_text().splitlines() if line.startswith("totals:")]
                    if out.exists()
                    else []
                )
                if done.returncode or not totals:
                    sys.exit(f"{name}, {mode}: callgrind failed\n{done.stderr[-2000:]}")
                counts[mode] = int(totals[0].split()[1]) / len(fixes)
        print(f"{name}: {len(fixes):,} messages, a report every {INTERVAL:.0f} s")
        for label, off, on in (
            ("the runtime alone", OFF, ON),
            ("from the bytes on", WIRE_OFF, WIRE_ON),
        ):
            print(
                f"  {label}: {counts[off] / 1000:,.0f}k instructions per message without trip "
                f"detection, {counts[on] / 1000:,.0f}k with it: "
                f"{counts[on] / counts[off] - 1:+.1%} (target under {TARGET:.0%})"
            )


def main() -> None:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run (figures noisy)")
    parser.add_argument("--repeat", type=int, default=5, help="repetitions of each mode")
    parser.add_argument(
        "--scenario", action="append", choices=list(SCENARIOS), help="only these (repeatable)"
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions with valgrind's callgrind instead of CPU seconds",
    )
    parser.add_argument("--counted", choices=(*MODES, WIRE_OFF, WIRE_ON), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.counted:
        run_on_hass_loop(counted_run(args))
    elif args.instructions:
        instructions(args)
    else:
        run_on_hass_loop(run(args))


if __name__ == "__main__":
    main()
