"""The resolver: the offline database first, then the online service, None when unknown."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import aiohttp

from custom_components.sinotrack.location import (
    CellDatabase,
    CellKey,
    CellPosition,
    CellResolver,
    GeolocateClient,
    LookupStatus,
    import_opencellid,
)

from .helpers import FakeService, Tower, write_export

type Service = tuple[FakeService, str]

OFFLINE = Tower(262, 2, 801, 86355, 52.52, 13.405, range_m=1200)
ONLINE_ONLY = CellKey(262, 2, 801, 777)
NOWHERE = CellKey(262, 2, 801, 999)


def offline_database(tmp_path: Path, name: str = "262.csv", *towers: Tower) -> CellDatabase:
    """A database that knows ``towers`` (OFFLINE by default)."""
    rows = [tower.line() for tower in towers or (OFFLINE,)]
    result = import_opencellid(write_export(tmp_path / name, rows))
    return CellDatabase(result.database)


async def test_offline_first_then_online_then_none(
    tmp_path: Path, service: Service, session: aiohttp.ClientSession
) -> None:
    fake, base = service
    fake.cells[86355] = (10.0, 10.0, 5000.0)  # never asked: the database knows it
    fake.cells[777] = (52.0, 13.0, 2000.0)
    geolocate = GeolocateClient(session, f"{base}/v1/geolocate", version="0.1.0")
    resolver = CellResolver([offline_database(tmp_path)], geolocate)

    offline = await resolver.resolve(CellKey(262, 2, 801, 86355))
    online = await resolver.resolve(ONLINE_ONLY)
    unknown = await resolver.resolve(NOWHERE)

    assert offline == CellPosition(52.52, 13.405, 1200.0, "opencellid")
    assert online == CellPosition(52.0, 13.0, 2000.0, "geolocate")
    assert unknown is None
    assert resolver.last_status is LookupStatus.NOT_FOUND
    assert [r.body["cellTowers"][0]["cellId"] for r in fake.received] == [777, 999]


async def test_offline_only(tmp_path: Path) -> None:
    resolver = CellResolver([offline_database(tmp_path)])

    assert resolver.enabled
    assert await resolver.resolve(CellKey(262, 2, 801, 86355)) is not None
    assert await resolver.resolve(NOWHERE) is None


async def test_no_source_resolves_nothing() -> None:
    resolver = CellResolver()

    assert not resolver.enabled
    assert await resolver.resolve(CellKey(262, 2, 801, 86355)) is None


async def test_lookups_run_in_the_given_executor_and_are_cached(tmp_path: Path) -> None:
    calls: list[CellKey] = []

    async def executor(
        function: Callable[[CellKey], CellPosition | None], cell: CellKey
    ) -> CellPosition | None:
        calls.append(cell)
        return function(cell)

    resolver = CellResolver([offline_database(tmp_path)], executor=executor)
    key = CellKey(262, 2, 801, 86355)

    for _ in range(3):
        assert await resolver.resolve(key) is not None
    assert await resolver.resolve(NOWHERE) is None
    assert await resolver.resolve(NOWHERE) is None
    assert calls == [key, NOWHERE]

    # A new import moves the cell: after invalidate() the resolver sees it.
    moved = Tower(262, 2, 801, 86355, 50.0, 8.0, samples=99)
    import_opencellid(write_export(tmp_path / "262.csv", [moved.line()]))
    resolver.invalidate()
    position = await resolver.resolve(key)
    assert position is not None
    assert position.latitude == 50.0


async def test_online_not_now_gives_none(service: Service, session: aiohttp.ClientSession) -> None:
    fake, base = service
    fake.status = 503
    resolver = CellResolver(geolocate=GeolocateClient(session, f"{base}/v1/geolocate", version="1"))

    assert await resolver.resolve(ONLINE_ONLY) is None
    assert resolver.last_status is LookupStatus.NOT_NOW


async def test_several_databases_asked_in_order(tmp_path: Path) -> None:
    france = Tower(208, 10, 29185, 43941, 48.8566, 2.3522)
    shadowed = Tower(262, 2, 801, 86355, 1.0, 1.0)
    resolver = CellResolver(
        [
            offline_database(tmp_path),
            offline_database(tmp_path, "208.csv.gz", france, shadowed),
        ]
    )

    german = await resolver.resolve(CellKey(262, 2, 801, 86355))
    french = await resolver.resolve(CellKey(208, 10, 29185, 43941))

    assert german is not None
    assert german.latitude == 52.52  # the first database that knows it
    assert french is not None
    assert french.latitude == 48.8566
    assert await resolver.resolve(NOWHERE) is None
