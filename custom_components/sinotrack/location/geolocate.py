"""Cell positions from an online service speaking the Ichnaea / Google geolocate API.

``POST {url}[?key=...]`` with ``{"considerIp": false, "cellTowers": [{"radioType",
"mobileCountryCode", "mobileNetworkCode", "locationAreaCode", "cellId"}]}``; the answer is
``{"location": {"lat", "lng"}, "accuracy"}``, or HTTP 404 with a JSON error when the service
knows no such cell (a 404 without JSON is a wrong URL, a failure).
BeaconDB (``https://api.beacondb.net/v1/geolocate``) and Google's Geolocation API speak it.
"""

from __future__ import annotations

import asyncio
from collections import Counter
import logging
import math
from typing import Any, Final

import aiohttp
from yarl import URL

from .cells import GEOLOCATE_RADIO, CellKey, CellPosition, Lookup, LookupStatus
from .http import fetch_json, user_agent
from .throttle import Clock, ExpiringCache, FailureTracker, TokenBucket

_LOGGER = logging.getLogger(__name__)

DEFAULT_TIMEOUT: Final = 10.0
DEFAULT_RATE: Final = 1.0
"""Requests a second on average (trackers change cells a few times a minute at most)."""
DEFAULT_BURST: Final = 10
CACHE_ENTRIES: Final = 4096
FOUND_TTL: Final = 7 * 86400.0
NOT_FOUND_TTL: Final = 86400.0
MAX_ACCURACY_M: Final = 100_000.0


