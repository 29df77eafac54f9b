"""The integration as a person sees it: Home Assistant's own frontend in headless Chromium.

Against a real ``hass`` of the current release (see ``conftest.py``), one person's session:
log in through the login page; add a tracker through Settings > Devices & services > Add
integration, filling the form field by field, and read the setup instructions of the final
step; add a second tracker on the same port; see both on the integration's page and open a
tracker's options, expanding each of their sections; set up the Location services through
the menu of Add integration; open the device page and read the entities and their values
once the simulated tracker has reported; open Developer tools > Actions for
``sinotrack.send_command``, ``sinotrack.get_trips`` and ``sinotrack.engine_stop``; arm and
disarm the Guard in its dialog; see the trips calendar if the run made a trip; raise an SOS
on the tracker and find the alarm on the device page and in the Activity log. Every page visited is saved as a screenshot (see
``browser.py``) and must not show "Translation error" anywhere.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
import shutil
from typing import Any, Final

from playwright.async_api import Page
import pytest

from tools.devhass import DEV_NAME, DEV_PASSWORD, DEV_USERNAME, TRACKER_ID
from tools.devhass.setup import find_device
from tools.simulator import SimulatedTracker

from .browser import ARTIFACTS, VIEWPORT, UserPage, chromium
from .harness import WAIT, Clock, Instance, integration_warnings, unexpected_errors, wait_state

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(600)]

CAR: Final = "Car"
VAN: Final = "Van"
VAN_ID: Final = "4210051416"
BATTERY: Final = 80
MILEAGE: Final = 1234.5
BIND: Final = "127.0.0.1"
GUARD: Final = "alarm_control_panel.car_guard"
TRIPS: Final = "calendar.car_trips"

DEVICE_PAGE: Final = (
    rf"Battery {BATTERY} ?%",
    r"Speed [\d.]+ km/h",
    r"Distance counted [\d.,]+ km",
    r"Ignition (Not running|Running)",
    r"Vehicle state (Parked|Moving|Idle|Driving)",
    r"SOS Safe",
    r"Connected Connected",
)
"""What a user reads on the tracker's device page once it has reported: entity names (after
the device's) with their values."""


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """The screenshot folder, emptied first; printed at the end of the run."""
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS


@pytest.fixture
async def user(instance: Instance, artifacts: Path) -> AsyncIterator[UserPage]:
    """A browser tab on the instance's frontend (nobody logged in yet)."""
    async with chromium() as browser:
        page: Page = await browser.new_page(viewport=VIEWPORT)  # type: ignore[arg-type]
        yield UserPage(page, instance.url, artifacts)


def simulated(ident: str, port: int) -> SimulatedTracker:
    """An H02 tracker that reports when the test says so."""
    return SimulatedTracker(
        ident,
        "h02",
        "127.0.0.1",
        port,
        interval=3600,
        heartbeat=None,
        mileage_km=MILEAGE,
        battery=BATTERY,
        clock=Clock(),
    )


def has_value(value: float) -> Callable[[dict[str, Any]], bool]:
    """A sensor's state is the number ``value``."""

    def check(state: dict[str, Any]) -> bool:
        try:
            return float(state["state"]) == value
        except ValueError:
            return False

    return check


async def log_in(user: UserPage) -> None:
    """The login page: user name, password, Log in; then the Overview."""
    page = user.page
    await user.goto("/")
    await page.locator("input[name=username]").fill(DEV_USERNAME)
    await page.locator("input[name=password]").fill(DEV_PASSWORD)
    await user.check("login", "Log in")
    await page.get_by_role("button", name="Log in").click()
    await user.check("overview", "Overview", "Settings")


async def pick_sinotrack(user: UserPage) -> None:
    """Add integration, "Sinotrack" typed and chosen in the dialog (not the integration's
    card on the page behind it)."""
    page = user.page
    await page.get_by_role("button", name="Add integration").click()
    await user.wait_for_text("Select brand")
    await page.keyboard.type("Sinotrack")
    await user.wait_for_text("Custom integration")
    await page.locator("dialog-add-integration").get_by_text("Sinotrack", exact=True).first.click()


