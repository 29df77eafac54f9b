"""Who gets in and how much each may take: caps, allow-lists, budgets, discovery, the sweep.

Every budget of the listener lives here:

* connections: the listener's cap (a newcomer evicts a connection that has not identified,
  then one of an ID no entry owns, so a configured tracker always finds a place), the cap
  of unknown-ID connections, the per-source cap, the allow-list;
* reads: per connection (bytes/s; a smaller budget until the first good frame), per
  tracker (frames/s), per source address (bytes/s), and per event-loop iteration
  (listener-wide time and bytes, with a byte share per source). Throttling always means reads paused (TCP
  back-pressure), never a frame dropped;
* memory: what all connections hold together (partial frames, JT/T 808 sub-packages,
  unsent replies);
* discovery: new IDs per source address per hour.

``per_source_exempt`` sources (loopback by default: a local relay) skip the per-source caps,
shares and rates, and the discovery rate; the other budgets apply to every connection.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
import time
from typing import TYPE_CHECKING, Final

from .config import IPAddress, ListenerConfig, in_networks
from .stats import (
    CLOSED_EVICTED,
    CLOSED_HANDSHAKE,
    CLOSED_IDLE,
    CLOSED_MEMORY,
    REFUSED_CLOSING,
    REFUSED_NOT_ALLOWED,
    REFUSED_TOO_MANY,
    REFUSED_TOO_MANY_FROM_SOURCE,
    Stats,
)

if TYPE_CHECKING:
    from .session import Session

UNOWNED_SHARE: Final = 0.25
"""Share of an iteration's read time that connections no entry owns (not identified yet, or
an unknown ID) may take together: a crowd of strangers cannot delay the owners' trackers."""
MIN_READ: Final = 1
"""The read once an iteration's budget is spent: asyncio reads into a non-empty buffer, so a
ready connection takes one byte (held by the codec, nothing decoded) and waits."""
_HOUR: Final = 3600.0
_MAX_SOURCES_REMEMBERED: Final = 4096
"""Source addresses whose introduced IDs are remembered (oldest forgotten first)."""
MEMORY_PAUSE: Final = 1.0
"""Seconds a connection's reads pause when it grows while the listener is over its memory
budget. A pause stops growth; it cannot free what the connection holds (a partial frame
needs its end), so it is timed: each connection's holding is capped by the codec (one
frame, one sub-packaged message), and a paused one grows by one read per pause at most."""


class Bucket:
    """A token bucket; the rate and size are given at each take (they change with state)."""

    __slots__ = ("_stamp", "_tokens")

    def __init__(self, tokens: float, now: float) -> None:
        self._tokens = tokens
        self._stamp = now

    def take(self, amount: float, now: float, rate: float, burst: float) -> float:
        """Take ``amount``; returns the seconds until the bucket is back above zero (or 0)."""
        tokens = min(burst, self._tokens + (now - self._stamp) * rate) - amount
        self._tokens = tokens
        self._stamp = now
        return -tokens / rate if tokens < 0 else 0.0


class Source:
    """One source IP address: its connections, byte bucket and this iteration's reads."""

    __slots__ = ("bucket", "connections", "exempt", "host", "iteration_bytes")

    def __init__(self, host: str, exempt: bool, tokens: float, now: float) -> None:
        self.host = host
        self.exempt = exempt
        self.connections = 0
        self.iteration_bytes = 0
        self.bucket = Bucket(tokens, now)


class Allowance:
    """One connection's budgets and why its reads are paused."""

    __slots__ = ("bytes", "called", "frames", "held", "owed", "served", "timer")

    def __init__(self, config: ListenerConfig, now: float) -> None:
        self.bytes = Bucket(float(max(config.unidentified_read_rate, config.read_size)), now)
        self.frames = Bucket(float(config.frame_burst), now)
        self.held = 0
        self.timer: asyncio.TimerHandle | None = None
        self.owed = False
        """A read was cut short by the iteration's budget: served first in the next ones."""
        self.called = 0
        """The iteration in which it was last offered a read."""
        self.served = 0
        """The iteration in which it last had a whole read."""


