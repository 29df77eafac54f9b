"""Listening sockets the listener binds and accepts on itself.

asyncio's own accept loop hands EMFILE/ENFILE to the loop's exception handler, which Home
Assistant treats as fatal; so the listener binds its sockets here and accepts them with
``loop.add_reader`` (see ``Listener``), pausing when the process runs out of descriptors.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import errno
import ipaddress
import socket
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from .stats import Stats

BACKLOG: Final = 1024
ACCEPT_BATCH: Final = 64
"""Connections accepted per readiness callback: a burst cannot hold the loop."""
OUT_OF_DESCRIPTORS: Final = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
ACCEPT_RETRY: Final = 1.0
"""Seconds before accepting again after the process ran out of descriptors."""
_ABORTED_ACCEPT: Final = frozenset({errno.ECONNABORTED, errno.EPROTO, errno.EPERM})
DUAL_STACK: Final = "::"
"""The bind address that means every IPv4 and IPv6 address (one dual-stack socket)."""
ALL_IPV4: Final = "0.0.0.0"  # noqa: S104 - what "all addresses" falls back to without IPv6


def bind(host: str | tuple[str, ...] | None, port: int) -> list[socket.socket]:
    """Listening, non-blocking sockets for ``host`` (see ``ListenerConfig.host``) on ``port``.

    Every socket gets the same port (the first one's when ``port`` is 0). Raises
    ``OSError`` (``socket.gaierror`` for a name that does not resolve); nothing stays open.
    """
    hosts: tuple[str | None, ...] = host if isinstance(host, tuple) else (host,)
    infos: list[tuple[socket.AddressFamily, tuple[Any, ...], bool]] = []
    for name in hosts:
        dual = name == DUAL_STACK and len(hosts) == 1
        for info in socket.getaddrinfo(
            name, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_PASSIVE
        ):
            if info[0] in (socket.AF_INET, socket.AF_INET6):
                entry = (info[0], tuple(info[4]), dual)
                if entry not in infos:
                    infos.append(entry)
    try:
        return _listen(infos, port)
    except OSError as err:
        if host == DUAL_STACK and err.errno in (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL):
            return bind(ALL_IPV4, port)  # a host without IPv6: all its (IPv4) addresses
        raise


def _listen(
    infos: list[tuple[socket.AddressFamily, tuple[Any, ...], bool]], port: int
) -> list[socket.socket]:
    sockets: list[socket.socket] = []
    try:
        for family, resolved, dual in infos:
            address = resolved
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if dual else 1)
            if port == 0 and len(sockets) > 1:
                address = (address[0], sockets[0].getsockname()[1], *address[2:])
            try:
                sock.bind(address)
            except OSError as err:
                raise OSError(
                    err.errno, f"error while attempting to bind on address {address!r}: {err}"
                ) from None
            sock.listen(BACKLOG)
            sock.setblocking(False)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    if not sockets:
        raise OSError(errno.EADDRNOTAVAIL, "no address to bind on")
    return sockets


def peer_of(
    address: object,
) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address | None, str, str]:
    """(IP address, host text, ``host:port``) of an accepted peer; IPv4-mapped shown as IPv4."""
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
    port = 0
    if isinstance(address, tuple) and address:
        try:
            ip = ipaddress.ip_address(str(address[0]).split("%", 1)[0])
        except ValueError:
            ip = None
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        port = address[1] if len(address) > 1 else 0
    host = str(ip) if ip is not None else str(address)
    return ip, host, f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Acceptor:
    """Accepts on listening sockets with ``loop.add_reader``; pauses when out of descriptors."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sockets: list[socket.socket],
        on_connection: Callable[[socket.socket, object], None],
        on_pause: Callable[[OSError], None],
        stats: Stats,
    ) -> None:
        self._loop = loop
        self._sockets = sockets
        self._on_connection = on_connection
        self._on_pause = on_pause
        self._stats = stats
        self._reading = False
        self._retry: asyncio.TimerHandle | None = None
        self.addresses = [(str(s.getsockname()[0]), int(s.getsockname()[1])) for s in sockets]
        """The bound (address, port) pairs."""
        self.resume()

    def resume(self) -> None:
        """Accept (again)."""
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        if self._reading or not self._sockets:
            return
        self._reading = True
        for sock in self._sockets:
            self._loop.add_reader(sock.fileno(), self._acceptable, sock)

    def _stop(self) -> None:
        if self._reading:
            self._reading = False
            for sock in self._sockets:
                self._loop.remove_reader(sock.fileno())

    def close(self) -> None:
        """Stop accepting and close the listening sockets."""
        self._stop()
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        for sock in self._sockets:
            sock.close()
        self._sockets = []

    def _acceptable(self, sock: socket.socket) -> None:
        """Accept what waits (a batch at most); out of descriptors: pause and retry later."""
        for _ in range(ACCEPT_BATCH):
            try:
                conn, address = sock.accept()
            except BlockingIOError, InterruptedError:
                return
            except OSError as err:
                if err.errno in _ABORTED_ACCEPT:
                    continue
                self._stats.accept_errors += 1
                if err.errno in OUT_OF_DESCRIPTORS:
                    self._stats.accept_paused += 1
                    self._stop()
                    self._retry = self._loop.call_later(ACCEPT_RETRY, self.resume)
                    self._on_pause(err)
                return
            self._on_connection(conn, address)
