"""Memory per configured and connected tracker, everything counted, for both protocols.

One Home Assistant (in this process, the test harness's ``async_test_home_assistant``, its
storage in a temporary directory) gets ``--trackers`` config entries on one listener port;
the trackers are ``tools.simulator`` trackers in a child process (``benchmarks/_loadsim.py``,
as ``bench_load`` runs them), so that their memory is not counted here. Memory per tracker =
growth of this process's heap (tracemalloc, the benchmark's own records left out) from
before the entries are added until every tracker is connected, has reported for a minute
(one report every 10 s) and the registries have been saved, divided by the number of
trackers: the config entry, its device and entity registry entries, its entities and
their states, the runtime, the trip log and the connection with its buffers. Run once for
H02 trackers and once for JT/T 808 trackers.

The figure is broken down by who allocated each block (its traceback, ``FRAMES`` deep):
the innermost frame in this integration or in Home Assistant says whose code did. Home
Assistant's part is shown per registered entity (registry entry and its stored JSON: an
entity disabled by default costs that much) and per enabled entity (entity object, state,
registry and device listeners); ours by part (entities, runtime and model, connection).

The trip log keeps in memory only its detector's recent trips (two days), the others in
its archive on disk; what that costs is measured on its own: a stored history of
``MAX_TRIPS`` trips (simulated days of eight city trips) loaded, its older trips written
to the archive's parts. Figures are printed, never asserted.

    scripts/envrun python benchmarks/bench_memory.py
    scripts/envrun python benchmarks/bench_memory.py --trackers 20 --quick
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass
import gc
import json
from pathlib import Path
import sys
import tempfile
import time
import tracemalloc
from typing import Final

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import homeassistant
from homeassistant import loader
from homeassistant.helpers import entity_registry as er, frame
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_test_home_assistant

from benchmarks._hass import run_on_hass_loop
from benchmarks._loadsim import tracker_id
from benchmarks.bench_load import Simulator
from benchmarks.bench_trips import days
from custom_components import sinotrack
from custom_components.sinotrack.const import DOMAIN
from custom_components.sinotrack.model.trip_archive import part_data, part_key
from custom_components.sinotrack.model.trips import MAX_TRIPS, TripDetector
from custom_components.sinotrack.runtime import SinotrackRuntime
from tests.support.defaults import LOOPBACK as HOST
from tests.support.hass import make_entry
from tests.support.net import free_port

KIB: Final = 1024
DETAIL = False
INTERVAL: Final = 10.0
REPORTING: Final = 60.0
"""Seconds the trackers report before the heap is measured."""
REGISTRY_SAVE_DELAY: Final = 12.0
"""Seconds after the set-up by which the entity and device registries have been saved."""
TARGET_KIB: Final = 250.0
TODAY_CONNECTION_KIB: Final = {"h02": 19.4, "jt808": 57.7}
"""The connection-only figures of an earlier measurement, for comparison."""
FRAMES: Final = 40
"""Frames kept per allocation: enough to reach the code that caused it."""
PACKAGE: Final = f"{Path(sinotrack.__file__).parent}/"
"""Where this integration's modules are, as their code names them."""
HA_PACKAGE: Final = f"{Path(homeassistant.__file__).parent}/"
FILTERS: Final = (
    tracemalloc.Filter(inclusive=False, filename_pattern=__file__),
    tracemalloc.Filter(inclusive=False, filename_pattern=tracemalloc.__file__),
)


def heap() -> tracemalloc.Snapshot:
    """This process's heap now, after a collection, the benchmark's records left out."""
    gc.collect()
    return tracemalloc.take_snapshot().filter_traces(FILTERS)


def grown(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot) -> int:
    """Bytes allocated between two snapshots, and still held."""
    return sum(stat.size_diff for stat in after.compare_to(before, "filename"))


def top(
    before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, count: int, key: str = "filename"
) -> str:
    """The places (files, or lines with ``key="lineno"``) whose allocations grew most, in
    KiB per tracker."""
    root, here = str(Path(sys.prefix).resolve()), str(Path(__file__).resolve().parents[1])
    stats = after.compare_to(before, key)[: 5 if key == "filename" else 15]
    return ", ".join(
        f"{str(stat.traceback[0].filename).replace(root, '<venv>').replace(here, '.')}"
        f"{':' + str(stat.traceback[0].lineno) if key == 'lineno' else ''} "
        f"{stat.size_diff / count / KIB:.1f}"
        for stat in stats
    )


async def until(condition: object, timeout: float) -> None:  # noqa: ASYNC109
    """Wait until ``condition()`` is true."""
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("the trackers did not all report")
        await asyncio.sleep(0.2)