async def fill_tracker_form(user: UserPage, name: str, tracker_id: str, port: int) -> None:
    """The "Add a tracker" form filled in: name, ID, port and, where the form still offers
    it (the port's first tracker), the bind address."""
    page = user.page
    await page.locator("input[name=name]").fill(name)
    await page.locator("input[name=tracker_id]").fill(tracker_id)
    await page.locator("input[type=number]").fill(str(port))
    bind = page.locator("input[name=bind_address]")
    if await bind.count():
        if not await bind.is_visible():
            await page.get_by_text("Advanced", exact=True).click()
        if await bind.is_editable():
            await bind.fill(BIND)


async def add_tracker(user: UserPage, name: str, tracker_id: str, port: int) -> str:
    """Settings > Devices & services > Add integration > Sinotrack, the form filled in as a
    person would; the final step's text (the setup instructions)."""
    page = user.page
    await user.goto("/config/integrations/dashboard")
    await user.check(f"{name}-integrations", "Add integration")
    await pick_sinotrack(user)
    # While there are no location services, a menu first offers them or a tracker.
    await user.wait_for_text("Add a tracker")
    await page.get_by_text("Add a tracker", exact=True).click()
    await user.check(f"{name}-form", "Tracker ID", "Port")
    await fill_tracker_form(user, name, tracker_id, port)
    await user.screenshot(f"{name}-form-filled")
    await page.get_by_role("button", name="Submit").click()
    # The setup steps, then "Wait for the tracker" or "Finish now".
    await user.wait_for_text("Wait for the tracker")
    menu = await user.check(f"{name}-connect", tracker_id, str(port), "SMS", "Finish now")
    assert "router" in menu, menu
    await page.get_by_text("Finish now", exact=True).first.click()
    await user.wait_for_text("appears within a few minutes")
    text = await user.check(f"{name}-instructions", tracker_id, str(port), "SMS")
    assert "router" in text, text
    await (
        page.get_by_role("button", name="Finish")
        .or_(page.get_by_role("button", name="Skip and finish"))
        .first.click()
    )
    return text


OPTION_SECTIONS: Final = (
    ("Trips", ("Stop time",)),
    ("Cell position", ("Use cell position when there is no GPS fix",)),
    ("Parked-car guard", ("Guard radius", "Guard exit delay", "Guard code")),
)
"""The options form's sections (collapsed at first) and labels each shows once expanded."""


async def entries_and_options(user: UserPage) -> None:
    """The integration's page lists both trackers; the Car's options open with the
    tracker's basics at the top, each section expands, and the dialog closes."""
    page = user.page
    await user.goto("/config/integrations/integration/sinotrack")
    await user.check("integration-entries", CAR, VAN)
    await page.get_by_role("button", name="Configure").first.click()
    await user.check("options", "Offline after", "Submit", "Parked-car guard")
    guard = page.get_by_text("Guard exit delay", exact=True)
    assert not await guard.first.is_visible(), "the guard's section is collapsed at first"
    for name, labels in OPTION_SECTIONS:
        header = page.get_by_text(name, exact=True).last
        await header.scroll_into_view_if_needed()
        await header.click()
        box = await header.bounding_box()
        if box is not None:  # the section just opened, scrolled to the dialog's top
            await page.mouse.move(VIEWPORT["width"] / 2, VIEWPORT["height"] / 2)
            await page.mouse.wheel(0, box["y"] - 120)
        await user.check(f"options-{name.lower().replace(' ', '-')}", *labels)
    # The guard's number fields show what the guard does while they are not set.
    assert await user.field_value("Guard radius") == "100"
    assert await user.field_value("Arm the guard after parking for") == "0"
    assert await user.field_value("Stop time") == "5"
    await page.mouse.move(VIEWPORT["width"] / 2, VIEWPORT["height"] / 2)
    await page.mouse.wheel(0, 5000)  # the dialog's end
    await user.check("options-guard-end", "Stop the engine when the guard triggers")
    # Stopping the engine on a trigger needs engine commands allowed: the error shows
    # above the guard's section, and nothing is saved.
    await page.get_by_role("checkbox", name="Stop the engine when the guard triggers").check(
        force=True  # the checkbox's visible part is drawn over its input
    )
    await page.get_by_role("button", name="Submit").click()
    await user.check("options-guard-error", "Allow engine stop and resume first")
    await page.get_by_role("button", name="Close").first.click()


