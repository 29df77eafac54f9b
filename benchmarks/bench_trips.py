"""Cost of trip detection: per fix, and per stored trip.

Simulated days of one tracker (a fix every 10 s while driving, every 60 s while parked:
city trips with red lights and turns, parked in between) are fed to a ``TripDetector``;
the time per fix is compared with the codec's time to decode one JT/T 808 position (the
least any message costs before it reaches the tracker model). The bytes per stored trip
are the JSON of a typical 30-minute city trip. The runtime's path per message is timed
too: the tracker model applying a decoded position message, without and with trip
detection (the fix made from the message, the detector, and the trip sensors' read of the
current trip's distance), as the runtime runs them for every message. Figures are
printed, never asserted.

    python -m benchmarks.bench_trips
    python -m benchmarks.bench_trips --quick      # a smoke run (one day, once)
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
import json
import math
from pathlib import Path
import random
import statistics
import sys
import time

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_codec import jt808_stream, run
from custom_components.sinotrack.model import Tracker
from custom_components.sinotrack.model.trip_data import Fix, TripEnded
from custom_components.sinotrack.model.trip_feed import read_fix
from custom_components.sinotrack.model.trips import TripDetector
from custom_components.sinotrack.protocol import Message, message as p

START = 1_790_000_000.0
KM_PER_DEGREE = 111.195


class Vehicle:
    """A car in a city: drives legs between red lights, turns, parks."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.time = START
        self.latitude, self.longitude = 22.5431, 114.0579
        self.heading = 90.0
        self.mileage = 10_000.0

    def _fix(self, speed: float, ignition: bool) -> Fix:
        return Fix(
            time=self.time,
            latitude=self.latitude,
            longitude=self.longitude,
            speed_kmh=round(speed, 1),
            ignition=ignition,
            accuracy_m=self.rng.uniform(5, 20),
            mileage_km=round(self.mileage, 1),
        )

    def _move(self, speed: float, seconds: float) -> None:
        km = speed * seconds / 3600
        self.mileage += km
        self.latitude += km * math.cos(math.radians(self.heading)) / KM_PER_DEGREE
        self.longitude += (
            km
            * math.sin(math.radians(self.heading))
            / (KM_PER_DEGREE * math.cos(math.radians(self.latitude)))
        )

    def park(self, seconds: float, interval: float = 60.0) -> Iterator[Fix]:
        """Parked, ignition off, GPS jitter of a few metres."""
        centre = (self.latitude, self.longitude)
        for _ in range(round(seconds / interval)):
            self.time += interval
            self.latitude = centre[0] + self.rng.gauss(0, 5) / 1000 / KM_PER_DEGREE
            self.longitude = centre[1] + self.rng.gauss(0, 5) / 1000 / KM_PER_DEGREE
            yield self._fix(self.rng.uniform(0, 2), ignition=False)
        self.latitude, self.longitude = centre

    def city_trip(self, minutes: float, interval: float = 10.0) -> Iterator[Fix]:
        """Legs of 1-3 minutes at 30-60 km/h, bending, with a turn, each ending at a red light."""
        end = self.time + minutes * 60
        while self.time < end:
            cruise = self.rng.uniform(30, 60)
            self.heading += self.rng.choice((-90, 0, 0, 90)) + self.rng.uniform(-10, 10)
            for step in range(round(self.rng.uniform(60, 180) / interval)):
                speed = min(cruise, 10 + step * 10) + self.rng.uniform(-3, 3)
                self.heading += self.rng.uniform(-4, 4)  # roads are not ruler-straight
                self.time += interval
                self._move(speed, interval)
                yield self._fix(speed, ignition=True)
            for _ in range(round(self.rng.uniform(0, 90) / interval)):
                self.time += interval
                yield self._fix(0.0, ignition=True)


def days(count: int) -> list[Fix]:
    """``count`` days of one vehicle: each night parked, then eight city trips of 10-40
    minutes with stops of half an hour to two hours."""
    vehicle = Vehicle(0)
    fixes: list[Fix] = []
    for index in range(count):
        midnight = START + index * 86400
        fixes += vehicle.park(max(0.0, midnight + 6 * 3600 - vehicle.time))
        for _ in range(8):
            fixes += vehicle.city_trip(vehicle.rng.uniform(10, 40))
            fixes += vehicle.park(vehicle.rng.uniform(30, 120) * 60)
    return fixes


def feed(fixes: list[Fix]) -> tuple[float, int]:
    """Seconds to feed ``fixes`` (with a tick each) through a fresh detector; trips found."""
    detector = TripDetector()
    add, tick = detector.add, detector.tick
    trips = 0
    begin = time.perf_counter()
    for fix in fixes:
        for event in add(fix, fix.time + 1.0):
            trips += isinstance(event, TripEnded)
        tick(fix.time + 1.0)
    return time.perf_counter() - begin, trips


