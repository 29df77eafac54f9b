"""Place names from a Nominatim-compatible reverse geocoder, within its usage policy.

``GET {base}/reverse?format=jsonv2&lat=..&lon=..&zoom=18&addressdetails=0``: the answer's
``display_name`` is the address; ``{"error": ...}`` means no place there. The public
service's policy is kept for any server: at most one request a second for the whole
integration (one pacer per base URL, shared by every client of that URL), a User-Agent that
names the integration, results cached. Positions are rounded to 4 decimals (about 11 m)
before they are sent and cached.
"""

from __future__ import annotations

from collections import Counter
import logging
from typing import Any, Final

import aiohttp
from yarl import URL

from .cells import Lookup, LookupStatus
from .http import fetch_json, user_agent
from .throttle import Clock, ExpiringCache, FailureTracker, Pacer

_LOGGER = logging.getLogger(__name__)

MAX_ADDRESS_LENGTH: Final = 255
DECIMALS: Final = 4
"""Rounding of positions sent and cached: 1e-4 degree, about 11 m."""
MIN_INTERVAL: Final = 1.0
"""At most one request a second per server (the public service's usage policy)."""
MAX_WAIT: Final = 5.0
"""A lookup waits this long at most for its turn; later ones get ``NOT_NOW`` at once."""
DEFAULT_TIMEOUT: Final = 10.0
CACHE_ENTRIES: Final = 2048
FOUND_TTL: Final = 30 * 86400.0
NOT_FOUND_TTL: Final = 86400.0

_PACERS: dict[str, Pacer] = {}
"""One pacer per server, shared by every client of it in this process."""


def _pacer_for(url: URL, interval: float, max_wait: float) -> Pacer:
    """The pacer of the server at ``url`` (created on first use; the longest interval wins)."""
    key = str(url.with_query(None).with_fragment(None)).rstrip("/")
    pacer = _PACERS.get(key)
    if pacer is None:
        pacer = _PACERS[key] = Pacer(interval, max_wait)
    else:
        pacer.interval = max(pacer.interval, interval)
        pacer.max_wait = max_wait
    return pacer


def trim_address(text: str, limit: int = MAX_ADDRESS_LENGTH) -> str:
    """``text`` in at most ``limit`` characters: cut after its last whole comma-part if it can."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[:limit]
    cut = head.rfind(",")
    return head[:cut].rstrip() if cut > limit // 2 else head.rstrip()


class ReverseGeocoder:
    """Addresses of positions from a Nominatim-compatible server.

    ``session`` is the caller's (Home Assistant's shared one). ``language`` (for example
    ``"en"``) is sent as ``accept-language``. ``min_interval`` is never below one second.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        *,
        version: str,
        language: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        min_interval: float = MIN_INTERVAL,
        max_wait: float = MAX_WAIT,
        cache_entries: int = CACHE_ENTRIES,
        found_ttl: float = FOUND_TTL,
        not_found_ttl: float = NOT_FOUND_TTL,
        backoff: float = 30.0,
        max_backoff: float = 3600.0,
        clock: Clock | None = None,
    ) -> None:
        self._session = session
        base = URL(base_url.rstrip("/"))
        self._url = base / "reverse" if not base.path.endswith("/reverse") else base
        self._language = language
        self._headers = {"User-Agent": user_agent(version), "Accept": "application/json"}
        self._timeout = timeout
        self._found_ttl = found_ttl
        self._not_found_ttl = not_found_ttl
        clock_kwargs: dict[str, Any] = {} if clock is None else {"clock": clock}
        self._pacer = _pacer_for(self._url, max(MIN_INTERVAL, min_interval), max_wait)
        self._cache: ExpiringCache[tuple[float, float], str | None] = ExpiringCache(
            cache_entries, **clock_kwargs
        )
        self.failures = FailureTracker(
            f"Reverse geocoder {base.host}",
            _LOGGER,
            base=backoff,
            maximum=max_backoff,
            **clock_kwargs,
        )
        self.counts: Counter[str] = Counter()
        """requests, found, not_found, cache_hits, rate_limited, backing_off, failed."""

    @staticmethod
    def key(latitude: float, longitude: float) -> tuple[float, float]:
        """The rounded position that is sent and cached for (latitude, longitude)."""
        return (round(latitude, DECIMALS), round(longitude, DECIMALS))

    def cached(self, latitude: float, longitude: float) -> Lookup[str] | None:
        """The cached address near the position (never a request), None when unknown.

        For what must not wait (an alarm's data): the address when it is already known.
        """
        hit, value = self._cache.get(self.key(latitude, longitude))
        if not hit:
            return None
        status = LookupStatus.FOUND if value is not None else LookupStatus.NOT_FOUND
        return Lookup(status, value, cached=True)

    async def reverse(self, latitude: float, longitude: float) -> Lookup[str]:
        """The address at the position: cached, or asked (waiting at most ``max_wait``).

        ``NOT_NOW`` when no request slot is free within ``max_wait``, while backing off
        after failures, or when the request failed.
        """
        if not (-90.0 <= latitude <= 90.0 and -180.0 <= longitude <= 180.0):
            return Lookup(LookupStatus.NOT_FOUND)  # also NaN: never sent
        cached = self.cached(latitude, longitude)
        if cached is not None:
            self.counts["cache_hits"] += 1
            return cached
        if self.failures.backing_off():
            self.counts["backing_off"] += 1
            return Lookup(LookupStatus.NOT_NOW)
        if not await self._pacer.wait():
            self.counts["rate_limited"] += 1
            return Lookup(LookupStatus.NOT_NOW)
        cached = self.cached(latitude, longitude)  # another lookup may have asked meanwhile
        if cached is not None:
            self.counts["cache_hits"] += 1
            return cached
        if self.failures.backing_off():
            self.counts["backing_off"] += 1
            return Lookup(LookupStatus.NOT_NOW)
        return await self._request(self.key(latitude, longitude))

    async def _request(self, key: tuple[float, float]) -> Lookup[str]:
        self.counts["requests"] += 1
        query = {
            "format": "jsonv2",
            "lat": f"{key[0]:.{DECIMALS}f}",
            "lon": f"{key[1]:.{DECIMALS}f}",
            "zoom": "18",
            "addressdetails": "0",
        }
        if self._language:
            query["accept-language"] = self._language
        reply = await fetch_json(
            self._session,
            "GET",
            self._url.with_query(query),
            headers=self._headers,
            seconds=self._timeout,
            failures=self.failures,
        )
        if reply is None:
            self.counts["failed"] += 1
            return Lookup(LookupStatus.NOT_NOW)
        body = reply.body
        if isinstance(body, dict) and "error" in body:
            self.failures.success()
            self.counts["not_found"] += 1
            self._cache.put(key, None, self._not_found_ttl)
            return Lookup(LookupStatus.NOT_FOUND)
        name = body.get("display_name") if isinstance(body, dict) else None
        if not isinstance(name, str) or not name.strip():
            self.failures.failure("bad_response", "an answer without display_name")
            self.counts["failed"] += 1
            return Lookup(LookupStatus.NOT_NOW)
        self.failures.success()
        self.counts["found"] += 1
        address = trim_address(name)
        self._cache.put(key, address, self._found_ttl)
        return Lookup(LookupStatus.FOUND, address)

    def diagnostics(self) -> dict[str, Any]:
        """Counters and failures, for Home Assistant's diagnostics."""
        return {
            "host": self._url.host,
            "cached_places": len(self._cache),
            "counts": dict(self.counts),
            "failures": dict(self.failures.counts),
            "last_error": self.failures.last_error,
            "retry_in": round(self.failures.retry_in),
        }
