"""Frames, a tiny TCP client and a recording sink for the listener tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib
import logging
import time

import pytest

from custom_components.sinotrack.listener import IPNetwork, Listener
from custom_components.sinotrack.protocol import Message, TrackerSettings, jt808
from custom_components.sinotrack.protocol.message import utc_fields

# -- frames (docs/protocol.md) ---------------------------------------------------------------------

H02_ID = "4210051415"


def h02_v1(ident: str = H02_ID) -> bytes:
    """An H02 V1 position; answered with ``*HQ,<id>,V4,V1,<yyyyMMddHHmmss UTC>#``."""
    return (
        f"*HQ,{ident},V1,164549,A,0956.3869,N,08406.7068,W,000.00,000,221215,FFFFFBFF,712,01,0,0,6#"
    ).encode()


def h02_htbt(ident: str = H02_ID) -> bytes:
    """An H02 heartbeat; echoed back unchanged."""
    return f"*HQ,{ident},HTBT#".encode()


def h02_v1_replies(ident: str, since: float, until: float) -> set[bytes]:
    """Every V4 reply the server may send for a V1 received between ``since`` and ``until``."""
    return {
        b"*HQ,%s,V4,V1,%04d%02d%02d%02d%02d%02d#" % (ident.encode(), *utc_fields(second))
        for second in range(int(since), int(until) + 1)
    }


H02_BINARY = bytes.fromhex("2441060116601245431311165035313006004318210e000000fffffbffff0024")
"""A 32-byte H02 binary position of tracker 4106011660 (no reply expected)."""
H02_BINARY_ID = "4106011660"

JT808_ID = "13912345678"
JT808_TERMINAL = bytes.fromhex("013912345678")
JT808_REGISTER_BODY = (
    (11).to_bytes(2)
    + (22).to_bytes(2)
    + b"MAKER"
    + b"MODEL123".ljust(20, b"\0")
    + b"DEV1234"
    + b"\x01ABC"
)
# Basic location block: alarm, status (bit 1: fixed), lat, lon (1e-6 deg), altitude m,
# speed 0.1 km/h, direction, time YYMMDDhhmmss local (GMT+8 by default).
JT808_LOCATION_BODY = (
    (0).to_bytes(4)
    + (2).to_bytes(4)
    + (22543210).to_bytes(4)
    + (114057890).to_bytes(4)
    + (12).to_bytes(2)
    + (345).to_bytes(2)
    + (90).to_bytes(2)
    + bytes.fromhex("240115103000")
)
JT808_LOCATION_UTC = 1705285800
"""2024-01-15 10:30:00 at GMT+8, in UTC epoch seconds."""


def jt808_frame(
    msg_id: int, serial: int, body: bytes = b"", terminal: bytes = JT808_TERMINAL
) -> bytes:
    return jt808.build_frame(msg_id, terminal, serial, body)


def jt808_register(serial: int = 0) -> bytes:
    return jt808_frame(0x0100, serial, JT808_REGISTER_BODY)


def jt808_auth(serial: int = 1, code: str = JT808_ID) -> bytes:
    """A 0x0102 authentication with ``code`` (the one the 0x8100 issued, see issued_code)."""
    return jt808_frame(0x0102, serial, code.encode())


def issued_code(reply: bytes) -> str:
    """The auth code a 0x8100 registration reply carries (body: serial, result 0, code)."""
    msg_id, _, body = jt808_parse(reply)
    assert msg_id == 0x8100
    assert body[2] == 0, "registration not accepted"
    return body[3:].decode()


async def jt808_sign_in(client: Client) -> str:
    """Register and authenticate ``client`` as JT808_ID (serials 0 and 1); the code issued."""
    await client.send(jt808_register(0))
    code = issued_code(await client.recv_jt808())
    await client.send(jt808_auth(1, code))
    assert jt808_parse(await client.recv_jt808())[0] == 0x8001
    return code


def jt808_location(serial: int = 2) -> bytes:
    return jt808_frame(0x0200, serial, JT808_LOCATION_BODY)


def jt808_general_response(device_serial: int, msg_id: int, server_serial: int) -> bytes:
    """The 0x8001 the server must send for an uplink (result 0 = success)."""
    body = device_serial.to_bytes(2) + msg_id.to_bytes(2) + b"\x00"
    return jt808_frame(0x8001, server_serial, body)


