"""What the set-up flow's "Wait for the tracker" step watches, apart from the flow's steps."""

from __future__ import annotations

import asyncio
from typing import Final

from homeassistant.core import HomeAssistant, callback

from .const import DOMAIN, WAIT_FOR_TRACKER
from .entry import get_pool
from .listener import Expectation, Listener, ListenerConfig

MAX_OTHER_IDS: Final = 5
"""Other IDs shown while waiting for a tracker (the latest ones)."""


class TrackerWait:
    """What the "Wait for the tracker" step watches: the port it holds open, the frames seen.

    The listener of the port is acquired from the pool for the wait (and released once the
    flow is gone: by then the entry created holds it, so the tracker stays connected), and
    told to expect the ID (exempt from the limits of unknown IDs, reported at its first
    frame). Every frame on the port is seen: another ID is remembered to be shown.
    """

    def __init__(self, hass: HomeAssistant, tracker_id: str, port: int, host: str) -> None:
        self.hass = hass
        self.tracker_id = tracker_id
        self.port = port
        self.host = host
        self.arrived = False
        self.timed_out = False
        self.others: dict[str, str] = {}
        """Other IDs that reported on the port while waiting, with their protocol."""
        self._listener: Listener | None = None
        self._expectation: Expectation | None = None
        self._news = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._deadline = 0.0

    async def start(self) -> None:
        """Hold the port open and expect the tracker. Raises :class:`ListenerBindError`."""
        listener = await get_pool(self.hass).acquire(ListenerConfig(host=self.host, port=self.port))
        self._listener = listener
        if isinstance(listener.config.host, str):
            self.host = listener.config.host
        self._expectation = listener.expect(self.tracker_id, self._seen)
        # Connected already (before it was added: an unknown ID kept for discovery).
        self.arrived = listener.is_connected(self.tracker_id)
        self._deadline = asyncio.get_running_loop().time() + WAIT_FOR_TRACKER

    @callback
    def _seen(self, ident: str, protocol: str, _peer: str) -> None:
        if ident == self.tracker_id:
            self.arrived = True
        else:
            self.others.pop(ident, None)
            self.others[ident] = protocol.upper() or "?"
            while len(self.others) > MAX_OTHER_IDS:
                del self.others[next(iter(self.others))]
        self._news.set()

    def task(self) -> asyncio.Task[None]:
        """A task that ends at the next news (a frame seen) or when the wait times out; the
        same task while it runs (the frontend asks for the step again at will)."""
        if self._task is None or self._task.done():
            self._news.clear()
            # A background task: it may last minutes, and nothing needs to wait for it.
            self._task = self.hass.async_create_background_task(
                self._next(), f"{DOMAIN} wait for {self.tracker_id}", eager_start=False
            )
        return self._task

    async def _next(self) -> None:
        remaining = self._deadline - asyncio.get_running_loop().time()
        try:
            async with asyncio.timeout(max(0.0, remaining)):
                await self._news.wait()
        except TimeoutError:
            self.timed_out = not self.arrived

    def placeholders(self) -> dict[str, str]:
        """What the progress text shows."""
        return {
            "tracker_id": self.tracker_id,
            "port": str(self.port),
            "host": self.host,
            "other_ids": ", ".join(
                f"{ident} ({protocol})" for ident, protocol in reversed(self.others.items())
            ),
        }

    async def close(self) -> None:
        """Stop expecting the tracker and give the port back (idempotent)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self._expectation is not None:
            self._expectation.close()
            self._expectation = None
        if self._listener is not None:
            listener, self._listener = self._listener, None
            await get_pool(self.hass).release(listener)
