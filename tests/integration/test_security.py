"""What a caller without the right to act, or a tracker's connection, cannot do: actions for
administrators only, engine commands behind their option however they are spelt, bounded
queues, rate-limited alarm events. Real frames through the listener on 127.0.0.1."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from http import HTTPStatus
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import EVENT_STATE_CHANGED
from homeassistant.core import Context, Event, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError, Unauthorized
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockUser,
)
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import (
    ClientSessionGenerator,
    WebSocketGenerator,
)

from custom_components.sinotrack.command_store import get_command_store
from custom_components.sinotrack.const import DOMAIN
from tests.support.client import Client, Jt808Device
from tests.support.frames import (
    BIT_POWER_CUT,
    BIT_SOS,
    H02_ID,
    T0,
    h02_status,
    h02_v1,
    jt808_location,
)
from tests.support.hass import ALARM, make_entry, report

from .conftest import TrackerFactory
from .test_services import (
    call,
    command,
    entry_target,
    error_of,
    h02_tracker,
    jt808_setup,
    result,
    standing,
)

SECOND = timedelta(seconds=1)

ACTIONS: dict[str, dict[str, Any]] = {
    "send_command": {"payload": "RCONF"},
    "query_mileage": {},
    "request_position": {},
    "set_interval": {"interval": 60},
    "engine_stop": {},
    "engine_resume": {},
    "arm": {},
    "disarm": {},
    "reset_jt808_auth": {},
    "cancel_commands": {},
    "send_sms": {"message": "RCONF"},
    "setup_tracker_by_sms": {"host": "203.0.113.7"},
}


async def assert_nothing_sent(tracker: Client, when: int = 1) -> None:
    """The next thing the tracker receives is the answer to its own report."""
    answer = await report(tracker, h02_v1(T0 + when * SECOND))
    assert answer.startswith(f"*HQ,{H02_ID},V4,V1,".encode())


# -- admin only ------------------------------------------------------------------------------


async def test_every_action_is_for_administrators_only(
    hass: HomeAssistant,
    connect: TrackerFactory,
    hass_ws_client: WebSocketGenerator,
    hass_read_only_access_token: str,
    hass_read_only_user: MockUser,
) -> None:
    """A user who is not an administrator calling any action over the websocket API is
    refused (Unauthorized), and nothing reaches the tracker, engine option on or not."""
    entry = make_entry(allow_engine_commands=True)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    tracker = await h02_tracker(connect, entry)
    runtime = entry.runtime_data
    runtime.auth_code_issued("482913")
    client = await hass_ws_client(hass, access_token=hass_read_only_access_token)
    # get_trips only reads what is stored: any user may call it (see test_trips).
    assert {*ACTIONS, "get_trips"} == set(hass.services.async_services_for_domain(DOMAIN))
    for number, (service, data) in enumerate(ACTIONS.items(), start=1):
        await client.send_json(
            {
                "id": number,
                "type": "call_service",
                "domain": DOMAIN,
                "service": service,
                "service_data": {**entry_target(entry), **data},
                "return_response": service != "reset_jt808_auth",
            }
        )
        reply = await client.receive_json()
        assert reply["success"] is False, service
        assert reply["error"]["message"] == "Unauthorized", service
        # The same call in the user's name from anywhere else (an automation the user
        # wrote, a script) is refused the same way.
        with pytest.raises(Unauthorized):
            await hass.services.async_call(
                DOMAIN,
                service,
                {**entry_target(entry), **data},
                blocking=True,
                context=Context(user_id=hass_read_only_user.id),
            )
    await assert_nothing_sent(tracker)
    assert runtime.jt808_auth_code == "482913"  # not reset either


async def test_rest_api_refuses_a_user_who_is_not_an_administrator(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    connect: TrackerFactory,
    hass_client: ClientSessionGenerator,
    hass_read_only_access_token: str,
) -> None:
    """The REST API applies the same check."""
    assert await async_setup_component(hass, "api", {})
    tracker = await h02_tracker(connect, loaded_entry)
    client = await hass_client(hass_read_only_access_token)
    response = await client.post(
        f"/api/services/{DOMAIN}/send_command",
        json={**entry_target(loaded_entry), "payload": "RCONF"},
    )
    assert response.status == HTTPStatus.UNAUTHORIZED
    await assert_nothing_sent(tracker)


async def test_an_administrator_may_call_actions(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    connect: TrackerFactory,
    hass_ws_client: WebSocketGenerator,
) -> None:
    """The owner's login (an administrator) still sends commands over the websocket API."""
    tracker = await h02_tracker(connect, loaded_entry)
    client = await hass_ws_client(hass)
    await client.send_json(
        {
            "id": 1,
            "type": "call_service",
            "domain": DOMAIN,
            "service": "request_position",
            "service_data": entry_target(loaded_entry),
            "return_response": True,
        }
    )
    assert await command(tracker) == f"*HQ,{H02_ID},CR#"
    await tracker.send(f"*HQ,{H02_ID},V4,CR,000000#".encode())
    reply = await client.receive_json()
    assert reply["success"] is True
    assert reply["result"]["response"]["reply"]["command.code"] == "CR"


