"""The offline cell database: an OpenCelliD export imported into an indexed SQLite file.

Everything here blocks (file and SQLite I/O): call it from a worker thread (in Home
Assistant, ``hass.async_add_executor_job``), never from the event loop.

The import streams the CSV (plain or gzip) line by line and writes it in batches inside one
transaction to a temporary database beside the final one, renamed into place once complete:
a half-done import is never used, and memory stays bounded whatever the file's size.
Malformed rows (wrong column count, bad numbers, coordinates out of range) are counted and
skipped. When one cell (MCC, MNC, LAC, cell ID) appears several times (once per radio, or
repeated), the row with the most samples is kept, and of equal samples the smallest range.
The source file's size, modification time and a hash of its first MiB are kept in the
database: :func:`needs_import` says whether the file changed since.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
import contextlib
from dataclasses import dataclass
import gzip
import hashlib
import io
import logging
import math
import os
from pathlib import Path
import sqlite3
import threading
import time
from typing import IO, Final

from .cells import RADIOS, CellKey, CellPosition

_LOGGER = logging.getLogger(__name__)

SCHEMA_VERSION: Final = 1
COLUMNS: Final = 14
"""radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal"""
HEAD_BYTES: Final = 1 << 20
"""How much of the source is hashed to tell a changed file (with its size and time)."""
BATCH_ROWS: Final = 20_000
MIN_RANGE_M: Final = 100.0
"""The accuracy given to a cell whose range is unknown (0) or implausibly small."""
MAX_RANGE_M: Final = 100_000.0

_SCHEMA: Final = """
CREATE TABLE cells (
    mcc INTEGER NOT NULL,
    mnc INTEGER NOT NULL,
    lac INTEGER NOT NULL,
    cell INTEGER NOT NULL,
    radio TEXT NOT NULL,
    lat REAL NOT NULL,
    lon REAL NOT NULL,
    range INTEGER NOT NULL,
    samples INTEGER NOT NULL,
    PRIMARY KEY (mcc, mnc, lac, cell)
) WITHOUT ROWID;
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
"""
_UPSERT: Final = """
INSERT INTO cells (radio, mcc, mnc, lac, cell, lon, lat, range, samples)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (mcc, mnc, lac, cell) DO UPDATE SET
    radio = excluded.radio, lat = excluded.lat, lon = excluded.lon,
    range = excluded.range, samples = excluded.samples
WHERE excluded.samples > cells.samples
    OR (excluded.samples = cells.samples AND excluded.range < cells.range)
