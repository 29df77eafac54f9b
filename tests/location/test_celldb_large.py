"""A 1,000,000-row export imports in bounded memory (the peak is printed)."""

from __future__ import annotations

from pathlib import Path
import time
import tracemalloc

import pytest

from custom_components.sinotrack.location import (
    CellDatabase,
    CellKey,
    ImportProgress,
    import_opencellid,
)

from .helpers import random_lines, write_large_gzip

ROWS = 1_000_000
BOUND_MIB = 64


def _rss_kib() -> tuple[int, int]:
    """(resident set size, its high-water mark) in KiB, (0, 0) where /proc has neither."""
    try:
        text = Path("/proc/self/status").read_text(encoding="ascii")
    except OSError:
        return 0, 0
    values = dict.fromkeys(("VmRSS", "VmHWM"), 0)
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in values:
            values[key] = int(rest.split()[0])
    return values["VmRSS"], values["VmHWM"]


def _reset_peak_rss() -> bool:
    """Reset this process's RSS high-water mark (Linux); False where it cannot be."""
    try:
        Path("/proc/self/clear_refs").write_text("5", encoding="ascii")
    except OSError:
        return False
    return True


@pytest.mark.timeout(300)
def test_million_rows_in_bounded_memory(tmp_path: Path) -> None:
    source = write_large_gzip(tmp_path / "world.csv.gz", ROWS)
    reports: list[ImportProgress] = []

    baseline_rss, _ = _rss_kib()
    peak_resettable = _reset_peak_rss()
    tracemalloc.start()
    started = time.perf_counter()
    try:
        result = import_opencellid(source, progress=reports.append)
        _, python_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    seconds = time.perf_counter() - started
    _, peak_rss = _rss_kib()
    rss_growth_mib = (peak_rss - baseline_rss) / 1024 if peak_resettable else float("nan")

    print(  # noqa: T201 - the figures the test is about
        f"\nimported {result.rows_read:,} rows ({source.stat().st_size / 2**20:.1f} MiB gzip) "
        f"in {seconds:.1f} s ({result.rows_read / seconds:,.0f} rows/s with tracemalloc on); "
        f"peak Python memory {python_peak / 2**20:.1f} MiB, "
        f"peak RSS growth {rss_growth_mib:.1f} MiB (SQLite included), "
        f"database {result.database.stat().st_size / 2**20:.1f} MiB"
    )
    assert (result.rows_read, result.rows_skipped, result.cells) == (ROWS, 0, ROWS)
    assert python_peak < BOUND_MIB * 2**20
    if peak_resettable:
        assert rss_growth_mib < BOUND_MIB
    assert len(reports) >= ROWS // 20_000
    assert reports[-1].bytes_read == source.stat().st_size

    # The first row written is found, with its position.
    first = next(iter(random_lines(1)))  # the same generator, the same seed
    fields = first.split(",")
    database = CellDatabase(result.database)
    mcc, mnc, lac, cell = (int(v) for v in fields[1:5])
    position = database.lookup(CellKey(mcc, mnc, lac, cell))
    database.close()
    assert position is not None
    assert (position.longitude, position.latitude) == (float(fields[6]), float(fields[7]))