def messages_of(fixes: list[Fix]) -> list[Message]:
    """The decoded H02 position messages the fixes would arrive as."""
    return [
        {
            p.IDENT: "4210051415",
            p.MESSAGE_TYPE: "V1",
            p.PROTOCOL_ID: "h02",
            p.TIMESTAMP: int(fix.time),
            p.LATITUDE: fix.latitude,
            p.LONGITUDE: fix.longitude,
            p.SPEED: fix.speed_kmh or 0.0,
            p.DIRECTION: 90.0,
            p.VALID: True,
            p.IGNITION: bool(fix.ignition),
            p.BATTERY_LEVEL: 80.0,
            p.STATE_BITMASK: 0xFFFFFBFF,
            p.GSM_MCC: 460.0,
        }
        for fix in fixes
    ]


def runtime_path(messages: list[Message], *, trips: bool) -> float:
    """Seconds for the runtime's per-message work on ``messages`` (one per frame, with a
    tick every sixth): the tracker model, and with ``trips`` trip detection too."""
    tracker = Tracker(offline_timeout=timedelta(minutes=30))
    detector = TripDetector()
    add, tick = detector.add_values, detector.tick
    begin = time.perf_counter()
    for index, message in enumerate(messages):
        now = datetime.fromtimestamp(message[p.TIMESTAMP] + 1.0, UTC)
        tracker.apply([message], now)
        if trips:
            received = now.timestamp()
            read_fix(message, received, add)  # as the trip log does
            _ = detector.current_km  # what the throttled trip sensors read
            if index % 6 == 0:
                tick(received)
        if index % 6 == 0:
            tracker.tick(now)
    return time.perf_counter() - begin


def bytes_per_trip(samples: int) -> tuple[list[int], list[int]]:
    """Stored JSON bytes of ``samples`` typical 30-minute city trips (a fix every 10 s):
    compact, and indented by 2 as Home Assistant's store writes it."""
    compact, indented = [], []
    for seed in range(samples):
        vehicle = Vehicle(seed)
        detector = TripDetector()
        for fix in [*vehicle.park(600), *vehicle.city_trip(30), *vehicle.park(900)]:
            detector.add(fix)
        [trip] = detector.trips(0, math.inf)
        compact.append(len(json.dumps(trip.as_dict(), separators=(",", ":"))))
        indented.append(len(json.dumps(trip.as_dict(), indent=2)))
    return compact, indented


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run (figures noisy)")
    args = parser.parse_args()
    day_count, repeat = (1, 1) if args.quick else (7, 5)
    fixes = days(day_count)
    timings = []
    trips = 0
    for _ in range(repeat):
        seconds, trips = feed(fixes)
        timings.append(seconds)
    best = min(timings)
    per_fix_us = best / len(fixes) * 1e6
    print(f"Python {sys.version.split()[0]}, one core")
    print(
        f"detector: {len(fixes):,} fixes ({day_count} simulated days, {trips} trips): "
        f"{len(fixes) / best:,.0f} fixes/s, {per_fix_us:.1f} us per fix (add + tick; "
        f"best of {repeat}, median {statistics.median(timings) / len(fixes) * 1e6:.1f} us)"
    )
    frames = 20_000
    decode_s, decoded = run(jt808_stream(frames))
    decode_us = decode_s / decoded * 1e6
    print(
        f"codec: {decode_us:.1f} us to decode a JT/T 808 position; the detector adds "
        f"{per_fix_us / decode_us:.0%} of that (Home Assistant's own work per message is "
        f"far more)"
    )
    messages = messages_of(fixes)
    without = min(runtime_path(messages, trips=False) for _ in range(repeat))
    with_trips = min(runtime_path(messages, trips=True) for _ in range(repeat))
    print(
        f"runtime path: {without / len(messages) * 1e6:.1f} us per position message "
        f"without trip detection, {with_trips / len(messages) * 1e6:.1f} us with it: "
        f"{with_trips / without - 1:+.0%} (the tracker model and the detector; Home "
        f"Assistant's entity writes, the same either way for a parked tracker, come on top)"
    )
    compact, indented = bytes_per_trip(5 if args.quick else 20)
    print(
        f"storage: {statistics.mean(compact):,.0f} bytes of JSON per 30-minute city trip "
        f"(min {min(compact):,}, max {max(compact):,}), {statistics.mean(indented):,.0f} "
        f"indented as Home Assistant's store writes it; 1,000 trips: "
        f"{statistics.mean(indented) * 1000 / 1e6:.1f} MB"
    )


if __name__ == "__main__":
    main()