"""
_LOOKUP: Final = (
    "SELECT lat, lon, range FROM cells WHERE mcc = ? AND mnc = ? AND lac = ? AND cell = ?"
)

type Row = tuple[str, int, int, int, int, float, float, int, int]

_IMPORT_LOCK: Final = threading.Lock()
"""One import at a time in this process (each may remove another's leftovers)."""


class CellImportError(Exception):
    """The import failed (unreadable or truncated file, disk full): the old database stays."""


class ImportCancelledError(CellImportError):
    """The import was cancelled: the old database stays."""


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What tells a changed source file: its size, modification time and first MiB's hash."""

    size: int
    mtime_ns: int
    head_sha256: str

    @classmethod
    def of(cls, path: Path) -> Fingerprint:
        """The fingerprint of ``path`` now (reads its first MiB)."""
        stat = path.stat()
        with path.open("rb") as file:
            head = hashlib.sha256(file.read(HEAD_BYTES)).hexdigest()
        return cls(stat.st_size, stat.st_mtime_ns, head)


@dataclass(frozen=True, slots=True)
class ImportProgress:
    """How far an import is: rows read, imported and skipped, bytes of the file read."""

    rows_read: int
    rows_imported: int
    rows_skipped: int
    bytes_read: int
    bytes_total: int

    @property
    def fraction(self) -> float:
        """Share of the file read, 0 to 1."""
        return min(1.0, self.bytes_read / self.bytes_total) if self.bytes_total else 1.0


@dataclass(frozen=True, slots=True)
class ImportResult:
    """A finished import: its counts, the cells now in the database, how long it took."""

    database: Path
    rows_read: int
    rows_imported: int
    rows_skipped: int
    cells: int
    seconds: float
    fingerprint: Fingerprint

    @property
    def duplicates(self) -> int:
        """Imported rows that were another row's cell (one was kept)."""
        return self.rows_imported - self.cells


@dataclass(frozen=True, slots=True)
class DatabaseInfo:
    """What a database holds: how many cells, from which file, imported when (epoch)."""

    cells: int
    source: str
    fingerprint: Fingerprint
    imported_at: float
    rows_skipped: int


def find_exports(folder: Path) -> list[Path]:
    """The OpenCelliD exports in ``folder`` (``*.csv`` and ``*.csv.gz``), by name."""
    if not folder.is_dir():
        return []
    found = {*folder.glob("*.csv"), *folder.glob("*.csv.gz")}
    return sorted(path for path in found if path.is_file() and not path.name.startswith("."))


def database_path(source: Path) -> Path:
    """The database beside ``source``: ``262.csv.gz`` gives ``262.cells.sqlite``."""
    name = source.name
    for suffix in (".gz", ".csv"):
        name = name.removesuffix(suffix)
    return source.with_name(f"{name}.cells.sqlite")


def read_info(database: Path) -> DatabaseInfo | None:
    """What ``database`` holds; None when it is missing, unreadable or of another version."""
    if not database.is_file():
        return None
    try:
        with contextlib.closing(_connect_read_only(database)) as connection:
            meta = dict(connection.execute("SELECT key, value FROM meta").fetchall())
            if meta.get("schema_version") != str(SCHEMA_VERSION):
                return None
            return DatabaseInfo(
                cells=int(meta["cells"]),
                source=meta["source"],
                fingerprint=Fingerprint(
                    int(meta["source_size"]), int(meta["source_mtime_ns"]), meta["source_head"]
                ),
                imported_at=float(meta["imported_at"]),
                rows_skipped=int(meta["rows_skipped"]),
            )
    except sqlite3.Error, KeyError, ValueError:
        return None


def needs_import(source: Path, database: Path | None = None) -> bool:
    """True when ``source`` was never imported, or changed since (size, time or first MiB).

    Raises ``OSError`` when ``source`` cannot be read (a missing file).
    """
    info = read_info(database or database_path(source))
    return info is None or info.fingerprint != Fingerprint.of(source)


def import_opencellid(
    source: Path,
    database: Path | None = None,
    *,
    progress: Callable[[ImportProgress], None] | None = None,
    cancel: threading.Event | None = None,
    batch_rows: int = BATCH_ROWS,
) -> ImportResult:
    """Import the OpenCelliD export ``source`` (CSV, plain or gzip) into ``database``.

    ``database`` defaults to :func:`database_path`. ``progress`` is called from this
    thread after every batch and once at the end; ``cancel`` set stops the import
    (:class:`ImportCancelledError`). Raises :class:`CellImportError` when the file cannot be
    read to its end or the database cannot be written; the previous database then stays.
    Imports run one at a time: a second one waits for the first.
    """
    with _IMPORT_LOCK:
        return _import(source, database or database_path(source), progress, cancel, batch_rows)


def _import(
    source: Path,
    database: Path,
    progress: Callable[[ImportProgress], None] | None,
    cancel: threading.Event | None,
    batch_rows: int,
) -> ImportResult:
    """The import, under the lock."""
    started = time.monotonic()
    try:
        fingerprint = Fingerprint.of(source)
    except OSError as err:
        raise CellImportError(f"cannot read {source.name}: {err}") from err
    _remove_stale_temporaries(database)
    temporary = database.with_name(f".{database.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    temporary.unlink(missing_ok=True)
    counts = _Counts()
    try:
        connection = sqlite3.connect(temporary, isolation_level=None)
        try:
            _fill(connection, source, fingerprint, counts, progress, cancel, batch_rows)
        finally:
            connection.close()
        temporary.replace(database)
    except CellImportError:
        temporary.unlink(missing_ok=True)
        raise
    except (OSError, EOFError, gzip.BadGzipFile, sqlite3.Error, UnicodeError) as err:
        temporary.unlink(missing_ok=True)
        raise CellImportError(f"cannot import {source.name}: {err}") from err
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    result = ImportResult(
        database=database,
        rows_read=counts.read,
        rows_imported=counts.imported,
        rows_skipped=counts.skipped,
        cells=counts.cells,
        seconds=time.monotonic() - started,
        fingerprint=fingerprint,
    )
    _LOGGER.info(
        "Imported %s: %d cells from %d rows (%d malformed rows skipped) in %.1f s",
        source.name,
        result.cells,
        result.rows_read,
        result.rows_skipped,
        result.seconds,
    )
    return result


@dataclass(slots=True)
class _Counts:
    read: int = 0
    imported: int = 0
    skipped: int = 0
    cells: int = 0


def _fill(
    connection: sqlite3.Connection,
    source: Path,
    fingerprint: Fingerprint,
    counts: _Counts,
    progress: Callable[[ImportProgress], None] | None,
    cancel: threading.Event | None,
    batch_rows: int,
) -> None:
    """Create the schema and stream ``source`` into it, in one transaction."""
    connection.execute("PRAGMA journal_mode = OFF")
    connection.execute("PRAGMA synchronous = OFF")
    connection.execute("PRAGMA cache_size = -16384")  # 16 MiB of page cache at most
    connection.execute("PRAGMA temp_store = FILE")
    connection.executescript(_SCHEMA)
    connection.execute("BEGIN")
    with source.open("rb") as raw:

        def report() -> None:
            if progress is not None:
                progress(
                    ImportProgress(
                        counts.read, counts.imported, counts.skipped, raw.tell(), fingerprint.size
                    )
                )

        batch: list[Row] = []
        checkpoint = 0
        for line in _lines(raw):
            counts.read += 1
            row = parse_row(line)
            if row is not None:
                batch.append(row)
            elif counts.read > 1 or not line.startswith("radio,"):
                counts.skipped += 1
            else:
                counts.read -= 1  # the header is not a row
            if counts.read - checkpoint >= batch_rows:  # every batch_rows lines, good or bad
                checkpoint = counts.read
                connection.executemany(_UPSERT, batch)
                counts.imported += len(batch)
                batch.clear()
                if cancel is not None and cancel.is_set():
                    raise ImportCancelledError(f"import of {source.name} cancelled")
                report()
        if batch:
            connection.executemany(_UPSERT, batch)
            counts.imported += len(batch)
        counts.cells = connection.execute("SELECT COUNT(*) FROM cells").fetchone()[0]
        if counts.cells == 0:
            raise CellImportError(
                f"no cell in {source.name} ({counts.skipped} malformed rows): "
                "not an OpenCelliD export?"
            )
        meta = {
            "schema_version": str(SCHEMA_VERSION),
            "source": source.name,
            "source_size": str(fingerprint.size),
            "source_mtime_ns": str(fingerprint.mtime_ns),
            "source_head": fingerprint.head_sha256,
            "imported_at": repr(time.time()),
            "rows_read": str(counts.read),
            "rows_skipped": str(counts.skipped),
            "cells": str(counts.cells),
        }
        connection.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
        connection.execute("COMMIT")
        report()


def _lines(raw: IO[bytes]) -> Iterator[str]:
    """The text lines of ``raw``, gunzipped when it starts with the gzip magic."""
    magic = raw.read(2)
    raw.seek(0)
    stream: IO[bytes] | gzip.GzipFile = (
        gzip.GzipFile(fileobj=raw, mode="rb") if magic == b"\x1f\x8b" else raw
    )
    text = io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline="")
    try:
        for line in text:
            yield line.rstrip("\r\n")
    finally:
        text.detach()  # ``raw`` stays open: the caller closes it


def parse_row(line: str) -> Row | None:
    """An OpenCelliD CSV line as a database row, or None when it is malformed."""
    fields = line.split(",")
    if len(fields) != COLUMNS:
        return None
    radio = fields[0].strip().upper()
    try:
        mcc, mnc, lac, cell = int(fields[1]), int(fields[2]), int(fields[3]), int(fields[4])
        lon, lat = float(fields[6]), float(fields[7])
        cell_range, samples = int(float(fields[8])), int(fields[9])
    except ValueError, OverflowError:
        return None
    if (
        radio not in RADIOS
        or not CellKey(mcc, mnc, lac, cell).plausible
        or not (math.isfinite(lat) and math.isfinite(lon))
        or not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0)
        or (lat == 0.0 and lon == 0.0)
        or cell_range < 0
        or samples < 0
    ):
        return None
    return (radio, mcc, mnc, lac, cell, lon, lat, cell_range, samples)


