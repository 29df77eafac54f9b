"""A folder's exports: imported when new or changed, progress reported, databases opened."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import gzip
from pathlib import Path
import threading
from typing import Any

from custom_components.sinotrack.location import (
    CellKey,
    CellResolver,
    OfflineCells,
    OfflineStatus,
)

from .helpers import Tower, random_lines, write_export

BERLIN = Tower(262, 2, 801, 86355, 52.52, 13.405, range_m=1200)
PARIS = Tower(208, 10, 29185, 43941, 48.8566, 2.3522)


def started(seen: list[OfflineStatus]) -> list[str]:
    """The files whose import started, in order."""
    return [s.importing for s in seen if s.importing is not None and s.progress is None]


def names(folder: Path) -> list[str]:
    """The names of the files in ``folder``."""
    return sorted(p.name for p in folder.iterdir())


def lookup(offline: OfflineCells, cell: CellKey) -> float | None:
    """The latitude the offline databases give ``cell``."""
    for database in offline.databases:
        position = database.lookup(cell)
        if position is not None:
            return position.latitude
    return None


async def test_folder_imported_then_unchanged_then_changed(tmp_path: Path) -> None:
    write_export(tmp_path / "262.csv.gz", [BERLIN.line()])
    write_export(tmp_path / "208.csv", [PARIS.line(), "broken row"])
    seen: list[OfflineStatus] = []
    offline = OfflineCells(tmp_path, on_status=seen.append)

    status = await offline.refresh()

    assert status == OfflineStatus(files=("208.cells.sqlite", "262.cells.sqlite"), cells=2)
    assert started(seen) == ["208.csv", "262.csv.gz"]
    assert lookup(offline, CellKey(262, 2, 801, 86355)) == 52.52
    assert lookup(offline, CellKey(208, 10, 29185, 43941)) == 48.8566

    seen.clear()
    await offline.refresh()
    assert [s.importing for s in seen] == [None]  # nothing imported again

    moved = Tower(262, 2, 801, 86355, 50.0, 8.0, samples=99)
    write_export(tmp_path / "262.csv.gz", [moved.line(), Tower(262, 1, 1, 1, 1.0, 1.0).line()])
    seen.clear()
    status = await offline.refresh()
    assert started(seen) == ["262.csv.gz"]
    assert status.cells == 3
    assert lookup(offline, CellKey(262, 2, 801, 86355)) == 50.0
    offline.close()


async def test_progress_comes_to_the_loop(tmp_path: Path) -> None:
    write_export(tmp_path / "big.csv.gz", random_lines(60_000))
    seen: list[tuple[OfflineStatus, bool]] = []
    loop_thread = threading.get_ident()
    offline = OfflineCells(
        tmp_path, on_status=lambda s: seen.append((s, threading.get_ident() == loop_thread))
    )

    await offline.refresh()

    assert all(on_loop for _, on_loop in seen)
    progress = [s.progress for s, _ in seen if s.progress is not None]
    assert progress  # at least the last one
    assert progress[-1].bytes_read == progress[-1].bytes_total
    assert progress[-1].rows_imported == 60_000
    assert seen[-1][0] == OfflineStatus(files=("big.cells.sqlite",), cells=60_000)
    offline.close()


async def test_a_failed_import_keeps_the_previous_database(tmp_path: Path) -> None:
    source = write_export(tmp_path / "262.csv.gz", [BERLIN.line()])
    offline = OfflineCells(files=[source])
    await offline.refresh()
    whole = gzip.compress("\n".join(random_lines(5000)).encode())
    source.write_bytes(whole[: len(whole) // 2])

    status = await offline.refresh()

    assert status.files == ("262.cells.sqlite",)
    assert status.cells == 1
    assert [name for name, _ in status.failed] == ["262.csv.gz"]
    assert lookup(offline, CellKey(262, 2, 801, 86355)) == 52.52
    offline.close()


async def test_a_database_stays_in_use_when_its_export_is_removed(tmp_path: Path) -> None:
    source = write_export(tmp_path / "262.csv.gz", [BERLIN.line()])
    offline = OfflineCells(tmp_path)
    await offline.refresh()
    source.unlink()

    status = await offline.refresh()

    assert status.files == ("262.cells.sqlite",)
    assert lookup(offline, CellKey(262, 2, 801, 86355)) == 52.52
    offline.close()


async def test_cancel_stops_the_import(tmp_path: Path) -> None:
    write_export(tmp_path / "big.csv.gz", random_lines(200_000))
    progress: list[int] = []

    def on_status(status: OfflineStatus) -> None:
        if status.progress is not None:
            progress.append(status.progress.rows_imported)
            offline.cancel()

    offline = OfflineCells(tmp_path, on_status=on_status)
    await asyncio.wait_for(offline.refresh(), 10)

    assert len(progress) == 1
    assert progress[0] < 200_000
    assert offline.databases == []
    assert names(tmp_path) == ["big.csv.gz"]  # no database, no leftover


async def test_the_given_executor_runs_the_blocking_work(tmp_path: Path) -> None:
    write_export(tmp_path / "262.csv", [BERLIN.line()])
    jobs: list[str] = []

    async def executor(function: Callable[[], Any]) -> Any:
        jobs.append(getattr(function, "func", function).__name__)
        return await asyncio.to_thread(function)

    offline = OfflineCells(tmp_path, executor=executor)
    await offline.refresh()

    assert jobs == ["_exports", "needs_import", "import_opencellid", "_present"]
    resolver = CellResolver(offline.databases)
    position = await resolver.resolve(CellKey(262, 2, 801, 86355))
    assert position is not None
    offline.close()


async def test_an_empty_or_missing_folder(tmp_path: Path) -> None:
    offline = OfflineCells(tmp_path / "missing")

    assert await offline.refresh() == OfflineStatus()
    assert offline.databases == []
