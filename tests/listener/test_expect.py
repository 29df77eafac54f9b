"""A set-up flow waiting for its tracker (``Listener.expect``), and one listener per port."""

from __future__ import annotations

import socket

from custom_components.sinotrack.listener import ListenerConfig, ListenerPool
from custom_components.sinotrack.listener.stats import CLOSED_IDLE, CLOSED_UNKNOWN_CAP
from tests.support.client import Client
from tests.support.frames import H02_ID, OTHER_ID, h02_v1
from tests.support.listeners import ListenerFactory, assert_released
from tests.support.plugin import ClientFactory
from tests.support.sink import RecordingSink
from tests.support.wait import until


async def test_expected_id_is_seen_at_once_and_not_discovered(
    make_listener: ListenerFactory, connect: ClientFactory
) -> None:
    """The waiting side sees every ID that reports, at its first frame (no discovery delay);
    the expected ID is not offered for discovery while it is expected."""
    listener = await make_listener(discovery_delay=0)
    discovered: list[str] = []
    listener.set_unknown_tracker_callback(lambda ident, *_: discovered.append(ident))
    seen: list[tuple[str, str]] = []

    with listener.expect(H02_ID, lambda ident, protocol, _peer: seen.append((ident, protocol))):
        other = await connect(listener.port)
        await other.send(h02_v1(ident=OTHER_ID))
        await other.recv_text()
        tracker = await connect(listener.port)
        await tracker.send(h02_v1())
        await tracker.recv_text()
        await until(lambda: len(seen) == 2)

    assert seen == [(OTHER_ID, "h02"), (H02_ID, "h02")]
    assert discovered == [OTHER_ID]  # the mistyped one is still offered, not the expected one
    # After the wait, frames are no longer reported to the watcher.
    await tracker.send(h02_v1())
    await tracker.recv_text()
    assert len(seen) == 2


async def test_expected_id_gets_in_when_unknown_ids_fill_their_cap(
    make_listener: ListenerFactory, connect: ClientFactory
) -> None:
    listener = await make_listener(max_unknown_connections=1)
    squatter = await connect(listener.port)
    await squatter.send(h02_v1(ident=OTHER_ID))
    await squatter.recv_text()

    with listener.expect(H02_ID, lambda *_: None):
        tracker = await connect(listener.port)
        await tracker.send(h02_v1())
        assert (await tracker.recv_text()).startswith(f"*HQ,{H02_ID},V4,V1,".encode())
        # Without the expectation, one more unknown ID is refused.
        late = await connect(listener.port)
        await late.send(h02_v1(ident="4210051417"))
        assert await late.wait_closed_by_server() == b""
    assert listener.stats.closed.get(CLOSED_UNKNOWN_CAP) == 1


async def test_expected_id_keeps_the_normal_idle_timeout(
    make_listener: ListenerFactory, connect: ClientFactory
) -> None:
    """Unknown IDs are closed after their short idle timeout; the expected one is not, and
    is adopted by the sink registered once the wait succeeded."""
    listener = await make_listener(unknown_idle_timeout=0.05, idle_timeout=600)
    with listener.expect(H02_ID, lambda *_: None) as expectation:
        other = await connect(listener.port)
        await other.send(h02_v1(ident=OTHER_ID))
        await other.recv_text()
        tracker = await connect(listener.port)
        await tracker.send(h02_v1())
        await tracker.recv_text()
        assert await other.wait_closed_by_server() == b""
        sink = RecordingSink()
        unregister = listener.register(H02_ID, sink)
        expectation.close()
    assert listener.stats.closed.get(CLOSED_IDLE) == 1
    assert listener.is_connected(H02_ID)
    assert [connected for connected, _peer in sink.connections] == [True]
    unregister()


async def test_pool_keeps_one_listener_per_port_whatever_the_address() -> None:
    """A second acquire on the same port with another bind address joins the listener in
    use (two listeners on one port would refuse each other)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    pool = ListenerPool()
    first = await pool.acquire(ListenerConfig(host="127.0.0.1", port=port))
    second = await pool.acquire(ListenerConfig(host="::", port=port))

    assert second is first
    assert pool.get(port) is first
    assert pool.users(first) == 2
    assert first.config.host == "127.0.0.1"
    client = await Client.connect(port)
    await client.send(h02_v1())
    assert (await client.recv_text()).startswith(f"*HQ,{H02_ID},V4,V1,".encode())
    await client.close()
    await pool.release(first)
    await pool.release(second)
    await assert_released(first, port)
