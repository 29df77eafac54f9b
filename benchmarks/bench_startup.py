"""Start-up with 1, 100 and 1,000 Sinotrack entries: seconds until every entity is restored
and the port is listening, and this integration's own share of it.

Each size runs three times in one configuration folder, each time in a fresh Home
Assistant (in this process, the test harness's ``async_test_home_assistant``): the first
start sets the entries up and lets each tracker report once (over the runtime, as the
listener hands it a message), so that every tracker has a stored state; it stops, which
saves the stores. The second start is measured, the third once more under the profiler:
from the set-up of the integration until every entry is loaded, Home Assistant is idle,
every tracker's entity shows its restored position and the listener's port accepts a
connection. The harness starts with empty entity and device registries, so the measured
start also registers every entity and device (a restart of a real Home Assistant loads
them instead): an upper bound. Python modules are imported by the first start, so a cold
start's imports (about the same whatever the number of entries) are not in the figures.

The integration's share is from the profiled start (``cProfile``, the event loop's
thread): the time spent in functions of ``custom_components/sinotrack`` themselves,
against the time of every function profiled (Home Assistant's entity platforms,
registries and states make most of the rest). Figures are printed, never asserted.

    scripts/envrun python benchmarks/bench_startup.py
    scripts/envrun python benchmarks/bench_startup.py --quick     # 1 and 100 entries
"""

from __future__ import annotations

import argparse
import cProfile
from pathlib import Path
import pstats
import socket
import sys
import tempfile
import time
from typing import Final

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from homeassistant import loader
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import frame
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_test_home_assistant,
)

from benchmarks._hass import run_on_hass_loop
from benchmarks._loadsim import tracker_id
from benchmarks.bench_trips import messages_of
from custom_components.sinotrack.const import DOMAIN
from custom_components.sinotrack.model.trip_data import Fix
from custom_components.sinotrack.runtime import SinotrackRuntime
from tests.support.defaults import LOOPBACK as HOST
from tests.support.hass import make_entry
from tests.support.net import free_port

TARGET_OWN_S: Final = 10.0
"""This integration's own time for a start with 1,000 entries."""
PACKAGE: Final = str(Path(__file__).resolve().parents[1] / "custom_components" / "sinotrack")


def entries_of(count: int, port: int) -> list[MockConfigEntry]:
    """``count`` entries on one port, with fixed entry IDs (their stores outlive a start)."""
    return [
        make_entry(tracker_id(index), port, entry_id=f"entry{index:05d}", title=f"T{index}")
        for index in range(count)
    ]


async def start(
    config_dir: str, count: int, port: int, *, first: bool, profiled: bool = False
) -> tuple[float, cProfile.Profile | None]:
    """One start of Home Assistant with ``count`` entries: seconds until ready, and its
    profile when ``profiled``."""
    async with async_test_home_assistant(config_dir=config_dir) as hass:
        hass.data.pop(loader.DATA_CUSTOM_COMPONENTS, None)  # load custom_components/
        frame.async_setup(hass)
        try:
            entries = entries_of(count, port)
            for entry in entries:
                entry.add_to_hass(hass)
            profile = cProfile.Profile() if profiled else None
            began = time.perf_counter()
            if profile is not None:
                profile.enable()
            assert await async_setup_component(hass, DOMAIN, {})
            await hass.async_block_till_done()
            if profile is not None:
                profile.disable()
            await ready(hass, entries, port, first=first)
            seconds = time.perf_counter() - began
            if first:
                fix = Fix(time=time.time() - 60, latitude=22.54, longitude=114.05, speed_kmh=0.0)
                [message] = messages_of([fix])
                for entry in entries:
                    runtime: SinotrackRuntime = entry.runtime_data
                    runtime.handle_messages([message])
                await hass.async_block_till_done()
            return seconds, profile
        finally:
            await hass.async_stop(force=True)


async def ready(
    hass: HomeAssistant, entries: list[MockConfigEntry], port: int, *, first: bool
) -> None:
    """Every entry loaded, (on a restart) every tracker showing its stored position, and
    the port accepting a connection."""
    not_loaded = [entry.title for entry in entries if entry.state is not ConfigEntryState.LOADED]
    if not_loaded:
        raise RuntimeError(f"entries not loaded: {not_loaded[:5]}")
    if not first:
        trackers = hass.states.async_all("device_tracker")
        shown = sum(1 for tracker in trackers if tracker.attributes.get("latitude") is not None)
        if shown != len(entries):
            raise RuntimeError(f"{shown} of {len(entries)} trackers restored")
    with socket.create_connection((HOST, port), timeout=5):
        pass


def shares(profile: cProfile.Profile) -> tuple[float, float, str]:
    """Seconds in the integration's own functions, in all functions, and the five
    costliest of the integration's functions (own time)."""
    stats = pstats.Stats(profile)
    own = 0.0
    everything = 0.0
    rows: list[tuple[float, str]] = []
    for (filename, line, name), (_calls, _primitive, tottime, _cumtime, _callers) in (
        stats.stats.items()  # type: ignore[attr-defined]
    ):
        everything += tottime
        if filename.startswith(PACKAGE):
            own += tottime
            rows.append((tottime, f"{Path(filename).name}:{line} {name}"))
    rows.sort(reverse=True)
    costliest = ", ".join(f"{where} {seconds * 1000:.0f} ms" for seconds, where in rows[:5])
    return own, everything, costliest


async def run(args: argparse.Namespace) -> None:
    """Print the figures."""
    print(f"Python {sys.version.split()[0]}, one core")
    for count in args.sizes:
        with tempfile.TemporaryDirectory(prefix="sinotrack-bench-") as config_dir:
            port = free_port(HOST)
            await start(config_dir, count, port, first=True)
            seconds, _ = await start(config_dir, count, port, first=False)
            profiled_seconds, profile = await start(
                config_dir, count, port, first=False, profiled=True
            )
        assert profile is not None
        own, profiled, costliest = shares(profile)
        verdict = ""
        if count >= 1000:
            passed = own < TARGET_OWN_S
            verdict = (
                f"; target under {TARGET_OWN_S:g} s of its own time: {'PASS' if passed else 'MISS'}"
            )
        print(
            f"{count:,} entries: ready in {seconds:.2f} s (entities restored, port "
            f"listening); profiled: {profiled_seconds:.2f} s, of which {profiled:.2f} s in "
            f"the event loop's thread, "
            f"the integration's own functions {own:.2f} s ({own / profiled:.0%}){verdict}"
        )
        print(f"  its costliest functions (own time): {costliest}")


def main() -> None:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 100, 1000])
    parser.add_argument("--quick", action="store_true", help="1 and 100 entries only")
    args = parser.parse_args()
    if args.quick:
        args.sizes = [size for size in args.sizes if size <= 100]
    run_on_hass_loop(run(args))


if __name__ == "__main__":
    main()