async def location_services(user: UserPage) -> None:
    """Add integration > Sinotrack: the menu's "Set up location services", its form left
    empty (the default cells folder, no online services), and the entry it creates."""
    page = user.page
    await user.goto("/config/integrations/dashboard")
    await user.check("location-integrations", "Add integration")
    await pick_sinotrack(user)
    await user.check("location-menu", "Add a tracker", "Set up location services")
    await page.get_by_text("Set up location services", exact=True).click()
    await user.check("location-form", "OpenCelliD folder or file", "Nominatim server URL", "Submit")
    await page.get_by_role("button", name="Submit").click()
    await user.check("location-created", "Location services")
    await (
        page.get_by_role("button", name="Finish")
        .or_(page.get_by_role("button", name="Skip and finish"))
        .first.click()
    )
    await user.goto("/config/integrations/integration/sinotrack")
    await user.check("location-entries", CAR, VAN, "Location services")
    # Its settings: Configure of the entry (Car, Location services, Van: the second).
    await page.get_by_role("button", name="Configure").nth(1).click()
    await user.check("location-options", "The services restart with them", "Nominatim server URL")
    await page.get_by_role("button", name="Close").first.click()
    await page.get_by_text("Location services", exact=True).last.click()  # its device
    await user.check("location-device", "Cell database")


async def entity_ids(instance: Instance, tracker_id: str) -> tuple[str, dict[str, str]]:
    """The device id of ``tracker_id`` and its entities (description key -> entity id)."""
    async with instance.client.websocket() as ws:
        device = await find_device(ws, tracker_id)
        assert device is not None, f"no device for tracker {tracker_id}"
        registry: list[dict[str, Any]] = await ws.command("config/entity_registry/list")
    return device["id"], {
        entity["unique_id"].removeprefix(f"{tracker_id}_"): entity["entity_id"]
        for entity in registry
        if entity["device_id"] == device["id"]
    }


async def test_a_person_sets_up_trackers_in_the_browser(instance: Instance, user: UserPage) -> None:
    client = instance.client
    await client.onboard(name=DEV_NAME, username=DEV_USERNAME, password=DEV_PASSWORD)
    await client.wait_running()
    await log_in(user)

    port = instance.tracker_port
    await add_tracker(user, CAR, TRACKER_ID, port)
    await add_tracker(user, VAN, VAN_ID, port)  # the same port, the same bind address
    await entries_and_options(user)
    await location_services(user)

    car, van = simulated(TRACKER_ID, port), simulated(VAN_ID, port)
    try:
        device_id, ids = await entity_ids(instance, TRACKER_ID)
        _, van_ids = await entity_ids(instance, VAN_ID)
        car.start()
        van.start()
        async with asyncio.timeout(WAIT):
            await car.wait_connected()
            await van.wait_connected()
        await wait_state(client, ids["connected"], lambda state: state["state"] == "on")
        await wait_state(client, van_ids["connected"], lambda state: state["state"] == "on")
        for _ in range(3):
            car.send_position()
        await wait_state(client, ids["battery"], has_value(BATTERY))
        await device_page(user, device_id)
        await tracker_attributes(user, ids["tracker"])
        await send_command_help(user)
        await action_form(user, "get_trips", "Get trips", "Start", "End", "Format")
        await action_form(user, "engine_stop", "Engine stop", "When the vehicle stands still")
        await guard_dialog(user, client, device_id)
        await trips_calendar(user, client)
        await sos(user, client, car, device_id, ids)
        await map_page(user)
    finally:
        await car.stop()
        await van.stop()
    log = instance.log()
    unexpected = unexpected_errors(log)
    assert unexpected == [], "\n\n".join(unexpected)
    warnings = integration_warnings(log)
    assert warnings == [], "Home Assistant warns about the integration:\n" + "\n\n".join(warnings)


async def device_page(user: UserPage, device_id: str) -> None:
    """The device page names the tracker and shows its entities with their values."""
    await user.goto(f"/config/devices/device/{device_id}")
    await user.check("device-page", CAR, "SinoTrack", "Serial number: " + TRACKER_ID)
    for pattern in DEVICE_PAGE:
        await user.wait_for_pattern(pattern)


async def tracker_attributes(user: UserPage, entity_id: str) -> None:
    """The location's more-info dialog, and its Details (the dialog's menu): the position's
    attributes by their translated names (an H02 tracker reports its course, not its
    altitude or satellites)."""
    page = user.page
    await page.evaluate(
        """(entityId) => document.querySelector("home-assistant").dispatchEvent(
            new CustomEvent("hass-more-info", {detail: {entityId}, bubbles: true, composed: true}))""",
        entity_id,
    )
    await user.check("tracker-more-info", CAR, "History")
    await page.locator("ha-more-info-dialog").get_by_role("button", name="Menu").click()
    await user.check("tracker-more-info-menu", "Details")
    await page.get_by_text("Details", exact=True).first.click()
    await user.check("tracker-attributes", "Attributes", "Course", "Fix time", "GPS accuracy")
    await page.keyboard.press("Escape")


