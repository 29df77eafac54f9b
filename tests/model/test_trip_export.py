"""Trips for the ``get_trips`` response: GeoJSON-style data and a GPX 1.1 document.

No GeoJSON library is in the test environments: the GeoJSON geometry is checked against the
rules of RFC 7946. Every GPX document is validated against the official GPX 1.1 schema
(``tests/support/gpx.py``), and what it holds is read with the standard library.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
import json
import math
from pathlib import Path
import re
from xml.etree import ElementTree as ET

import pytest

from custom_components.sinotrack.model.track import TrackPoint
from custom_components.sinotrack.model.trip_data import Position, Trip
from custom_components.sinotrack.model.trip_export import (
    GPX_NAMESPACE,
    trips_geojson,
    trips_gpx,
)
from custom_components.sinotrack.model.trips import TripDetector
from tests.support.gpx import GPX_XSD_VARIABLE, assert_valid_gpx, gpx_xsd_path

from .test_trips import HOME, Route

GPX = f"{{{GPX_NAMESPACE}}}"
XSD_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
TRIP_KEYS = {
    "start",
    "end",
    "distance_km",
    "duration_s",
    "max_speed_kmh",
    "avg_speed_kmh",
    "start_position",
    "end_position",
    "track",
}
POSITION_KEYS = {"latitude", "longitude", "zone", "zone_entity_id"}


def parse(document: str) -> ET.Element:
    """Our own GPX document, parsed (trusted: the export made it)."""
    return ET.fromstring(document)  # noqa: S314 - the module's own output, not a download


def two_trips() -> TripDetector:
    """A detector after two trips out and back, parked at home again."""
    route = Route(TripDetector())
    route.park(600)
    route.drive(600, heading=90)
    route.park(1800)
    route.drive(530, heading=270, speed=45)
    route.park(600)
    return route.detector


def at_home(position: Position) -> tuple[str | None, str | None]:
    """The zone lookup of a home with a 100 m radius."""
    distance = math.dist(position, HOME) * 111_195
    return ("Home", "zone.home") if distance < 100 else (None, None)


def assert_rfc7946_line_string(geometry: dict[str, object]) -> None:
    """A GeoJSON LineString as RFC 7946 (3.1.4, 3.1.1, 4) defines it."""
    assert set(geometry) == {"type", "coordinates"}
    assert geometry["type"] == "LineString"
    coordinates = geometry["coordinates"]
    assert isinstance(coordinates, list)
    assert len(coordinates) >= 2
    for position in coordinates:
        assert isinstance(position, list)
        assert len(position) == 2
        longitude, latitude = position
        assert all(isinstance(v, float) and math.isfinite(v) for v in position)
        assert -180 <= longitude <= 180
        assert -90 <= latitude <= 90


def test_geojson_has_the_get_trips_shape() -> None:
    detector = two_trips()
    tz = timezone(timedelta(hours=8))
    trips = detector.trips(0, 1e12)
    response = trips_geojson(trips, detector.stops(0, 1e12), tz=tz, zone=at_home)
    response = json.loads(json.dumps(response, allow_nan=False))  # as a response travels

    assert set(response) == {"trips", "stops"}
    assert len(response["trips"]) == 2
    out, back = response["trips"]
    for data, trip in zip(response["trips"], trips, strict=True):
        assert set(data) == TRIP_KEYS
        assert datetime.fromisoformat(data["start"]).timestamp() == trip.start
        assert datetime.fromisoformat(data["end"]).timestamp() == trip.end
        assert datetime.fromisoformat(data["start"]).utcoffset() == timedelta(hours=8)
        assert data["distance_km"] == pytest.approx(trip.distance_km, abs=0.001)
        assert data["duration_s"] == round(trip.duration_s)
        assert set(data["start_position"]) == POSITION_KEYS
        assert set(data["end_position"]) == POSITION_KEYS
        assert_rfc7946_line_string(data["track"])
        # [longitude, latitude]: Shenzhen is at 114 E, 22.5 N.
        assert data["track"]["coordinates"][0][0] == pytest.approx(114.06, abs=0.1)
        assert data["track"]["coordinates"][0][1] == pytest.approx(22.54, abs=0.1)
    assert out["start_position"]["zone"] == "Home"
    assert out["start_position"]["zone_entity_id"] == "zone.home"
    assert out["end_position"]["zone"] is None
    assert back["end_position"]["zone"] == "Home"
    assert out["max_speed_kmh"] == 40
    assert back["max_speed_kmh"] == 45
    assert back["avg_speed_kmh"] == pytest.approx(45 * 530 / (530 + 30), rel=0.05)

    stops = response["stops"]
    assert [set(stop) for stop in stops] == [{"start", "end", "position"}] * 3
    assert stops[1]["start"] == out["end"]
    assert stops[1]["end"] == back["start"]
    assert stops[-1]["end"] is None  # still parked
    assert stops[-1]["position"]["zone"] == "Home"


def test_gpx_is_a_gpx_1_1_document_with_one_track_per_trip() -> None:
    detector = two_trips()
    trips = detector.trips(0, 1e12)
    document = trips_gpx(trips, name="Car")
    assert_valid_gpx(document)
    assert document.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    root = parse(document)
    assert root.tag == f"{GPX}gpx"
    assert root.get("version") == "1.1"
    assert root.get("creator")
    xsi = "{http://www.w3.org/2001/XMLSchema-instance}"
    assert root.get(f"{xsi}schemaLocation") == f"{GPX_NAMESPACE} {GPX_NAMESPACE}/gpx.xsd"
    # The schema's order: metadata, wpt*, rte*, trk*, extensions.
    children = [child.tag for child in root]
    assert children == [f"{GPX}metadata", f"{GPX}trk", f"{GPX}trk"]
    assert root.findtext(f"{GPX}metadata/{GPX}name") == "Car"
    for trk, trip in zip(root.findall(f"{GPX}trk"), trips, strict=True):
        assert [child.tag for child in trk] == [f"{GPX}name", f"{GPX}desc", f"{GPX}trkseg"]
        assert f"{trip.distance_km:.1f} km" in (trk.findtext(f"{GPX}name") or "")
        points = trk.findall(f"{GPX}trkseg/{GPX}trkpt")
        assert len(points) == len(trip.track)
        times = []
        for trkpt, point in zip(points, trip.track, strict=True):
            assert set(trkpt.attrib) == {"lat", "lon"}
            assert -90 <= float(trkpt.attrib["lat"]) <= 90
            assert -180 <= float(trkpt.attrib["lon"]) < 180
            assert float(trkpt.attrib["lat"]) == pytest.approx(point.latitude, abs=1e-6)
            assert [child.tag for child in trkpt] == [f"{GPX}time"]
            text = trkpt.findtext(f"{GPX}time") or ""
            assert XSD_DATETIME.match(text)
            times.append(datetime.fromisoformat(text).timestamp())
        assert times == [round(point.time) for point in trip.track]


def test_gpx_without_trips_is_still_a_document() -> None:
    document = trips_gpx([])
    assert_valid_gpx(document)
    root = parse(document)
    assert root.tag == f"{GPX}gpx"
    assert list(root) == []


def test_gpx_keeps_longitudes_in_its_range_and_escapes_text() -> None:
    trip = Trip(
        uid="1",
        start=0.0,
        end=120.0,
        start_position=Position(10.0, 179.9999),
        end_position=Position(10.0, 180.0),
        distance_km=1.0,
        moving_s=120.0,
        max_speed_kmh=30.0,
        mileage_start_km=None,
        mileage_end_km=None,
        track=(TrackPoint(0.0, 10.0, 179.9999, 30.0), TrackPoint(120.0, 10.0, 180.0, 30.0)),
    )
    document = trips_gpx([trip], name="<Car & Van>")
    assert_valid_gpx(document)
    root = parse(document)
    assert root.findtext(f"{GPX}metadata/{GPX}name") == "<Car & Van>"
    longitudes = [float(p.attrib["lon"]) for p in root.iter(f"{GPX}trkpt")]
    assert longitudes == [179.9999, -180.0]


@pytest.mark.parametrize(
    ("break_it", "reason"),
    [
        (
            lambda gpx: re.sub(r' lat="[^"]*"', "", gpx, count=1),
            r"trkpt\[1\]: missing required attribute 'lat'",
        ),
        (lambda gpx: gpx.replace('lon="', 'lon="2', 1), r"lon='2114\.\d+'"),  # > 180 degrees
        (  # a track's number comes after its name and description
            lambda gpx: gpx.replace("<trk>", "<trk><number>1</number>", 1),
            r"trk\[1\]: Unexpected child .*name",
        ),
    ],
    ids=["trkpt-without-lat", "longitude-out-of-range", "elements-out-of-order"],
)
def test_the_schema_check_rejects_an_invalid_gpx(
    break_it: Callable[[str], str], reason: str
) -> None:
    """The check is a real one: a document the schema forbids fails it, saying where."""
    document = trips_gpx(two_trips().trips(0, 1e12), name="Car")
    broken = break_it(document)
    assert broken != document
    with pytest.raises(AssertionError, match=reason):
        assert_valid_gpx(broken)


def test_without_the_schema_the_gpx_check_fails_saying_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(GPX_XSD_VARIABLE, str(tmp_path / "gpx.xsd"))
    with pytest.raises(pytest.fail.Exception, match="make setup"):
        gpx_xsd_path()
    monkeypatch.delenv(GPX_XSD_VARIABLE)
    with pytest.raises(pytest.fail.Exception, match="scripts/envrun"):
        gpx_xsd_path()


def test_a_trip_in_progress_has_a_line_string_too() -> None:
    route = Route(TripDetector())
    route.park(300)
    route.drive(120)
    current = route.detector.current
    assert current is not None
    [data] = trips_geojson([current])["trips"]
    assert_rfc7946_line_string(data["track"])
