"""The one polling wait of the tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from .defaults import POLL, WAIT


async def until(
    predicate: Callable[[], bool],
    timeout: float = WAIT,  # noqa: ASYNC109 - the timeout is the point
    *,
    settle: Callable[[], Awaitable[object]] | None = None,
) -> None:
    """Wait for ``predicate`` to hold, looking every few ms; fail after ``timeout`` seconds.

    ``settle`` runs between two looks (Home Assistant's ``async_block_till_done``).
    """
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(POLL)
            if settle is not None:
                await settle()