def jt808_parse(frame: bytes) -> tuple[int, int, bytes]:
    """(message id, serial, body) of a downlink frame the server sent."""
    content = jt808.unescape(frame[1:-1])
    return int.from_bytes(content[0:2]), int.from_bytes(content[10:12]), content[12:-1]


def listener_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The WARNING (and worse) records of the listener's logger."""
    return [
        record
        for record in caplog.records
        if record.name == "custom_components.sinotrack.listener"
        and record.levelno >= logging.WARNING
    ]


# -- waiting ------------------------------------------------------------------------------------


async def until(predicate: Callable[[], bool], timeout: float = 3.0) -> None:  # noqa: ASYNC109
    """Wait for ``predicate`` to hold (checked every loop turn or two); fail after ``timeout``."""
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 - polls state that has no event to wait on
            await asyncio.sleep(0.002)


# -- client ---------------------------------------------------------------------------------------


class Client:
    """A fake tracker: one TCP connection with helpers to send in chunks and read replies."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        host, port = writer.get_extra_info("sockname")[:2]
        self.peer = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        """The address the server sees (``host:port``)."""

    @classmethod
    async def connect(cls, port: int, host: str = "127.0.0.1", source: str | None = None) -> Client:
        local = (source, 0) if source is not None else None
        reader, writer = await asyncio.open_connection(host, port, local_addr=local)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def send_bytewise(self, data: bytes, listener: Listener) -> None:
        """One byte at a time, each read by the server on its own before the next is sent."""
        target = listener.stats.bytes_in
        for index in range(len(data)):
            await self.send(data[index : index + 1])
            target += 1
            await until(lambda: listener.stats.bytes_in >= target)  # noqa: B023 - awaited at once

    async def recv(self, size: int, timeout: float = 3.0) -> bytes:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            return await self.reader.readexactly(size)

    async def recv_text(self, timeout: float = 3.0) -> bytes:  # noqa: ASYNC109
        """One H02 text frame (through its ``#``)."""
        async with asyncio.timeout(timeout):
            return await self.reader.readuntil(b"#")

    async def recv_jt808(self, timeout: float = 3.0) -> bytes:  # noqa: ASYNC109
        """One JT/T 808 frame, both 0x7E included."""
        async with asyncio.timeout(timeout):
            first = await self.reader.readexactly(1)
            assert first == b"\x7e"
            return first + await self.reader.readuntil(b"\x7e")

    async def wait_closed_by_server(self, timeout: float = 3.0) -> bytes:  # noqa: ASYNC109
        """Read until the server closes (FIN or RST); return what arrived before."""
        received = b""
        async with asyncio.timeout(timeout):
            while True:
                try:
                    chunk = await self.reader.read(65536)
                except ConnectionError:
                    return received
                if not chunk:
                    return received
                received += chunk

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


# -- sink ---------------------------------------------------------------------------------------


class RecordingSink:
    """A TrackerSink that records what it is given; ``settings`` and ``networks`` are its say."""

    def __init__(
        self, settings: TrackerSettings | None = None, networks: tuple[IPNetwork, ...] = ()
    ) -> None:
        self.frames: list[list[Message]] = []
        self.messages: list[Message] = []
        self.connections: list[tuple[bool, str | None]] = []
        self.settings = settings or TrackerSettings()
        self.networks = networks
        self.auth_codes: list[str] = []
        self.refused_registrations: list[str] = []

    def tracker_settings(self) -> TrackerSettings:
        return self.settings

    @property
    def allowed_networks(self) -> tuple[IPNetwork, ...]:
        return self.networks

    def auth_code_issued(self, code: str) -> None:
        self.auth_codes.append(code)
        self.settings = TrackerSettings(self.settings.jt808_utc_offset, code)

    def registration_refused(self, peer: str) -> None:
        self.refused_registrations.append(peer)

    def handle_messages(self, messages: list[Message]) -> None:
        self.frames.append(messages)
        self.messages.extend(messages)

    def connection_changed(self, connected: bool, peer: str | None) -> None:
        self.connections.append((connected, peer))

    def types(self) -> list[str]:
        return [str(message["message.type"]) for message in self.messages]


class OffsetSink(RecordingSink):
    """A sink with its own JT/T 808 clock offset."""

    def __init__(self, jt808_utc_offset: float) -> None:
        super().__init__(TrackerSettings(jt808_utc_offset=jt808_utc_offset))


def now() -> float:
    return time.time()
