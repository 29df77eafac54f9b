"""The Location services in the harness: a configuration folder of the test's own, an
OpenCelliD export written into it, and a geolocate + Nominatim server on 127.0.0.1.

The fixtures are imported by the test modules that use them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Final

from aiohttp.test_utils import TestServer
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sinotrack.const import (
    CONF_CELLS_PATH,
    CONF_ENTRY_KIND,
    CONF_GEOLOCATE_KEY,
    CONF_GEOLOCATE_URL,
    CONF_NOMINATIM_URL,
    DOMAIN,
    KIND_LOCATION,
)
from tests.location.helpers import FakeService, Tower, write_export
from tests.support.hass import load_entry

CELL_DATABASE: Final = "sensor.location_services_cell_database"
KNOWN: Final = Tower(460, 0, 9360, 4082, lat=22.55, lon=114.05, range_m=1200)
"""A cell of the export the tests write."""
OTHER: Final = Tower(460, 0, 9360, 4083, lat=22.56, lon=114.06, range_m=900)
ONLINE_CELL: Final = 5000
"""A cell only the geolocate server knows (at 22.6, 114.1, accuracy 2500 m)."""


def cell_tail(cell: int, lac: int = 9360) -> str:
    """The tail of an H02 V1 frame that reports cell ``cell`` (MCC 460, MNC 0)."""
    return f"460,0,{lac},{cell}"


def cells_folder(hass: HomeAssistant) -> Path:
    """The default folder of exports in the test's configuration."""
    return Path(hass.config.path("sinotrack", "cells"))


def write_cells(hass: HomeAssistant, *towers: Tower, name: str = "460.csv.gz") -> Path:
    """An export of ``towers`` in the default folder (created)."""
    folder = cells_folder(hass)
    folder.mkdir(parents=True, exist_ok=True)
    return write_export(folder / name, [tower.line() for tower in towers])


def location_entry(**options: Any) -> MockConfigEntry:
    """The Location services entry with ``options`` (the others empty: off, the default)."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Location services",
        unique_id=KIND_LOCATION,
        data={CONF_ENTRY_KIND: KIND_LOCATION},
        options={
            CONF_CELLS_PATH: "",
            CONF_GEOLOCATE_URL: "",
            CONF_GEOLOCATE_KEY: "",
            CONF_NOMINATIM_URL: "",
            **options,
        },
    )


async def load_location(hass: HomeAssistant, **options: Any) -> MockConfigEntry:
    """The Location services entry, loaded, its first import done."""
    entry = location_entry(**options)
    await load_entry(hass, entry)
    await hass.async_block_till_done(wait_background_tasks=True)
    return entry


@pytest.fixture
def config_dir(hass: HomeAssistant, tmp_path: Path) -> Path:
    """The test's own Home Assistant configuration folder."""
    hass.config.config_dir = str(tmp_path)
    return tmp_path


@pytest.fixture
async def service() -> AsyncIterator[tuple[FakeService, str]]:
    """A geolocate + Nominatim server on 127.0.0.1 and its base URL."""
    fake = FakeService(cells={ONLINE_CELL: (22.6, 114.1, 2500.0)})
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    try:
        yield fake, str(server.make_url("")).rstrip("/")
    finally:
        await server.close()
