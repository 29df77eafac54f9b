"""A TCP server for the simulator tests, built on the codec's server side.

Every connection feeds what it receives to a ``TrackerConnection``, keeps the decoded
messages (and the rejected frames, which a correct simulator never causes), and sends back
the replies the codec makes. Tests send commands with :meth:`ServerConnection.command`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import time
from types import TracebackType
from typing import Self

from custom_components.sinotrack.protocol import (
    DEFAULT_JT808_UTC_OFFSET,
    AuthEvent,
    Command,
    Decoded,
    EncodedCommand,
    Message,
    Rejected,
    TrackerConnection,
    TrackerSettings,
)
from tests.support.defaults import LOOPBACK, WAIT

QUIET: float = 0.02
"""Like the listener, flush what the codec holds back once the peer is quiet this long
(a lone first ``$`` frame: 32 bytes, or the start of a 45-byte one?)."""

type Predicate = Callable[[Message], bool]


class ServerConnection(asyncio.Protocol):
    """One accepted connection."""

    def __init__(self, server: CodecServer) -> None:
        self.server = server
        self.codec = TrackerConnection(
            jt808_utc_offset=server.jt808_utc_offset, resolve=server.tracker_settings
        )
        self.auth: list[AuthEvent] = []
        self.messages: list[Message] = []
        self.rejected: list[Rejected] = []
        self.transport: asyncio.Transport | None = None
        self.closed = asyncio.Event()
        self._flush: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.server.connections.append(self)
        self.server.changed()

    def data_received(self, data: bytes) -> None:
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        self._handle(self.codec.feed(data, time.time()))
        if self.codec.buffered:
            self._flush = asyncio.get_running_loop().call_later(QUIET, self._quiet)

    def _quiet(self) -> None:
        self._flush = None
        self._handle(self.codec.flush(time.time()))

    def _handle(self, events: list[Decoded | Rejected]) -> None:
        for event in events:
            if isinstance(event, Decoded):
                if event.auth is not None:
                    self.auth.append(event.auth)
                    code = self.codec.auth_code
                    if event.auth is AuthEvent.ISSUED and self.codec.ident and code:
                        self.server.issued(self.codec.ident, code)
                for message in event.messages:
                    self.messages.append(message)
                    self.server.messages.append(message)
                if event.reply is not None and self.server.replies and self.transport:
                    self.transport.write(event.reply)
            else:
                self.rejected.append(event)
        self.server.changed()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        self.closed.set()
        self.server.changed()

    def send(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    def command(self, command: Command) -> EncodedCommand:
        """Encode a command for this connection's tracker and send it."""
        encoded = self.codec.encode(command, time.time())
        self.send(encoded.data)
        return encoded

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class CodecServer:
    """``async with CodecServer() as server``: listening on 127.0.0.1, ``server.port``."""

    def __init__(
        self,
        *,
        jt808_utc_offset: float = DEFAULT_JT808_UTC_OFFSET,
        replies: bool = True,
        store_auth_codes: bool = False,
    ) -> None:
        self.jt808_utc_offset = jt808_utc_offset
        self.replies = replies
        self.store_auth_codes = store_auth_codes
        """Keep the JT/T 808 auth codes issued, per ID, as Home Assistant does."""
        self.auth_codes: dict[str, str] = {}
        """Send the codec's replies (acks, JT/T 808 registration answers)."""
        self.connections: list[ServerConnection] = []
        self.messages: list[Message] = []
        self._server: asyncio.Server | None = None
        self._changed = asyncio.Event()

    def tracker_settings(self, ident: str) -> TrackerSettings:
        """The settings of a tracker ID: its stored auth code, when codes are stored."""
        return TrackerSettings(jt808_auth_code=self.auth_codes.get(ident))

    def issued(self, ident: str, code: str) -> None:
        """Store the auth code a connection issued (when codes are stored)."""
        if self.store_auth_codes:
            self.auth_codes[ident] = code

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def rejected(self) -> list[Rejected]:
        return [reject for connection in self.connections for reject in connection.rejected]

    async def __aenter__(self) -> Self:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: ServerConnection(self), LOOPBACK, 0)
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop listening and drop every connection."""
        if self._server is None:
            return
        self._server.close()
        for connection in self.connections:
            if connection.transport is not None:
                connection.transport.abort()
        await self._server.wait_closed()
        self._server = None

    def changed(self) -> None:
        self._changed.set()

    async def until(self, condition: Callable[[], bool], within: float = WAIT) -> None:
        """Wait until ``condition()`` holds after something was received or connected."""
        async with asyncio.timeout(within):
            while not condition():
                self._changed.clear()
                await self._changed.wait()

    async def connection(self, number: int = 1) -> ServerConnection:
        """The ``number``-th connection (1-based), once it is there."""
        await self.until(lambda: len(self.connections) >= number)
        return self.connections[number - 1]

    async def wait_messages(
        self,
        predicate: Predicate,
        count: int = 1,
        *,
        source: ServerConnection | None = None,
        start: int = 0,
        within: float = WAIT,
    ) -> list[Message]:
        """The first ``count`` messages (from index ``start``) that match ``predicate``."""

        def found() -> list[Message]:
            messages = self.messages if source is None else source.messages
            return [message for message in messages[start:] if predicate(message)]

        await self.until(lambda: len(found()) >= count, within)
        return found()[:count]


def of_type(*kinds: str) -> Predicate:
    """Messages whose ``message.type`` is one of ``kinds``."""
    return lambda message: message.get("message.type") in kinds
