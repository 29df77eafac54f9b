"""What the benchmarks that run Home Assistant share."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from homeassistant.runner import create_event_loop


def run_on_hass_loop[T](main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to its end on the event loop Home Assistant itself runs on."""
    loop = create_event_loop()
    try:
        return loop.run_until_complete(main)
    finally:
        loop.close()
