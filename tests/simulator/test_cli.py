"""``python -m tools.simulator`` as a subprocess against the test server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
import contextlib
from pathlib import Path
import signal
import socket
import sys
from typing import Any

import pytest

from custom_components.sinotrack.protocol import AuthEvent, Message

from .server import CodecServer

REPO = Path(__file__).resolve().parents[2]
START: float = 30.0
"""Longest wait for the subprocess (it may import Home Assistant through the codec)."""


class Simulator:
    """A running ``python -m tools.simulator`` with its output collected."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.output = bytearray()
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while chunk := await self.process.stdout.read(4096):
            self.output.extend(chunk)

    def type(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")

    async def wait(self, within: float = START) -> int:
        async with asyncio.timeout(within):
            code = await self.process.wait()
            await self._reader
        return code

    async def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
        with contextlib.suppress(TimeoutError):
            await self.wait(5)
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


type Launch = Callable[..., Coroutine[Any, Any, Simulator]]


@pytest.fixture
async def simulator() -> AsyncIterator[Launch]:
    started: list[Simulator] = []

    async def launch(*args: str) -> Simulator:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tools.simulator",
            *args,
            cwd=REPO,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        running = Simulator(process)
        started.append(running)
        return running

    yield launch
    for running in started:
        await running.kill()


def _from(ident: str, kind: str = "V1") -> Callable[[Message], bool]:
    return lambda message: message.get("ident") == ident and message["message.type"] == kind


async def test_cli_commands_and_quit(server: CodecServer, simulator: Launch) -> None:
    running = await simulator(
        "--port", str(server.port), "--id", "4210051415", "--count", "2",
        "--interval", "0.1", "--heartbeat", "0.2", "--alarm", "overspeed@0.2",
        "--mileage", "1234.5", "--verbose",
    )  # fmt: skip
    await server.wait_messages(_from("4210051415"), within=START)
    await server.wait_messages(_from("4210051416"), within=START)
    await server.wait_messages(_from("4210051416", "HTBT"))
    await server.wait_messages(lambda m: m.get("overspeeding.event") is True, count=2)
    running.type("sos 4210051415")
    [sos] = await server.wait_messages(lambda m: m.get("sos.alarm") is True)
    assert sos["ident"] == "4210051415"
    running.type("status")
    running.type("bogus")
    running.type("quit")
    assert await running.wait() == 0
    output = running.output.decode()
    assert "4210051415 -> *HQ,4210051415,V1," in output
    assert "4210051416 <- *HQ,4210051416,V4,V1," in output
    assert "4210051415 h02 connected" in output  # the status line
    assert "unknown command 'bogus'" in output
    assert not any(m.get("sos.alarm") for m in server.messages if m["ident"] == "4210051416")
    assert server.rejected == []


async def test_cli_stops_on_sigint(server: CodecServer, simulator: Launch) -> None:
    running = await simulator(
        "--port", str(server.port), "--id", "4210051417", "--protocol", "jt808",
        "--interval", "0.1", "--reconnect-after", "0.3", "--offline", "0.2",
    )  # fmt: skip
    await server.wait_messages(_from("4210051417", "0x0200"), within=START)
    await server.wait_messages(_from("4210051417", "0x0704"))  # replayed after a drop
    running.process.send_signal(signal.SIGINT)
    assert await running.wait() == 0
    assert "stopped" in running.output.decode()
    assert server.rejected == []


async def test_cli_authenticates_with_the_code_given(
    server: CodecServer, simulator: Launch
) -> None:
    server.store_auth_codes = True
    server.auth_codes["4210051417"] = "2718281828459045"
    running = await simulator(
        "--port", str(server.port), "--id", "4210051417", "--protocol", "jt808",
        "--interval", "0.1", "--jt808-auth-code", "2718281828459045",
    )  # fmt: skip
    await server.wait_messages(_from("4210051417", "0x0200"), within=START)
    running.type("quit")
    assert await running.wait() == 0
    assert server.connections[0].auth[:2] == [AuthEvent.ALREADY_REGISTERED, AuthEvent.ACCEPTED]


async def test_cli_keeps_the_issued_code_in_its_auth_file(
    server: CodecServer, simulator: Launch, tmp_path: Path
) -> None:
    """A second run reads the code the first run was issued, as a device keeps it."""
    server.store_auth_codes = True
    auth_file = tmp_path / "codes.json"
    args = (
        "--port", str(server.port), "--id", "4210051417", "--protocol", "jt808",
        "--interval", "0.1", "--jt808-auth-file", str(auth_file),
    )  # fmt: skip
    first = await simulator(*args)
    await server.wait_messages(_from("4210051417", "0x0200"), within=START)
    first.type("quit")
    assert await first.wait() == 0
    issued = server.auth_codes["4210051417"]
    assert issued in auth_file.read_text()
    second = await simulator(*args)
    await server.until(
        lambda: len(server.connections) >= 2 and AuthEvent.ACCEPTED in server.connections[-1].auth,
        within=START,
    )
    second.type("quit")
    assert await second.wait() == 0
    assert server.connections[-1].auth[:2] == [AuthEvent.ALREADY_REGISTERED, AuthEvent.ACCEPTED]


async def test_cli_exits_1_when_it_cannot_connect(
    simulator: Launch,
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    running = await simulator(
        "--port", str(port), "--connect-attempts", "2", "--reconnect-delay", "0.05",
    )  # fmt: skip
    assert await running.wait() == 1
    assert "cannot connect" in running.output.decode()


async def test_cli_rejects_bad_arguments(
    simulator: Launch,
) -> None:
    running = await simulator("--protocol", "h02-binary", "--id", "123")
    assert await running.wait() == 2
    assert "10-digit" in running.output.decode()
