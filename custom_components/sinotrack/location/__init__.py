"""Location services: cell-tower positions and place names, without Home Assistant.

aiohttp and the standard library only; the Home Assistant side owns the settings, the
session and the threads:

* :func:`find_exports` lists the exports (``*.csv``, ``*.csv.gz``) in a folder.
* :func:`import_opencellid` (blocking, run it in a worker thread) imports an OpenCelliD
  export into an SQLite file beside it (:func:`database_path`), reporting
  :class:`ImportProgress` as it goes; :func:`needs_import` says whether the file changed
  since; :func:`read_info` what a database holds.
* :func:`cell_from_message` reads the serving cell (:class:`CellKey`) of a decoded message.
* :class:`OfflineCells` does all that for a folder (and/or chosen files) from the event
  loop: imports what changed, one at a time in the executor, reports :class:`OfflineStatus`
  (the file being imported, its progress, the cells in use), opens the databases.
* :class:`CellDatabase` looks cells up in it (blocking, one read-only connection per thread).
* :class:`GeolocateClient` asks an Ichnaea / Google geolocate service (cached per cell,
  rate limited, backing off after failures).
* :class:`CellResolver` combines them: the offline databases first, then online; None for an unknown cell.
* :class:`ReverseGeocoder` names places through a Nominatim-compatible server (one request
  a second at most per server, cached); :meth:`ReverseGeocoder.cached` never waits.

Modules: ``cells`` (values), ``celldb`` (import and lookups), ``offline`` (a folder's
databases), ``geolocate``, ``nominatim``,
``resolver``, ``throttle`` (caches, rate limits, backoff), ``http`` (one request).
"""

from __future__ import annotations

from .celldb import (
    CellDatabase,
    CellImportError,
    DatabaseInfo,
    Fingerprint,
    ImportCancelledError,
    ImportProgress,
    ImportResult,
    database_path,
    find_exports,
    import_opencellid,
    needs_import,
    read_info,
)
from .cells import (
    CellKey,
    CellPosition,
    Lookup,
    LookupStatus,
    PositionSource,
    cell_from_message,
)
from .geolocate import GeolocateClient
from .http import user_agent
from .nominatim import MAX_ADDRESS_LENGTH, ReverseGeocoder, trim_address
from .offline import Job, OfflineCells, OfflineStatus
from .resolver import CellResolver, Executor

__all__ = [
    "MAX_ADDRESS_LENGTH",
    "CellDatabase",
    "CellImportError",
    "CellKey",
    "CellPosition",
    "CellResolver",
    "DatabaseInfo",
    "Executor",
    "Fingerprint",
    "GeolocateClient",
    "ImportCancelledError",
    "ImportProgress",
    "ImportResult",
    "Job",
    "Lookup",
    "LookupStatus",
    "OfflineCells",
    "OfflineStatus",
    "PositionSource",
    "ReverseGeocoder",
    "cell_from_message",
    "database_path",
    "find_exports",
    "import_opencellid",
    "needs_import",
    "read_info",
    "trim_address",
    "user_agent",
]
