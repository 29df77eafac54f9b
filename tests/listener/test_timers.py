"""The session runs the codec's timers on the loop: bytes held back are decoded in time."""

from __future__ import annotations

import asyncio
import time

from custom_components.sinotrack.protocol.connection import QUIET_FLUSH
from tests.support.frames import H02_BINARY, H02_BINARY_ID
from tests.support.listeners import ListenerFactory
from tests.support.plugin import ClientFactory
from tests.support.sink import RecordingSink
from tests.support.wait import until


async def test_a_lone_binary_frame_is_delivered_once_the_tracker_is_quiet(
    make_listener: ListenerFactory, connect: ClientFactory
) -> None:
    listener = await make_listener()
    sink = RecordingSink()
    listener.register(H02_BINARY_ID, sink)
    client = await connect(listener.port)
    sent = time.monotonic()
    await client.send(H02_BINARY)  # 32 bytes: whole, or the start of a 45-byte frame
    await asyncio.sleep(QUIET_FLUSH / 2)
    assert sink.messages == []
    await until(lambda: len(sink.messages) == 1)
    assert time.monotonic() - sent >= QUIET_FLUSH
    assert sink.messages[0]["ident"] == H02_BINARY_ID
