"""What every end-to-end test shares: a started Home Assistant and how to read it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
import contextlib
from dataclasses import dataclass
import os
from pathlib import Path
import re
import time
from typing import Any, Final

import aiohttp
import pytest

from tests.support.net import free_port
from tools.devhass import HassClient, HassProcess, write_config

WAIT: Final = 20.0
"""Longest wait for Home Assistant to show what the tracker sent."""

# Errors a fresh run env logs that have nothing to do with the integration: onboarding starts
# the flows of Google Translate, Met.no and Radio Browser, whose requirements are not in the
# run env (they need the internet anyway); the ffmpeg and libturbojpeg system tools are not
# in the env either.
ALLOWED_ERRORS: Final = (
    re.compile(r"No module named '(gtts|metno|radios|radios\.\w+)'"),
    re.compile(r"FFmpeg fails \[Errno 2\] No such file or directory: 'ffmpeg'"),
    re.compile(r"Error loading libturbojpeg"),
    # Home Assistant's websocket API sending a compressed frame to a browser page that has
    # just closed (aiohttp's writer task, with no frame of this integration in it).
    re.compile(
        r"Task exception was never retrieved \(task: None\)\n"
        r"(?:(?!custom_components).)*?_send_compressed_frame_async_locked"
        r"(?:(?!custom_components).)*ClientConnectionResetError: Cannot write to closing transport",
        re.DOTALL,
    ),
)
_RECORD: Final = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+(?:[+-]\d\d:?\d\d|Z)? (\w+) ", re.MULTILINE
)
"""The start of a log record and its level (Home Assistant 2026.11 added the UTC offset)."""
_DEPRECATION: Final = re.compile(
    r"Detected (?:that|code in) custom integration '?sinotrack\b"
    r"|was used from sinotrack\b"
    r"|custom_components[./]sinotrack\S*:\d+: \w*Warning",
    re.IGNORECASE,
)
"""A warning about this integration's code: Home Assistant's frame helper on a call that will
stop working, its deprecation helper on a deprecated name used, or a Python warning raised
in the integration's modules (Home Assistant logs those through ``py.warnings``; the
instance is started with ``PYTHONWARNINGS`` showing deprecation warnings)."""


class Clock:
    """Whole seconds, one more on every call, from a minute ago: each fix has its own time."""

    def __init__(self) -> None:
        self.now = int(time.time()) - 60

    def __call__(self) -> float:
        self.now = max(self.now + 1, int(time.time()) - 60)
        return float(self.now)


@dataclass(slots=True)
class Instance:
    """The running Home Assistant, its client and the test's view of it."""

    hass: HassProcess
    client: HassClient
    config_dir: Path
    http_port: int
    tracker_port: int

    @property
    def url(self) -> str:
        """Where the frontend is."""
        return self.client.url

    def log(self) -> str:
        """Home Assistant's log so far (``home-assistant.log``)."""
        return (self.config_dir / "home-assistant.log").read_text(encoding="utf-8")


@contextlib.asynccontextmanager
async def running_instance(
    hass_python: Path, config_dir: Path, files: Mapping[str, str] | None = None
) -> AsyncIterator[Instance]:
    """A fresh Home Assistant on free ports, answering HTTP; stopped on exit if still running.

    ``files``: more of the configuration folder (path in it -> text), such as a YAML package
    (``packages/<name>.yaml``) or a custom integration of the test's own.
    """
    http_port, tracker_port = free_port(), free_port()
    while tracker_port == http_port:
        tracker_port = free_port()
    ha_dir = next(hass_python.parent.parent.glob("lib/python*/site-packages/homeassistant"))
    write_config(config_dir, host="127.0.0.1", port=http_port, ha_dir=ha_dir)
    for name, text in (files or {}).items():
        (config_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (config_dir / name).write_text(text, encoding="utf-8")
    url = f"http://127.0.0.1:{http_port}"
    env = dict(os.environ, PYTHONWARNINGS="default::DeprecationWarning")
    hass = HassProcess(config_dir, python=str(hass_python), url=url, env=env)
    async with aiohttp.ClientSession() as session:
        await hass.start()
        try:
            await hass.wait_http(session)
            yield Instance(hass, HassClient(session, url), config_dir, http_port, tracker_port)
        finally:
            await hass.stop()


async def wait_state(
    client: HassClient, entity_id: str, check: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """Poll ``entity_id``'s state until ``check`` accepts it; the state."""
    state: dict[str, Any] | None = None
    try:
        async with asyncio.timeout(WAIT):
            while True:
                state = await client.state(entity_id)
                if state is not None and check(state):
                    return state
                await asyncio.sleep(0.1)
    except TimeoutError:
        pytest.fail(f"{entity_id} never got there; last state: {state}")


def error_records(log: str) -> list[str]:
    """The ERROR (and worse) records of a Home Assistant log, each with its traceback."""
    starts = list(_RECORD.finditer(log))
    records = []
    for index, match in enumerate(starts):
        end = starts[index + 1].start() if index + 1 < len(starts) else len(log)
        if match.group(1) in ("ERROR", "CRITICAL"):
            records.append(log[match.start() : end].strip())
    return records


def unexpected_errors(log: str) -> list[str]:
    """The error records of ``log`` that :data:`ALLOWED_ERRORS` does not explain."""
    return [
        record
        for record in error_records(log)
        if not any(allowed.search(record) for allowed in ALLOWED_ERRORS)
    ]


def integration_warnings(log: str) -> list[str]:
    """The records of ``log`` where Home Assistant or Python warns about this integration's
    code (deprecated calls: see :data:`_DEPRECATION`)."""
    starts = list(_RECORD.finditer(log))
    records = []
    for index, match in enumerate(starts):
        end = starts[index + 1].start() if index + 1 < len(starts) else len(log)
        record = log[match.start() : end].strip()
        if _DEPRECATION.search(record):
            records.append(record)
    return records
