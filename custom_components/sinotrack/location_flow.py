"""The Location services entry's flows: its set-up step (offered from the user step's menu
while there is none) and its options (the same form).

Settings: the folder of OpenCelliD exports or one export (empty: ``sinotrack/cells`` in the
configuration, created if missing), the geolocation service's URL and API key, the
Nominatim server's URL (both off while empty).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import ConfigEntry, ConfigFlow, ConfigFlowResult, OptionsFlow
from homeassistant.core import HomeAssistant
from homeassistant.helpers import selector
from yarl import URL

if TYPE_CHECKING:  # Home Assistant 2026.9+ validates with probatio, aliased as voluptuous
    import probatio as vol
else:
    import voluptuous as vol

from .const import (
    CONF_CELLS_PATH,
    CONF_ENTRY_KIND,
    CONF_GEOLOCATE_KEY,
    CONF_GEOLOCATE_URL,
    CONF_NOMINATIM_URL,
    DEFAULT_CELLS_FOLDER,
    KIND_LOCATION,
)
from .location_entry import is_location_entry

URL_SELECTOR = selector.TextSelector(
    selector.TextSelectorConfig(type=selector.TextSelectorType.URL)
)
KEY_SELECTOR = selector.TextSelector(
    selector.TextSelectorConfig(type=selector.TextSelectorType.PASSWORD)
)


def location_schema() -> vol.Schema:
    """The Location services form (every field optional: empty means off or the default)."""
    return vol.Schema(
        {
            vol.Optional(CONF_CELLS_PATH, default=""): str,
            vol.Optional(CONF_GEOLOCATE_URL, default=""): URL_SELECTOR,
            vol.Optional(CONF_GEOLOCATE_KEY, default=""): KEY_SELECTOR,
            vol.Optional(CONF_NOMINATIM_URL, default=""): URL_SELECTOR,
        }
    )


def _http_url(text: str) -> bool:
    """True for an absolute http(s) URL with a host."""
    try:
        url = URL(text)
    except ValueError:
        return False
    return url.scheme in ("http", "https") and bool(url.host)


def _path_error(hass: HomeAssistant, text: str) -> str | None:
    """Why the cells path cannot be used (blocking), None when it can (empty: the default)."""
    if not text:
        return None
    path = Path(text) if Path(text).is_absolute() else Path(hass.config.path(text))
    return None if path.is_file() or path.is_dir() else "path_not_found"


async def validate_location(
    hass: HomeAssistant, user_input: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The settings entered, trimmed, and the errors by field."""
    fields = (CONF_CELLS_PATH, CONF_GEOLOCATE_URL, CONF_GEOLOCATE_KEY, CONF_NOMINATIM_URL)
    options = {key: str(user_input.get(key) or "").strip() for key in fields}
    errors: dict[str, str] = {}
    for key in (CONF_GEOLOCATE_URL, CONF_NOMINATIM_URL):
        if options[key] and not _http_url(options[key]):
            errors[key] = "invalid_url"
    if error := await hass.async_add_executor_job(_path_error, hass, options[CONF_CELLS_PATH]):
        errors[CONF_CELLS_PATH] = error
    return options, errors


def _placeholders() -> dict[str, str]:
    return {"default_folder": DEFAULT_CELLS_FOLDER}


class LocationFlowMixin(ConfigFlow):
    """The config flow's steps of the Location services entry."""

    def location_offered(self) -> bool:
        """True while there is no Location services entry."""
        return not any(is_location_entry(entry) for entry in self._async_current_entries())

    async def async_step_add(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """The menu: add a tracker, or set up the Location services."""
        return self.async_show_menu(step_id="add", menu_options=["tracker", "location_services"])

    async def async_step_location_services(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The shared settings of cell positions and place names: one entry only."""
        await self.async_set_unique_id(KIND_LOCATION, raise_on_progress=True)
        self._abort_if_unique_id_configured()
        errors: dict[str, str] = {}
        if user_input is not None:
            options, errors = await validate_location(self.hass, user_input)
            if not errors:
                return self.async_create_entry(
                    title="Location services",
                    data={CONF_ENTRY_KIND: KIND_LOCATION},
                    options=options,
                    description="location_services",
                    description_placeholders=_placeholders(),
                )
        return self.async_show_form(
            step_id="location_services",
            data_schema=self.add_suggested_values_to_schema(location_schema(), user_input),
            errors=errors,
            description_placeholders=_placeholders(),
        )


class LocationOptionsFlow(OptionsFlow):
    """The Location services' settings (the entry reloads with them)."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """The same form as at set-up."""
        errors: dict[str, str] = {}
        if user_input is not None:
            options, errors = await validate_location(self.hass, user_input)
            if not errors:
                return self.async_create_entry(data=options)
        return self.async_show_form(
            step_id="location",
            data_schema=self.add_suggested_values_to_schema(
                location_schema(),
                user_input if user_input is not None else self.config_entry.options,
            ),
            errors=errors,
            description_placeholders=_placeholders(),
        )

    async def async_step_location(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The form's submission."""
        return await self.async_step_init(user_input)


def location_options_flow(entry: ConfigEntry[Any]) -> LocationOptionsFlow | None:
    """The options flow of the Location services entry, None for a tracker's."""
    return LocationOptionsFlow() if is_location_entry(entry) else None
