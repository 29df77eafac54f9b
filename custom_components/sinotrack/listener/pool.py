"""Shared listeners, one per port, reference-counted."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
import logging
from typing import Final

from .config import ListenerConfig
from .server import Listener

_LOGGER: Final = logging.getLogger(__package__)


@dataclass(slots=True)
class _PoolEntry:
    listener: Listener
    users: int = 0


class ListenerPool:
    """Shared listeners, one per port, reference-counted.

    Keep one pool per process (Home Assistant: in ``hass.data``); tests make their own.
    Entries that ask for the same port share one listener, whose bind address and limits
    are those of the first :meth:`acquire` (a port has one bind address: two listeners on
    one port would refuse each other); the last :meth:`release` closes it.
    """

    def __init__(self, factory: Callable[[ListenerConfig], Listener] = Listener) -> None:
        self._factory = factory
        self._entries: dict[int, _PoolEntry] = {}
        self._lock = asyncio.Lock()

    async def acquire(self, config: ListenerConfig) -> Listener:
        """The running listener on ``config``'s port, started on its address if needed.

        Raises :class:`ListenerBindError`; nothing is held then.
        """
        async with self._lock:
            entry = self._entries.get(config.port)
            if entry is None:
                listener = self._factory(config)
                await listener.start()
                entry = self._entries[config.port] = _PoolEntry(listener)
            elif entry.listener.config != config:
                _LOGGER.debug(
                    "Sharing the listener on port %s; its bind address (%s) and limits stay"
                    " those it started with",
                    config.port,
                    entry.listener.config.host,
                )
            entry.users += 1
            return entry.listener

    async def release(self, listener: Listener) -> None:
        """Give back one :meth:`acquire`; the last one closes the listener."""
        async with self._lock:
            for key, entry in self._entries.items():
                if entry.listener is listener:
                    entry.users -= 1
                    if entry.users <= 0:
                        del self._entries[key]
                        await listener.close()
                    return
        _LOGGER.debug("Release of a listener that is not in the pool (already closed)")

    def get(self, port: int) -> Listener | None:
        """The running listener on ``port``, if the pool has one."""
        entry = self._entries.get(port)
        return entry.listener if entry is not None else None

    def users(self, listener: Listener) -> int:
        """How many acquirers hold ``listener``."""
        for entry in self._entries.values():
            if entry.listener is listener:
                return entry.users
        return 0

    @property
    def listeners(self) -> list[Listener]:
        """Every listener in the pool."""
        return [entry.listener for entry in self._entries.values()]

    async def close(self) -> None:
        """Close every listener, whoever holds it (shutdown)."""
        async with self._lock:
            entries = list(self._entries.values())
            self._entries.clear()
            for entry in entries:
                await entry.listener.close()
