"""Trips and stops as data for an action's response: GeoJSON-style dictionaries and GPX 1.1.

Pure code (no Home Assistant import). Zones are the caller's: it passes ``zone``, a
function from a position to ``(zone name, zone entity id)`` (either may be None).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, tzinfo
from typing import Any, Final
from xml.etree import ElementTree as ET

from .track import TrackPoint
from .trip_data import Position, Stop, Trip

type ZoneLookup = Callable[[Position], tuple[str | None, str | None]]

GPX_NAMESPACE: Final = "http://www.topografix.com/GPX/1/1"
GPX_SCHEMA_LOCATION: Final = f"{GPX_NAMESPACE} {GPX_NAMESPACE}/gpx.xsd"
XSI_NAMESPACE: Final = "http://www.w3.org/2001/XMLSchema-instance"
GPX_CREATOR: Final = "Sinotrack for Home Assistant"
COORDINATE_DIGITS: Final = 6
"""Decimals of exported coordinates (0.1 m)."""


def _no_zone(_position: Position) -> tuple[str | None, str | None]:
    """No zone anywhere."""
    return None, None


def iso_time(epoch: float, tz: tzinfo = UTC) -> str:
    """``epoch`` as an ISO 8601 time with its UTC offset, in ``tz``."""
    return datetime.fromtimestamp(epoch, tz).isoformat()


def position_dict(position: Position, zone: ZoneLookup = _no_zone) -> dict[str, Any]:
    """A position with the zone there: ``latitude``, ``longitude``, ``zone``, ``zone_entity_id``."""
    name, entity_id = zone(position)
    return {
        "latitude": round(position.latitude, COORDINATE_DIGITS),
        "longitude": round(position.longitude, COORDINATE_DIGITS),
        "zone": name,
        "zone_entity_id": entity_id,
    }


def track_geometry(trip: Trip) -> dict[str, Any]:
    """The trip's track as a GeoJSON LineString ([longitude, latitude], two points or more)."""
    points: Iterable[TrackPoint | Position] = trip.track
    if len(trip.track) < 2:
        points = (trip.start_position, trip.end_position)
    return {
        "type": "LineString",
        "coordinates": [
            [round(p.longitude, COORDINATE_DIGITS), round(p.latitude, COORDINATE_DIGITS)]
            for p in points
        ],
    }


def trip_dict(trip: Trip, *, tz: tzinfo = UTC, zone: ZoneLookup = _no_zone) -> dict[str, Any]:
    """One trip of the ``get_trips`` response."""
    return {
        "start": iso_time(trip.start, tz),
        "end": iso_time(trip.end, tz),
        "distance_km": round(trip.distance_km, 3),
        "duration_s": round(trip.duration_s),
        "max_speed_kmh": round(trip.max_speed_kmh, 1),
        "avg_speed_kmh": round(trip.avg_speed_kmh, 1),
        "start_position": position_dict(trip.start_position, zone),
        "end_position": position_dict(trip.end_position, zone),
        "track": track_geometry(trip),
    }


def stop_dict(stop: Stop, *, tz: tzinfo = UTC, zone: ZoneLookup = _no_zone) -> dict[str, Any]:
    """One stop of the ``get_trips`` response (``end`` None while still parked)."""
    return {
        "start": iso_time(stop.start, tz),
        "end": iso_time(stop.end, tz) if stop.end is not None else None,
        "position": position_dict(stop.position, zone),
    }


def trips_geojson(
    trips: Iterable[Trip],
    stops: Iterable[Stop] = (),
    *,
    tz: tzinfo = UTC,
    zone: ZoneLookup = _no_zone,
) -> dict[str, Any]:
    """The ``get_trips`` response in its default format: ``{"trips": [...], "stops": [...]}``."""
    return {
        "trips": [trip_dict(trip, tz=tz, zone=zone) for trip in trips],
        "stops": [stop_dict(stop, tz=tz, zone=zone) for stop in stops],
    }


def _gpx_time(epoch: float) -> str:
    """``epoch`` as a GPX time (UTC, ``Z``)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _gpx_longitude(longitude: float) -> str:
    """A longitude in GPX's range, -180 inclusive to 180 exclusive."""
    if longitude >= 180.0:
        longitude -= 360.0
    return f"{longitude:.{COORDINATE_DIGITS}f}"


def trip_name(trip: Trip, tz: tzinfo = UTC) -> str:
    """A short name for a trip: its local start time and its distance."""
    start = datetime.fromtimestamp(trip.start, tz).strftime("%Y-%m-%d %H:%M")
    return f"{start}, {trip.distance_km:.1f} km"


def trips_gpx(trips: Iterable[Trip], *, tz: tzinfo = UTC, name: str | None = None) -> str:
    """One GPX 1.1 document, one ``trk`` per trip (``trkseg`` of ``trkpt`` with times).

    ``name`` names the document (its ``metadata``); ``tz`` is the time zone of the track
    names (the times inside are UTC, as GPX wants them).
    """
    root = ET.Element(
        "gpx",
        {
            "xmlns": GPX_NAMESPACE,
            "xmlns:xsi": XSI_NAMESPACE,
            "xsi:schemaLocation": GPX_SCHEMA_LOCATION,
            "version": "1.1",
            "creator": GPX_CREATOR,
        },
    )
    if name is not None:
        ET.SubElement(ET.SubElement(root, "metadata"), "name").text = name
    for trip in trips:
        trk = ET.SubElement(root, "trk")
        ET.SubElement(trk, "name").text = trip_name(trip, tz)
        ET.SubElement(trk, "desc").text = (
            f"{trip.distance_km:.2f} km in {round(trip.duration_s / 60)} min, "
            f"max {trip.max_speed_kmh:.0f} km/h"
        )
        segment = ET.SubElement(trk, "trkseg")
        for point in trip.track:
            trkpt = ET.SubElement(
                segment,
                "trkpt",
                {
                    "lat": f"{point.latitude:.{COORDINATE_DIGITS}f}",
                    "lon": _gpx_longitude(point.longitude),
                },
            )
            ET.SubElement(trkpt, "time").text = _gpx_time(point.time)
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'
