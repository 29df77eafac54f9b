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

    # The peak resident memory covers SQLite's own allocations too; where it cannot be
    # reset (no /proc), Python's allocations are traced instead (slower).
    python_peak = 0
    baseline_rss, _ = _rss_kib()
    by_rss = _reset_peak_rss()
    if not by_rss:
        tracemalloc.start()
    started = time.perf_counter()
    try:
        result = import_opencellid(source, progress=reports.append)
    finally:
        if not by_rss:
            _, python_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    seconds = time.perf_counter() - started
    if by_rss:
        peak_mib = (_rss_kib()[1] - baseline_rss) / 1024
        measure = "peak RSS growth (SQLite included)"
    else:
        peak_mib = python_peak / 2**20
        measure = "peak Python memory (tracemalloc)"

    print(  # noqa: T201 - the figures the test is about
        f"\nimported {result.rows_read:,} rows ({source.stat().st_size / 2**20:.1f} MiB gzip) "
        f"in {seconds:.1f} s ({result.rows_read / seconds:,.0f} rows/s); "
        f"{measure} {peak_mib:.1f} MiB; "
        f"database {result.database.stat().st_size / 2**20:.1f} MiB"
    )
    assert peak_mib < BOUND_MIB
    assert (result.rows_read, result.rows_skipped, result.cells) == (ROWS, 0, ROWS)
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