@dataclass(frozen=True, slots=True)
class Figures:
    """What one protocol's trackers cost, per tracker."""

    configured: float
    """KiB before the tracker connects."""
    connected: float
    """KiB configured and connected, after a minute of reports."""
    registered: int
    """Entities in the entity registry."""
    enabled: int
    """Entities enabled (with a state)."""
    parts: dict[str, float]
    """KiB of ``connected`` by who allocated it (see :func:`part`)."""
    grew_most: str


PARTS: Final = (
    HA_REGISTRIES := "Home Assistant's registries (entries and their stored JSON)",
    HA_LISTENERS := "Home Assistant's listeners (helpers/event.py)",
    HA_ENTITIES := "Home Assistant's entity objects, states and the rest",
    OUR_ENTITIES := "our entities",
    OUR_RUNTIME := "our runtime, tracker model, trip log, entry",
    OUR_CONNECTION := "our connection (listener, codec)",
    OTHER := "other (Python, libraries)",
)
ENTITY_MODULES: Final = frozenset(
    {
        "entity.py",
        "sensor.py",
        "binary_sensor.py",
        "device_tracker.py",
        "event.py",
        "alarm_control_panel.py",
        "location_sensor.py",
        "trip_sensor.py",
        "calendar.py",
    }
)
REGISTRY_MODULES: Final = frozenset(
    {"helpers/entity_registry.py", "helpers/device_registry.py", "helpers/registry.py"}
)


def part(traceback: tracemalloc.Traceback) -> str:
    """Who allocated a block: the innermost frame in this integration or in Home Assistant
    (Python's and the libraries' frames skipped) says whose code did; Home Assistant's
    allocations on the way of a registry are the registries'."""
    for inner in reversed(traceback):
        filename = inner.filename
        if filename.startswith(PACKAGE):
            module = filename.removeprefix(PACKAGE)
            if module.startswith(("listener/", "protocol/")):
                return OUR_CONNECTION
            return OUR_ENTITIES if module in ENTITY_MODULES else OUR_RUNTIME
        if filename.startswith(HA_PACKAGE):
            if any(
                outer.filename.removeprefix(HA_PACKAGE) in REGISTRY_MODULES for outer in traceback
            ):
                return HA_REGISTRIES
            if filename.removeprefix(HA_PACKAGE) == "helpers/event.py":
                return HA_LISTENERS
            return HA_ENTITIES
    return OTHER


def parts(
    before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, count: int
) -> dict[str, float]:
    """KiB per tracker grown between two snapshots, by :func:`part`."""
    grown_by: dict[str, float] = dict.fromkeys(PARTS, 0.0)
    for stat in after.compare_to(before, "traceback"):
        grown_by[part(stat.traceback)] += stat.size_diff / count / KIB
    return grown_by


async def per_tracker(protocol: str, count: int) -> Figures:
    """What a tracker costs: configured (before it connects) and configured and connected,
    by who allocated it; its entities; what grew most."""
    with tempfile.TemporaryDirectory(prefix="sinotrack-bench-") as config_dir:
        async with async_test_home_assistant(config_dir=config_dir) as hass:
            hass.data.pop(loader.DATA_CUSTOM_COMPONENTS, None)  # load custom_components/
            frame.async_setup(hass)
            simulator: Simulator | None = None
            try:
                port = free_port(HOST)
                # A first entry loads the integration, its platforms and translations, and
                # starts the listener: once for all trackers, not counted per tracker.
                first = make_entry(tracker_id(count), port, title="First")
                first.add_to_hass(hass)
                assert await async_setup_component(hass, DOMAIN, {})
                await hass.async_block_till_done()
                tracemalloc.start(FRAMES)
                before = heap()
                entries: list[MockConfigEntry] = [
                    make_entry(tracker_id(index), port, title=f"Tracker {index}")
                    for index in range(count)
                ]
                for entry in entries:
                    entry.add_to_hass(hass)
                    assert await hass.config_entries.async_setup(entry.entry_id)
                await hass.async_block_till_done()
                await asyncio.sleep(REGISTRY_SAVE_DELAY)
                await hass.async_block_till_done()
                configured = heap()
                simulator = await Simulator.start(port, count, protocol, None, 0)
                await simulator.request(120, op="connect", spread=INTERVAL, interval=INTERVAL)

                def reported() -> bool:
                    runtimes: list[SinotrackRuntime] = [entry.runtime_data for entry in entries]
                    return all(runtime.state.fix_time is not None for runtime in runtimes)

                await until(reported, 60)
                await asyncio.sleep(REPORTING)
                await hass.async_block_till_done()
                connected = heap()
                tracemalloc.stop()
                registered = er.async_entries_for_config_entry(
                    er.async_get(hass), entries[0].entry_id
                )
                return Figures(
                    configured=grown(before, configured) / count / KIB,
                    connected=grown(before, connected) / count / KIB,
                    registered=len(registered),
                    enabled=sum(1 for item in registered if item.disabled_by is None),
                    parts=parts(before, connected, count),
                    grew_most=top(before, connected, count)
                    + ("\n  " + top(before, connected, count, "lineno") if DETAIL else ""),
                )
            finally:
                if simulator is not None:
                    await simulator.close()
                await hass.async_stop(force=True)


