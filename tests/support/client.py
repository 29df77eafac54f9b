"""A fake tracker over TCP: the suites that talk to a real listener connect with it."""

from __future__ import annotations

import asyncio
import contextlib

from custom_components.sinotrack.listener import Listener
from custom_components.sinotrack.protocol import jt808

from .defaults import LOOPBACK, WAIT
from .frames import (
    JT808_ID,
    JT808_REGISTER_BODY,
    issued_code,
    jt808_auth,
    jt808_parse,
    jt808_register,
)
from .net import read_to_close
from .wait import until


class Client:
    """One TCP connection with helpers to send in chunks and read replies."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        host, port = writer.get_extra_info("sockname")[:2]
        self.peer = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        """The address the server sees (``host:port``)."""

    @classmethod
    async def connect(cls, port: int, host: str = LOOPBACK, source: str | None = None) -> Client:
        """Connect to ``host:port`` (from the address ``source``)."""
        local = (source, 0) if source is not None else None
        reader, writer = await asyncio.open_connection(host, port, local_addr=local)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        """Write ``data`` and wait until it is handed to the socket."""
        self.writer.write(data)
        await self.writer.drain()

    async def send_bytewise(self, data: bytes, listener: Listener) -> None:
        """One byte at a time, each read by the server on its own before the next is sent."""
        target = listener.stats.bytes_in
        for index in range(len(data)):
            await self.send(data[index : index + 1])
            target += 1
            await until(lambda: listener.stats.bytes_in >= target)  # noqa: B023 - awaited at once

    async def recv(self, size: int, timeout: float = WAIT) -> bytes:  # noqa: ASYNC109
        """Exactly ``size`` bytes."""
        async with asyncio.timeout(timeout):
            return await self.reader.readexactly(size)

    async def read_until(self, marker: bytes, timeout: float = WAIT) -> bytes:  # noqa: ASYNC109
        """Everything up to and including ``marker``."""
        async with asyncio.timeout(timeout):
            return await self.reader.readuntil(marker)

    async def recv_text(self, timeout: float = WAIT) -> bytes:  # noqa: ASYNC109
        """One H02 text frame (through its ``#``)."""
        return await self.read_until(b"#", timeout)

    async def recv_jt808(self, timeout: float = WAIT) -> bytes:  # noqa: ASYNC109
        """One JT/T 808 frame, both 0x7E included."""
        async with asyncio.timeout(timeout):
            first = await self.reader.readexactly(1)
            assert first == b"\x7e"
            return first + await self.reader.readuntil(b"\x7e")

    async def wait_closed_by_server(self, timeout: float = WAIT) -> bytes:  # noqa: ASYNC109
        """Read until the server closes (FIN or RST); return what arrived before."""
        return await read_to_close(lambda: self.reader.read(65536), timeout)

    async def close(self) -> None:
        """Close the connection (the server may have closed it already)."""
        self.writer.close()
        with contextlib.suppress(OSError, ConnectionError):
            await self.writer.wait_closed()


class Jt808Device:
    """A JT/T 808 tracker on a connection: numbered uplinks, the server's downlinks."""

    def __init__(self, client: Client, ident: str = JT808_ID) -> None:
        self.tracker = client
        self.terminal = jt808.encode_terminal(ident)
        self.serial = 0

    async def send(self, msg_id: int, body: bytes = b"") -> int:
        """Send one uplink; its serial."""
        serial = self.serial
        self.serial += 1
        await self.tracker.send(jt808.build_frame(msg_id, self.terminal, serial, body))
        return serial

    async def read(self) -> tuple[int, int, bytes]:
        """(message id, serial, body) of the next frame the server sends."""
        return jt808_parse(await self.tracker.recv_jt808())

    async def login(self) -> None:
        """Register (0x0100 -> 0x8100 with an auth code) and authenticate (0x0102)."""
        await self.send(0x0100, JT808_REGISTER_BODY)
        msg_id, _, body = await self.read()
        assert msg_id == 0x8100
        assert body[2] == 0  # registered
        serial = await self.send(0x0102, body[3:])
        assert await self.read() == (0x8001, 1, serial.to_bytes(2) + b"\x01\x02\x00")

    async def location(self, body: bytes) -> None:
        """A 0x0200 report, and the server's 0x8001 for it."""
        serial = await self.send(0x0200, body)
        msg_id, _, reply = await self.read()
        assert (msg_id, reply) == (0x8001, serial.to_bytes(2) + b"\x02\x00\x00")

    async def respond(self, msg_id: int, serial: int, result: int = 0) -> None:
        """The 0x0001 general response to the server message ``msg_id``/``serial``."""
        await self.send(0x0001, serial.to_bytes(2) + msg_id.to_bytes(2) + bytes((result,)))


async def jt808_sign_in(client: Client) -> str:
    """Register and authenticate ``client`` as JT808_ID (serials 0 and 1); the code issued."""
    await client.send(jt808_register(0))
    code = issued_code(await client.recv_jt808())
    await client.send(jt808_auth(1, code))
    assert jt808_parse(await client.recv_jt808())[0] == 0x8001
    return code
