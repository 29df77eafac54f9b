"""The OpenCelliD import and the offline lookups."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
import gzip
import itertools
import os
from pathlib import Path
import sqlite3
import threading

import pytest

from custom_components.sinotrack.location import (
    CellDatabase,
    CellImportError,
    CellKey,
    CellPosition,
    ImportCancelledError,
    ImportProgress,
    database_path,
    find_exports,
    import_opencellid,
    needs_import,
    read_info,
)

from .helpers import Tower, random_lines, write_export

BERLIN = Tower(262, 2, 801, 86355, 52.5200, 13.4050, range_m=1200, samples=40)
MUNICH = Tower(262, 1, 12, 268435455, 48.1372, 11.5756, range_m=3000, samples=5, radio="LTE")
PARIS = Tower(208, 10, 29185, 43941, 48.8566, 2.3522, range_m=0, samples=2)


def test_import_then_lookup(tmp_path: Path) -> None:
    source = write_export(tmp_path / "262.csv.gz", [BERLIN.line(), MUNICH.line(), PARIS.line()])

    result = import_opencellid(source)

    assert result.database == tmp_path / "262.cells.sqlite"
    assert (result.rows_read, result.rows_imported, result.rows_skipped) == (3, 3, 0)
    assert result.cells == 3
    database = CellDatabase(result.database)
    try:
        assert database.lookup(CellKey(262, 2, 801, 86355)) == CellPosition(
            52.52, 13.405, 1200.0, "opencellid"
        )
        munich = database.lookup(CellKey(262, 1, 12, 268435455, radio="GSM"))
        assert munich is not None  # the radio a tracker may give does not matter
        assert (munich.latitude, munich.longitude, munich.accuracy_m) == (48.1372, 11.5756, 3000)
        # A range of 0 (unknown) is not an accuracy of 0 m.
        paris = database.lookup(CellKey(208, 10, 29185, 43941))
        assert paris is not None
        assert paris.accuracy_m == 100.0
        assert database.lookup(CellKey(262, 2, 801, 86356)) is None
        assert database.lookup(CellKey(262, 3, 801, 86355)) is None
        assert database.lookup(CellKey(0, 0, 0, 0)) is None
    finally:
        database.close()


def test_plain_csv_without_header(tmp_path: Path) -> None:
    source = write_export(tmp_path / "cells.csv", [BERLIN.line(), PARIS.line()], header=False)

    result = import_opencellid(source, tmp_path / "towers.sqlite")

    assert (result.rows_read, result.cells, result.rows_skipped) == (2, 2, 0)
    database = CellDatabase(tmp_path / "towers.sqlite")
    assert database.lookup(CellKey(208, 10, 29185, 43941)) is not None
    database.close()


def test_gzip_is_recognised_by_content_not_name(tmp_path: Path) -> None:
    source = write_export(tmp_path / "export.csv", [BERLIN.line()], compress=True)

    assert import_opencellid(source).cells == 1


@pytest.mark.parametrize(
    "line",
    [
        "GSM,262,2,801,86355,0,13.405,52.52,1200,40,1,1459813000,1459813000",  # 13 columns
        "GSM,262,2,801,86355,0,13.405,52.52,1200,40,1,1459813000,1459813000,0,9",  # 15
        "GSM,262,two,801,86355,0,13.405,52.52,1200,40,1,1459813000,1459813000,0",
        "GSM,262,2,801,86355,0,13.405,north,1200,40,1,1459813000,1459813000,0",
        "GSM,262,2,801,86355,0,13.405,91.5,1200,40,1,1459813000,1459813000,0",
        "GSM,262,2,801,86355,0,-180.5,52.52,1200,40,1,1459813000,1459813000,0",
        "GSM,262,2,801,86355,0,nan,52.52,1200,40,1,1459813000,1459813000,0",
        "GSM,262,2,801,86355,0,0,0,1200,40,1,1459813000,1459813000,0",
        "GSM,1000,2,801,86355,0,13.405,52.52,1200,40,1,1459813000,1459813000,0",
        "GSM,262,2,801,-5,0,13.405,52.52,1200,40,1,1459813000,1459813000,0",
        "GSM,262,2,801,86355,0,13.405,52.52,-1,40,1,1459813000,1459813000,0",
        "GSM,262,2,801,86355,0,13.405,52.52,1e400,40,1,1459813000,1459813000,0",
        "GSM,262,2,801,86355,0,13.405,52.52,nan,40,1,1459813000,1459813000,0",
        "GSM,262,2,801,86355,0,13.405,1e400,1000,40,1,1459813000,1459813000,0",
        "WIFI,262,2,801,86355,0,13.405,52.52,1200,40,1,1459813000,1459813000,0",
        "",
        "\x00\x01garbage",
    ],
)
def test_malformed_rows_are_counted_and_skipped(tmp_path: Path, line: str) -> None:
    source = write_export(tmp_path / "262.csv", [PARIS.line(), line, MUNICH.line()])

    result = import_opencellid(source)

    assert (result.rows_read, result.rows_imported, result.rows_skipped) == (3, 2, 1)
    assert result.cells == 2
    info = read_info(result.database)
    assert info is not None
    assert info.rows_skipped == 1
    database = CellDatabase(result.database)
    assert database.lookup(CellKey(262, 2, 801, 86355)) is None
    database.close()


def test_duplicates_keep_most_samples_then_smallest_range(tmp_path: Path) -> None:
    cell = (262, 2, 801, 86355)
    rows = [
        Tower(*cell, lat=52.0, lon=13.0, range_m=500, samples=3, radio="GSM"),
        Tower(*cell, lat=52.1, lon=13.1, range_m=9000, samples=50, radio="UMTS"),  # kept
        Tower(*cell, lat=52.2, lon=13.2, range_m=100, samples=7, radio="LTE"),
        Tower(*cell, lat=52.3, lon=13.3, range_m=9500, samples=50, radio="NR"),
        Tower(1, 1, 1, 1, lat=10.0, lon=10.0, range_m=800, samples=4),
        Tower(1, 1, 1, 1, lat=11.0, lon=11.0, range_m=600, samples=4),  # kept: same samples
        Tower(1, 1, 1, 1, lat=12.0, lon=12.0, range_m=700, samples=4),
    ]
    source = write_export(tmp_path / "dup.csv", [row.line() for row in rows])

    result = import_opencellid(source, batch_rows=2)  # duplicates across batches too

    assert (result.rows_imported, result.cells, result.duplicates) == (7, 2, 5)
    database = CellDatabase(result.database)
    assert database.lookup(CellKey(*cell)) == CellPosition(52.1, 13.1, 9000.0, "opencellid")
    assert database.lookup(CellKey(1, 1, 1, 1)) == CellPosition(11.0, 11.0, 600.0, "opencellid")
    database.close()


@pytest.mark.parametrize("name", ["big.csv.gz", "big.csv"])
def test_progress_reports_rows_and_bytes(tmp_path: Path, name: str) -> None:
    source = write_export(tmp_path / name, [*random_lines(2500), "bad,row"])
    seen: list[ImportProgress] = []

    result = import_opencellid(source, progress=seen.append, batch_rows=1000)

    assert len(seen) >= 3
    assert [p.rows_imported for p in seen[:2]] == [1000, 2000]
    assert all(a.bytes_read <= b.bytes_read for a, b in itertools.pairwise(seen))
    last = seen[-1]
    assert (last.rows_read, last.rows_imported, last.rows_skipped) == (2501, 2500, 1)
    assert last.bytes_read == last.bytes_total == source.stat().st_size
    assert last.fraction == 1.0
    assert result.cells == 2500


def test_unchanged_file_is_not_reimported_a_changed_one_is(tmp_path: Path) -> None:
    source = write_export(tmp_path / "262.csv", [BERLIN.line()])
    database = database_path(source)
    assert needs_import(source)

    import_opencellid(source)
    assert not needs_import(source)

    moved = Tower(262, 2, 801, 86355, 52.6, 13.5, range_m=700, samples=60)
    write_export(source, [moved.line(), PARIS.line()])
    assert needs_import(source)  # size and content changed
    import_opencellid(source)
    assert not needs_import(source)
    lookups = CellDatabase(database)
    assert lookups.lookup(CellKey(262, 2, 801, 86355)) == CellPosition(
        52.6, 13.5, 700.0, "opencellid"
    )
    lookups.close()

    # Same size and content, another modification time: imported again (a new download).
    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert needs_import(source)


def test_same_size_and_time_but_other_content_is_reimported(tmp_path: Path) -> None:
    source = write_export(tmp_path / "262.csv", [BERLIN.line()])
    import_opencellid(source)
    stat = source.stat()
    text = source.read_text()
    source.write_text(text.replace("52.52", "52.53"))
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert source.stat().st_size == stat.st_size

    assert needs_import(source)


def test_database_of_another_version_or_corrupt_needs_import(tmp_path: Path) -> None:
    source = write_export(tmp_path / "262.csv", [BERLIN.line()])
    result = import_opencellid(source)
    with sqlite3.connect(result.database) as connection:
        connection.execute("UPDATE meta SET value = '0' WHERE key = 'schema_version'")
    connection.close()
    assert needs_import(source)

    result.database.write_bytes(b"not a database at all")
    assert needs_import(source)
    assert read_info(result.database) is None
    assert CellDatabase(result.database).lookup(CellKey(262, 2, 801, 86355)) is None


def test_a_truncated_file_fails_and_the_old_database_stays(tmp_path: Path) -> None:
    source = write_export(tmp_path / "262.csv.gz", [BERLIN.line()])
    import_opencellid(source)
    whole = gzip.compress("\n".join(random_lines(20_000)).encode())
    source.write_bytes(whole[: len(whole) // 2])

    with pytest.raises(CellImportError, match=r"262\.csv\.gz"):
        import_opencellid(source, batch_rows=500)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["262.cells.sqlite", "262.csv.gz"]
    database = CellDatabase(database_path(source))
    assert database.lookup(CellKey(262, 2, 801, 86355)) is not None
    database.close()
    assert needs_import(source)


def test_cancel_keeps_the_old_database(tmp_path: Path) -> None:
    source = write_export(tmp_path / "262.csv", [BERLIN.line()])
    import_opencellid(source)
    write_export(source, random_lines(5000))
    cancel = threading.Event()

    def progress(done: ImportProgress) -> None:
        if done.rows_imported >= 1000:
            cancel.set()

    with pytest.raises(ImportCancelledError):
        import_opencellid(source, progress=progress, cancel=cancel, batch_rows=1000)

    info = read_info(database_path(source))
    assert info is not None
    assert info.cells == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["262.cells.sqlite", "262.csv"]


def test_leftovers_of_an_interrupted_import_are_removed(tmp_path: Path) -> None:
    source = write_export(tmp_path / "262.csv", [BERLIN.line()])
    stale = tmp_path / ".262.cells.sqlite.999.1.tmp"
    stale.write_bytes(b"half an import")

    import_opencellid(source)

    assert not stale.exists()


def test_info_says_what_was_imported(tmp_path: Path) -> None:
    source = write_export(tmp_path / "262.csv", [BERLIN.line(), PARIS.line(), "x"])
    result = import_opencellid(source)

    info = CellDatabase(result.database).info()

    assert info is not None
    assert (info.cells, info.source, info.rows_skipped) == (2, "262.csv", 1)
    assert info.fingerprint == result.fingerprint
    assert read_info(tmp_path / "missing.sqlite") is None


def test_lookups_from_several_threads_and_after_a_new_import(tmp_path: Path) -> None:
    source = write_export(tmp_path / "262.csv", [BERLIN.line()])
    import_opencellid(source)
    database = CellDatabase(database_path(source))
    key = CellKey(262, 2, 801, 86355)
    with ThreadPoolExecutor(4) as pool:
        first = list(pool.map(lambda _: database.lookup(key), range(40)))
        assert all(p is not None and p.latitude == 52.52 for p in first)

        moved = Tower(262, 2, 801, 86355, 50.0, 8.0, samples=99)
        write_export(source, [moved.line()])
        import_opencellid(source)

        after = list(pool.map(lambda _: database.lookup(key), range(40)))
        assert all(p is not None and p.latitude == 50.0 for p in after)
    database.close()


def test_the_database_is_opened_read_only(tmp_path: Path) -> None:
    source = write_export(tmp_path / "262.csv", [BERLIN.line()])
    import_opencellid(source)
    database = CellDatabase(database_path(source))
    assert database.lookup(CellKey(262, 2, 801, 86355)) is not None
    connection = database._local.connection

    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        connection.execute("DELETE FROM cells")
    database.close()


def test_missing_database_gives_none(tmp_path: Path) -> None:
    database = CellDatabase(tmp_path / "nothing.sqlite")

    assert database.lookup(CellKey(262, 2, 801, 86355)) is None
    assert database.info() is None


def test_a_missing_file_fails_cleanly(tmp_path: Path) -> None:
    with pytest.raises(CellImportError, match="missing"):
        import_opencellid(tmp_path / "missing.csv.gz")

    source = write_export(tmp_path / "gone.csv", [BERLIN.line()])
    import_opencellid(source)
    source.unlink()
    with pytest.raises(OSError, match="gone"):
        needs_import(source)
    assert read_info(database_path(source)) is not None  # the database stays


def test_imports_at_once_run_one_after_the_other(tmp_path: Path) -> None:
    source = write_export(tmp_path / "262.csv.gz", random_lines(30_000))

    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda _: import_opencellid(source, batch_rows=1000), range(3)))

    assert [r.cells for r in results] == [30_000] * 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["262.cells.sqlite", "262.csv.gz"]
    info = read_info(database_path(source))
    assert info is not None
    assert info.cells == 30_000


def test_exports_of_a_folder_and_their_databases(tmp_path: Path) -> None:
    for name in ("262.csv.gz", "208.csv", "notes.txt", ".hidden.csv"):
        (tmp_path / name).write_text("")
    (tmp_path / "folder.csv").mkdir()

    found = find_exports(tmp_path)

    assert [p.name for p in found] == ["208.csv", "262.csv.gz"]
    assert [database_path(p).name for p in found] == ["208.cells.sqlite", "262.cells.sqlite"]
    assert find_exports(tmp_path / "missing") == []


def test_a_file_without_any_cell_is_not_imported(tmp_path: Path) -> None:
    source = tmp_path / "262.csv.gz"
    source.write_bytes(gzip.compress(b"<html>Too many downloads today</html>\n" * 50))
    progress: list[ImportProgress] = []

    with pytest.raises(CellImportError, match="not an OpenCelliD export"):
        import_opencellid(source, progress=progress.append, batch_rows=10)

    assert [p.rows_skipped for p in progress] == [10, 20, 30, 40, 50]  # reported meanwhile
    assert sorted(p.name for p in tmp_path.iterdir()) == ["262.csv.gz"]
    assert needs_import(source)
