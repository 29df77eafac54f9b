"""What the benchmarks that run Home Assistant share."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
import contextlib
from datetime import UTC, datetime, tzinfo
from typing import Any
from unittest.mock import patch

from homeassistant.helpers import event, json as json_helper
from homeassistant.helpers.storage import Store
from homeassistant.runner import create_event_loop
from homeassistant.util import dt as dt_util


def run_on_hass_loop[T](main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to its end on the event loop Home Assistant itself runs on."""
    loop = create_event_loop()
    try:
        return loop.run_until_complete(main)
    finally:
        loop.close()


class SimulatedTime:
    """Home Assistant's clocks in compressed time, set by a benchmark (``simulated``).

    The wall clock (``dt_util.utcnow`` and ``now``, and the time the event helpers track)
    reads the time set last; the event loop's clock runs on as it does and jumps ahead with every
    step of the simulated time, so that a timer (a delayed save, the runtime's minute tick,
    a time-out) fires when its simulated time has come and the loop takes its turn.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, now: float) -> None:
        self.now = now
        self._loop_time = loop.time
        self._ahead = 0.0

    def set(self, now: float) -> None:
        """The simulated time is ``now`` (epoch seconds); it never goes back."""
        if now > self.now:
            self._ahead += now - self.now
            self.now = now

    def time(self) -> float:
        """The simulated time, epoch seconds."""
        return self.now

    def utcnow(self) -> datetime:
        """The simulated time, in UTC."""
        return datetime.fromtimestamp(self.now, UTC)

    def local_now(self, time_zone: tzinfo | None = None) -> datetime:
        """The simulated time in ``time_zone`` (Home Assistant's, by default)."""
        return datetime.fromtimestamp(self.now, time_zone or dt_util.get_default_time_zone())

    def loop_time(self) -> float:
        """The event loop's clock: its own, ahead by the simulated time passed."""
        return self._loop_time() + self._ahead


async def _write_now(store: Store[Any], data: dict[str, Any]) -> None:
    """``Store._async_write_data`` without the executor: the file written before anything
    else runs (in compressed time a write in a thread would span several simulated
    minutes, and writes asked for meanwhile would be merged or not, by chance)."""
    if "data_func" in data:
        data["data"] = data.pop("data_func")()
    mode, json_data = json_helper.prepare_save_json(data, encoder=store._encoder)
    store._write_prepared_data(mode, json_data)


@contextlib.contextmanager
def simulated(loop: asyncio.AbstractEventLoop, now: float) -> Iterator[SimulatedTime]:
    """Home Assistant's clocks (and ``loop``'s) in simulated time from ``now`` on; stores
    written at once (``_write_now``)."""
    clock = SimulatedTime(loop, now)
    with (
        patch.object(Store, "_async_write_data", _write_now),
        patch.object(dt_util, "utcnow", clock.utcnow),
        patch.object(dt_util, "now", clock.local_now),
        patch.object(event, "time_tracker_utcnow", clock.utcnow),
        patch.object(event, "time_tracker_timestamp", clock.time),
        patch.object(loop, "time", clock.loop_time),
    ):
        yield clock


def timers_due(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether a timer of ``loop`` is due (its turn runs it)."""
    scheduled: list[asyncio.TimerHandle] = getattr(loop, "_scheduled", [])
    return bool(scheduled) and scheduled[0].when() <= loop.time()