def _remove_stale_temporaries(database: Path) -> None:
    """Remove what an interrupted import of ``database`` left (another run, a crash)."""
    for stale in database.parent.glob(f".{database.name}.*.tmp"):
        with contextlib.suppress(OSError):
            stale.unlink()


def _connect_read_only(database: Path) -> sqlite3.Connection:
    return sqlite3.connect(
        f"{database.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False
    )


class CellDatabase:
    """Read-only lookups in an imported database, one connection per thread.

    Each lookup checks whether the file was replaced (a new import) and then reopens it.
    Blocking: call :meth:`lookup` in a worker thread.
    """

    def __init__(self, database: Path) -> None:
        self.path = database
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []

    def lookup(self, cell: CellKey) -> CellPosition | None:
        """The position of ``cell`` (its range as accuracy); None for an unknown cell."""
        if not cell.plausible:
            return None
        connection = self._connection()
        if connection is None:
            return None
        try:
            row = connection.execute(_LOOKUP, cell.ident).fetchone()
        except sqlite3.Error as err:
            _LOGGER.debug("Cell lookup in %s failed: %s", self.path, err)
            self._local.identity = None
            return None
        if row is None:
            return None
        latitude, longitude, cell_range = row
        accuracy = min(MAX_RANGE_M, max(MIN_RANGE_M, float(cell_range)))
        return CellPosition(latitude, longitude, accuracy, "opencellid")

    def info(self) -> DatabaseInfo | None:
        """What the database holds (None when there is none)."""
        return read_info(self.path)

    def close(self) -> None:
        """Close every thread's connection (once no lookup runs any more)."""
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            with contextlib.suppress(sqlite3.Error):
                connection.close()

    def _connection(self) -> sqlite3.Connection | None:
        """This thread's connection to the current file (reopened after a new import)."""
        try:
            stat = self.path.stat()
        except OSError:
            return None
        identity = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is not None and getattr(self._local, "identity", None) == identity:
            return connection
        try:
            fresh = _connect_read_only(self.path)
        except sqlite3.Error as err:
            _LOGGER.debug("Cannot open %s: %s", self.path, err)
            return None
        with self._lock:
            if connection is not None:
                with contextlib.suppress(ValueError):
                    self._connections.remove(connection)
                connection.close()
            self._connections.append(fresh)
        self._local.connection = fresh
        self._local.identity = identity
        return fresh
