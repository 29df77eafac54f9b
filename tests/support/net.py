"""Ports and raw sockets on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
import contextlib
import importlib
import socket

import pytest

from tools.net import free_port

from .defaults import LOOPBACK, LOOPBACK_HOSTS, WAIT

__all__ = [
    "allow_loopback",
    "closed_by_server",
    "free_port",
    "occupied_port",
    "port_accepts",
    "raw_connect",
    "read_to_close",
]


def allow_loopback(request: pytest.FixtureRequest) -> None:
    """Let the requesting test use real sockets on loopback, with or without pytest-socket.

    pytest-homeassistant-custom-component installs pytest-socket, which blocks sockets and
    allows ``connect()`` to 127.0.0.1 only; plain pytest needs nothing.
    """
    try:
        request.getfixturevalue("socket_enabled")
    except pytest.FixtureLookupError:
        return
    try:
        pytest_socket = importlib.import_module("pytest_socket")
    except ImportError:  # pragma: no cover - socket_enabled comes from pytest-socket
        return
    pytest_socket.socket_allow_hosts(list(LOOPBACK_HOSTS), allow_unix_socket=True)


@contextlib.contextmanager
def occupied_port() -> Iterator[int]:
    """A port on loopback that another program listens on (not reusable by anyone)."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        sock.listen()
        yield int(sock.getsockname()[1])


async def port_accepts(port: int) -> bool:
    """Whether something accepts TCP connections on loopback ``port``."""
    try:
        _reader, writer = await asyncio.open_connection(LOOPBACK, port)
    except ConnectionRefusedError:
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def raw_connect(port: int, source: str | None = None) -> socket.socket:
    """A non-blocking client socket connected to loopback ``port`` (from ``source``)."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        if source is not None:
            sock.bind((source, 0))
        await loop.sock_connect(sock, (LOOPBACK, port))
    except BaseException:
        sock.close()
        raise
    return sock


async def read_to_close(read: Callable[[], Awaitable[bytes]], timeout: float = WAIT) -> bytes:  # noqa: ASYNC109
    """Call ``read`` until the server closes the connection (FIN or RST); what came before."""
    received = b""
    async with asyncio.timeout(timeout):
        while True:
            try:
                chunk = await read()
            except ConnectionError:
                return received
            if not chunk:
                return received
            received += chunk


async def closed_by_server(sock: socket.socket, timeout: float = WAIT) -> bytes:  # noqa: ASYNC109
    """Read ``sock`` until the server closes the connection; what came before."""
    loop = asyncio.get_running_loop()
    return await read_to_close(lambda: loop.sock_recv(sock, 65536), timeout)