class Admission:
    """The caps and budgets of one listener (see the module docstring)."""

    def __init__(
        self,
        config: ListenerConfig,
        stats: Stats,
        loop: Callable[[], asyncio.AbstractEventLoop],
    ) -> None:
        self.config = config
        self.stats = stats
        self._loop = loop
        self.connections: dict[Session, None] = {}
        self.unidentified: dict[Session, None] = {}
        """Connections without an ID yet, oldest first (evicted first)."""
        self.unknown: dict[Session, None] = {}
        """Connections of an ID no entry owns, oldest first (evicted next)."""
        self._sources: dict[str, Source] = {}
        self._introduced: dict[str, deque[float]] = {}
        self._iteration_bytes = 0
        self._iteration_open = False
        self._iteration_started = 0.0
        """``time.perf_counter()`` at the iteration's first read."""
        self._touched: list[Source] = []
        self._iteration = 0
        self._owed: tuple[dict[Session, None], dict[Session, None]] = ({}, {})
        """Connections whose read the budget cut short, in that order: until they are served,
        the others yield (round robin: the sockets that the selector reports first cannot
        take every iteration's budget)."""
        self._unowned_time = 0.0
        """Seconds the connections no entry owns read in this iteration."""
        self._read_from = 0.0
        self._read_unowned = False
        self._spent = False
        """The iteration's budget ran out (else an owed connection not offered a read had
        nothing to read, and is owed nothing more)."""
        self.held = 0
        """Bytes held by all connections together (see ``memory_budget``)."""
        self._holders: dict[Session, None] = {}

    # -- connections ------------------------------------------------------------------------------

    def refusal(self, address: IPAddress | None, host: str, closing: bool) -> str | None:
        """Why a new connection from ``host`` is refused, or None (maybe after an eviction)."""
        config = self.config
        if closing:
            return REFUSED_CLOSING
        if config.allowed_networks and not in_networks(address, config.allowed_networks):
            return REFUSED_NOT_ALLOWED
        source = self._sources.get(host)
        if (
            config.max_connections_per_source
            and source is not None
            and not source.exempt
            and source.connections >= config.max_connections_per_source
        ):
            return REFUSED_TOO_MANY_FROM_SOURCE
        if len(self.connections) >= config.max_connections:
            victims = self.unidentified or self.unknown
            if not victims:
                return REFUSED_TOO_MANY
            victim = next(iter(victims))
            self.stats.evicted += 1
            self.remove(victim)
            victim.close(CLOSED_EVICTED)
        return None

    def source(self, host: str, address: IPAddress | None) -> Source:
        """The record of ``host`` (created for its first connection)."""
        source = self._sources.get(host)
        if source is None:
            config = self.config
            source = self._sources[host] = Source(
                host,
                in_networks(address, config.per_source_exempt),
                float(config.source_read_burst),
                self._loop().time(),
            )
        return source

    def allowance(self) -> Allowance:
        """A new connection's budgets."""
        return Allowance(self.config, self._loop().time())

    def add(self, session: Session) -> None:
        """Count ``session`` as one of the connections."""
        self.connections[session] = None
        self.unidentified[session] = None
        session.source.connections += 1
        self.stats.connections_total += 1

    def remove(self, session: Session) -> None:
        """Stop counting ``session`` (idempotent) and cancel its timers."""
        if self.connections.pop(session, 0) is None:
            source = session.source
            source.connections -= 1
            if source.connections <= 0 and self._sources.get(source.host) is source:
                del self._sources[source.host]
        self.unidentified.pop(session, None)
        self.unknown.pop(session, None)
        if self._holders.pop(session, 0) is None:
            self.held -= session.allowance.held
            session.allowance.held = 0
        allowance = session.allowance
        if allowance.timer is not None:
            allowance.timer.cancel()
            allowance.timer = None
        if allowance.owed:
            allowance.owed = False
            for owed in self._owed:
                owed.pop(session, None)

    def set_owned(self, session: Session, owned: bool) -> None:
        """``session`` identified; ``owned``: an entry owns its ID."""
        if session not in self.connections:
            return
        self.unidentified.pop(session, None)
        if owned:
            self.unknown.pop(session, None)
        else:
            self.unknown[session] = None

    def unknown_full(self) -> bool:
        """Whether the connections of unknown IDs fill their cap."""
        return len(self.unknown) >= self.config.max_unknown_connections

    # -- reads ------------------------------------------------------------------------------------

    def read_size(self, session: Session) -> int:
        """How many bytes the next read of ``session`` may take."""
        config = self.config
        if not self._iteration_open:
            self._open_iteration()
        allowance = session.allowance
        allowance.called = self._iteration
        unowned = session in self.unidentified or session in self.unknown
        owed = self._owed[unowned]
        now = time.perf_counter()
        self._read_from = now
        self._read_unowned = unowned
        if self._spent:
            return self._cut_short(session, owed)
        if now - self._iteration_started >= config.loop_read_time:
            self._spent = True
            return self._cut_short(session, owed)
        if unowned and self._unowned_time >= config.loop_read_time * UNOWNED_SHARE:
            return self._cut_short(session, owed)
        if owed and not allowance.owed and allowance.served == self._iteration - 1:
            return MIN_READ  # served last time: those cut short go first now
        left = config.loop_read_budget - self._iteration_bytes
        if left <= 0:
            self._spent = True
            return self._cut_short(session, owed)
        size = config.read_size if session.good_since is not None else config.unidentified_read_size
        source = session.source
        if not source.exempt:
            share = config.source_iteration_share - source.iteration_bytes
            if share <= 0:
                return self._cut_short(session, owed)  # this source's share: others go on
            size = min(size, share)
        if allowance.owed:
            allowance.owed = False
            owed.pop(session, None)
        allowance.served = self._iteration
        return min(size, left)

    def _cut_short(self, session: Session, owed: dict[Session, None]) -> int:
        """The budget is spent: one byte now, and a place among those owed."""
        allowance = session.allowance
        if not allowance.owed:
            allowance.owed = True
            owed[session] = None
            self.stats.iteration_deferred += 1
        return MIN_READ

    def after_read(self, session: Session, nbytes: int, frames: int, now: float) -> None:
        """Charge a read of ``nbytes`` that decoded ``frames`` frames; pause if over budget."""
        config = self.config
        stats = self.stats
        allowance = session.allowance
        source = session.source
        if not self._iteration_open:
            self._open_iteration()
        if self._read_unowned:
            self._unowned_time += time.perf_counter() - self._read_from
        self._iteration_bytes += nbytes
        wait = 0.0
        if session.good_since is not None:
            rate, burst = config.max_read_rate, max(config.read_burst, config.read_size)
        else:
            rate = burst = config.unidentified_read_rate
        if rate:
            delay = allowance.bytes.take(nbytes, now, rate, burst)
            if delay:
                stats.throttled += 1
                wait = delay
        if frames and config.max_frame_rate:
            delay = allowance.frames.take(frames, now, config.max_frame_rate, config.frame_burst)
            if delay:
                stats.frame_rate_throttled += 1
                wait = max(wait, delay)
        if not source.exempt:
            if not source.iteration_bytes:
                self._touched.append(source)
            source.iteration_bytes += nbytes
            if config.source_read_rate:
                delay = source.bucket.take(
                    nbytes, now, config.source_read_rate, config.source_read_burst
                )
                if delay:
                    stats.source_throttled += 1
                    wait = max(wait, delay)
        self.held_changed(session)
        if session.closing is not None:
            return
        if wait:
            self._pause_for(session, wait)

    def _open_iteration(self) -> None:
        """The first read of an event-loop iteration: its budgets start now."""
        self._iteration_open = True
        self._iteration += 1
        self._spent = False
        self._iteration_started = time.perf_counter()
        self._loop().call_soon(self._new_iteration)

    def _new_iteration(self) -> None:
        """A new event-loop iteration: budgets refilled; an owed connection that was not
        offered a read while the budget lasted had nothing to read: it is owed nothing."""
        self._iteration_open = False
        self._iteration_bytes = 0
        for source in self._touched:
            source.iteration_bytes = 0
        self._touched.clear()
        self._unowned_time = 0.0
        if not self._spent:
            iteration = self._iteration
            for owed in self._owed:
                for session in [s for s in owed if s.allowance.called != iteration]:
                    session.allowance.owed = False
                    del owed[session]

    def _pause_for(self, session: Session, seconds: float) -> None:
        allowance = session.allowance
        if allowance.timer is not None:
            return
        session.pause_reading()
        allowance.timer = self._loop().call_later(seconds, self._timer_over, session)

    def _timer_over(self, session: Session) -> None:
        session.allowance.timer = None
        self._release(session)

    def _release(self, session: Session) -> None:
        """Resume reading unless another budget still holds ``session``."""
        allowance = session.allowance
        if allowance.timer is None and session.closing is None:
            session.resume_reading()

    # -- memory -----------------------------------------------------------------------------------

    def held_changed(self, session: Session) -> None:
        """Re-read what ``session`` holds; act if the listener is over its memory budget."""
        if session not in self.connections:
            return
        allowance = session.allowance
        held = session.held_bytes
        self.held += held - allowance.held
        allowance.held = held
        if held:
            self._holders[session] = None
        else:
            self._holders.pop(session, None)
        if self.held > self.config.memory_budget:
            self._relieve(session)

    def _relieve(self, session: Session) -> None:
        """Over budget: close unowned holders (biggest first), then pause ``session``."""
        budget = self.config.memory_budget
        unowned = [s for s in (*self.unidentified, *self.unknown) if s.allowance.held]
        unowned.sort(key=lambda s: s.allowance.held, reverse=True)
        for victim in unowned:
            if self.held <= budget:
                return
            self.stats.memory_closed += 1
            self.remove(victim)
            victim.close(CLOSED_MEMORY)
        if self.held > budget and session.closing is None and session in self.connections:
            self.stats.memory_paused += 1
            self._pause_for(session, MEMORY_PAUSE)

    # -- discovery ----------------------------------------------------------------------------------

    def may_introduce(self, session: Session, now: float) -> bool:
        """Whether the source of ``session`` may introduce one more new ID this hour."""
        if session.source.exempt:
            return True
        times = self._introduced.get(session.host)
        if times is None:
            return True
        while times and times[0] <= now - _HOUR:
            times.popleft()
        return len(times) < self.config.discoveries_per_source

    def introduced(self, session: Session, now: float) -> None:
        """The source of ``session`` introduced a new ID at ``now``."""
        if session.source.exempt:
            return
        host = session.host
        times = self._introduced.pop(host, None)
        if times is None:
            if len(self._introduced) >= _MAX_SOURCES_REMEMBERED:
                del self._introduced[next(iter(self._introduced))]
            times = deque()
        self._introduced[host] = times  # most recent last
        times.append(now)

    # -- the sweep --------------------------------------------------------------------------------

    def sweep(self, now: float) -> list[tuple[Session, str]]:
        """Connections past their timeout; what each holder holds counted again."""
        config = self.config
        handshake_before = now - config.handshake_timeout
        unknown_before = now - config.unknown_idle_timeout
        idle_before = now - config.idle_timeout
        expired: list[tuple[Session, str]] = []
        unknown = self.unknown
        for session in self.connections:
            if session.closing is not None:
                continue
            if session.ident is None:
                if session.opened_at < handshake_before:
                    expired.append((session, CLOSED_HANDSHAKE))
            elif session.last_frame < (unknown_before if session in unknown else idle_before):
                expired.append((session, CLOSED_IDLE))
        for session in list(self._holders):
            self.held_changed(session)  # unsent replies drain
        return expired

    def diagnostics(self) -> dict[str, int]:
        """The budgets' present state."""
        return {
            "held_bytes": self.held,
            "memory_budget": self.config.memory_budget,
            "unidentified": len(self.unidentified),
            "unknown": len(self.unknown),
            "sources": len(self._sources),
        }
