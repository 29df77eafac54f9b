"""A cell's position from every configured source: the offline database first, then online."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

from .celldb import CellDatabase
from .cells import CellKey, CellPosition, LookupStatus
from .geolocate import GeolocateClient
from .throttle import Clock, ExpiringCache

type Executor = Callable[
    [Callable[[CellKey], CellPosition | None], CellKey], Awaitable[CellPosition | None]
]
"""Runs a blocking lookup in a worker thread: ``hass.async_add_executor_job`` fits."""

OFFLINE_CACHE_ENTRIES: Final = 1024
OFFLINE_CACHE_TTL: Final = 3600.0


async def _to_thread(
    function: Callable[[CellKey], CellPosition | None], cell: CellKey
) -> CellPosition | None:
    return await asyncio.to_thread(function, cell)


class CellResolver:
    """Where a cell is: the offline databases first, then the online service if there is one.

    ``databases`` (one per imported file: several countries) are asked in their order, in
    one worker-thread job. An unknown cell (in none, or the online service not asked now)
    gives None. Offline answers are cached for an hour (:meth:`invalidate` after a new
    import); the online client caches its own.
    """

    def __init__(
        self,
        databases: Sequence[CellDatabase] = (),
        geolocate: GeolocateClient | None = None,
        *,
        executor: Executor | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.databases = tuple(databases)
        self.geolocate = geolocate
        self._executor: Executor = executor or _to_thread
        self._offline: ExpiringCache[tuple[int, int, int, int], CellPosition | None] = (
            ExpiringCache(OFFLINE_CACHE_ENTRIES)
            if clock is None
            else ExpiringCache(OFFLINE_CACHE_ENTRIES, clock)
        )
        self.last_status: LookupStatus | None = None
        """How the last online lookup ended (None before any)."""

    @property
    def enabled(self) -> bool:
        """True when there is at least one source."""
        return bool(self.databases) or self.geolocate is not None

    async def resolve(self, cell: CellKey) -> CellPosition | None:
        """The position of ``cell``, None when no source knows it (now)."""
        if not cell.plausible:
            return None
        if self.databases:
            hit, position = self._offline.get(cell.ident)
            if not hit:
                position = await self._executor(self.lookup_offline, cell)
                self._offline.put(cell.ident, position, OFFLINE_CACHE_TTL)
            if position is not None:
                return position
        if self.geolocate is not None:
            answer = await self.geolocate.locate(cell)
            self.last_status = answer.status
            return answer.value
        return None

    def lookup_offline(self, cell: CellKey) -> CellPosition | None:
        """The first offline database's answer for ``cell`` (blocking: a worker thread)."""
        for database in self.databases:
            position = database.lookup(cell)
            if position is not None:
                return position
        return None

    def invalidate(self) -> None:
        """Forget the offline answers (after a new import)."""
        self._offline.clear()

    def set_databases(self, databases: Sequence[CellDatabase]) -> None:
        """Use these offline databases from now on (after a refresh), forgetting answers."""
        self.databases = tuple(databases)
        self._offline.clear()