# -- engine commands as raw payloads ---------------------------------------------------------


@pytest.mark.parametrize("payload", ["S20,000000,1,1", "S20,000000,1,0", " S20,123456,1,1 "])
async def test_raw_h02_engine_command_needs_the_engine_option(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, connect: TrackerFactory, payload: str
) -> None:
    """With engine commands off, an H02 S20 payload is refused before anything is sent,
    live or queued."""
    tracker = await h02_tracker(connect, loaded_entry)
    for queue in (False, True):
        error = await error_of(
            ServiceValidationError,
            call(
                hass,
                "send_command",
                entry_target(loaded_entry),
                payload=payload,
                queue_if_offline=queue,
            ),
        )
        assert error.translation_key == "engine_commands_disabled"
    await assert_nothing_sent(tracker)


async def test_raw_h02_engine_command_with_the_engine_option(
    hass: HomeAssistant, connect: TrackerFactory
) -> None:
    """With the option on, the raw S20 goes out (as engine_stop does)."""
    entry = make_entry(allow_engine_commands=True)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    tracker = await h02_tracker(connect, entry)
    await standing(tracker)
    task = call(hass, "send_command", entry_target(entry), payload="S20,000000,1,1")
    assert await command(tracker) == f"*HQ,{H02_ID},S20,000000,1,1#"
    await tracker.send(f"*HQ,{H02_ID},V4,S20,DONE,000000#".encode())
    assert (await result(task))["response"] == "S20,DONE"


async def test_raw_jt808_relay_command_needs_the_engine_option(
    hass: HomeAssistant, connect: TrackerFactory
) -> None:
    """A JT/T 808 RELAY text is an engine command: refused with the option off."""
    entry, device = await jt808_setup(hass, connect)
    error = await error_of(
        ServiceValidationError,
        call(hass, "send_command", entry_target(entry), payload="RELAY,1#"),
    )
    assert error.translation_key == "engine_commands_disabled"
    await device.location(jt808_location(T0 + SECOND))  # the next downlink is its 0x8001


# -- queued commands -------------------------------------------------------------------------