OLD_TRIP_LOG_KIB: Final = 3473
"""What the detector held with a full history when it kept every trip in memory."""


def trip_log_kib() -> tuple[int, int, float, float]:
    """Trips in a full stored history; trips the detector holds after loading it (its
    older trips written to the archive's parts, as the trip log does) and the KiB it holds;
    the KiB it would hold keeping every trip in memory (as before the archive)."""
    whole = TripDetector(memory_trips=MAX_TRIPS, memory_s=float("inf"))
    for fix in days(MAX_TRIPS // 8 + 2):
        whole.add(fix, fix.time + 1.0)
        whole.tick(fix.time + 1.0)
    stored = json.loads(json.dumps(whole.as_dict()))  # the store as it was before
    stored["trips"] = stored["trips"][-MAX_TRIPS:]
    del whole

    def loaded(**options: float) -> tuple[TripDetector, float]:
        """A detector loaded from ``stored`` (its outbox archived) and the KiB it holds."""
        tracemalloc.start()
        gc.collect()
        before = tracemalloc.take_snapshot()
        detector = TripDetector.from_dict(stored, **options)
        due = detector.archive_due()
        keys = {part_key(trip.start) for trip in due}
        parts = detector.archive.written(due, {key: [] for key in keys})
        for key in parts:
            json.dumps(part_data(parts[key]))  # written to its store, then let go
        detector.archived(due)
        del due, parts
        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        return detector, grown(before, after) / KIB

    detector, kib = loaded()
    _every, every_kib = loaded(memory_trips=MAX_TRIPS, memory_s=float("inf"))
    return len(stored["trips"]), len(detector.trips(0, float("inf"))), kib, every_kib


def breakdown(figures: Figures) -> str:
    """Where a connected tracker's KiB go: Home Assistant per entity, and ours."""
    kib = figures.parts
    registries = kib[HA_REGISTRIES]
    entities = kib[HA_LISTENERS] + kib[HA_ENTITIES]
    ours = kib[OUR_ENTITIES] + kib[OUR_RUNTIME] + kib[OUR_CONNECTION]
    lines = [
        f"  {figures.registered} entities registered per tracker, {figures.enabled} enabled "
        f"(with a state)",
        f"  Home Assistant {registries + entities:.0f} KiB: "
        f"{registries / max(figures.registered, 1):.1f} KiB per registered entity (registry "
        f"entry, its stored JSON, the device), "
        f"{entities / max(figures.enabled, 1):.1f} KiB per enabled entity (entity object, "
        f"state, registry and device listeners)",
        f"  ours {ours:.0f} KiB; other {kib[OTHER]:.0f} KiB",
        *(f"    {name}: {kib[name]:.1f} KiB" for name in PARTS),
        f"  grew most (KiB per tracker): {figures.grew_most}",
    ]
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> None:
    """Print the figures."""
    print(
        f"Python {sys.version.split()[0]}, {args.trackers} trackers per protocol, "
        f"reporting every {INTERVAL:g} s for {REPORTING:g} s before the heap is measured"
    )
    for protocol in ("h02", "jt808"):
        figures = await per_tracker(protocol, args.trackers)
        connected = figures.connected
        print(
            f"{protocol}: {figures.configured:.0f} KiB per configured tracker before it "
            f"connects, {connected:.0f} KiB configured and connected, everything counted (its "
            f"connection and first minute: {connected - figures.configured:.0f} KiB; "
            f"connection only, measured before: {TODAY_CONNECTION_KIB[protocol]:g} KiB); "
            f"target under {TARGET_KIB:g} KiB: {'PASS' if connected < TARGET_KIB else 'MISS'}"
        )
        print(breakdown(figures))
    if not args.quick:
        stored, held, kib, every_kib = trip_log_kib()
        print(
            f"trip log: a tracker with a full stored history ({stored:,} trips) holds "
            f"{held:,} trips in memory after loading (the last two days; the others are "
            f"read from the archive on demand): {kib:,.0f} KiB; every trip in memory, as "
            f"before: {every_kib:,.0f} KiB measured alike ({OLD_TRIP_LOG_KIB:,} KiB, 3.5 KiB "
            f"per trip, in the earlier measurement)"
        )


def main() -> None:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--trackers", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="no trip log measurement")
    parser.add_argument("--detail", action="store_true", help="the lines that grew most")
    args = parser.parse_args()
    global DETAIL  # noqa: PLW0603
    DETAIL = args.detail
    run_on_hass_loop(run(args))


if __name__ == "__main__":
    main()
