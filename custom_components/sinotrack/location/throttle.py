"""What keeps the online services polite: caches with expiry, rate limits, failure backoff.

Clocks are ``time.monotonic``-like callables, given to each object so that tests can use
their own. Nothing here sleeps except :meth:`Pacer.wait`, and nothing queues unboundedly.
"""

from __future__ import annotations

import asyncio
from collections import Counter, OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
import logging
import time

type Clock = Callable[[], float]


@dataclass(slots=True)
class _Entry[V]:
    value: V
    expires: float


class ExpiringCache[K: Hashable, V]:
    """A bounded least-recently-used cache whose entries expire, each after its own time."""

    def __init__(self, max_entries: int, clock: Clock = time.monotonic) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[K, _Entry[V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K) -> tuple[bool, V | None]:
        """(True, value) for a live entry (now the most recently used), else (False, None)."""
        entry = self._entries.get(key)
        if entry is None:
            return False, None
        if entry.expires <= self._clock():
            del self._entries[key]
            return False, None
        self._entries.move_to_end(key)
        return True, entry.value

    def put(self, key: K, value: V, ttl: float) -> None:
        """Keep ``value`` for ``ttl`` seconds; the least recently used entry goes when full."""
        self._entries[key] = _Entry(value, self._clock() + ttl)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget every entry."""
        self._entries.clear()


class TokenBucket:
    """``rate`` requests a second on average, ``burst`` at once; over it, a request is refused."""

    def __init__(self, rate: float, burst: float, clock: Clock = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = burst
        self._stamp = clock()

    def try_acquire(self) -> bool:
        """Take a token if one is there; False (nothing taken, nothing queued) if not."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False


class Pacer:
    """Request starts at least ``interval`` apart; a caller waits ``max_wait`` seconds at most.

    A caller reserves the next free slot; when that slot is further than ``max_wait`` away,
    it gets none (so at most ``max_wait / interval`` callers ever wait).
    """

    def __init__(self, interval: float, max_wait: float, clock: Clock = time.monotonic) -> None:
        self.interval = interval
        self.max_wait = max_wait
        self._clock = clock
        self._next = -float("inf")

    def reserve(self) -> float | None:
        """Seconds to wait before the reserved request may start, or None: no slot."""
        now = self._clock()
        slot = max(now, self._next)
        delay = slot - now
        if delay > self.max_wait:
            return None
        self._next = slot + self.interval
        return delay

    async def wait(self) -> bool:
        """Wait for a reserved slot; False at once when there is none within ``max_wait``."""
        delay = self.reserve()
        if delay is None:
            return False
        if delay > 0:
            await asyncio.sleep(delay)
        return True


class FailureTracker:
    """Counts failures by kind, logs each kind once (then at debug level), backs off.

    After ``n`` failures in a row no request is made for ``base * 2**(n-1)`` seconds, at
    most ``maximum``; a failure may ask for longer (a server's ``Retry-After``, a refused
    key). A success ends the backoff and the run of failures.
    """

    def __init__(
        self,
        name: str,
        logger: logging.Logger,
        *,
        base: float = 30.0,
        maximum: float = 3600.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self.name = name
        self.base = base
        self.maximum = maximum
        self.counts: Counter[str] = Counter()
        self.consecutive = 0
        self._logger = logger
        self._clock = clock
        self._until = -float("inf")
        self._logged: set[str] = set()
        self.last_error: str | None = None

    def backing_off(self) -> bool:
        """True while no request may be made."""
        return self._clock() < self._until

    @property
    def retry_in(self) -> float:
        """Seconds until requests may be made again (0 when they may)."""
        return max(0.0, self._until - self._clock())

    def failure(self, kind: str, detail: str, *, at_least: float = 0.0) -> None:
        """Record a failure of ``kind`` and start (or lengthen) the backoff."""
        self.counts[kind] += 1
        self.consecutive += 1
        self.last_error = f"{kind}: {detail}"
        delay = min(self.maximum, self.base * 2 ** (self.consecutive - 1))
        delay = max(delay, min(at_least, self.maximum))
        self._until = self._clock() + delay
        level = logging.DEBUG if kind in self._logged else logging.WARNING
        self._logged.add(kind)
        self._logger.log(
            level,
            "%s: %s (%s); no request for %.0f s (further %s failures are logged at debug level)",
            self.name,
            detail,
            kind,
            delay,
            kind,
        )

    def success(self) -> None:
        """A request succeeded: no backoff, the run of failures is over."""
        self.consecutive = 0
        self._until = -float("inf")