async def send_command_help(user: UserPage) -> None:
    """Developer tools > Actions > Sinotrack: Send command, with its help texts."""
    page = user.page
    await user.goto("/developer-tools/action")
    await user.check("actions", "Perform action")
    await page.locator("ha-service-picker").click()
    await page.locator("ha-service-picker input, ha-picker-combo-box input").first.fill(
        "sinotrack.send_command"
    )
    await user.wait_for_text("Send command")
    await user.screenshot("actions-search")
    await page.get_by_text("Send command", exact=False).first.click()
    text = await user.check("send-command", "sinotrack.send_command", "Payload", "*HQ,")
    assert "JT/T 808" in text, text


async def action_form(user: UserPage, action: str, name: str, *fields: str) -> None:
    """Developer tools > Actions > ``sinotrack.<action>``: its form with ``fields``."""
    page = user.page
    await user.goto("/developer-tools/action")
    await user.wait_for_text("Perform action")
    await page.locator("ha-service-picker").click()
    await page.locator("ha-service-picker input, ha-picker-combo-box input").first.fill(
        f"sinotrack.{action}"
    )
    await user.wait_for_text(name)
    await page.get_by_text(name, exact=True).first.click()
    await user.check(f"action-{action}", f"sinotrack.{action}", *fields)


async def guard_dialog(user: UserPage, client: Any, device_id: str) -> None:
    """The Guard's dialog from the device page: armed away with no code set, then
    disarmed."""
    page = user.page
    await user.goto(f"/config/devices/device/{device_id}")
    await user.wait_for_text(CAR, "Guard")
    await page.get_by_text("Guard", exact=True).first.click()
    await user.check("guard-dialog", "Disarmed")
    await page.get_by_role("radio", name="Away").click()
    await wait_state(client, GUARD, lambda state: state["state"] == "armed_away")
    await user.check("guard-armed", "Armed away")
    await page.get_by_role("radio", name="Disarmed").click()
    await wait_state(client, GUARD, lambda state: state["state"] == "disarmed")
    await user.check("guard-disarmed", "Disarmed")
    await page.keyboard.press("Escape")


async def trips_calendar(user: UserPage, client: Any) -> None:
    """The Calendar panel with the trips calendar, when this run made a trip."""
    now = datetime.now(UTC)
    events: list[dict[str, Any]] = await client.get(
        f"/api/calendars/{TRIPS}",
        params={
            "start": (now - timedelta(days=1)).isoformat(),
            "end": (now + timedelta(days=1)).isoformat(),
        },
    )
    if not events:
        return  # no trip in this run: nothing to show
    await user.goto("/calendar")
    await user.check("calendar", "Calendar", "Trips")


async def sos(
    user: UserPage, client: Any, car: SimulatedTracker, device_id: str, ids: dict[str, str]
) -> None:
    """An SOS from the tracker: the alarm event on the device page and in the Activity log."""
    assert await car.raise_alarm("sos")
    await wait_state(client, ids["sos"], lambda state: state["state"] == "on")
    event = await wait_state(client, ids["alarm"], lambda state: state["state"] != "unknown")
    assert event["attributes"]["event_type"] == "sos"
    await user.goto(f"/config/devices/device/{device_id}")
    await user.check("device-page-sos", CAR, "Alarm")
    await user.wait_for_pattern(r"SOS Unsafe")
    await user.goto("/logbook")
    await user.check("activity-sos", "Activity", CAR)
    await user.wait_for_pattern(rf"Alarm\W+SOS\W+{CAR}\b")
    await user.wait_for_pattern(rf"SOS\W+Unsafe\W+{CAR}\b")


async def map_page(user: UserPage) -> None:
    """The Map shows the car (the README's map screenshot)."""
    await user.goto("/map")
    await user.check("map", "Map")
    await user.page.locator("ha-map").first.wait_for()
    # Trackers that belong to no person are under Devices, not the default People tab.
    await user.page.get_by_text("Devices", exact=True).first.click()
    await user.check("map-devices", CAR, VAN)
