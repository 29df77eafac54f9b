"""Cost of trip detection per message in Home Assistant: the runtime's whole path.

One Home Assistant (in this process, the test harness's ``async_test_home_assistant``, no
recorder) with one tracker entry, every entity enabled by default. A simulated day of one
vehicle (``bench_trips.days``: parked at night, eight city trips) is handed to the
runtime as decoded H02 position messages, one per frame, as the listener does: the tracker
model, the entity writes, and, when on, trip detection with its calendar, event and
sensors. CPU time per message with trip detection on, against the same with the trip log's
feed and tick replaced by nothing, and (to tell the two apart) on with the trip sensors'
writes left out: "distance today" and "current trip distance" are written per 0.1 km,
which at 30-60 km/h is every report of a tracker reporting every 10 s. Figures are
printed, never asserted (target: under 10 % more).

    scripts/envrun python benchmarks/bench_trips_ha.py
    scripts/envrun python benchmarks/bench_trips_ha.py --quick
"""

from __future__ import annotations

import argparse
from pathlib import Path
import statistics
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from homeassistant import loader
from homeassistant.const import CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.helpers import frame
from homeassistant.helpers.entity_platform import DATA_ENTITY_PLATFORM
from homeassistant.runner import create_event_loop
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_test_home_assistant,
)

from benchmarks.bench_trips import days, messages_of
from custom_components.sinotrack.const import CONF_BIND_ADDRESS, CONF_TRACKER_ID, DOMAIN
from custom_components.sinotrack.protocol import Message
from custom_components.sinotrack.runtime import SinotrackRuntime
from custom_components.sinotrack.trip_sensor import TripSensor
from tests.support.defaults import LOOPBACK as HOST
from tests.support.frames import H02_ID
from tools.net import free_port

IDENT = H02_ID
TARGET = 0.10


def nothing_at_all() -> None:
    """Write nothing."""


async def handle(hass: HomeAssistant, runtime: SinotrackRuntime, messages: list[Message]) -> float:
    """CPU seconds for the runtime to take ``messages``, each as one frame (the event
    loop's follow-up work included)."""
    begin = time.process_time()
    for index, message in enumerate(messages):
        runtime.handle_messages([message])
        if index % 50 == 0:
            await hass.async_block_till_done()
    await hass.async_block_till_done()
    return time.process_time() - begin


async def measure(
    messages: list[Message], *, trips: bool, config_dir: str, sensor_writes: bool = True
) -> float:
    """CPU seconds per message, in a fresh Home Assistant."""
    async with async_test_home_assistant(config_dir=config_dir) as hass:
        hass.data.pop(loader.DATA_CUSTOM_COMPONENTS, None)  # load custom_components/
        frame.async_setup(hass)
        try:
            entry = MockConfigEntry(
                domain=DOMAIN,
                title="Car",
                unique_id=IDENT,
                data={CONF_TRACKER_ID: IDENT, CONF_PORT: free_port(HOST), CONF_BIND_ADDRESS: HOST},
            )
            entry.add_to_hass(hass)
            assert await hass.config_entries.async_setup(entry.entry_id)
            await hass.async_block_till_done()
            runtime: SinotrackRuntime = entry.runtime_data
            runtime.connection_changed(True, HOST)
            if not trips:
                nothing: Any = lambda *_args: None  # noqa: E731
                runtime.trips.feed = nothing  # type: ignore[method-assign]
                runtime.trips.tick = nothing  # type: ignore[method-assign]
            if not sensor_writes:
                for sensor in hass.data[DATA_ENTITY_PLATFORM][DOMAIN]:
                    for entity in sensor.entities.values():
                        if isinstance(entity, TripSensor):
                            entity._write = nothing_at_all  # type: ignore[method-assign]
            seconds = await handle(hass, runtime, messages)
            return seconds / len(messages)
        finally:
            await hass.async_stop(force=True)


async def run(args: argparse.Namespace) -> None:
    """Print the figures."""
    messages = messages_of(days(1))
    repeat = 1 if args.quick else 3
    if args.quick:
        messages = messages[:600]
    without: list[float] = []
    with_trips: list[float] = []
    unwritten: list[float] = []
    for _ in range(repeat):
        for trips, writes, results in (
            (False, True, without),
            (True, True, with_trips),
            (True, False, unwritten),
        ):
            with tempfile.TemporaryDirectory(prefix="sinotrack-bench-") as config_dir:
                results.append(
                    await measure(
                        messages, trips=trips, config_dir=config_dir, sensor_writes=writes
                    )
                )
    off, on = min(without), min(with_trips)
    extra = on / off - 1
    print(f"Python {sys.version.split()[0]}, one core, {len(messages):,} position messages")
    print(
        f"runtime in Home Assistant: {off * 1e6:.0f} us CPU per message without trip "
        f"detection, {on * 1e6:.0f} us with it: {extra:+.1%} (target under "
        f"{TARGET:.0%}; best of {repeat}, medians {statistics.median(without) * 1e6:.0f} / "
        f"{statistics.median(with_trips) * 1e6:.0f} us)"
    )
    quiet = min(unwritten)
    print(
        f"  of which the trip sensors' writes: {(on - quiet) * 1e6:.0f} us; trip detection "
        f"without them: {quiet * 1e6:.0f} us, {quiet / off - 1:+.1%}"
    )


def main() -> None:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run (figures noisy)")
    args = parser.parse_args()
    loop = create_event_loop()
    try:
        loop.run_until_complete(run(args))
    finally:
        loop.close()


if __name__ == "__main__":
    main()
