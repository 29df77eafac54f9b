"""OpenCelliD exports made by the tests, and servers that speak the geolocate and Nominatim APIs."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
import gzip
import json
from pathlib import Path
import random
import time
from typing import Any, Final

from aiohttp import web

HEADER = (
    "radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal"
)


ANYWHERE: Final = "*"
"""A key of ``FakeService.places``: the name of every place not listed."""


@dataclass(frozen=True, slots=True)
class Tower:
    """One row of an OpenCelliD export."""

    mcc: int
    mnc: int
    lac: int
    cell: int
    lat: float
    lon: float
    range_m: int = 1000
    samples: int = 10
    radio: str = "GSM"

    def line(self) -> str:
        """The CSV line of the row."""
        return (
            f"{self.radio},{self.mcc},{self.mnc},{self.lac},{self.cell},0,{self.lon},{self.lat},"
            f"{self.range_m},{self.samples},1,1459813000,1459813000,0"
        )


def write_export(
    path: Path, lines: Iterable[str], *, header: bool = True, compress: bool | None = None
) -> Path:
    """Write an export (gzip when the name ends in .gz, unless ``compress`` says otherwise)."""
    gz = path.suffix == ".gz" if compress is None else compress
    text = "".join(f"{line}\n" for line in ([HEADER] if header else []) + list(lines))
    if gz:
        path.write_bytes(gzip.compress(text.encode(), compresslevel=1))
    else:
        path.write_text(text, encoding="utf-8")
    return path


def random_lines(count: int, seed: int = 1) -> Iterator[str]:
    """``count`` plausible rows, distinct cells, spread over Europe (radio, MCC and all)."""
    rng = random.Random(seed)
    radios = ("GSM", "UMTS", "LTE", "NR")
    for index in range(count):
        yield (
            f"{radios[index % 4]},{200 + index % 100},{index % 30},{(index // 30) % 65000},"
            f"{index},0,{rng.uniform(-10, 30):.6f},{rng.uniform(35, 60):.6f},"
            f"{rng.randrange(100, 5000)},{rng.randrange(1, 500)},1,1459813000,1459813000,0"
        )


def write_large_gzip(path: Path, count: int) -> Path:
    """A gzip export of ``count`` random rows, written in chunks (bounded memory)."""
    with gzip.open(path, "wt", encoding="ascii", compresslevel=1) as file:
        file.write(HEADER + "\n")
        chunk: list[str] = []
        for line in random_lines(count):
            chunk.append(line)
            if len(chunk) == 10_000:
                file.write("\n".join(chunk) + "\n")
                chunk.clear()
        if chunk:
            file.write("\n".join(chunk) + "\n")
    return path


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` on."""
        self.now += seconds


@dataclass(frozen=True, slots=True)
class Received:
    """One request a test server received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    at: float
    """``time.monotonic()`` when it arrived."""


@dataclass(slots=True)
class FakeService:
    """A server on 127.0.0.1 speaking the geolocate API (POST) and Nominatim's reverse (GET).

    ``cells`` maps a cell ID to (lat, lng, accuracy): others get 404. ``places`` maps the
    ``lat,lon`` query to a ``display_name``: others get Nominatim's error body. ``status``
    forces an answer (with ``retry_after``), ``delay`` holds every answer, ``raw`` replaces
    the body.
    """

    cells: dict[int, tuple[float, float, float]] = field(default_factory=dict)
    places: dict[str, str] = field(default_factory=dict)
    status: int | None = None
    retry_after: str | None = None
    delay: float = 0.0
    raw: str | None = None
    received: list[Received] = field(default_factory=list)

    def app(self) -> web.Application:
        """The aiohttp application."""
        app = web.Application()
        app.router.add_post("/v1/geolocate", self._geolocate)
        app.router.add_get("/reverse", self._reverse)
        return app

    async def _record(self, request: web.Request) -> web.Response | None:
        body: Any = None
        if request.can_read_body:
            text = await request.text()
            body = json.loads(text) if text else None
        self.received.append(
            Received(
                request.method,
                request.path,
                dict(request.query),
                dict(request.headers),
                body,
                time.monotonic(),
            )
        )
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.status is not None:
            headers = {"Retry-After": self.retry_after} if self.retry_after else {}
            return web.json_response(
                {"error": {"code": self.status, "message": "forced"}},
                status=self.status,
                headers=headers,
            )
        if self.raw is not None:
            return web.Response(text=self.raw, content_type="application/json")
        return None

    async def _geolocate(self, request: web.Request) -> web.Response:
        forced = await self._record(request)
        if forced is not None:
            return forced
        towers = self.received[-1].body["cellTowers"]
        found = self.cells.get(towers[0]["cellId"])
        if found is None:
            return web.json_response(
                {"error": {"errors": [{"reason": "notFound"}], "code": 404}}, status=404
            )
        lat, lng, accuracy = found
        return web.json_response({"location": {"lat": lat, "lng": lng}, "accuracy": accuracy})

    async def _reverse(self, request: web.Request) -> web.Response:
        forced = await self._record(request)
        if forced is not None:
            return forced
        key = f"{request.query['lat']},{request.query['lon']}"
        name = self.places.get(key, self.places.get(ANYWHERE))
        if name is None:
            return web.json_response({"error": "Unable to geocode"})
        return web.json_response(
            {
                "place_id": 1,
                "lat": request.query["lat"],
                "lon": request.query["lon"],
                "category": "highway",
                "type": "residential",
                "display_name": name,
            }
        )

    @property
    def geolocate_requests(self) -> list[Received]:
        """The geolocate requests received."""
        return [r for r in self.received if r.path == "/v1/geolocate"]

    @property
    def reverse_requests(self) -> list[Received]:
        """The reverse geocoding requests received."""
        return [r for r in self.received if r.path == "/reverse"]
