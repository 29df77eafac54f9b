"""Bring a fresh or existing development Home Assistant to "onboarded, with one tracker"."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from tools.net import free_port

from .client import HassClient, HassError, HassWebsocket
from .config import (
    DEV_NAME,
    DEV_PASSWORD,
    DEV_USERNAME,
    TRACKER_ID,
    TRACKER_NAME,
)

DOMAIN = "sinotrack"
ONBOARDING_DOMAINS = ("google_translate", "met", "radio_browser", "shopping_list")
"""What onboarding adds on its own (text-to-speech and weather need the internet, the
shopping list is only noise here); :func:`remove_onboarding_entries` removes them."""


@dataclass(slots=True)
class TrackerEntry:
    """The development tracker's config entry and device."""

    entry_id: str
    device_id: str | None
    port: int
    state: str
    created: bool


async def onboard_or_login(client: HassClient) -> bool:
    """Onboard with the development login, or log in with it; True if onboarding ran."""
    done = await client.onboarding()
    if all(done.values()):
        await client.login(DEV_USERNAME, DEV_PASSWORD)
        return False
    await client.onboard(name=DEV_NAME, username=DEV_USERNAME, password=DEV_PASSWORD)
    return True


async def remove_onboarding_entries(client: HassClient, *, wait: float = 0.0) -> list[str]:
    """Delete the entries onboarding creates by itself; the titles of those deleted.

    Onboarding starts their flows in the background: ``wait`` seconds are given for the
    entries that always appear (Google Translate, Shopping list) to show up.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    removed: list[str] = []
    expected = {"google_translate", "shopping_list"}
    while True:
        for domain in ONBOARDING_DOMAINS:
            for entry in await client.config_entries(domain):
                await client.request(
                    "DELETE", f"/api/config/config_entries/entry/{entry['entry_id']}"
                )
                removed.append(str(entry.get("title") or domain))
                expected.discard(domain)
        if not expected or loop.time() >= deadline:
            return removed
        await asyncio.sleep(0.25)


async def ignore_install_method_issue(client: HassClient) -> bool:
    """Ignore the repair issue saying a pip-installed Home Assistant Core is deprecated.

    It is true of every development instance and says nothing about the integration; it
    would only keep a badge on Settings. True if there was such an issue.
    """
    async with client.websocket() as ws:
        issues = (await ws.command("repairs/list_issues")).get("issues", [])
        for issue in issues:
            if (issue["domain"], issue["issue_id"]) == ("homeassistant", "deprecated_method"):
                if not issue.get("ignored"):
                    await ws.command(
                        "repairs/ignore_issue",
                        domain="homeassistant",
                        issue_id="deprecated_method",
                        ignore=True,
                    )
                return True
    return False


def tracker_form(port: int, bind_address: str, *, name: str = TRACKER_NAME) -> dict[str, Any]:
    """The config flow's user step, as the frontend submits it (``advanced`` is a section)."""
    return {
        "name": name,
        "tracker_id": TRACKER_ID,
        "port": port,
        "advanced": {"bind_address": bind_address},
    }


async def ensure_tracker(client: HassClient, *, port: int, bind_address: str) -> TrackerEntry:
    """The entry of tracker :data:`TRACKER_ID`, added through the config flow if missing.

    A new entry gets ``port``, or a free port when ``port`` is taken. An existing entry (found
    through its device: the REST API does not show unique ids) keeps its port, read from its
    diagnostics.
    """
    entries = {entry["entry_id"]: entry for entry in await client.config_entries(DOMAIN)}
    async with client.websocket() as ws:
        device = await find_device(ws)
    existing = next(
        (
            entries[entry_id]
            for entry_id in (device or {}).get("config_entries", [])
            if entry_id in entries
        ),
        None,
    )
    if existing is not None:
        entry_id: str = existing["entry_id"]
        diagnostics = await client.get(f"/api/diagnostics/config_entry/{entry_id}")
        port = int(diagnostics["data"]["entry"]["data"]["port"])
        device_id = str(device["id"]) if device else None
        return TrackerEntry(entry_id, device_id, port, str(existing["state"]), False)
    result = await client.config_flow(DOMAIN, tracker_form(port, bind_address))
    if result.get("type") == "form" and (result.get("errors") or {}).get("port"):
        port = free_port(bind_address if bind_address not in ("0.0.0.0", "::") else "")  # noqa: S104
        result = await client.config_flow(DOMAIN, tracker_form(port, bind_address))
    if result.get("type") != "create_entry":
        raise HassError(f"adding tracker {TRACKER_ID} failed: {result}")
    async with client.websocket() as ws:
        device = await find_device(ws)
    entry = result["result"]
    device_id = str(device["id"]) if device else None
    return TrackerEntry(entry["entry_id"], device_id, port, str(entry["state"]), True)


async def find_device(ws: HassWebsocket, tracker_id: str = TRACKER_ID) -> dict[str, Any] | None:
    """The device registry entry of tracker ``tracker_id``, None if it has no device (yet)."""
    devices: list[dict[str, Any]] = await ws.command("config/device_registry/list")
    for device in devices:
        if [DOMAIN, tracker_id] in device.get("identifiers", []):
            return device
    return None