class GeolocateClient:
    """Looks cells up online: cached per cell, rate limited, backing off after failures.

    ``session`` is the caller's (Home Assistant's shared one); nothing here closes it.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        api_key: str | None = None,
        *,
        version: str,
        timeout: float = DEFAULT_TIMEOUT,
        rate: float = DEFAULT_RATE,
        burst: int = DEFAULT_BURST,
        cache_entries: int = CACHE_ENTRIES,
        found_ttl: float = FOUND_TTL,
        not_found_ttl: float = NOT_FOUND_TTL,
        backoff: float = 30.0,
        max_backoff: float = 3600.0,
        clock: Clock | None = None,
    ) -> None:
        self._session = session
        request_url = URL(url)
        if api_key:
            request_url = request_url.update_query(key=api_key)
        self._url = request_url
        self._headers = {"User-Agent": user_agent(version), "Accept": "application/json"}
        self._timeout = timeout
        self._found_ttl = found_ttl
        self._not_found_ttl = not_found_ttl
        clock_kwargs: dict[str, Any] = {} if clock is None else {"clock": clock}
        self._cache: ExpiringCache[tuple[int, int, int, int], CellPosition | None] = ExpiringCache(
            cache_entries, **clock_kwargs
        )
        self._bucket = TokenBucket(rate, burst, **clock_kwargs)
        self.failures = FailureTracker(
            f"Geolocation service {request_url.host}",
            _LOGGER,
            base=backoff,
            maximum=max_backoff,
            **clock_kwargs,
        )
        self._pending: dict[tuple[int, int, int, int], asyncio.Future[Lookup[CellPosition]]] = {}
        self.counts: Counter[str] = Counter()
        """requests, found, not_found, cache_hits, rate_limited, backing_off, failed."""

    def cached(self, cell: CellKey) -> Lookup[CellPosition] | None:
        """The cached answer for ``cell`` (found or not found), None when there is none."""
        hit, value = self._cache.get(cell.ident)
        if not hit:
            return None
        status = LookupStatus.FOUND if value is not None else LookupStatus.NOT_FOUND
        return Lookup(status, value, cached=True)

    async def locate(self, cell: CellKey) -> Lookup[CellPosition]:
        """Where ``cell`` is, from the cache or one request; ``NOT_NOW`` when not asked.

        Concurrent lookups of one cell share one request. Over the rate limit or while
        backing off after failures, the answer is ``NOT_NOW`` at once (nothing is queued).
        """
        if not cell.plausible:
            return Lookup(LookupStatus.NOT_FOUND)
        cached = self.cached(cell)
        if cached is not None:
            self.counts["cache_hits"] += 1
            return cached
        pending = self._pending.get(cell.ident)
        if pending is not None:
            return await asyncio.shield(pending)
        if self.failures.backing_off():
            self.counts["backing_off"] += 1
            return Lookup(LookupStatus.NOT_NOW)
        if not self._bucket.try_acquire():
            self.counts["rate_limited"] += 1
            return Lookup(LookupStatus.NOT_NOW)
        future: asyncio.Future[Lookup[CellPosition]] = asyncio.get_running_loop().create_future()
        self._pending[cell.ident] = future
        try:
            result = await self._request(cell)
        except BaseException:
            future.set_result(Lookup(LookupStatus.NOT_NOW))
            raise
        finally:
            del self._pending[cell.ident]
        future.set_result(result)
        return result

    async def _request(self, cell: CellKey) -> Lookup[CellPosition]:
        self.counts["requests"] += 1
        tower: dict[str, Any] = {
            "mobileCountryCode": cell.mcc,
            "mobileNetworkCode": cell.mnc,
            "locationAreaCode": cell.lac,
            "cellId": cell.cell,
        }
        if cell.radio is not None and cell.radio in GEOLOCATE_RADIO:
            tower = {"radioType": GEOLOCATE_RADIO[cell.radio], **tower}
        body = {"considerIp": False, "cellTowers": [tower]}
        reply = await fetch_json(
            self._session,
            "POST",
            self._url,
            headers=self._headers,
            seconds=self._timeout,
            failures=self.failures,
            json_body=body,
            ok_statuses=frozenset({200, 404}),
        )
        if reply is None:
            self.counts["failed"] += 1
            return Lookup(LookupStatus.NOT_NOW)
        if reply.status == 404 and reply.body is None:
            # Not the service's "no such cell" (a JSON error): a wrong URL.
            self.failures.failure("http_404", f"{self._url.host} has no such page (URL?)")
            self.counts["failed"] += 1
            return Lookup(LookupStatus.NOT_NOW)
        if reply.status == 404:
            self.failures.success()
            self.counts["not_found"] += 1
            self._cache.put(cell.ident, None, self._not_found_ttl)
            return Lookup(LookupStatus.NOT_FOUND)
        position = _position(reply.body)
        if position is None:
            self.failures.failure("bad_response", "an answer without location and accuracy")
            self.counts["failed"] += 1
            return Lookup(LookupStatus.NOT_NOW)
        self.failures.success()
        self.counts["found"] += 1
        self._cache.put(cell.ident, position, self._found_ttl)
        return Lookup(LookupStatus.FOUND, position)

    def diagnostics(self) -> dict[str, Any]:
        """Counters and failures, for Home Assistant's diagnostics (no key, no URL query)."""
        return {
            "host": self._url.host,
            "cached_cells": len(self._cache),
            "counts": dict(self.counts),
            "failures": dict(self.failures.counts),
            "last_error": self.failures.last_error,
            "retry_in": round(self.failures.retry_in),
        }


def _position(body: Any) -> CellPosition | None:
    """The position in a geolocate answer, None when it has none that makes sense."""
    if not isinstance(body, dict):
        return None
    location = body.get("location")
    accuracy = body.get("accuracy")
    if not isinstance(location, dict):
        return None
    latitude, longitude = _number(location.get("lat")), _number(location.get("lng"))
    radius = _number(accuracy)
    if latitude is None or longitude is None or radius is None:
        return None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180 and radius >= 0):
        return None
    return CellPosition(latitude, longitude, min(radius, MAX_ACCURACY_M), "geolocate")


def _number(value: Any) -> float | None:
    """``value`` as a finite float, None when it is not a JSON number (or not finite)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None
