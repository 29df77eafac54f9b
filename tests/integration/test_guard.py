"""The parked-car guard in Home Assistant, driven by real frames on a real listener socket:
arming and disarming through the alarm panel's actions, each trigger, one event per
triggering, a restart while armed, the code option, the tracker's own arm command."""

from __future__ import annotations

from datetime import timedelta
import re
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.sinotrack.const import (
    CONF_GUARD_CODE_HASH,
)
from custom_components.sinotrack.guard_runtime import hash_code
from custom_components.sinotrack.options_flow import nest_options
from tests.support.client import Client
from tests.support.frames import (
    BIT_POWER_CUT,
    BIT_SOS,
    H02_ID,
    h02_status,
    h02_v1,
    item,
    jt808_location,
)
from tests.support.hass import ALARM, FiredEvents, make_entry, report, state

from .conftest import TrackerFactory
from .test_services import jt808_setup

GUARD = "alarm_control_panel.car_guard"
LATITUDE = 9.939781666
METER = 1 / 111_195
"""About one metre north, in degrees of latitude."""


async def setup(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


async def parked(tracker: Client, north_m: float = 0.0, **position: Any) -> None:
    """A fresh report of the car parked (ignition off, 0 knots), ``north_m`` from home."""
    position.setdefault("knots", 0.0)
    await report(
        tracker,
        h02_v1(dt_util.utcnow(), latitude=LATITUDE + north_m * METER, **position),
    )


async def panel(hass: HomeAssistant, service: str, **data: Any) -> None:
    await hass.services.async_call(
        "alarm_control_panel", service, {"entity_id": GUARD, **data}, blocking=True
    )
    await hass.async_block_till_done()


async def armed_car(
    hass: HomeAssistant, connect: TrackerFactory, **options: Any
) -> tuple[MockConfigEntry, Client]:
    entry = make_entry(**options)
    await setup(hass, entry)
    tracker = await connect(entry)
    await parked(tracker)
    await panel(hass, "alarm_arm_away")
    assert state(hass, GUARD).state == "armed_away"
    return entry, tracker


async def test_arm_and_disarm(hass: HomeAssistant, connect: TrackerFactory) -> None:
    """Through the alarm panel's actions; disarmed by default; nothing reaches the tracker."""
    entry = make_entry()
    await setup(hass, entry)
    tracker = await connect(entry)
    await parked(tracker)
    assert state(hass, GUARD).state == "disarmed"
    assert state(hass, GUARD).attributes["code_format"] is None
    await panel(hass, "alarm_arm_away")
    assert state(hass, GUARD).state == "armed_away"
    await panel(hass, "alarm_disarm")
    assert state(hass, GUARD).state == "disarmed"
    # The next thing the tracker receives is the answer to its own report: no arm command.
    answer = await report(tracker, h02_v1(dt_util.utcnow(), knots=0.0))
    assert answer.startswith(f"*HQ,{H02_ID},V4,V1,".encode())


@pytest.mark.parametrize(
    ("position", "reason"),
    [
        ({"north_m": 300.0}, "displaced"),
        ({"status": h02_status(acc=True)}, "ignition"),
        ({"knots": 10.0}, "towing"),
        ({"status": h02_status(BIT_POWER_CUT)}, "power_cut"),
        ({"status": h02_status(BIT_SOS)}, "sos"),
    ],
)
async def test_each_trigger_fires_one_event(
    hass: HomeAssistant, connect: TrackerFactory, position: dict[str, Any], reason: str
) -> None:
    """The panel goes triggered and stays so; one ``guard_triggered`` event, with the
    reason and the position, however many frames follow."""
    events = FiredEvents(hass, ALARM, "guard_triggered")
    _, tracker = await armed_car(hass, connect)
    await parked(tracker, **position)
    assert state(hass, GUARD).state == "triggered"
    assert len(events.fired) == 1
    fired = events.fired[0]
    assert fired["reason"] == reason
    north = position.get("north_m", 0.0)
    assert fired["latitude"] == pytest.approx(LATITUDE + north * METER, abs=1e-5)
    assert fired["longitude"] == pytest.approx(-84.11178, abs=1e-5)
    assert isinstance(fired["speed"], float)
    assert dt_util.parse_datetime(fired["time"]) is not None
    for step in range(3):
        await parked(tracker, north_m=400.0 + step * 100, status=h02_status(BIT_SOS, acc=True))
    assert state(hass, GUARD).state == "triggered"
    assert len(events.fired) == 1


async def test_gps_jitter_does_not_trigger(hass: HomeAssistant, connect: TrackerFactory) -> None:
    """A parked car's fixes wandering 30 m, at up to 2 knots, do not trigger the guard."""
    events = FiredEvents(hass, ALARM, "guard_triggered")
    _, tracker = await armed_car(hass, connect)
    for north, knots in ((30, 1.0), (-25, 2.0), (10, 0.0), (-30, 1.5), (28, 0.5)):
        await parked(tracker, north_m=north, knots=knots)
    assert state(hass, GUARD).state == "armed_away"
    assert events.fired == []


async def test_a_second_triggering_after_disarming(
    hass: HomeAssistant, connect: TrackerFactory
) -> None:
    """Disarmed, armed again where the car now stands: a new triggering is a new event."""
    events = FiredEvents(hass, ALARM, "guard_triggered")
    _, tracker = await armed_car(hass, connect)
    await parked(tracker, north_m=300.0)
    await panel(hass, "alarm_disarm")
    await panel(hass, "alarm_arm_away")
    await parked(tracker, north_m=350.0)  # 50 m from where it was armed again
    assert state(hass, GUARD).state == "armed_away"
    await parked(tracker, north_m=700.0)
    assert state(hass, GUARD).state == "triggered"
    assert len(events.fired) == 2


async def test_restart_while_armed(hass: HomeAssistant, connect: TrackerFactory) -> None:
    """Armed stays armed across a restart of the entry, with the position it was armed at."""
    events = FiredEvents(hass, ALARM, "guard_triggered")
    entry, tracker = await armed_car(hass, connect)
    await tracker.close()
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert state(hass, GUARD).state == "armed_away"
    tracker = await connect(entry)
    await parked(tracker, north_m=80.0)
    assert state(hass, GUARD).state == "armed_away"
    await parked(tracker, north_m=300.0)
    assert state(hass, GUARD).state == "triggered"
    assert [fired["reason"] for fired in events.fired] == ["displaced"]
    # Triggered stays triggered across a restart too, and fires nothing again.
    await tracker.close()
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert state(hass, GUARD).state == "triggered"
    assert len(events.fired) == 1


async def test_code_option(hass: HomeAssistant, connect: TrackerFactory) -> None:
    """With a code set, arming and disarming need it; a wrong code changes nothing."""
    entry = make_entry(guard_code_hash=hash_code("4321"), guard_code_format="number")
    await setup(hass, entry)
    attributes = state(hass, GUARD).attributes
    assert attributes["code_format"] == "number"
    assert attributes["code_arm_required"] is True
    with pytest.raises(ServiceValidationError):
        await panel(hass, "alarm_arm_away")
    with pytest.raises(ServiceValidationError) as wrong:
        await panel(hass, "alarm_arm_away", code="1234")
    assert wrong.value.translation_key == "invalid_code"
    assert state(hass, GUARD).state == "disarmed"
    await panel(hass, "alarm_arm_away", code="4321")
    assert state(hass, GUARD).state == "armed_away"
    with pytest.raises(ServiceValidationError):
        await panel(hass, "alarm_disarm", code="0000")
    assert state(hass, GUARD).state == "armed_away"
    await panel(hass, "alarm_disarm", code="4321")
    assert state(hass, GUARD).state == "disarmed"


async def test_code_set_in_the_options_is_stored_hashed(
    hass: HomeAssistant, connect: TrackerFactory
) -> None:
    """The options form takes the code and stores only a salted hash of it; leaving the
    field empty later keeps it; "remove the code" removes it."""
    entry = make_entry()
    await setup(hass, entry)

    async def submit(**data: Any) -> None:
        flow = await hass.config_entries.options.async_init(entry.entry_id)
        result = await hass.config_entries.options.async_configure(
            flow["flow_id"], nest_options({"offline_timeout": 30, **data})
        )
        assert result["type"] == "create_entry"
        await hass.async_block_till_done()

    await submit(guard_code="correct horse")
    stored = entry.options[CONF_GUARD_CODE_HASH]
    assert "correct horse" not in str(dict(entry.options))
    assert "guard_code" not in entry.options
    assert state(hass, GUARD).attributes["code_format"] == "text"
    await submit()
    assert entry.options[CONF_GUARD_CODE_HASH] == stored
    await panel(hass, "alarm_arm_away", code="correct horse")
    assert state(hass, GUARD).state == "armed_away"
    await submit(guard_clear_code=True)
    assert CONF_GUARD_CODE_HASH not in entry.options
    await panel(hass, "alarm_disarm")
    assert state(hass, GUARD).state == "disarmed"


async def test_tracker_armed_too_when_opted_in(
    hass: HomeAssistant, connect: TrackerFactory
) -> None:
    """With the option, arming and disarming the guard send the tracker's own arm and
    disarm commands (H02 SCF)."""
    entry = make_entry(guard_arm_tracker=True)
    await setup(hass, entry)
    tracker = await connect(entry)
    await parked(tracker)
    await panel(hass, "alarm_arm_away")
    sent = (await tracker.read_until(b"#")).decode()
    assert re.fullmatch(rf"\*HQ,{H02_ID},SCF,\d{{6}},0,0#", sent)
    await tracker.send(f"*HQ,{H02_ID},V4,SCF,DONE,{sent[18:24]}#".encode())
    await panel(hass, "alarm_disarm")
    sent = (await tracker.read_until(b"#")).decode()
    assert re.fullmatch(rf"\*HQ,{H02_ID},SCF,\d{{6}},1,1#", sent)
    await tracker.send(f"*HQ,{H02_ID},V4,SCF,DONE,{sent[18:24]}#".encode())
    assert state(hass, GUARD).state == "disarmed"


async def test_silent_tracker_triggers_when_opted_in(
    hass: HomeAssistant, connect: TrackerFactory, freezer: FrozenDateTimeFactory
) -> None:
    """Reports every minute, then nothing: triggered once the tracker has been silent for
    10 minutes (three median gaps are less), at the minute tick."""
    events = FiredEvents(hass, ALARM, "guard_triggered")
    start = dt_util.utcnow()
    freezer.move_to(start)
    _, tracker = await armed_car(hass, connect, guard_silent=True)
    for minute in range(1, 5):
        freezer.move_to(start + timedelta(minutes=minute))
        await parked(tracker)
    freezer.move_to(start + timedelta(minutes=13, seconds=30))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert state(hass, GUARD).state == "armed_away"
    freezer.move_to(start + timedelta(minutes=14, seconds=30))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert state(hass, GUARD).state == "triggered"
    assert [fired["reason"] for fired in events.fired] == ["silent"]


async def test_exit_and_entry_delays(
    hass: HomeAssistant, connect: TrackerFactory, freezer: FrozenDateTimeFactory
) -> None:
    """Arming, then armed when the exit delay ends; a trigger makes it pending, and
    triggered (one event) when the entry delay ends, unless disarmed before."""
    events = FiredEvents(hass, ALARM, "guard_triggered")
    start = dt_util.utcnow()
    freezer.move_to(start)
    entry = make_entry(guard_exit_delay=30, guard_entry_delay=20)
    await setup(hass, entry)
    tracker = await connect(entry)
    await parked(tracker)
    await panel(hass, "alarm_arm_away")
    assert state(hass, GUARD).state == "arming"
    await parked(tracker, status=h02_status(acc=True))  # the owner leaves: no trigger
    await parked(tracker)
    freezer.move_to(start + timedelta(seconds=31))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert state(hass, GUARD).state == "armed_away"

    await parked(tracker, status=h02_status(acc=True))
    assert state(hass, GUARD).state == "pending"
    await panel(hass, "alarm_disarm")
    await panel(hass, "alarm_arm_away")
    freezer.move_to(start + timedelta(seconds=62))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    await parked(tracker, status=h02_status(acc=True))
    assert state(hass, GUARD).state == "pending"
    freezer.move_to(start + timedelta(seconds=83))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert state(hass, GUARD).state == "triggered"
    assert [fired["reason"] for fired in events.fired] == ["ignition"]


async def test_code_is_redacted_in_diagnostics(
    hass: HomeAssistant, hass_client: ClientSessionGenerator
) -> None:
    """The stored code (a hash) never appears in diagnostics; the guard's state does."""
    stored = hash_code("4321")
    entry = make_entry(guard_code_hash=stored, guard_code_format="number")
    await setup(hass, entry)
    await panel(hass, "alarm_arm_away", code="4321")
    data: dict[str, Any] = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert stored not in str(data)
    assert data["entry"]["options"]["guard_code_hash"] == "**REDACTED**"
    assert data["tracker"]["guard"]["state"] == "armed_away"


async def test_auto_arm_after_parking(
    hass: HomeAssistant, connect: TrackerFactory, freezer: FrozenDateTimeFactory
) -> None:
    """With auto-arm at 2 minutes: parked with the ignition off that long, the guard arms."""
    start = dt_util.utcnow()
    freezer.move_to(start)
    entry = make_entry(guard_auto_arm=2)
    await setup(hass, entry)
    tracker = await connect(entry)
    await parked(tracker)
    freezer.move_to(start + timedelta(seconds=61))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert state(hass, GUARD).state == "disarmed"
    freezer.move_to(start + timedelta(seconds=121))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert state(hass, GUARD).state == "armed_away"


async def test_no_tracker_arm_command_for_jt808(
    hass: HomeAssistant, connect: TrackerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """JT/T 808 has no arm command: the guard arms, nothing is sent, the log says so."""
    entry, device = await jt808_setup(hass, connect, guard_arm_tracker=True)
    await panel(hass, "alarm_arm_away")
    assert state(hass, GUARD).state == "armed_away"
    assert "no arm command for JT/T 808 trackers" in caplog.text
    await device.location(jt808_location(dt_util.utcnow(), speed=0.0, status=0b10))
    assert entry.runtime_data.commands.waiting == 0


THEFT_BIT = 1 << 26
"""JT/T 808 alarm bit 26: vehicle theft (docs/protocol.md 4.7)."""
VIBRATION_ITEM = item(0xEB, (6).to_bytes(2) + (0x00C5).to_bytes(2) + (0).to_bytes(4))
"""An 0xEB item holding a 0x00C5 status whose bit 6 is clear: the tracker felt a vibration
(docs/protocol.md 4.7)."""


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"alarm": THEFT_BIT}, "theft"),
        ({"items": VIBRATION_ITEM}, "vibration"),
    ],
)
async def test_the_trackers_theft_and_vibration_alarms_trigger(
    hass: HomeAssistant, connect: TrackerFactory, body: dict[str, Any], reason: str
) -> None:
    """A JT/T 808 tracker's own theft alarm, or its vibration flag, while armed: one event."""
    events = FiredEvents(hass, ALARM, "guard_triggered")
    _entry, device = await jt808_setup(hass, connect)
    await device.location(jt808_location(dt_util.utcnow(), speed=0.0, status=0b10))
    await panel(hass, "alarm_arm_away")
    assert state(hass, GUARD).state == "armed_away"
    for _ in range(2):  # the flag stays set on the next report: still one event
        await device.location(jt808_location(dt_util.utcnow(), speed=0.0, status=0b10, **body))
        await hass.async_block_till_done()
    assert state(hass, GUARD).state == "triggered"
    assert [fired["reason"] for fired in events.fired] == [reason]
