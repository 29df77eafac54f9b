"""Setting a new tracker up by SMS, as a person does it in Home Assistant's frontend.

Against a real ``hass`` of the current release (see ``conftest.py``) with a notify action,
``notify.sms``, that sends nothing: a small custom integration of this test,
``sms_outbox``, appends each call's ``message`` and ``target`` to a file, as an SMS
integration would send them. (The ``command_line`` notify platform cannot stand in: its
requirement is not in the run env, and it passes the message alone, without the number.)
In headless Chromium: log in, Add integration > Sinotrack > Add a tracker, fill the form,
choose "Send the SMS commands from Home Assistant" in the connect step, fill the SMS form and
submit. The notify action got the server, APN and GPRS-mode commands, in that order, each
for the tracker's number; the next screen waits for the tracker, which then connects, and
the flow ends with the tracker connected. Every step is saved as a screenshot (see
``browser.py``; here in :data:`SHOTS`) and the log has no unexpected error.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import json
from pathlib import Path
import shutil
from typing import Any, Final

from playwright.async_api import Page
import pytest

from tools.devhass import DEV_NAME, DEV_PASSWORD, DEV_USERNAME, TRACKER_ID

from .browser import ARTIFACTS, VIEWPORT, UserPage, chromium
from .harness import WAIT, Instance, integration_warnings, running_instance, unexpected_errors
from .test_browser import fill_tracker_form, log_in, pick_sinotrack, simulated

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(300)]

CAR: Final = "Car"
NUMBER: Final = "+4915112345678"
PASSWORD: Final = "0000"
NOTIFY: Final = "notify.sms"
PUBLIC_IP: Final = "203.0.113.7"
PUBLIC_PORT: Final = 15013
APN: Final = "internet"
SHOTS: Final = ARTIFACTS.parent / "browser-sms"
"""This test's screenshots (beside those of ``test_browser.py``, which empties its own folder
when its session starts)."""
OUTBOX: Final = "sms-outbox.jsonl"
"""Where ``notify.sms`` writes each SMS it would send, one JSON object a line."""
OUTBOX_MANIFEST: Final = {
    "domain": "sms_outbox",
    "name": "SMS outbox",
    "version": "1.0.0",
    "documentation": "https://example.invalid/sms_outbox",
    "codeowners": [],
    "iot_class": "local_push",
}
OUTBOX_INTEGRATION: Final = f"""\
\"\"\"notify.sms that writes each SMS to {OUTBOX} instead of sending it.\"\"\"

import json


async def async_setup(hass, config):
    \"\"\"Register notify.sms.\"\"\"
    outbox = hass.config.path("{OUTBOX}")

    def append(line):
        with open(outbox, "a", encoding="utf-8") as file:
            file.write(line + "\\n")

    async def send(call):
        line = json.dumps({{"message": call.data["message"], "target": call.data.get("target")}})
        await hass.async_add_executor_job(append, line)

    hass.services.async_register("notify", "sms", send)
    return True
"""
"""The custom integration behind ``notify.sms`` (set up by ``sms_outbox:`` in YAML)."""
FILES: Final = {
    "custom_components/sms_outbox/manifest.json": json.dumps(OUTBOX_MANIFEST),
    "custom_components/sms_outbox/__init__.py": OUTBOX_INTEGRATION,
    "packages/sms.yaml": "sms_outbox:\n",
}


@pytest.fixture
async def instance(
    hass_python: Path, tmp_path: Path, socket_enabled: None
) -> AsyncIterator[Instance]:
    """A fresh Home Assistant with ``notify.sms`` (see :data:`FILES`), not onboarded."""
    async with running_instance(hass_python, tmp_path / "config", FILES) as started:
        yield started


@pytest.fixture
async def user(instance: Instance) -> AsyncIterator[UserPage]:
    """A browser tab on the instance's frontend; screenshots in :data:`SHOTS`, emptied first."""
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    async with chromium() as browser:
        page: Page = await browser.new_page(viewport=VIEWPORT)  # type: ignore[arg-type]
        yield UserPage(page, instance.url, SHOTS)


async def sent_sms(instance: Instance, count: int) -> list[dict[str, Any]]:
    """What the notify action got (``message``, ``target``), once it got ``count`` calls."""
    outbox = instance.config_dir / OUTBOX
    calls: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(WAIT):
            while len(calls) < count:
                await asyncio.sleep(0.1)
                if outbox.exists():
                    lines = outbox.read_text(encoding="utf-8").splitlines()
                    calls = [json.loads(line) for line in lines]
    except TimeoutError:
        pytest.fail(f"the notify action got {calls}, not {count} calls")
    return calls


