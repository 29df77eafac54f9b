"""Trip sensors: distance and trips today, the last trip, parked since, the current trip.

Written when a trip starts, ends or is corrected. "Distance today" and "current trip
distance" change with every fix of a trip: they are written with the trip log's progress
reports, at most once a minute and only when the trip went 0.1 km further (the recorder
keeps every write). A sensor is written only when its figure changed (a parked tracker's
fixes write none). The "today" sensors start again at local midnight.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import UnitOfLength, UnitOfTime
from homeassistant.core import callback

from .entity import SinotrackEntity
from .model.trip_data import TripEvent
from .runtime import SinotrackRuntime
from .trip_log import TripLog

type TripValue = float | int | datetime | None


@dataclass(frozen=True, kw_only=True)
class TripSensorDescription(SensorEntityDescription):
    """A trip sensor and its value."""

    value_fn: Callable[[TripLog], TripValue]
    throttled: bool = False
    """Changes with every fix of a trip: written with the trip log's progress reports."""
    daily: bool = False
    """Starts again at local midnight (written then; ``last_reset`` for statistics)."""
    events_only: bool = True
    """Changes only with a trip event (else also when it becomes known, at a fix)."""


def _distance_today(log: TripLog) -> float:
    return round(log.distance_today(), 2)


def _trips_today(log: TripLog) -> int:
    start, end = log.today()
    return sum(
        1 for trip in log.detector.trips(start, end, include_current=True) if trip.start >= start
    )


def _last_distance(log: TripLog) -> float | None:
    trip = log.detector.last_trip
    return round(trip.distance_km, 2) if trip is not None else None


def _last_duration(log: TripLog) -> float | None:
    trip = log.detector.last_trip
    return round(trip.duration_s) if trip is not None else None


def _parked_since(log: TripLog) -> datetime | None:
    since = log.detector.parked_since
    return datetime.fromtimestamp(since, UTC) if since is not None else None


def _current_distance(log: TripLog) -> float | None:
    km = log.detector.current_km
    return round(km, 2) if km is not None else None


def _km(
    key: str, value_fn: Callable[[TripLog], TripValue], **kwargs: object
) -> TripSensorDescription:
    return TripSensorDescription(
        key=key,
        translation_key=key,
        device_class=SensorDeviceClass.DISTANCE,
        native_unit_of_measurement=UnitOfLength.KILOMETERS,
        suggested_display_precision=1,
        value_fn=value_fn,
        **kwargs,  # type: ignore[arg-type]
    )


TRIP_SENSORS: Final[tuple[TripSensorDescription, ...]] = (
    _km(
        "distance_today",
        _distance_today,
        throttled=True,
        daily=True,
    ),
    TripSensorDescription(
        key="trips_today",
        translation_key="trips_today",
        state_class=SensorStateClass.TOTAL,
        value_fn=_trips_today,
        daily=True,
    ),
    _km("last_trip_distance", _last_distance),
    TripSensorDescription(
        key="last_trip_duration",
        translation_key="last_trip_duration",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.SECONDS,
        suggested_unit_of_measurement=UnitOfTime.MINUTES,
        suggested_display_precision=0,
        value_fn=_last_duration,
    ),
    TripSensorDescription(
        key="parked_since",
        translation_key="parked_since",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=_parked_since,
        events_only=False,  # known from the first fix on
    ),
    _km("current_trip_distance", _current_distance, throttled=True),
)


def trip_sensors(runtime: SinotrackRuntime, name: str) -> list[TripSensor]:
    """The trip sensors of a tracker."""
    return [TripSensor(runtime, description, name) for description in TRIP_SENSORS]


class TripSensor(SinotrackEntity, SensorEntity):
    """A figure of the trip log."""

    entity_description: TripSensorDescription

    def __init__(
        self, runtime: SinotrackRuntime, description: TripSensorDescription, name: str
    ) -> None:
        super().__init__(runtime, description, name, ())
        self._value: TripValue = description.value_fn(runtime.trips)
        self._written: TripValue = None

    async def async_added_to_hass(self) -> None:
        """Follow the trip log (and local midnight for the daily ones)."""
        self._read()
        await super().async_added_to_hass()
        self._written = self._value  # as Home Assistant wrote it when the entity was added
        self.async_on_remove(
            self.runtime.trips.subscribe(
                self._trips_changed, progress=self.entity_description.throttled
            )
        )
        if self.entity_description.daily:
            self.async_on_remove(self.runtime.trips.subscribe_new_day(self._new_day))

    @callback
    def _new_day(self, _events: list[TripEvent]) -> None:
        """A new day (local midnight): start again."""
        self._write()

    @callback
    def _trips_changed(self, events: list[TripEvent]) -> None:
        """Write on a trip event or a progress report of the trip in progress, when the
        figure changed."""
        description = self.entity_description
        if not (
            events
            or description.throttled
            or (not description.events_only and self._written is None)
        ):
            # Without an event, only a value still unknown can change (parked since,
            # from the first fix on): no need to read the others.
            return
        if self._read() != self._written:
            self._write(read=False)

    @callback
    def _read(self) -> TripValue:
        """Read the figure now (``native_value`` is what was read last)."""
        self._value = self.entity_description.value_fn(self.runtime.trips)
        return self._value

    def _write(self, *, read: bool = True) -> None:
        """Write the figure now (``read``: read it first), and remember what was written."""
        self._written = self._read() if read else self._value
        super().async_write_ha_state()

    @property
    def native_value(self) -> TripValue:
        """The figure as last read."""
        return self._value

    @property
    def last_reset(self) -> datetime | None:
        """Local midnight, for the daily figures with statistics."""
        if self.entity_description.state_class is not SensorStateClass.TOTAL:
            return None
        return self.runtime.trips.midnight()
