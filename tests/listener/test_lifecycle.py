"""Starting, sharing and closing listeners: the pool, bind errors, IPv6, no leaks."""

from __future__ import annotations

import asyncio
import contextlib
import errno
from pathlib import Path
import socket
from typing import Any

import pytest

from custom_components.sinotrack.listener import (
    Listener,
    ListenerBindError,
    ListenerClosedError,
    ListenerConfig,
    ListenerPool,
)
from custom_components.sinotrack.protocol import Command, CommandKind
from tests.support.client import Client
from tests.support.frames import H02_ID, JT808_ID, h02_heartbeat, h02_v1, jt808_register
from tests.support.listeners import ListenerFactory, assert_released
from tests.support.plugin import ClientFactory
from tests.support.sink import RecordingSink
from tests.support.wait import until


def _ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


async def test_pool_shares_a_port_and_the_last_release_closes_it() -> None:
    pool = ListenerPool()
    config = ListenerConfig(host="127.0.0.1", port=0)
    first = await pool.acquire(config)
    second = await pool.acquire(ListenerConfig(host="127.0.0.1", port=0, idle_timeout=60))
    assert first is second
    assert pool.users(first) == 2
    assert pool.get(0) is first
    assert pool.get(1) is None
    port = first.port
    first.register("1", RecordingSink())
    second.register("2", RecordingSink())

    await pool.release(first)
    assert first.is_serving
    client = await Client.connect(port)
    await client.send(h02_heartbeat("1"))
    assert await client.recv_text() == h02_heartbeat("1")

    await pool.release(second)
    assert pool.listeners == []
    assert pool.get(0) is None
    assert await client.wait_closed_by_server() == b""
    await client.close()
    await assert_released(first, port)
    await pool.release(first)  # not in the pool any more: no-op

    # A later acquire starts a new listener.
    third = await pool.acquire(config)
    assert third is not first
    assert third.is_serving
    await pool.close()
    assert not third.is_serving


async def test_port_in_use_is_a_clear_error(make_listener: ListenerFactory) -> None:
    taken = await make_listener()
    pool = ListenerPool()
    with pytest.raises(ListenerBindError) as caught:
        await pool.acquire(ListenerConfig(host="127.0.0.1", port=taken.port))
    assert caught.value.reason == "in_use"
    assert caught.value.port == taken.port
    assert (
        str(caught.value)
        == f"cannot listen on 127.0.0.1 port {taken.port}: the port is already in use by another program"
    )
    assert pool.listeners == []
    assert taken.is_serving


async def test_unavailable_address_is_a_clear_error() -> None:
    listener = Listener(ListenerConfig(host="192.0.2.1", port=0))  # TEST-NET-1, not on this host
    with pytest.raises(ListenerBindError) as caught:
        await listener.start()
    assert caught.value.reason == "address_unavailable"
    assert "not available on this host" in str(caught.value)
    await listener.close()


