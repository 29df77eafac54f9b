"""Test listeners: the factory behind the ``make_listener`` fixture, and their clean-up check."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
import logging
from typing import Any

import pytest

from custom_components.sinotrack.listener import Listener, ListenerConfig

from .defaults import LOOPBACK

type ListenerFactory = Callable[..., Awaitable[Listener]]

LISTENER_LOGGER = "custom_components.sinotrack.listener"


def listener_timers(loop: asyncio.AbstractEventLoop) -> list[asyncio.TimerHandle]:
    """Scheduled, not cancelled timers that call into a listener or one of its sessions."""
    scheduled: list[asyncio.TimerHandle] = getattr(loop, "_scheduled", [])
    timers = []
    for handle in scheduled:
        owner = getattr(getattr(handle, "_callback", None), "__self__", None)
        if (
            not handle.cancelled()
            and owner is not None
            and ".sinotrack.listener" in type(owner).__module__
        ):
            timers.append(handle)
    return timers


async def assert_released(listener: Listener, port: int) -> None:
    """Nothing of ``listener`` is left: connections, timers, tasks, the listening socket."""
    assert not listener.is_serving
    assert listener.connection_count == 0
    assert listener_timers(asyncio.get_running_loop()) == []
    others = {task for task in asyncio.all_tasks() if task is not asyncio.current_task()}
    assert others == set(), f"tasks left: {others}"
    with pytest.raises(ConnectionRefusedError):  # noqa: PT012 - connect and close
        _, writer = await asyncio.open_connection(LOOPBACK, port)
        writer.close()


def listener_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The WARNING (and worse) records of the listener's logger."""
    return [
        record
        for record in caplog.records
        if record.name == LISTENER_LOGGER and record.levelno >= logging.WARNING
    ]


class Listeners:
    """Listeners started for one test on loopback (ephemeral ports), closed by :meth:`close`."""

    def __init__(self, defaults: Mapping[str, Any], *, strict: bool) -> None:
        self.defaults = {"host": LOOPBACK, "port": 0, **defaults}
        self.strict = strict
        """Whether :meth:`close` checks with :func:`assert_released` (else: no connection)."""
        self.started: list[Listener] = []

    async def make(self, **overrides: Any) -> Listener:
        """A started listener: the defaults with ``overrides``."""
        listener = Listener(ListenerConfig(**{**self.defaults, **overrides}))
        await listener.start()
        self.started.append(listener)
        return listener

    async def close(self) -> None:
        """Close every listener, then check that each let go of what it held."""
        for listener in self.started:
            port = listener.port
            await listener.close()
            if not self.strict:
                assert listener.connection_count == 0
            elif listener.config.host == LOOPBACK:
                await assert_released(listener, port)
