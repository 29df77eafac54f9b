"""What the benchmarks measure in their own process (loop lag, GC pauses, CPU, memory), and
the loopback source addresses their simulated peers connect from.

Shared by ``bench_load`` and ``bench_flood``; figures are printed, never asserted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
import gc
import math
import os
from pathlib import Path
import time
from typing import Any


def loopback_source(block: int, index: int) -> str:
    """The address ``127.<block>.<index // 250>.<index % 250 + 1>`` (all of 127/8 is local).

    Distinct addresses make distinct sources for the listener, so that its per-source caps
    and budgets apply to simulated peers as they would to peers on the internet.
    """
    return f"127.{block}.{index // 250}.{index % 250 + 1}"


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (``nan`` for no values)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(pct / 100 * len(ordered)) - 1))
    return ordered[rank]


def spread(values: list[float]) -> tuple[float, float, float]:
    """(p50, p99, max); ``nan`` for no values."""
    return percentile(values, 50), percentile(values, 99), max(values, default=math.nan)


@dataclass(slots=True)
class Window:
    """A phase: wall-clock bounds and the CPU time of this process over it."""

    name: str
    start: float = 0.0
    end: float = 0.0
    cpu: float = 0.0
    _cpu_start: float = 0.0

    def begin(self) -> None:
        """Start the phase now."""
        self.start = time.time()
        self._cpu_start = time.process_time()

    def finish(self, end: float | None = None) -> None:
        """End the phase now (or at ``end``, wall clock); CPU is counted until now."""
        self.end = time.time() if end is None else end
        self.cpu = time.process_time() - self._cpu_start

    def __contains__(self, when: float) -> bool:
        return self.start <= when < self.end

    @property
    def seconds(self) -> float:
        """Length of the phase."""
        return self.end - self.start

    @property
    def cpu_percent(self) -> float:
        """CPU of this process over the phase, percent of one core."""
        return 100 * self.cpu / self.seconds if self.seconds > 0 else math.nan


class GcMonitor:
    """Garbage collections of this process: when, which generation, how long (``gc.callbacks``).

    They are reported apart from the listener's own cost: in Home Assistant they are the whole
    process's, not the listener's.
    """

    def __init__(self) -> None:
        self.pauses: list[tuple[float, int, float]] = []
        """(wall time at the start, generation, seconds)."""
        self.total = 0.0
        """Seconds spent collecting so far (every generation)."""
        self._started = 0.0
        self._wall = 0.0

    def __enter__(self) -> GcMonitor:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *_: object) -> None:
        gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._wall = time.time()
            self._started = time.perf_counter()
            return
        seconds = time.perf_counter() - self._started
        self.total += seconds
        self.pauses.append((self._wall, info["generation"], seconds))

    def summary(self, window: Window, *, full_only: bool = True) -> str:
        """``count, longest N ms`` of the collections in ``window`` (generation 2 only)."""
        pauses = [
            seconds * 1000
            for wall, generation, seconds in self.pauses
            if wall in window and (generation == 2 or not full_only)
        ]
        if not pauses:
            return "none"
        return f"{len(pauses)}, longest {max(pauses):,.0f} ms"

    def detail(self, window: Window) -> str:
        """Every generation in ``window``: count, total and longest pause."""
        parts = []
        for generation in (0, 1, 2):
            pauses = [
                seconds * 1000
                for wall, gen, seconds in self.pauses
                if wall in window and gen == generation
            ]
            if pauses:
                parts.append(
                    f"gen{generation} {len(pauses)}x total {sum(pauses):,.0f} ms "
                    f"max {max(pauses):,.1f} ms"
                )
        return "; ".join(parts) or "none"


class LagMonitor:
    """A timer every ``interval`` seconds that records how late it runs.

    Each sample also carries the garbage-collection time spent since the previous tick, so
    that the lag can be shown net of it (``lag_ms(..., net_of_gc=True)``).
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        interval: float,
        gc_monitor: GcMonitor | None = None,
        on_tick: Callable[[float], None] | None = None,
    ) -> None:
        self._loop = loop
        self.interval = interval
        self._gc = gc_monitor
        self._on_tick = on_tick
        self.samples: list[tuple[float, float, float]] = []
        """(wall time, lateness in seconds, GC seconds since the previous tick)."""
        self._due = 0.0
        self._gc_seen = 0.0
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        """Start ticking."""
        self._gc_seen = self._gc.total if self._gc is not None else 0.0
        self._due = self._loop.time() + self.interval
        self._handle = self._loop.call_at(self._due, self._tick)

    def stop(self) -> None:
        """Stop ticking."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _tick(self) -> None:
        now = self._loop.time()
        wall = time.time()
        collected = 0.0
        if self._gc is not None:
            collected = self._gc.total - self._gc_seen
            self._gc_seen = self._gc.total
        self.samples.append((wall, now - self._due, collected))
        if self._on_tick is not None:
            self._on_tick(wall)
        self._due = now + self.interval
        self._handle = self._loop.call_at(self._due, self._tick)

    def lag_ms(self, window: Window, *, net_of_gc: bool = False) -> tuple[float, float, float]:
        """(p50, p99, max) lateness in ms over ``window``, optionally minus the GC time.

        A tick counts when it was due inside the window: a stall that began in the window
        and ended after it is the window's (its tick runs only once the stall is over).
        """
        return spread(
            [
                max(0.0, late - (collected if net_of_gc else 0.0)) * 1000
                for wall, late, collected in self.samples
                if window.start <= wall and wall - late < window.end
            ]
        )


def rss_kib() -> tuple[int, int]:
    """(resident set size, its high-water mark) of this process in KiB; (0, 0) if unknown."""
    try:
        text = Path("/proc/self/status").read_text(encoding="ascii")
    except OSError:
        return 0, 0
    values = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in {"VmRSS", "VmHWM"}:
            values[key] = int(rest.split()[0])
    return values.get("VmRSS", 0), values.get("VmHWM", 0)


def ms3(values: tuple[float, float, float]) -> str:
    """``p50 / p99 / max ms``."""
    return "{:,.1f} / {:,.1f} / {:,.1f} ms".format(*values)


def flatten(data: Any, prefix: str = "") -> Iterator[tuple[str, float]]:
    """Numeric leaves of a nested dict (a listener's diagnostics) as ``(dotted.key, value)``."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from flatten(value, f"{prefix}{key}.")
    elif isinstance(data, int | float) and not isinstance(data, bool):
        yield prefix.rstrip("."), float(data)


def listener_counters(diagnostics: dict[str, Any]) -> dict[str, float]:
    """A listener's diagnostics counters; its configuration and per-tracker part left out."""
    skip = ("config", "trackers", "addresses", "serving")
    return dict(flatten({key: value for key, value in diagnostics.items() if key not in skip}))


def pin(cpu: int) -> bool:
    """Pin this process to ``cpu`` when there are at least two."""
    try:
        if len(os.sched_getaffinity(0)) < 2:
            return False
        os.sched_setaffinity(0, {cpu})
    except AttributeError, OSError:
        return False
    return True