@pytest.mark.parametrize(
    ("error", "reason", "text"),
    [
        (OSError(errno.EACCES, "Permission denied"), "permission", "permission denied"),
        (OSError(errno.EADDRINUSE, "Address in use"), "in_use", "already in use"),
        (
            socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
            "invalid_address",
            "cannot be resolved",
        ),
        (OSError(errno.EMFILE, "Too many open files"), "error", "Too many open files"),
    ],
)
def test_bind_error_messages(error: OSError, reason: str, text: str) -> None:
    bind_error = ListenerBindError.from_os_error(error, ("0.0.0.0", "::"), 80)
    assert bind_error.reason == reason
    assert str(bind_error).startswith("cannot listen on 0.0.0.0, :: port 80: ")
    assert text in str(bind_error)


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback")
async def test_ipv6_and_both_families_on_one_port(
    make_listener: ListenerFactory, connect: ClientFactory
) -> None:
    v6 = await make_listener(host="::1")
    sink = RecordingSink()
    v6.register(H02_ID, sink)
    client = await connect(v6.port, host="::1")
    await client.send(h02_v1())
    await client.recv_text()
    assert client.peer.startswith("[::1]:")
    assert v6.peer(H02_ID) == client.peer
    assert sink.connections == [(True, client.peer)]

    # Both families on one port (a port free on both, found by binding it first).
    with socket.socket() as probe4, socket.socket(socket.AF_INET6) as probe6:
        probe4.bind(("127.0.0.1", 0))
        port = probe4.getsockname()[1]
        probe6.bind(("::1", port))
    both = await make_listener(host=("127.0.0.1", "::1"), port=port)
    assert sorted(both.addresses) == [("127.0.0.1", port), ("::1", port)]
    for host in ("127.0.0.1", "::1"):
        each = await connect(port, host=host)
        await each.send(h02_heartbeat("7"))
        assert await each.recv_text() == h02_heartbeat("7")


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback")
async def test_all_addresses_means_ipv4_and_ipv6(
    make_listener: ListenerFactory, connect: ClientFactory
) -> None:
    """``::`` is one dual-stack socket: an IPv4 tracker is served, and seen as IPv4."""
    listener = await make_listener(host="::")
    sink = RecordingSink()
    listener.register(H02_ID, sink)
    v4 = await connect(listener.port, host="127.0.0.1")
    await v4.send(h02_v1())
    assert (await v4.recv_text()).startswith(b"*HQ,4210051415,V4,V1,")
    assert sink.connections == [(True, v4.peer)]
    assert v4.peer.startswith("127.0.0.1:")
    assert listener.peer(H02_ID) == v4.peer
    v6 = await connect(listener.port, host="::1")
    await v6.send(h02_heartbeat("7"))
    assert await v6.recv_text() == h02_heartbeat("7")
    assert [host for host, _ in listener.addresses] == ["::"]


async def test_all_addresses_on_a_host_without_ipv6_is_all_ipv4(
    make_listener: ListenerFactory, connect: ClientFactory
) -> None:
    real_socket = socket.socket

    def without_ipv6(family: int = socket.AF_INET, *args: Any, **kwargs: Any) -> socket.socket:
        if family == socket.AF_INET6:
            raise OSError(errno.EAFNOSUPPORT, "Address family not supported by protocol")
        return real_socket(family, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket, "socket", without_ipv6)
        listener = await make_listener(host="::")
    assert [host for host, _ in listener.addresses] == ["0.0.0.0"]
    client = await connect(listener.port)
    await client.send(h02_heartbeat("7"))
    assert await client.recv_text() == h02_heartbeat("7")


def _open_fds() -> int | None:
    """Open file descriptors of this process (Linux), or None."""
    fd_dir = Path("/proc/self/fd")
    return sum(1 for _ in fd_dir.iterdir()) if fd_dir.is_dir() else None


async def test_close_leaves_no_socket_task_or_timer() -> None:
    fds_before = _open_fds()
    listener = Listener(
        ListenerConfig(host="127.0.0.1", port=0, max_read_rate=1000, read_burst=0, read_size=64)
    )
    await listener.start()
    port = listener.port
    sink = RecordingSink()
    listener.register(H02_ID, sink)
    identified = await Client.connect(port)
    await identified.send(h02_v1())
    await identified.recv_text()
    silent = await Client.connect(port)
    jt = await Client.connect(port)
    await jt.send(jt808_register())
    await jt.recv_jt808()
    throttled = await Client.connect(port)
    await throttled.send(h02_heartbeat("9") * 10)  # over the tiny read budget: a resume timer waits
    await until(lambda: listener.stats.throttled > 0 and listener.connection_count == 4)
    in_flight = asyncio.create_task(
        listener.send_command(H02_ID, Command(CommandKind.POSITION), timeout=30)
    )
    assert await identified.recv_text() == b"*HQ,4210051415,CR#"
    queued = asyncio.create_task(
        listener.send_command(JT808_ID, Command(CommandKind.POSITION), queue_if_offline=True)
    )
    await until(lambda: listener.diagnostics()["commands"]["waiting"] == 2)

    await listener.close()
    await listener.close()  # idempotent
    for task in (in_flight, queued):
        with pytest.raises(ListenerClosedError):
            await task
    for client in (identified, silent, jt, throttled):
        await client.wait_closed_by_server()
        with contextlib.suppress(OSError):
            await client.close()
    assert sink.connections[-1] == (False, identified.peer)
    await assert_released(listener, port)
    with pytest.raises(ListenerClosedError):
        await listener.start()
    if fds_before is not None:
        await until(lambda: _open_fds() == fds_before)
