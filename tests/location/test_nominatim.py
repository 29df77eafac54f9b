"""The reverse geocoder against a real Nominatim-compatible server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import itertools

import aiohttp
import pytest

from custom_components.sinotrack.location import (
    MAX_ADDRESS_LENGTH,
    LookupStatus,
    ReverseGeocoder,
    trim_address,
)

from .helpers import FakeClock, FakeService

type Service = tuple[FakeService, str]

ADDRESS = "12, Unter den Linden, Mitte, Berlin, 10117, Deutschland"


def geocoder(session: aiohttp.ClientSession, base: str, **kwargs: object) -> ReverseGeocoder:
    """A reverse geocoder of the fake service."""
    return ReverseGeocoder(session, base, version="0.1.0", **kwargs)  # type: ignore[arg-type]


async def test_address_with_the_policy_headers_then_cached(
    service: Service, session: aiohttp.ClientSession
) -> None:
    fake, base = service
    fake.places["52.5170,13.3889"] = ADDRESS
    reverse = geocoder(session, base, language="de")

    assert reverse.cached(52.51703, 13.38889) is None  # nothing asked yet, and no request
    first = await reverse.reverse(52.51703, 13.38889)
    # 5 m away: the same rounded position, the cached answer.
    second = await reverse.reverse(52.51699, 13.38891)

    assert first.status is LookupStatus.FOUND
    assert first.value == ADDRESS
    assert (second.value, second.cached) == (ADDRESS, True)
    cached = reverse.cached(52.5170, 13.3889)
    assert cached is not None
    assert cached.value == ADDRESS
    assert len(fake.received) == 1
    request = fake.received[0]
    assert (request.method, request.path) == ("GET", "/reverse")
    assert request.query == {
        "format": "jsonv2",
        "lat": "52.5170",
        "lon": "13.3889",
        "zoom": "18",
        "addressdetails": "0",
        "accept-language": "de",
    }
    assert request.headers["User-Agent"] == "sinotrack-ha/0.1.0 (Home Assistant)"


async def test_base_url_may_name_the_reverse_endpoint(
    service: Service, session: aiohttp.ClientSession
) -> None:
    fake, base = service
    fake.places["1.0000,2.0000"] = "Somewhere"

    answer = await geocoder(session, f"{base}/reverse").reverse(1.0, 2.0)

    assert answer.value == "Somewhere"
    assert fake.received[0].path == "/reverse"


async def test_long_address_trimmed_to_255_characters(
    service: Service, session: aiohttp.ClientSession
) -> None:
    fake, base = service
    long_name = ", ".join(f"Part {n} of a very long place name" for n in range(20))
    fake.places["10.0000,20.0000"] = long_name

    answer = await geocoder(session, base).reverse(10.0, 20.0)

    assert answer.value is not None
    assert len(answer.value) <= MAX_ADDRESS_LENGTH
    assert long_name.startswith(answer.value)
    assert answer.value.endswith("place name")  # cut between parts, not inside one


def test_trim_address() -> None:
    assert trim_address("  Main  Street,\n Town ") == "Main Street, Town"
    assert trim_address("x" * 300) == "x" * 255
    assert trim_address("a, " + "y" * 300) == "a, " + "y" * 252


async def test_no_place_is_cached_as_not_found(
    service: Service, session: aiohttp.ClientSession
) -> None:
    fake, base = service
    reverse = geocoder(session, base)

    first = await reverse.reverse(0.0, -150.0)
    second = await reverse.reverse(0.0, -150.0)

    assert first.status is LookupStatus.NOT_FOUND
    assert (second.status, second.cached) == (LookupStatus.NOT_FOUND, True)
    assert len(fake.received) == 1
    assert reverse.failures.counts == {}


async def test_one_request_a_second_for_every_client_of_a_server(
    service: Service, session: aiohttp.ClientSession
) -> None:
    fake, base = service
    one, two = geocoder(session, base), geocoder(session, base, min_interval=0.1)

    answers = await asyncio.gather(one.reverse(1.0, 1.0), two.reverse(2.0, 2.0), one.reverse(3, 3))

    assert [a.status for a in answers] == [LookupStatus.NOT_FOUND] * 3
    times = sorted(r.at for r in fake.received)
    assert len(times) == 3
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert all(gap >= 0.95 for gap in gaps), gaps


async def test_over_the_wait_limit_not_now_at_once(
    service: Service, session: aiohttp.ClientSession
) -> None:
    fake, base = service
    reverse = geocoder(session, base, max_wait=1.5)

    answers = await asyncio.gather(*(reverse.reverse(float(n), 0.5) for n in range(6)))

    statuses = [a.status for a in answers]
    assert statuses.count(LookupStatus.NOT_FOUND) == 2  # now and in one second
    assert statuses.count(LookupStatus.NOT_NOW) == 4
    assert len(fake.received) == 2
    assert reverse.counts["rate_limited"] == 4


@pytest.mark.parametrize(
    ("status", "kind"), [(500, "http_500"), (503, "http_503"), (429, "http_429"), (404, "http_404")]
)
async def test_errors_back_off(
    service: Service, session: aiohttp.ClientSession, status: int, kind: str
) -> None:
    fake, base = service
    fake.status = status
    clock = FakeClock()
    reverse = geocoder(session, base, clock=clock, backoff=30.0)

    assert (await reverse.reverse(1.0, 1.0)).status is LookupStatus.NOT_NOW
    assert (await reverse.reverse(2.0, 2.0)).status is LookupStatus.NOT_NOW

    assert reverse.failures.counts == {kind: 1}
    assert reverse.counts["backing_off"] == 1
    assert len(fake.received) == 1
    assert reverse.cached(1.0, 1.0) is None  # a failure is not an answer


async def test_timeout_is_a_failure(service: Service, session: aiohttp.ClientSession) -> None:
    fake, base = service
    fake.delay = 2.0
    reverse = geocoder(session, base, timeout=0.2)

    answer = await reverse.reverse(1.0, 1.0)

    assert answer.status is LookupStatus.NOT_NOW
    assert reverse.failures.counts == {"timeout": 1}
    assert reverse.diagnostics()["failures"] == {"timeout": 1}


async def test_answer_without_a_name_is_a_failure(
    service: Service, session: aiohttp.ClientSession
) -> None:
    fake, base = service
    fake.raw = '{"place_id": 5, "display_name": ""}'
    reverse = geocoder(session, base)

    assert (await reverse.reverse(1.0, 1.0)).status is LookupStatus.NOT_NOW
    assert reverse.failures.counts == {"bad_response": 1}


@pytest.mark.parametrize(
    ("latitude", "longitude"), [(float("nan"), 1.0), (91.0, 1.0), (1.0, 181.0)]
)
async def test_impossible_positions_are_never_sent(
    service: Service, session: aiohttp.ClientSession, latitude: float, longitude: float
) -> None:
    fake, base = service

    answer = await geocoder(session, base).reverse(latitude, longitude)

    assert answer.status is LookupStatus.NOT_FOUND
    assert fake.received == []
