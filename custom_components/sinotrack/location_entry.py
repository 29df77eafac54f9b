"""The Location services entry: the offline cell databases, the online clients, place names.

One entry of this kind at most (its unique ID is its kind). It owns what every tracker
shares: the folder (or file) of OpenCelliD exports, imported in the background at set-up
and again when the files change (checked every ``CHECK_INTERVAL``), the geolocation client
and the reverse geocoder (both off unless their URL is set), on Home Assistant's shared
aiohttp session. Trackers find it with :func:`get_location_services`; a change of it is
signalled with ``SIGNAL_LOCATION_CHANGED``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

from homeassistant.components.zone import async_active_zone
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.util.hass_dict import HassKey

from .const import (
    CONF_CELLS_PATH,
    CONF_ENTRY_KIND,
    CONF_GEOLOCATE_KEY,
    CONF_GEOLOCATE_URL,
    CONF_NOMINATIM_URL,
    DEFAULT_CELLS_FOLDER,
    DOMAIN,
    KIND_LOCATION,
    LOGGER,
)
from .location import (
    CellKey,
    CellPosition,
    CellResolver,
    GeolocateClient,
    OfflineCells,
    OfflineStatus,
    ReverseGeocoder,
)
from .location.nominatim import MAX_ADDRESS_LENGTH

CHECK_INTERVAL: Final = timedelta(minutes=10)
"""How often the folder is checked for a new or changed export."""
VERSION: Final = "0.1.0"
"""Sent in the User-Agent (the manifest's version)."""
SIGNAL_LOCATION_CHANGED: Final = f"{DOMAIN}_location_services_changed"
"""Sent when the Location services entry is set up or unloaded."""
DATA_LOCATION: HassKey[LocationServices] = HassKey(f"{DOMAIN}_location_services")

type LocationConfigEntry = ConfigEntry[LocationServices]


def is_location_entry(entry: ConfigEntry[Any]) -> bool:
    """True for the Location services entry (not a tracker's)."""
    return entry.data.get(CONF_ENTRY_KIND) == KIND_LOCATION


def default_cells_folder(hass: HomeAssistant) -> Path:
    """``sinotrack/cells`` in the Home Assistant configuration."""
    return Path(hass.config.path(DEFAULT_CELLS_FOLDER))


def cells_source(hass: HomeAssistant, options: dict[str, Any]) -> tuple[Path | None, list[Path]]:
    """The folder of exports and the chosen files from the options (blocking: it looks)."""
    text = str(options.get(CONF_CELLS_PATH) or "").strip()
    path = Path(text) if text else default_cells_folder(hass)
    if not path.is_absolute():
        path = Path(hass.config.path(text))
    if path.is_file():
        return None, [path]
    path.mkdir(parents=True, exist_ok=True)
    return path, []


@callback
def get_location_services(hass: HomeAssistant) -> LocationServices | None:
    """The loaded Location services, None when there are none."""
    return hass.data.get(DATA_LOCATION)


class LocationServices:
    """The cell sources and the reverse geocoder every tracker uses."""

    def __init__(self, hass: HomeAssistant, entry: LocationConfigEntry) -> None:
        self.hass = hass
        self.entry = entry
        options = dict(entry.options)
        session = async_get_clientsession(hass)
        geolocate_url = str(options.get(CONF_GEOLOCATE_URL) or "").strip()
        nominatim_url = str(options.get(CONF_NOMINATIM_URL) or "").strip()
        self.geolocate = (
            GeolocateClient(
                session,
                geolocate_url,
                str(options.get(CONF_GEOLOCATE_KEY) or "").strip() or None,
                version=VERSION,
            )
            if geolocate_url
            else None
        )
        self.geocoder = (
            ReverseGeocoder(session, nominatim_url, version=VERSION, language=hass.config.language)
            if nominatim_url
            else None
        )
        self.offline: OfflineCells | None = None
        self.resolver = CellResolver((), self.geolocate, executor=hass.async_add_executor_job)
        self._status_listeners: list[Callable[[OfflineStatus], None]] = []

    @property
    def status(self) -> OfflineStatus:
        """What the offline databases are now."""
        return self.offline.status if self.offline is not None else OfflineStatus()

    async def async_prepare(self) -> None:
        """Find the folder (created if missing) or file of the exports."""
        folder, files = await self.hass.async_add_executor_job(
            cells_source, self.hass, dict(self.entry.options)
        )
        self.offline = OfflineCells(
            folder, files, executor=self.hass.async_add_executor_job, on_status=self._on_status
        )

    @callback
    def async_start(self) -> None:
        """Import the exports in the background, and check them every ``CHECK_INTERVAL``."""
        self.entry.async_create_background_task(
            self.hass, self.async_refresh(), f"{DOMAIN} cell database import"
        )
        self.entry.async_on_unload(
            async_track_time_interval(
                self.hass, self._async_check, CHECK_INTERVAL, name=f"{DOMAIN} cell files"
            )
        )

    async def async_refresh(self) -> None:
        """Import what changed and use the databases there are then."""
        if self.offline is None:
            return
        await self.offline.refresh()
        self.resolver.set_databases(self.offline.databases)

    @callback
    def _async_check(self, _now: datetime) -> None:
        if self.offline is not None and self.offline.status.importing is None:
            self.entry.async_create_background_task(
                self.hass, self.async_refresh(), f"{DOMAIN} cell database check"
            )

    @callback
    def _on_status(self, status: OfflineStatus) -> None:
        for listener in list(self._status_listeners):
            listener(status)

    @callback
    def listen_status(self, listener: Callable[[OfflineStatus], None]) -> Callable[[], None]:
        """Call ``listener`` with each new status; returns the unsubscribe."""
        self._status_listeners.append(listener)

        def remove() -> None:
            if listener in self._status_listeners:
                self._status_listeners.remove(listener)

        return remove

    async def async_resolve(self, cell: tuple[int, int, int, int]) -> CellPosition | None:
        """The position of ``cell`` from the offline databases, then online; None if unknown."""
        return await self.resolver.resolve(CellKey(*cell))

    def close(self) -> None:
        """Stop any import and close the databases."""
        if self.offline is not None:
            self.offline.close()
        self.resolver.set_databases(())

    def diagnostics(self) -> dict[str, Any]:
        """The sources, their counters and the import's status (no key, no position)."""
        status = self.status
        return {
            "cells": status.cells,
            "files": list(status.files),
            "importing": status.importing,
            "failed": [list(item) for item in status.failed],
            "geolocate": self.geolocate.diagnostics() if self.geolocate is not None else None,
            "geocoder": self.geocoder.diagnostics() if self.geocoder is not None else None,
        }


async def async_setup_location_entry(hass: HomeAssistant, entry: LocationConfigEntry) -> bool:
    """Set up the Location services: its sensor, then the imports in the background."""
    services = LocationServices(hass, entry)
    entry.runtime_data = services
    await services.async_prepare()
    hass.data[DATA_LOCATION] = services
    entry.async_on_unload(services.close)
    await hass.config_entries.async_forward_entry_setups(entry, ["sensor"])
    services.async_start()
    entry.async_on_unload(entry.add_update_listener(_async_updated))

    @callback
    def stop(_event: Event) -> None:
        """Home Assistant stops: an import under way stops at its next batch."""
        if services.offline is not None:
            services.offline.cancel()

    entry.async_on_unload(hass.bus.async_listen(EVENT_HOMEASSISTANT_STOP, stop))
    async_dispatcher_send(hass, SIGNAL_LOCATION_CHANGED)
    return True


async def _async_updated(hass: HomeAssistant, entry: LocationConfigEntry) -> None:
    """New settings: set the services up again with them."""
    hass.config_entries.async_schedule_reload(entry.entry_id)


async def async_unload_location_entry(hass: HomeAssistant, entry: LocationConfigEntry) -> bool:
    """Unload the sensor, stop the imports, close the databases."""
    unloaded = await hass.config_entries.async_unload_platforms(entry, ["sensor"])
    if unloaded:
        services = entry.runtime_data
        services.close()  # again at once: the unload callbacks come after
        if hass.data.get(DATA_LOCATION) is services:
            hass.data.pop(DATA_LOCATION)
        async_dispatcher_send(hass, SIGNAL_LOCATION_CHANGED)
    return unloaded


@callback
def zone_name(hass: HomeAssistant, latitude: float, longitude: float) -> str | None:
    """The name of the Home Assistant zone the position is in, None when in none."""
    zone = async_active_zone(hass, latitude, longitude)
    return zone.name if zone is not None else None


@callback
def place_name(hass: HomeAssistant, latitude: float, longitude: float) -> str | None:
    """The name of a place without waiting: its zone's name, else its address when it is
    already known (cached), else None."""
    if (zone := zone_name(hass, latitude, longitude)) is not None:
        return zone
    services = get_location_services(hass)
    if services is None or services.geocoder is None:
        return None
    cached = services.geocoder.cached(latitude, longitude)
    return cached.value if cached is not None and cached.found else None


async def async_place_name(hass: HomeAssistant, latitude: float, longitude: float) -> str | None:
    """The name of a place: its zone's name, else its address (looked up, rate limited)."""
    if (zone := zone_name(hass, latitude, longitude)) is not None:
        return zone[:MAX_ADDRESS_LENGTH]
    services = get_location_services(hass)
    if services is None or services.geocoder is None:
        return None
    answer = await services.geocoder.reverse(latitude, longitude)
    return answer.value if answer.found else None


def with_address(hass: HomeAssistant, data: dict[str, Any]) -> dict[str, Any]:
    """Alarm event data with ``address`` when the place's name is known now (never waits)."""
    latitude, longitude = data.get("latitude"), data.get("longitude")
    if isinstance(latitude, int | float) and isinstance(longitude, int | float):
        try:
            name = place_name(hass, float(latitude), float(longitude))
        except Exception:  # noqa: BLE001 - an alarm is fired whatever happens here
            LOGGER.debug("No place name for an alarm", exc_info=True)
            name = None
        if name is not None:
            data["address"] = name
    return data
