"""The distance trip detection adds up: a short step on a flat projection, a long one on
the great circle; both agree with the great circle."""

from __future__ import annotations

import pytest

from custom_components.sinotrack.model.geo import haversine_km
from custom_components.sinotrack.model.trip_data import Position
from custom_components.sinotrack.model.trip_parts import km_between


@pytest.mark.parametrize("latitude", [-75.0, -33.9, 0.0, 22.5, 51.5, 69.6, 85.0])
@pytest.mark.parametrize(
    ("north", "east"), [(0.0009, 0.0), (0.0, 0.0009), (0.003, -0.004), (0.09, 0.09), (0.5, 0.7)]
)
def test_steps_agree_with_the_great_circle(latitude: float, north: float, east: float) -> None:
    """From 100 m to 80 km, near the equator and the poles: within a millionth."""
    a = Position(latitude, 114.05)
    b = Position(latitude + north, 114.05 + east)
    assert km_between(a, b) == pytest.approx(haversine_km(*a, *b), rel=1e-6)
    assert km_between(b, a) == pytest.approx(km_between(a, b), rel=1e-12)


def test_across_the_date_line_and_the_same_place() -> None:
    """A step across the antimeridian is the great circle's; no step is 0."""
    a, b = Position(10.0, 179.9995), Position(10.0, -179.9995)
    assert km_between(a, b) == pytest.approx(haversine_km(*a, *b), rel=1e-9)
    assert km_between(a, a) == 0.0