async def fill_sms_form(user: UserPage, port: int) -> None:
    """The SMS form, field by field: number, password, notify action, IP, port, APN."""
    page = user.page
    await user.check("sms-form", "Tracker's phone number", "Notify action that sends SMS", "APN")
    assert await user.field_value("Public port") == str(port), "the public port is the tracker's"
    await page.locator("input[name=sms_number]").fill(NUMBER)
    await page.locator("input[name=sms_password]").fill(PASSWORD)
    await page.locator("input[name=sms_host]").fill(PUBLIC_IP)
    await page.locator("input[type=number]").fill(str(PUBLIC_PORT))
    await page.locator("input[name=sms_apn]").fill(APN)
    # The only notify action that can take a number is chosen already.
    assert await user.field_value("Notify action that sends SMS") == NOTIFY
    await page.keyboard.press("Tab")  # the last field's label settles above its value
    await user.check("sms-form-filled", "Leave empty for 0000")


async def host_name_refused(user: UserPage, instance: Instance) -> None:
    """A host name in place of the IP address: the field's error, and no SMS sent; then
    the form filled again as the person sees it (the password is never shown back)."""
    page = user.page
    host = page.locator("input[name=sms_host]")
    await host.fill("home.example.net")
    await page.get_by_role("button", name="Submit").click()
    await user.check("sms-form-host-name", "Enter an IPv4 address, such as 203.0.113.7")
    assert not (instance.config_dir / OUTBOX).exists(), "an SMS went out with a wrong server"
    assert await user.field_value("Tracker's phone number") == NUMBER
    assert await page.locator("input[name=sms_apn]").input_value() == APN
    assert not await user.field_value("SMS password"), "the password is never shown back"
    assert "when the form comes back with an error, the one entered is kept" in await user.text()
    await host.fill(PUBLIC_IP)
    await page.locator("input[name=sms_password]").fill(PASSWORD)


async def sms_options(user: UserPage) -> None:
    """The new tracker's options keep the number and notify action, in the SMS section."""
    page = user.page
    await user.goto("/config/integrations/integration/sinotrack")
    await user.check("integration-entries", CAR)
    await page.get_by_role("button", name="Configure").first.click()
    await user.wait_for_text("Offline after", "SMS")
    header = page.get_by_text("SMS", exact=True).last
    await header.scroll_into_view_if_needed()
    await header.click()
    await page.get_by_text("It receives the text as message", exact=False).last.wait_for()
    await asyncio.sleep(0.5)  # the section's opening animation
    await page.mouse.move(VIEWPORT["width"] / 2, VIEWPORT["height"] / 2)
    await page.mouse.wheel(0, 5000)  # the section is the dialog's last
    await user.check("options-sms", "Tracker's phone number", "Notify action that sends SMS")
    assert await user.field_value("Tracker's phone number") == NUMBER
    assert await user.field_value("Notify action that sends SMS") == NOTIFY
    await page.get_by_role("button", name="Close").first.click()


async def test_a_person_sets_a_tracker_up_by_sms(instance: Instance, user: UserPage) -> None:
    client = instance.client
    await client.onboard(name=DEV_NAME, username=DEV_USERNAME, password=DEV_PASSWORD)
    await client.wait_running()
    await log_in(user)
    page = user.page
    port = instance.tracker_port

    await user.goto("/config/integrations/dashboard")
    await user.check("integrations", "Add integration")
    await pick_sinotrack(user)
    await user.wait_for_text("Add a tracker")
    await page.get_by_text("Add a tracker", exact=True).click()
    await user.check("tracker-form", "Tracker ID", "Port")
    await fill_tracker_form(user, CAR, TRACKER_ID, port)
    await page.get_by_role("button", name="Submit").click()
    await user.check("connect", "Send the SMS commands from Home Assistant", "Finish now")
    await page.get_by_text("Send the SMS commands from Home Assistant", exact=True).click()

    await fill_sms_form(user, port)
    await host_name_refused(user, instance)
    await page.get_by_role("button", name="Submit").click()
    calls = await sent_sms(instance, 3)
    assert [call["message"] for call in calls] == [
        f"8040000 {PUBLIC_IP} {PUBLIC_PORT}",
        f"8030000 {APN}",
        "7100000",
    ]
    assert all(call["target"] == [NUMBER] for call in calls), calls
    await user.check("sms-wait", f"Waiting for tracker {TRACKER_ID} to connect", f"{port} is open")

    car = simulated(TRACKER_ID, port)
    try:
        car.start()
        async with asyncio.timeout(WAIT):
            await car.wait_connected()
        await user.check("sms-connected", f"Tracker {TRACKER_ID} is connected on port {port}")
    finally:
        await car.stop()
    await (
        page.get_by_role("button", name="Finish")
        .or_(page.get_by_role("button", name="Skip and finish"))
        .first.click()
    )
    await sms_options(user)
    log = instance.log()
    unexpected = unexpected_errors(log)
    assert unexpected == [], "\n\n".join(unexpected)
    warnings = integration_warnings(log)
    assert warnings == [], "Home Assistant warns about the integration:\n" + "\n\n".join(warnings)
