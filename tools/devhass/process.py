"""A ``hass`` process: start it, wait for its HTTP server, stop it."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
import contextlib
import os
from pathlib import Path
import signal
import sys
import time
from typing import IO, Final

import aiohttp

RESTART_EXIT_CODE: Final = 100
"""Home Assistant's exit status when a restart was asked for (the UI's Restart)."""


class HassExitedError(RuntimeError):
    """Home Assistant exited while it was expected to run."""


class HassProcess:
    """``python -m homeassistant -c CONFIG --skip-pip`` in a process group of its own.

    Its own process group keeps the terminal's Ctrl-C away from it: whoever started it stops
    it with :meth:`stop` (SIGTERM, the clean stop), after the trackers that feed it. Its
    output goes to ``console.log`` in the config folder, rewritten at every start (Home
    Assistant also writes ``home-assistant.log`` there, and keeps the previous one).
    ``PYTHONPATH`` is not passed on and it runs in the config folder (``-m`` puts the working folder first on ``sys.path``), so the
    integration is loaded from the config folder's ``custom_components``, as in a real
    installation, with any other custom integration there.
    """

    def __init__(
        self,
        config_dir: Path,
        *,
        python: str = sys.executable,
        url: str,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.config_dir = config_dir
        self.python = python
        self.url = url
        self.console_log = config_dir / "console.log"
        self.env = dict(os.environ if env is None else env)
        self.env.pop("PYTHONPATH", None)
        self.process: asyncio.subprocess.Process | None = None
        self._console: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.returncode

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def start(self) -> None:
        """Start Home Assistant (it takes a while to listen: see :meth:`wait_http`)."""
        if self.running:
            raise RuntimeError("Home Assistant is running already")
        self._close_console()
        self._console = self.console_log.open("wb")
        self._console.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} start\n".encode())
        self._console.flush()
        self.process = await asyncio.create_subprocess_exec(
            self.python,
            "-m",
            "homeassistant",
            "--config",
            str(self.config_dir.resolve()),
            "--skip-pip",
            "--log-no-color",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self._console,
            stderr=asyncio.subprocess.STDOUT,
            env=self.env,
            cwd=self.config_dir,
            process_group=0,
        )

    async def wait_http(
        self,
        session: aiohttp.ClientSession,
        timeout: float = 180.0,  # noqa: ASYNC109 - the whole start's, with a clear error
    ) -> None:
        """Wait until the HTTP server answers (``/auth/providers``, which needs no login).

        Home Assistant starts its HTTP server once the frontend, and with it ``auth`` and
        ``onboarding``, is set up.

        Raises HassExitedError if Home Assistant exits first, TimeoutError after ``timeout``.
        """
        process = self.process
        if process is None:
            raise RuntimeError("Home Assistant was not started")
        exited = asyncio.ensure_future(process.wait())
        try:
            async with asyncio.timeout(timeout):
                await self._poll_http(session, process, exited)
        except TimeoutError:
            raise TimeoutError(
                f"Home Assistant did not answer on {self.url} within {timeout:g} s; the end of "
                f"its output:\n{self.log_tail()}"
            ) from None
        finally:
            if not exited.done():
                exited.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await exited

    async def _poll_http(
        self,
        session: aiohttp.ClientSession,
        process: asyncio.subprocess.Process,
        exited: asyncio.Future[int],
    ) -> None:
        while True:
            if exited.done():
                raise HassExitedError(
                    f"Home Assistant exited with status {process.returncode} while "
                    f"starting; the end of its output:\n{self.log_tail()}"
                )
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with session.get(
                    f"{self.url}/auth/providers", timeout=aiohttp.ClientTimeout(total=5)
                ) as response:
                    # 400 "onboarding_required" before onboarding: up all the same.
                    if response.status < 500:
                        return
            await asyncio.wait([exited], timeout=0.5)

    async def wait(self) -> int:
        """Wait until Home Assistant exits; its exit status."""
        if self.process is None:
            raise RuntimeError("Home Assistant was not started")
        return await self.process.wait()

    async def stop(self, grace: float = 90.0) -> int | None:
        """Stop Home Assistant (SIGTERM, then SIGKILL after ``grace`` s); its exit status.

        Does nothing (returns the exit status, or None if never started) if it is not running.
        """
        process = self.process
        if process is None:
            return None
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(grace):
                    await process.wait()
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                await process.wait()
        self._close_console()
        return process.returncode

    def _close_console(self) -> None:
        if self._console is not None:
            self._console.close()
            self._console = None

    def log_tail(self, lines: int = 60) -> str:
        """The last lines of Home Assistant's output."""
        try:
            text = self.console_log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no output)"
        return "\n".join(text.splitlines()[-lines:])
