"""What one tracker costs Home Assistant's recorder: database rows and bytes per day.

One Home Assistant (in this process, the test harness's ``async_test_home_assistant``) with
the ``recorder`` on its default settings (SQLite in a temporary directory, commit every
second, ten days kept) and one tracker entry, every entity enabled by default. A simulated
day of one vehicle reporting every 10 s is handed to the runtime as decoded H02 position
messages, one per frame, as the listener does. Time is compressed: Home Assistant's clock
(``time.time`` and ``dt_util.utcnow``) is set to each report's device time, the runtime's
one-minute tick is called once per simulated minute, and the recorder's five-minute
statistics are compiled for every five minutes of the day, so that throttles, the online
timeout, trips and statistics see the day as it would pass.

Days:

- **parked**: 24 h parked, GPS jitter of a few metres, ignition off, speed 0 (a GPS
  receiver's static hold);
- **parked, speed noise**: the same with a speed of 0-2 km/h (a receiver without static
  hold), to show what such a tracker costs;
- **commuting**: parked, a 30-minute city trip at 08:00 and another at 17:30;
- **driving**: 24 h of city driving (legs of 1-3 minutes, red lights).

For each: rows of ``states``, ``state_attributes``, ``events``, ``statistics``,
``statistics_short_term``, the logbook's rows (a state row whose state differs from the
row before it, of an entity without a unit or a state class: the rule of the logbook's own
query), and the database's size (SQLite pages in use) without Home Assistant's own rows, which it writes once whatever the number
of trackers (every five minutes a statistics run and its event: about 100 KiB a day);
what the set-up wrote is left out. The same day is also run with every entity written on every report
(``force_update``: one state row per entity per report, the cost of an integration that
writes all of its entities on each report, as core's ``traccar_server`` does), and the ratio
is printed. Figures are printed, never asserted.

    scripts/envrun python benchmarks/bench_recorder.py
    scripts/envrun python benchmarks/bench_recorder.py --quick   # two hours of each day
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Iterable, Iterator
import contextlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
import sqlite3
import sys
import tempfile
import time
from typing import Final
from unittest.mock import patch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from homeassistant import loader
from homeassistant.components.recorder import get_instance
from homeassistant.components.recorder.tasks import StatisticsTask
from homeassistant.const import CONF_PORT
from homeassistant.helpers import entity_registry as er, frame
from homeassistant.helpers.entity_platform import DATA_ENTITY_PLATFORM
from homeassistant.helpers.recorder import async_initialize_recorder
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_test_home_assistant,
)
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from benchmarks._hass import run_on_hass_loop
from benchmarks.bench_trips import START, Vehicle, messages_of
from custom_components.sinotrack.const import CONF_BIND_ADDRESS, CONF_TRACKER_ID, DOMAIN
from custom_components.sinotrack.entity import SinotrackEntity
from custom_components.sinotrack.model.trip_data import Fix
from custom_components.sinotrack.protocol import Message
from custom_components.sinotrack.runtime import SinotrackRuntime
from tests.support.defaults import LOOPBACK as HOST
from tools.net import free_port

INTERVAL: Final = 10.0
"""Seconds between two reports."""
DAY: Final = 86400.0
KIB: Final = 1024
TABLES: Final = ("states", "state_attributes", "statistics", "statistics_short_term", "events")

# Targets (per tracker, per day, reporting every 10 s).
TARGET_PARKED_ROWS_PER_10_MIN: Final = 2.0
TARGET_PARKED_KIB: Final = 100.0
TARGET_DRIVING_ROWS_PER_REPORT: Final = 4.0
TARGET_COMMUTING_KIB: Final = 2048.0


def at_rest(fixes: Iterable[Fix]) -> list[Fix]:
    """``fixes`` with the speed of a parked fix 0 (a GPS receiver's static hold)."""
    return [fix if fix.ignition else replace(fix, speed_kmh=0.0) for fix in fixes]


def parked(hours: float) -> list[Fix]:
    """``hours`` parked, reporting every 10 s."""
    return at_rest(Vehicle(1).park(hours * 3600, interval=INTERVAL))


def parked_noisy(hours: float) -> list[Fix]:
    """``hours`` parked, reporting every 10 s, a speed of 0-2 km/h (no static hold)."""
    return list(Vehicle(1).park(hours * 3600, interval=INTERVAL))


def commuting(hours: float) -> list[Fix]:
    """Parked, a 30-minute trip at 08:00 and one at 17:30 (scaled to ``hours``)."""
    vehicle = Vehicle(2)
    scale = hours / 24
    fixes = list(vehicle.park(8 * 3600 * scale, interval=INTERVAL))
    fixes += vehicle.city_trip(30 * scale, interval=INTERVAL)
    fixes += vehicle.park(START + 17.5 * 3600 * scale - vehicle.time, interval=INTERVAL)
    fixes += vehicle.city_trip(30 * scale, interval=INTERVAL)
    fixes += vehicle.park(START + hours * 3600 - vehicle.time, interval=INTERVAL)
    return at_rest(fixes)


def driving(hours: float) -> list[Fix]:
    """``hours`` of city driving, reporting every 10 s."""
    return list(Vehicle(3).city_trip(hours * 60, interval=INTERVAL))


class Clock:
    """Home Assistant's wall clock, set by the benchmark."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        """Seconds since the epoch, as set."""
        return self.now

    def utcnow(self) -> datetime:
        """The time as set, in UTC."""
        return datetime.fromtimestamp(self.now, UTC)


@contextlib.contextmanager
def clock_at(clock: Clock) -> Iterator[None]:
    """Home Assistant reads the time from ``clock`` (the event loop keeps its own)."""
    with (
        patch("time.time", clock.time),
        patch("homeassistant.helpers.entity.timer", clock.time),
        patch.object(dt_util, "utcnow", clock.utcnow),
    ):
        yield


@dataclass(slots=True)
class Day:
    """What one simulated day left in the database."""

    reports: int
    hours: float
    rows: dict[str, int]
    logbook: int
    kib: float
    by_entity: Counter[str]

    def per_day(self, value: float) -> float:
        """``value`` scaled to 24 hours."""
        return value * 24 / self.hours


def _count(
    database: Path, entry_entities: list[str]
) -> tuple[dict[str, int], int, float, Counter[str]]:
    """Rows per table, logbook rows, KiB in use, state rows per entity."""
    with contextlib.closing(sqlite3.connect(database)) as db:
        count = "SELECT COUNT(*) FROM "  # the table names are this module's constants
        rows = {table: db.execute(count + table).fetchone()[0] for table in TABLES}
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        free = db.execute("PRAGMA freelist_count").fetchone()[0]
        size = db.execute("PRAGMA page_size").fetchone()[0]
        by_entity: Counter[str] = Counter()
        logbook = 0
        for entity_id, count, listed in db.execute(
            "SELECT m.entity_id, COUNT(*), SUM(o.state IS NOT NULL AND o.state != s.state "
            "AND (s.last_changed_ts IS NULL OR s.last_changed_ts = s.last_updated_ts) "
            "AND a.shared_attrs NOT LIKE '%unit_of_measurement%' "
            "AND a.shared_attrs NOT LIKE '%state_class%') FROM states s JOIN states_meta m "
            "USING (metadata_id) LEFT JOIN state_attributes a USING (attributes_id) "
            "LEFT JOIN states o ON o.state_id = s.old_state_id "
            "GROUP BY m.entity_id"
        ):
            if entity_id in entry_entities:
                by_entity[entity_id] = count
                logbook += listed or 0
        shared = db.execute(
            "SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name IN (SELECT name FROM "
            "sqlite_schema WHERE tbl_name IN ('statistics_runs', 'events', 'event_data', "
            "'event_types', 'recorder_runs'))"
        ).fetchone()[0]
    return rows, logbook, ((pages - free) * size - shared) / KIB, by_entity


async def run_day(fixes: list[Fix], *, everything: bool, config_dir: str, hours: float) -> Day:
    """One simulated day in a fresh Home Assistant with a recorder."""
    messages: list[Message] = messages_of(fixes)
    clock = Clock(START)
    database = Path(config_dir) / "home-assistant_v2.db"
    with clock_at(clock):
        async with async_test_home_assistant(config_dir=config_dir) as hass:
            hass.data.pop(loader.DATA_CUSTOM_COMPONENTS, None)  # load custom_components/
            frame.async_setup(hass)
            try:
                async_initialize_recorder(hass)
                assert await async_setup_component(
                    hass, "recorder", {"recorder": {"db_url": f"sqlite:///{database}"}}
                )
                await hass.async_block_till_done()
                entry = MockConfigEntry(
                    domain=DOMAIN,
                    title="Car",
                    unique_id="4210051415",
                    data={
                        CONF_TRACKER_ID: "4210051415",
                        CONF_PORT: free_port(HOST),
                        CONF_BIND_ADDRESS: HOST,
                    },
                )
                entry.add_to_hass(hass)
                assert await hass.config_entries.async_setup(entry.entry_id)
                await hass.async_block_till_done()
                runtime: SinotrackRuntime = entry.runtime_data
                runtime.connection_changed(True, HOST)
                entities = [
                    entity
                    for platform in hass.data[DATA_ENTITY_PLATFORM][DOMAIN]
                    for entity in platform.entities.values()
                    if isinstance(entity, SinotrackEntity)
                ]
                if everything:
                    for entity in entities:
                        entity._attr_force_update = True
                await async_wait_recording_done(hass)
                entry_entities = [
                    item.entity_id
                    for item in er.async_entries_for_config_entry(
                        er.async_get(hass), entry.entry_id
                    )
                ]
                before = _count(database, entry_entities)
                recorder = get_instance(hass)
                next_tick = START + 60
                next_statistics = (START // 300 + 2) * 300
                for index, message in enumerate(messages):
                    stamp = float(message["timestamp"])
                    while next_statistics <= stamp:
                        clock.now = next_statistics
                        recorder.queue_task(
                            StatisticsTask(dt_util.utc_from_timestamp(next_statistics - 300), True)
                        )
                        next_statistics += 300
                    if next_tick <= stamp:
                        clock.now = next_tick
                        runtime._async_tick(clock.utcnow())
                        next_tick += 60
                    clock.now = stamp + 0.5
                    runtime.handle_messages([message])
                    if everything:
                        for entity in entities:
                            entity.async_write_ha_state()
                    if index % 100 == 0:
                        await async_wait_recording_done(hass)
                while next_statistics <= START + hours * 3600:
                    clock.now = next_statistics
                    recorder.queue_task(
                        StatisticsTask(dt_util.utc_from_timestamp(next_statistics - 300), True)
                    )
                    next_statistics += 300
                clock.now = START + hours * 3600
                await async_wait_recording_done(hass)
            finally:
                await hass.async_stop(force=True)
    rows, logbook, kib, by_entity = _count(database, entry_entities)
    rows = {table: count - before[0][table] for table, count in rows.items()}
    kib -= before[2]
    logbook -= before[1]
    by_entity.subtract(before[3])
    return Day(len(messages), hours, rows, logbook, kib, by_entity)


def report(name: str, day: Day, baseline: Day, targets: str) -> None:
    """Print one day's figures."""
    states = day.rows["states"]
    print(
        f"{name}: {day.reports:,} reports in {day.hours:g} h; per day: "
        f"{day.per_day(day.kib):,.0f} KiB of database, "
        + ", ".join(f"{table} {day.per_day(count):,.0f}" for table, count in day.rows.items())
        + " (Home Assistant's own)"
        + f", logbook {day.per_day(day.logbook):,.0f}"
    )
    print(
        f"  state rows per report {states / day.reports:.2f}, per 10 minutes "
        f"{states / (day.hours * 6):.1f}; written on every report: "
        f"{baseline.rows['states'] / baseline.reports:.2f} per report, "
        f"{baseline.per_day(baseline.kib):,.0f} KiB per day: "
        f"{baseline.kib / day.kib:.1f}x the database, "
        f"{baseline.rows['states'] / max(states, 1):.1f}x the state rows, "
        f"{baseline.logbook / max(day.logbook, 1):.1f}x the logbook"
    )
    busiest = ", ".join(
        f"{entity.split('.', 1)[1].removeprefix('car_') or entity} {count}"
        for entity, count in day.by_entity.most_common(8)
    )
    print(f"  state rows by entity: {busiest}")
    print(f"  targets: {targets}")


async def run(args: argparse.Namespace) -> None:
    """Print the figures."""
    hours = 2.0 if args.quick else 24.0
    days = {
        "parked": parked(hours),
        "parked, speed noise": parked_noisy(hours),
        "commuting": commuting(hours),
        "driving": driving(hours),
    }
    results: dict[str, tuple[Day, Day]] = {}
    begin = time.perf_counter()
    for name, fixes in days.items():
        pair = []
        for everything in (False, True):
            with tempfile.TemporaryDirectory(prefix="sinotrack-bench-") as config_dir:
                pair.append(
                    await run_day(fixes, everything=everything, config_dir=config_dir, hours=hours)
                )
        results[name] = (pair[0], pair[1])
    print(
        f"Python {sys.version.split()[0]}, recorder on SQLite (default settings), one tracker "
        f"reporting every {INTERVAL:g} s, {hours:g} h per day simulated "
        f"({time.perf_counter() - begin:.0f} s to run)"
    )
    day, base = results["parked"]
    per_10 = day.rows["states"] / (day.hours * 6)
    kib = day.per_day(day.kib)
    report(
        "parked",
        day,
        base,
        f"<= {TARGET_PARKED_ROWS_PER_10_MIN:g} state rows per 10 minutes: {per_10:.1f} "
        f"{_verdict(per_10 <= TARGET_PARKED_ROWS_PER_10_MIN)}; < {TARGET_PARKED_KIB:g} KiB "
        f"per day: {kib:,.0f} {_verdict(kib < TARGET_PARKED_KIB)}",
    )
    day, base = results["parked, speed noise"]
    report("parked with a speed of 0-2 km/h (no static hold)", day, base, "as parked")
    day, base = results["commuting"]
    kib = day.per_day(day.kib)
    report(
        "commuting",
        day,
        base,
        f"< {TARGET_COMMUTING_KIB / KIB:g} MiB per day: {kib / KIB:.2f} MiB "
        f"{_verdict(kib < TARGET_COMMUTING_KIB)}",
    )
    day, base = results["driving"]
    per_report = day.rows["states"] / day.reports
    report(
        "driving",
        day,
        base,
        f"<= {TARGET_DRIVING_ROWS_PER_REPORT:g} state rows per report: {per_report:.2f} "
        f"{_verdict(per_report <= TARGET_DRIVING_ROWS_PER_REPORT)}",
    )


def _verdict(passed: bool) -> str:
    return "PASS" if passed else "MISS"


def main() -> None:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="two hours of each day")
    args = parser.parse_args()
    run_on_hass_loop(run(args))


if __name__ == "__main__":
    main()
