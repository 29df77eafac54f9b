"""The offline cell databases of a folder (or of chosen files): what to import, the imports,
their progress, and the databases to look cells up in.

Async, for the event loop: the blocking work (listing, fingerprints, imports) goes to the
given executor (``hass.async_add_executor_job`` in Home Assistant, ``asyncio.to_thread``
by default), one import at a time; the import's progress comes back to the loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
import logging
from pathlib import Path
import threading
import time
from typing import Any, Final

from .celldb import (
    CellDatabase,
    CellImportError,
    ImportCancelledError,
    ImportProgress,
    database_path,
    find_exports,
    import_opencellid,
    needs_import,
    read_info,
)

_LOGGER = logging.getLogger(__name__)

type Job = Callable[[Callable[[], Any]], Awaitable[Any]]
"""Runs a blocking call in a worker thread: ``hass.async_add_executor_job`` fits."""

PROGRESS_INTERVAL: Final = 1.0
"""Seconds between two progress reports to ``on_status`` (the last one always comes)."""
DATABASE_SUFFIX: Final = ".cells.sqlite"


async def _to_thread(function: Callable[[], Any]) -> Any:
    return await asyncio.to_thread(function)


@dataclass(frozen=True, slots=True)
class OfflineStatus:
    """What the offline databases are: for a sensor or a repair issue while importing."""

    importing: str | None = None
    """The file being imported (None when none is)."""
    progress: ImportProgress | None = None
    """How far that import is."""
    files: tuple[str, ...] = ()
    """The databases in use (file names)."""
    cells: int = 0
    """Cells in all of them."""
    failed: tuple[tuple[str, str], ...] = field(default=())
    """(file, error) of the exports whose last import failed."""


class OfflineCells:
    """The exports in ``folder`` (every ``*.csv`` and ``*.csv.gz``) and/or the given ``files``.

    :meth:`refresh` imports what is new or changed and opens the databases; call it at set
    up and whenever the files may have changed. ``on_status`` is called on the loop when
    the status changes (at most once a second during an import).
    """

    def __init__(
        self,
        folder: Path | None = None,
        files: Sequence[Path] = (),
        *,
        executor: Job | None = None,
        on_status: Callable[[OfflineStatus], None] | None = None,
    ) -> None:
        self.folder = folder
        self.files = tuple(files)
        self._run: Job = executor or _to_thread
        self._on_status = on_status
        self._cancel = threading.Event()
        self._lock = asyncio.Lock()
        self._databases: dict[Path, CellDatabase] = {}
        self.status = OfflineStatus()
        self._last_report = 0.0

    @property
    def databases(self) -> list[CellDatabase]:
        """The databases in use, by file name."""
        return [self._databases[path] for path in sorted(self._databases)]

    async def refresh(self) -> OfflineStatus:
        """Import the new or changed exports (one at a time), then open every database.

        A failed import is logged and reported in ``failed``; its previous database (if
        any) stays in use. Returns the new status.
        """
        async with self._lock:
            failed: dict[str, str] = {}
            exports: list[Path] = await self._run(self._exports)
            for source in exports:
                if self._cancel.is_set():
                    break
                error = await self._import_if_needed(source)
                if error is not None:
                    failed[source.name] = error
            if not self._cancel.is_set():
                infos: dict[Path, int] = await self._run(partial(self._present, exports))
                self._open(infos)
                self._publish(
                    OfflineStatus(
                        files=tuple(path.name for path in sorted(infos)),
                        cells=sum(infos.values()),
                        failed=tuple(sorted(failed.items())),
                    )
                )
            return self.status

    async def _import_if_needed(self, source: Path) -> str | None:
        """Import ``source`` if it changed; the error's text when that failed."""
        try:
            if not await self._run(partial(needs_import, source)):
                return None
        except OSError as err:
            return str(err)
        loop = asyncio.get_running_loop()
        self._publish(
            OfflineStatus(
                importing=source.name,
                files=self.status.files,
                cells=self.status.cells,
                failed=self.status.failed,
            )
        )

        def progress(done: ImportProgress) -> None:
            loop.call_soon_threadsafe(self._progress, source.name, done)

        try:
            await self._run(
                partial(import_opencellid, source, progress=progress, cancel=self._cancel)
            )
        except ImportCancelledError:
            return None
        except CellImportError as err:
            _LOGGER.warning("Cell database not updated: %s", err)
            return str(err)
        return None

    def _progress(self, name: str, done: ImportProgress) -> None:
        """An import's progress, on the loop (reported at most once a second)."""
        if self.status.importing != name or self._cancel.is_set():
            return
        now = time.monotonic()
        if now - self._last_report < PROGRESS_INTERVAL and done.bytes_read < done.bytes_total:
            return
        self._last_report = now
        self._publish(
            OfflineStatus(
                importing=name,
                progress=done,
                files=self.status.files,
                cells=self.status.cells,
                failed=self.status.failed,
            )
        )

    def _publish(self, status: OfflineStatus) -> None:
        self.status = status
        if self._on_status is not None:
            self._on_status(status)

    def _exports(self) -> list[Path]:
        """The exports there are now (blocking)."""
        found = find_exports(self.folder) if self.folder is not None else []
        return sorted({*found, *(path for path in self.files if path.is_file())})

    def _present(self, exports: list[Path]) -> dict[Path, int]:
        """Every usable database and its cell count (blocking): of the exports, and any in
        the folder whose export was removed after its import."""
        candidates = {database_path(source) for source in exports}
        candidates.update(database_path(path) for path in self.files)
        if self.folder is not None and self.folder.is_dir():
            candidates.update(self.folder.glob(f"*{DATABASE_SUFFIX}"))
        present = {}
        for path in candidates:
            info = read_info(path)
            if info is not None:
                present[path] = info.cells
        return present

    def _open(self, present: dict[Path, int]) -> None:
        """Keep the databases in ``present``, open the new ones, close the others."""
        for path in [p for p in self._databases if p not in present]:
            self._databases.pop(path).close()
        for path in present:
            if path not in self._databases:
                self._databases[path] = CellDatabase(path)

    def cancel(self) -> None:
        """Stop a running import soon (at its next batch); no new one starts."""
        self._cancel.set()

    def close(self) -> None:
        """Cancel any import and close the databases (once no lookup runs any more)."""
        self.cancel()
        for database in self._databases.values():
            database.close()
        self._databases.clear()
