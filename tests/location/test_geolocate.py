"""The geolocate client against a real server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time

import aiohttp
import pytest

from custom_components.sinotrack.location import (
    CellKey,
    CellPosition,
    GeolocateClient,
    LookupStatus,
)

from .helpers import FakeClock, FakeService

type Service = tuple[FakeService, str]

CELL = CellKey(262, 2, 801, 86355)
UNKNOWN = CellKey(262, 2, 801, 1)


def client(
    session: aiohttp.ClientSession, base: str, key: str | None = None, **kwargs: object
) -> GeolocateClient:
    """A client of the fake service (rate and backoff as given)."""
    return GeolocateClient(session, f"{base}/v1/geolocate", key, version="0.1.0", **kwargs)  # type: ignore[arg-type]


async def test_found_with_its_accuracy_then_cached(
    service: Service, session: aiohttp.ClientSession
) -> None:
    fake, base = service
    fake.cells[86355] = (52.52, 13.405, 850.0)
    geolocate = client(session, base, "s3cret")

    first = await geolocate.locate(CellKey(262, 2, 801, 86355, radio="LTE"))
    second = await geolocate.locate(CELL)

    assert first.status is LookupStatus.FOUND
    assert first.value == CellPosition(52.52, 13.405, 850.0, "geolocate")
    assert not first.cached
    assert second.value == first.value
    assert second.cached
    assert len(fake.received) == 1
    request = fake.received[0]
    assert request.method == "POST"
    assert request.query == {"key": "s3cret"}
    assert request.headers["User-Agent"] == "sinotrack-ha/0.1.0 (Home Assistant)"
    assert request.body == {
        "considerIp": False,
        "cellTowers": [
            {
                "radioType": "lte",
                "mobileCountryCode": 262,
                "mobileNetworkCode": 2,
                "locationAreaCode": 801,
                "cellId": 86355,
            }
        ],
    }
    assert geolocate.counts["cache_hits"] == 1


async def test_without_key_no_query_and_no_radio_type(
    service: Service, session: aiohttp.ClientSession
) -> None:
    fake, base = service
    fake.cells[86355] = (52.52, 13.405, 850.0)

    await client(session, base).locate(CELL)

    assert fake.received[0].query == {}
    assert "radioType" not in fake.received[0].body["cellTowers"][0]


async def test_unknown_cell_is_cached_for_a_shorter_time(
    service: Service, session: aiohttp.ClientSession
) -> None:
    fake, base = service
    fake.cells[86355] = (52.52, 13.405, 850.0)
    clock = FakeClock()
    geolocate = client(session, base, clock=clock, found_ttl=1000.0, not_found_ttl=100.0)

    assert (await geolocate.locate(UNKNOWN)).status is LookupStatus.NOT_FOUND
    assert (await geolocate.locate(CELL)).found
    clock.advance(50)
    cached = await geolocate.locate(UNKNOWN)
    assert (cached.status, cached.cached) == (LookupStatus.NOT_FOUND, True)
    assert len(fake.received) == 2

    clock.advance(60)  # the negative answer expired, the position did not
    assert (await geolocate.locate(UNKNOWN)).status is LookupStatus.NOT_FOUND
    assert (await geolocate.locate(CELL)).cached
    assert len(fake.received) == 3
    assert geolocate.failures.counts == {}


async def test_timeout_backs_off_and_logs_once(
    service: Service, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    fake, base = service
    fake.cells[86355] = (52.52, 13.405, 850.0)
    fake.delay = 2.0
    clock = FakeClock()
    geolocate = client(session, base, clock=clock, timeout=0.2, backoff=30.0)
    caplog.set_level(logging.DEBUG, "custom_components.sinotrack.location")

    assert (await geolocate.locate(CELL)).status is LookupStatus.NOT_NOW
    assert geolocate.failures.counts == {"timeout": 1}
    # Backing off: no request at all, however often it is asked.
    for _ in range(5):
        assert (await geolocate.locate(CELL)).status is LookupStatus.NOT_NOW
    assert len(fake.received) == 1
    assert geolocate.counts["backing_off"] == 5

    clock.advance(31)
    assert (await geolocate.locate(CELL)).status is LookupStatus.NOT_NOW
    assert len(fake.received) == 2
    assert geolocate.failures.retry_in == 60  # doubled
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "timeout" in warnings[0].getMessage()

    fake.delay = 0.0
    clock.advance(61)
    assert (await geolocate.locate(CELL)).found
    assert geolocate.failures.retry_in == 0


@pytest.mark.parametrize(
    ("status", "kind", "retry_in"),
    [(500, "http_500", 30), (502, "http_502", 30), (400, "http_400", 30), (403, "http_403", 3600)],
)
async def test_errors_are_counted_and_back_off(
    service: Service, session: aiohttp.ClientSession, status: int, kind: str, retry_in: float
) -> None:
    fake, base = service
    fake.status = status
    clock = FakeClock()
    geolocate = client(session, base, "bad-key", clock=clock)

    answer = await geolocate.locate(CELL)

    assert answer.status is LookupStatus.NOT_NOW
    assert geolocate.failures.counts == {kind: 1}
    assert geolocate.failures.retry_in == retry_in
    assert (await geolocate.locate(UNKNOWN)).status is LookupStatus.NOT_NOW
    assert len(fake.received) == 1
    diagnostics = geolocate.diagnostics()
    assert diagnostics["failures"] == {kind: 1}
    assert "bad-key" not in repr(diagnostics)


async def test_server_rate_limit_honours_retry_after(
    service: Service, session: aiohttp.ClientSession
) -> None:
    fake, base = service
    fake.status = 429
    fake.retry_after = "120"
    clock = FakeClock()
    geolocate = client(session, base, clock=clock)

    assert (await geolocate.locate(CELL)).status is LookupStatus.NOT_NOW

    assert geolocate.failures.retry_in == 120
    clock.advance(100)
    assert (await geolocate.locate(CELL)).status is LookupStatus.NOT_NOW
    assert len(fake.received) == 1


async def test_own_rate_limit_refuses_without_queueing(
    service: Service, session: aiohttp.ClientSession
) -> None:
    fake, base = service
    clock = FakeClock()
    geolocate = client(session, base, clock=clock, rate=0.5, burst=2)
    cells = [CellKey(262, 2, 801, n) for n in range(1, 5)]

    answers = [await geolocate.locate(cell) for cell in cells]

    assert [a.status for a in answers] == [
        LookupStatus.NOT_FOUND,
        LookupStatus.NOT_FOUND,
        LookupStatus.NOT_NOW,
        LookupStatus.NOT_NOW,
    ]
    assert len(fake.received) == 2
    assert geolocate.counts["rate_limited"] == 2
    clock.advance(2)  # one token back
    assert (await geolocate.locate(cells[2])).status is LookupStatus.NOT_FOUND
    assert (await geolocate.locate(cells[3])).status is LookupStatus.NOT_NOW
    assert len(fake.received) == 3


async def test_concurrent_lookups_of_a_cell_share_one_request(
    service: Service, session: aiohttp.ClientSession
) -> None:
    fake, base = service
    fake.cells[86355] = (52.52, 13.405, 850.0)
    fake.delay = 0.2
    geolocate = client(session, base)

    answers = await asyncio.gather(*(geolocate.locate(CELL) for _ in range(10)))

    assert all(a.found for a in answers)
    assert len(fake.received) == 1


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "[]",
        '{"location": {"lat": 52.5}, "accuracy": 100}',
        '{"location": {"lat": 95.0, "lng": 13.4}, "accuracy": 100}',
        '{"location": {"lat": "52.5", "lng": 13.4}, "accuracy": 100}',
        '{"location": {"lat": 52.5, "lng": 13.4}}',
    ],
)
async def test_a_bad_answer_is_a_failure(
    service: Service, session: aiohttp.ClientSession, raw: str
) -> None:
    fake, base = service
    fake.raw = raw
    geolocate = client(session, base)

    assert (await geolocate.locate(CELL)).status is LookupStatus.NOT_NOW
    assert geolocate.failures.counts == {"bad_response": 1}


async def test_unreachable_server_is_a_connection_failure(
    session: aiohttp.ClientSession, unused_tcp_port: int
) -> None:
    geolocate = client(session, f"http://127.0.0.1:{unused_tcp_port}")

    assert (await geolocate.locate(CELL)).status is LookupStatus.NOT_NOW
    assert geolocate.failures.counts == {"connection": 1}


async def test_implausible_cell_is_never_asked(
    service: Service, session: aiohttp.ClientSession
) -> None:
    fake, base = service

    answer = await client(session, base).locate(CellKey(0, 0, 0, 0))

    assert answer.status is LookupStatus.NOT_FOUND
    assert fake.received == []


async def test_a_wrong_url_is_a_failure_not_an_unknown_cell(
    service: Service, session: aiohttp.ClientSession
) -> None:
    _, base = service
    geolocate = GeolocateClient(session, f"{base}/v2/nowhere", version="0.1.0")

    answer = await geolocate.locate(CELL)

    assert answer.status is LookupStatus.NOT_NOW
    assert geolocate.failures.counts == {"http_404": 1}
    assert geolocate.cached(CELL) is None


async def test_an_oversized_answer_is_not_read(
    service: Service, session: aiohttp.ClientSession
) -> None:
    fake, base = service
    fake.raw = (
        '{"location": {"lat": 1.0, "lng": 2.0}, "accuracy": 10, "pad": "' + "x" * 70_000 + '"}'
    )
    geolocate = client(session, base)

    assert (await geolocate.locate(CELL)).status is LookupStatus.NOT_NOW
    assert geolocate.failures.counts == {"bad_response": 1}


async def test_the_key_never_reaches_the_log(
    session: aiohttp.ClientSession, unused_tcp_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, "custom_components.sinotrack.location")
    geolocate = client(session, f"http://127.0.0.1:{unused_tcp_port}", "TOPSECRETKEY")

    await geolocate.locate(CELL)

    assert geolocate.failures.counts == {"connection": 1}
    assert "TOPSECRETKEY" not in caplog.text
    assert "TOPSECRETKEY" not in repr(geolocate.diagnostics())


async def test_retry_after_as_an_http_date(
    service: Service, session: aiohttp.ClientSession
) -> None:
    fake, base = service
    fake.status = 503
    fake.retry_after = email.utils.formatdate(time.time() + 600, usegmt=True)
    geolocate = client(session, base, clock=FakeClock())

    await geolocate.locate(CELL)

    assert 590 <= geolocate.failures.retry_in <= 600
