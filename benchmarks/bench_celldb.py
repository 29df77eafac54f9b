"""Cost of the offline cell database: import rate, peak memory, lookup latency.

Generated OpenCelliD exports (gzip, cells in scattered key order, as a world file has them)
of growing size are imported into SQLite; the peak resident memory of each import shows
that it does not grow with the file. Lookups of known and unknown cells are timed in this
thread and through a worker thread (what the event loop waits for in Home Assistant).
Figures are printed, never asserted.

    python -m benchmarks.bench_celldb
    python -m benchmarks.bench_celldb --quick      # a smoke run (small files)
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
from pathlib import Path
import random
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._measure import rss_kib, spread
from custom_components.sinotrack.location import (
    CellDatabase,
    CellKey,
    import_opencellid,
    needs_import,
)

HEADER = (
    "radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal"
)
RADIOS = ("GSM", "UMTS", "LTE", "NR")


def cell_of(index: int, count: int) -> tuple[int, int, int, int]:
    """The scattered (mcc, mnc, lac, cell) of row ``index`` of ``count``."""
    scattered = (index * 2_654_435_761) % (count * 7 + 1)
    return 200 + scattered % 600, scattered % 40, (scattered // 40) % 65_000, scattered


def write_export(path: Path, count: int, seed: int = 7) -> None:
    """A gzip export of ``count`` rows, 1 in 50 a duplicate cell of another radio."""
    rng = random.Random(seed)
    with gzip.open(path, "wt", encoding="ascii", compresslevel=6) as file:
        file.write(HEADER + "\n")
        chunk: list[str] = []
        for index in range(count):
            mcc, mnc, lac, cell = cell_of(index - 1 if index % 50 == 49 else index, count)
            chunk.append(
                f"{RADIOS[index % 4]},{mcc},{mnc},{lac},{cell},0,{rng.uniform(-180, 180):.6f},"
                f"{rng.uniform(-60, 70):.6f},{rng.randrange(100, 20_000)},{rng.randrange(1, 900)},"
                "1,1459813000,1710000000,0"
            )
            if len(chunk) == 10_000:
                file.write("\n".join(chunk) + "\n")
                chunk.clear()
        if chunk:
            file.write("\n".join(chunk) + "\n")


def reset_peak() -> bool:
    """Reset this process's peak RSS (Linux); False where it cannot be."""
    try:
        Path("/proc/self/clear_refs").write_text("5", encoding="ascii")
    except OSError:
        return False
    return True


def bench_import(folder: Path, count: int) -> None:
    """Import an export of ``count`` rows; print its rate and peak memory."""
    source = folder / f"cells-{count}.csv.gz"
    write_export(source, count)
    rss_before, _ = rss_kib()
    resettable = reset_peak()
    started = time.perf_counter()
    result = import_opencellid(source)
    seconds = time.perf_counter() - started
    _, peak = rss_kib()
    growth = f"{(peak - rss_before) / 1024:,.1f} MiB" if resettable else "unknown"
    print(
        f"import {count:>10,} rows ({source.stat().st_size / 2**20:,.1f} MiB gzip): "
        f"{seconds:6.1f} s, {result.rows_read / seconds:,.0f} rows/s; peak RSS growth {growth}; "
        f"{result.cells:,} cells ({result.duplicates:,} duplicates resolved), database "
        f"{result.database.stat().st_size / 2**20:,.1f} MiB "
        f"({result.database.stat().st_size / result.cells:.0f} bytes a cell)"
    )
    started = time.perf_counter()
    unchanged = not needs_import(source)
    print(f"  unchanged-file check: {(time.perf_counter() - started) * 1000:.1f} ms ({unchanged=})")


def bench_lookups(database: Path, count: int, lookups: int) -> None:
    """Time lookups of known and unknown cells, here and through a worker thread."""
    rng = random.Random(3)
    cells = CellDatabase(database)
    known = [CellKey(*cell_of(rng.randrange(count), count)) for _ in range(lookups)]
    unknown = [CellKey(999, 99, 1, rng.randrange(1 << 30)) for _ in range(lookups)]
    for name, keys in (("known", known), ("unknown", unknown)):
        timings = []
        for key in keys:
            started = time.perf_counter()
            cells.lookup(key)
            timings.append((time.perf_counter() - started) * 1e6)
        print(
            "lookup {:7}: p50 {:.1f} / p99 {:.1f} / max {:.1f} us (same thread)".format(
                name, *spread(timings)
            )
        )

    async def through_thread() -> list[float]:
        timings = []
        for key in known[: lookups // 4]:
            started = time.perf_counter()
            await asyncio.to_thread(cells.lookup, key)
            timings.append((time.perf_counter() - started) * 1e6)
        return timings

    print(
        "lookup via worker thread: p50 {:.1f} / p99 {:.1f} / max {:.1f} us".format(
            *spread(asyncio.run(through_thread()))
        )
    )
    cells.close()


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="small files, a smoke run")
    parser.add_argument("--import-only", type=int, metavar="ROWS", help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.import_only:  # one import in a fresh process: an honest peak
        bench_import(args.folder, args.import_only)
        return
    sizes = (20_000, 100_000) if args.quick else (250_000, 1_000_000, 3_000_000)
    print(f"Python {sys.version.split()[0]}, one core; each import in a fresh process")
    with tempfile.TemporaryDirectory() as folder:
        for count in sizes:
            subprocess.run(  # noqa: S603 - this interpreter, this module
                [
                    sys.executable,
                    "-m",
                    "benchmarks.bench_celldb",
                    "--import-only",
                    str(count),
                    "--folder",
                    folder,
                ],
                check=True,
                cwd=Path(__file__).resolve().parents[1],
            )
        database = Path(folder) / f"cells-{sizes[-1]}.cells.sqlite"
        bench_lookups(database, sizes[-1], 2_000 if args.quick else 20_000)


if __name__ == "__main__":
    main()