async def test_at_most_20_commands_queued(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """An offline tracker: 20 commands wait, the 21st is refused with a clear error."""
    tasks = [
        call(
            hass,
            "set_interval",
            entry_target(loaded_entry),
            interval=10 + number,
            queue_if_offline=True,
        )
        for number in range(20)
    ]
    await asyncio.sleep(0.05)
    assert not any(task.done() for task in tasks)
    error = await error_of(
        HomeAssistantError,
        call(hass, "request_position", entry_target(loaded_entry), queue_if_offline=True),
    )
    assert error.translation_key == "command_queue_full"
    assert (error.translation_placeholders or {})["max"] == "20"
    assert "20 commands are queued" in str(error)
    assert not any(task.done() for task in tasks)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_the_stored_queue_holds_at_most_20(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """The stored queue itself (what comes back after a restart) refuses the 21st: 21
    calls at once, one refused, 20 stored."""
    tasks = [
        call(
            hass, "set_interval", entry_target(loaded_entry), interval=10 + n, queue_if_offline=True
        )
        for n in range(21)
    ]
    done, _ = await asyncio.wait(tasks, timeout=0.2)
    assert len(done) == 1
    error = await error_of(HomeAssistantError, done.pop())
    assert error.translation_key == "command_queue_full"
    assert get_command_store(hass, loaded_entry.entry_id).waiting == 20
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_at_most_20_live_commands_per_tracker(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, connect: TrackerFactory
) -> None:
    """A connected tracker that does not answer: 20 commands wait (one in flight), the 21st
    is refused by the listener with the same clear error."""
    tracker = await h02_tracker(connect, loaded_entry)
    tasks = [call(hass, "request_position", entry_target(loaded_entry)) for _ in range(20)]
    assert await command(tracker) == f"*HQ,{H02_ID},CR#"
    error = await error_of(
        HomeAssistantError, call(hass, "query_mileage", entry_target(loaded_entry))
    )
    assert error.translation_key == "command_queue_full"
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_identical_queued_commands_are_sent_once(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, connect: TrackerFactory
) -> None:
    """Three identical queued calls: the tracker receives the command once, and all three
    calls get its answer."""
    tasks = [
        call(hass, "query_mileage", entry_target(loaded_entry), queue_if_offline=True)
        for _ in range(3)
    ]
    await asyncio.sleep(0.05)
    tracker = await connect(loaded_entry)
    assert (await report(tracker, h02_v1(T0))).startswith(f"*HQ,{H02_ID},V4,V1,".encode())
    assert await command(tracker) == f"*HQ,{H02_ID},S32,000000,1#"
    await tracker.send(f"*HQ,{H02_ID},V4,S32,777.5,000000#".encode())
    for task in tasks:
        assert (await result(task))["mileage_km"] == 777.5
    await assert_nothing_sent(tracker)


# -- alarm events ----------------------------------------------------------------------------


class EventCount:
    """Alarm events fired, per type."""

    def __init__(self, hass: HomeAssistant) -> None:
        self.types: list[str] = []

        @callback
        def record(event: Event[Any]) -> None:
            new, old = event.data["new_state"], event.data["old_state"]
            if (
                event.data["entity_id"] == ALARM
                and new is not None
                and old is not None
                and new.state not in ("unknown", "unavailable")
            ):
                self.types.append(new.attributes["event_type"])

        hass.bus.async_listen(EVENT_STATE_CHANGED, record)


async def test_alarm_events_rate_limited_per_type(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    connect: TrackerFactory,
    freezer: FrozenDateTimeFactory,
    hass_client: ClientSessionGenerator,
) -> None:
    """A connection toggling SOS fires one SOS event per 30 s; another type is not held back
    by it; the events held back are counted in the diagnostics; the SOS sensor follows
    every frame."""
    events = EventCount(hass)
    tracker = await connect(loaded_entry)
    when = 0
    for _ in range(10):
        await report(tracker, h02_v1(T0 + when * SECOND, status=h02_status(BIT_SOS)))
        await report(tracker, h02_v1(T0 + (when + 1) * SECOND))
        when += 2
    await report(tracker, h02_v1(T0 + when * SECOND, status=h02_status(BIT_SOS, BIT_POWER_CUT)))
    await hass.async_block_till_done()
    assert events.types == ["sos", "power_cut"]
    assert hass.states.get("binary_sensor.car_sos").state == "on"  # type: ignore[union-attr]
    diagnostics: dict[str, Any] = await get_diagnostics_for_config_entry(
        hass, hass_client, loaded_entry
    )
    assert diagnostics["tracker"]["safety"]["alarm_events_suppressed"] == {"sos": 10}

    freezer.tick(31 * SECOND)
    await report(tracker, h02_v1(T0 + (when + 1) * SECOND))
    await report(tracker, h02_v1(T0 + (when + 2) * SECOND, status=h02_status(BIT_SOS)))
    await hass.async_block_till_done()
    assert events.types == ["sos", "power_cut", "sos"]


async def test_jt808_alarm_events_rate_limited(
    hass: HomeAssistant, connect: TrackerFactory
) -> None:
    """The same limit for a JT/T 808 tracker."""
    events = EventCount(hass)
    entry, device = await jt808_setup(hass, connect)
    assert isinstance(device, Jt808Device)
    for step in range(6):
        alarm = 1 if step % 2 == 0 else 0
        await device.location(jt808_location(T0 + (step + 1) * SECOND, alarm=alarm))
    await hass.async_block_till_done()
    assert events.types == ["sos"]
    assert entry.runtime_data.alarm_limit.suppressed == {"sos": 2}
