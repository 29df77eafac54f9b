"""The README's screenshot: the device page of a real Home Assistant, in headless Chromium.

``scripts/screenshot`` starts Chromium on the host with a DevTools port, then runs
``python -m tools.devhass screenshot --cdp-port PORT`` in the run env: a fresh Home
Assistant in a temporary config folder (onboarded, one tracker), the simulated car driving
one position a second until it has covered some ground, then the frontend logged in with
the same tokens the login page would store (``hassTokens`` in local storage) and the device
page captured with the DevTools protocol.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import itertools
import json
from pathlib import Path
import shutil
import tempfile
from typing import Any

import aiohttp

from tools.net import free_port
from tools.simulator import SimulatedTracker

from .client import HassClient
from .config import TRACKER_ID, write_config
from .pagetext import PAGE_TEXT_JS
from .process import HassProcess
from .setup import (
    ensure_tracker,
    ignore_install_method_issue,
    onboard_or_login,
    remove_onboarding_entries,
)

SHOT_ROUTE_OFFSET = 12
"""Start the car past its parking spot, so that it is driving."""
SHOT_REPORTS = 12
"""Positions before the shot: the odometer and the speed have moved."""


class DevTools:
    """One Chromium tab, driven over the DevTools protocol."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self._ids = itertools.count(1)

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        ident = next(self._ids)
        await self.ws.send_json({"id": ident, "method": method, "params": params})
        async with asyncio.timeout(60):
            while True:
                message = await self.ws.receive_json()
                if message.get("id") != ident:
                    continue  # an event
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result

    async def evaluate(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")


async def navigate(tab: DevTools, url: str, timeout: float = 60.0) -> None:  # noqa: ASYNC109
    """Load ``url`` in the tab and wait for the document to be complete."""
    await tab.send("Page.navigate", url=url)
    async with asyncio.timeout(timeout):
        while await tab.evaluate("location.href + ' ' + document.readyState") != f"{url} complete":  # noqa: ASYNC110 - polls the browser
            await asyncio.sleep(0.2)


async def wait_for_text(
    tab: DevTools,
    needles: list[str],
    timeout: float = 60.0,  # noqa: ASYNC109 - with the page's text in the error
) -> str:
    """Wait until the page shows every one of ``needles``; the page's text."""
    text = ""
    try:
        async with asyncio.timeout(timeout):
            while True:
                text = str(await tab.evaluate(PAGE_TEXT_JS) or "")
                if all(needle in text for needle in needles):
                    return text
                await asyncio.sleep(0.5)
    except TimeoutError:
        where = await tab.evaluate("location.href")
        raise TimeoutError(f"{where} never showed {needles}; it shows: {text[:2000]}") from None


async def drive(client: HassClient, tracker: SimulatedTracker) -> None:
    """Send positions until the car has moved and Home Assistant has them all."""
    for _ in range(SHOT_REPORTS):
        tracker.send_position()
        await asyncio.sleep(1)
    fix = tracker.last_fix
    if fix is None:
        raise RuntimeError("the simulator sent no position")
    async with asyncio.timeout(30):
        while True:
            state = await client.state("device_tracker.car")
            attributes = (state or {}).get("attributes", {})
            if abs(float(attributes.get("latitude", 0)) - fix.latitude) < 1e-5:
                return
            await asyncio.sleep(0.5)


def save(output: Path, png: bytes) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(png)


async def screenshot(args: argparse.Namespace) -> int:
    output: Path = args.output.resolve()
    config_dir = Path(tempfile.mkdtemp(prefix="sinotrack-screenshot-"))
    http_port = free_port()
    url = f"http://127.0.0.1:{http_port}"
    write_config(config_dir, host="127.0.0.1", port=http_port)
    hass = HassProcess(config_dir, url=url)
    tracker: SimulatedTracker | None = None
    try:
        async with aiohttp.ClientSession() as session:
            print(f"starting Home Assistant on {url}", flush=True)
            await hass.start()
            await hass.wait_http(session)
            client = HassClient(session, url)
            await onboard_or_login(client)
            await client.wait_running()
            await remove_onboarding_entries(client, wait=5.0)
            await ignore_install_method_issue(client)
            entry = await ensure_tracker(client, port=free_port(), bind_address="127.0.0.1")
            tracker = SimulatedTracker(
                TRACKER_ID,
                "h02",
                "127.0.0.1",
                entry.port,
                interval=3600,
                heartbeat=None,
                route_offset=SHOT_ROUTE_OFFSET,
                mileage_km=1234.5,
                battery=80,
            )
            tracker.start()
            async with asyncio.timeout(30):
                await tracker.wait_connected()
            await drive(client, tracker)
            # The odometer then shows the tracker's own mileage (H02 positions carry none).
            await client.call_service(
                "sinotrack", "query_mileage", {"device_id": entry.device_id}, return_response=True
            )
            print(f"car driving; capturing the device page {entry.device_id}", flush=True)
            png = await capture(
                session,
                args.cdp_port,
                client,
                f"{url}/config/devices/device/{entry.device_id}",
                args.width,
                args.height,
            )
        await asyncio.to_thread(save, output, png)
        print(f"saved {output} ({len(png)} bytes)", flush=True)
        return 0
    finally:
        if tracker is not None:
            await tracker.stop()
        await hass.stop()
        shutil.rmtree(config_dir, ignore_errors=True)


async def capture(
    session: aiohttp.ClientSession,
    cdp_port: int,
    client: HassClient,
    page: str,
    width: int,
    height: int,
) -> bytes:
    """Open ``page`` logged in as ``client``, in a new tab; the PNG of the viewport."""
    devtools = f"http://127.0.0.1:{cdp_port}"
    async with session.put(f"{devtools}/json/new?about:blank") as response:
        target = await response.json(content_type=None)
    try:
        async with session.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            tab = DevTools(ws)
            await tab.send(
                "Emulation.setDeviceMetricsOverride",
                width=width,
                height=height,
                deviceScaleFactor=1,
                mobile=False,
            )
            # Log in as the login page would: the tokens in the origin's local storage.
            await navigate(tab, f"{client.url}/manifest.json")
            tokens = json.dumps(client.frontend_tokens())
            await tab.evaluate(f"localStorage.setItem('hassTokens', {json.dumps(tokens)})")
            await navigate(tab, page)
            await wait_for_text(tab, ["SinoTrack", "Odometer", "Battery"])
            await asyncio.sleep(3)  # icons, fonts and the logbook settle
            shot = await tab.send("Page.captureScreenshot", format="png")
            return base64.b64decode(shot["data"])
    finally:
        with contextlib.suppress(aiohttp.ClientError):
            async with session.get(f"{devtools}/json/close/{target['id']}"):
                pass
