"""The ``get_trips`` action: a tracker's trips and stops of a time range, as data.

It sends nothing to the tracker and changes nothing: unlike the command actions, any user
may call it. Archived trips are read from storage for the call (``TripLog.async_history``). The response is GeoJSON-style data (the default) or one GPX 1.1 document.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.util import dt as dt_util

if TYPE_CHECKING:  # Home Assistant 2026.9+ validates with probatio, aliased as voluptuous
    import probatio as vol
else:
    import voluptuous as vol

from .const import (
    ATTR_CONFIG_ENTRY_ID,
    ATTR_DEVICE_ID,
    ATTR_END,
    ATTR_FORMAT,
    ATTR_START,
    DOMAIN,
    SERVICE_GET_TRIPS,
)
from .model.trip_export import trips_geojson, trips_gpx

if TYPE_CHECKING:
    from .runtime import SinotrackRuntime

FORMAT_GEOJSON: Final = "geojson"
FORMAT_GPX: Final = "gpx"
FORMATS: Final = (FORMAT_GEOJSON, FORMAT_GPX)
DEFAULT_RANGE: Final = timedelta(days=7)
MAX_RANGE: Final = timedelta(days=366)

GET_TRIPS_SCHEMA: Final = vol.Schema(
    {
        vol.Exclusive(ATTR_DEVICE_ID, "target"): cv.string,
        vol.Exclusive(ATTR_CONFIG_ENTRY_ID, "target"): cv.string,
        vol.Optional(ATTR_START): cv.datetime,
        vol.Optional(ATTR_END): cv.datetime,
        vol.Optional(ATTR_FORMAT, default=FORMAT_GEOJSON): cv.string,
    }
)


def _aware(value: datetime | None) -> datetime | None:
    """A time without a zone is local time."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt_util.get_default_time_zone())


def _invalid(key: str, **placeholders: str) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders=placeholders or None,
    )


def trip_range(data: dict[str, Any], now: datetime) -> tuple[datetime, datetime]:
    """The call's range: ``start`` to ``end``, by default the 7 days before ``now``."""
    end = _aware(data.get(ATTR_END)) or now
    start = _aware(data.get(ATTR_START)) or end - DEFAULT_RANGE
    if end <= start:
        raise _invalid("end_before_start")
    if end - start > MAX_RANGE:
        raise _invalid("range_too_long", days=str(MAX_RANGE.days))
    return start, end


def async_setup_trip_services(
    hass: HomeAssistant, runtime_of: Callable[[HomeAssistant, ServiceCall], SinotrackRuntime]
) -> None:
    """Register ``get_trips`` (for every user: it only reads); ``runtime_of`` resolves the
    call's target as for the other actions."""

    async def get_trips(call: ServiceCall) -> ServiceResponse:
        data = dict(call.data)
        kind = str(data.get(ATTR_FORMAT, FORMAT_GEOJSON)).lower()
        if kind not in FORMATS:
            raise _invalid("unknown_format", format=kind, formats=", ".join(FORMATS))
        start, end = trip_range(data, dt_util.utcnow())
        runtime = runtime_of(hass, call)
        log = runtime.trips
        trips, stops = await log.async_history(start.timestamp(), end.timestamp())
        tz = dt_util.get_default_time_zone()
        if kind == FORMAT_GPX:
            return {"gpx": trips_gpx(trips, tz=tz, name=f"{runtime.entry.title} trips")}
        return trips_geojson(trips, stops, tz=tz, zone=log.zone)

    hass.services.async_register(
        DOMAIN,
        SERVICE_GET_TRIPS,
        get_trips,
        schema=GET_TRIPS_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
