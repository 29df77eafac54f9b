"""The Location services entry: its flow, its cell database import and sensor, unloading,
its diagnostics."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ServiceValidationError
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.sinotrack.const import (
    CONF_CELLS_PATH,
    CONF_GEOLOCATE_KEY,
    CONF_GEOLOCATE_URL,
    CONF_NOMINATIM_URL,
    DOMAIN,
)
from custom_components.sinotrack.location_entry import get_location_services
from tests.location.helpers import Tower, random_lines, write_export

from .flow_helpers import assert_translated
from .location_helpers import (
    CELL_DATABASE,
    KNOWN,
    OTHER,
    cells_folder,
    config_dir,
    load_location,
    write_cells,
)

__all__ = ["config_dir"]

pytestmark = pytest.mark.usefixtures("config_dir", "source_ip")


async def test_set_up_from_the_menu_once(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == ["tracker", "location_services"]
    assert_translated(result)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "location_services"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "location_services"
    assert_translated(result)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_GEOLOCATE_URL: "beacondb", CONF_CELLS_PATH: "no/such/folder"},
    )
    assert result["errors"] == {
        CONF_GEOLOCATE_URL: "invalid_url",
        CONF_CELLS_PATH: "path_not_found",
    }
    assert_translated(result)

    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    await hass.async_block_till_done(wait_background_tasks=True)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert_translated(result)  # its own message, not the tracker's set-up instructions
    assert result["title"] == "Location services"
    entry = result["result"]
    assert entry.state is ConfigEntryState.LOADED
    assert cells_folder(hass).is_dir()  # the documented folder, created
    assert hass.states.get(CELL_DATABASE).state == "no_file"  # type: ignore[union-attr]

    # One only: the user step is the tracker form now.
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"


async def test_import_progress_count_and_a_changed_file(hass: HomeAssistant) -> None:
    write_export(cells_folder_made(hass) / "460.csv.gz", list(random_lines(3000)))
    seen: list[tuple[str, dict[str, Any]]] = []

    @callback
    def record(event: Event[Any]) -> None:
        if event.data["entity_id"] == CELL_DATABASE and event.data["new_state"] is not None:
            new = event.data["new_state"]
            seen.append((new.state, dict(new.attributes)))

    hass.bus.async_listen("state_changed", record)
    await load_location(hass)

    states = [state for state, _ in seen]
    assert "importing" in states
    assert states[-1] == "ready"
    importing = next(attrs for state, attrs in seen if state == "importing")
    assert importing["importing"] == "460.csv.gz"
    ready = hass.states.get(CELL_DATABASE)
    assert ready is not None
    assert ready.attributes["cells"] == 3000
    assert ready.attributes["files"] == ["460.cells.sqlite"]

    # A new download: imported again at the next check.
    write_cells(hass, KNOWN, OTHER)
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=11))
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get(CELL_DATABASE).attributes["cells"] == 2  # type: ignore[union-attr]


def cells_folder_made(hass: HomeAssistant) -> Path:
    """The default folder, created."""
    folder = cells_folder(hass)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def test_a_file_without_cells_fails_and_one_file_as_the_path(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    (cells_folder_made(hass) / "460.csv").write_text("<html>not an export</html>\n")
    entry = await load_location(hass)
    failed = hass.states.get(CELL_DATABASE)
    assert failed is not None
    assert failed.state == "failed"
    assert "460.csv" in failed.attributes["failed"]
    assert await hass.config_entries.async_unload(entry.entry_id)

    export = write_export(tmp_path / "elsewhere.csv", [KNOWN.line()])
    await load_location(hass, **{CONF_CELLS_PATH: str(export)})
    assert hass.states.get(CELL_DATABASE).state == "ready"  # type: ignore[union-attr]


async def test_unload_closes_everything(hass: HomeAssistant) -> None:
    write_cells(hass, KNOWN)
    entry = await load_location(hass)
    services = get_location_services(hass)
    assert services is not None
    assert services.resolver.databases
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert get_location_services(hass) is None
    assert not services.resolver.databases
    assert services.offline is not None
    assert not services.offline.databases


async def test_options_change_the_services(hass: HomeAssistant) -> None:
    entry = await load_location(hass)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["step_id"] == "location"
    assert_translated(result, "options")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_NOMINATIM_URL: "ftp://example.org"}
    )
    assert result["errors"] == {CONF_NOMINATIM_URL: "invalid_url"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_NOMINATIM_URL: "https://nominatim.example.org"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)
    services = get_location_services(hass)
    assert services is not None
    assert services.geocoder is not None  # reloaded with it
    assert services.geolocate is None


async def test_diagnostics_redact_the_api_key(
    hass: HomeAssistant, hass_client: ClientSessionGenerator
) -> None:
    write_cells(hass, Tower(262, 2, 801, 86355, lat=52.5, lon=13.4))
    entry = await load_location(
        hass,
        **{
            CONF_GEOLOCATE_URL: "https://geolocate.example.org/v1/geolocate?key=url-key-456",
            CONF_GEOLOCATE_KEY: "secret-key-123",
        },
    )
    diagnostics: dict[str, Any] = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert "secret-key-123" not in str(diagnostics)
    assert "url-key-456" not in str(diagnostics)
    assert diagnostics["entry"]["options"][CONF_GEOLOCATE_KEY] == "**REDACTED**"
    assert diagnostics["location_services"]["cells"] == 1
    assert diagnostics["location_services"]["geolocate"]["host"] == "geolocate.example.org"


async def test_actions_refuse_the_location_services_as_a_target(hass: HomeAssistant) -> None:
    entry = await load_location(hass)
    with pytest.raises(ServiceValidationError) as raised:
        await hass.services.async_call(
            DOMAIN,
            "request_position",
            {"config_entry_id": entry.entry_id},
            blocking=True,
            return_response=True,
        )
    assert raised.value.translation_key == "unknown_tracker"
