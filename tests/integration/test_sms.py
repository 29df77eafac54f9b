"""Commands by SMS: a notify action registered by the test stands for the SMS integration
(it records what would be sent), and the test fires the ``sms.incoming_sms`` events a modem
would. The tracker, when it takes part, is a real connection to the real listener."""

from __future__ import annotations

from dataclasses import dataclass, field
import json
import logging
from typing import Any

from homeassistant.config_entries import ConfigEntryState, ConfigFlowResult
from homeassistant.const import CONF_NAME, CONF_PORT
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.sinotrack.const import (
    CONF_ADVANCED,
    CONF_BIND_ADDRESS,
    CONF_SMS_APN,
    CONF_SMS_HOST,
    CONF_SMS_NOTIFY,
    CONF_SMS_NUMBER,
    CONF_SMS_PASSWORD,
    CONF_TRACKER_ID,
    DOMAIN,
)
from custom_components.sinotrack.options_flow import nest_options
from tests.support.client import Client
from tests.support.defaults import LOOPBACK
from tests.support.frames import H02_ID, h02_v1
from tests.support.hass import TRACKER_ID, make_entry, report, state, wait_for
from tests.support.net import free_port

from .conftest import TrackerFactory
from .flow_helpers import assert_translated, start_tracker_flow, v1_frame
from .test_engine_stop import RESUME, STOP, answer, drive
from .test_flow_wait import shown_when
from .test_options_sections import shown_values
from .test_services import call, entry_target, error_of, result

NUMBER = "+4915112345678"
PASSWORD = "4711"
SMS_OPTIONS = {CONF_SMS_NUMBER: NUMBER, CONF_SMS_PASSWORD: PASSWORD, CONF_SMS_NOTIFY: "notify.sms"}


@dataclass
class Outbox:
    """What the SMS integration was asked to send: (text, targets), in order."""

    sent: list[tuple[str, list[str]]] = field(default_factory=list)
    fail: str | None = None
    calls: int = 0

    @property
    def texts(self) -> list[str]:
        return [text for text, _ in self.sent]


@pytest.fixture
def outbox(hass: HomeAssistant) -> Outbox:
    """``notify.sms``, recording; ``outbox.fail`` makes it raise that text instead."""
    box = Outbox()

    async def send(call: ServiceCall) -> None:
        box.calls += 1
        if box.fail is not None:
            raise HomeAssistantError(box.fail)
        box.sent.append((call.data["message"], list(call.data["target"])))

    hass.services.async_register("notify", "sms", send)
    return box


async def sms_car(hass: HomeAssistant, **options: Any) -> MockConfigEntry:
    entry = make_entry(**{**SMS_OPTIONS, "allow_engine_commands": True, **options})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


def incoming(hass: HomeAssistant, phone: str, text: str, seconds_ago: float = 0) -> None:
    """An SMS as the ``sms`` integration reports it."""
    hass.bus.async_fire(
        "sms.incoming_sms",
        {"phone": phone, "date": "2026-12-02 10:00:00", "text": text},
        time_fired=dt_util.utcnow().timestamp() - seconds_ago,
    )


# -- send_sms ----------------------------------------------------------------------------------


async def test_send_sms_with_the_password_and_the_reply(
    hass: HomeAssistant, outbox: Outbox, caplog: pytest.LogCaptureFixture
) -> None:
    """PASSWORD becomes the tracker's password; the reply is the first SMS from the
    tracker's number (here in the modem's national form) after the text went out; an SMS
    from another number, or one received before, is not it. The password is in no log."""
    caplog.set_level(logging.DEBUG, logger="custom_components.sinotrack")
    entry = await sms_car(hass)
    task = call(
        hass, "send_sms", entry_target(entry), message="803PASSWORD internet", wait_for_reply=10
    )
    await wait_for(hass, lambda: bool(outbox.sent))
    assert outbox.sent == [(f"803{PASSWORD} internet", [NUMBER])]
    incoming(hass, "+4917000000000", "not the tracker")
    incoming(hass, NUMBER, "an older message", seconds_ago=30)
    incoming(hass, "015112345678", "APN OK")
    assert await result(task) == {
        "sent": True,
        "status": "sent",
        "channel": "sms",
        "reply": "APN OK",
    }
    assert outbox.calls == 1
    assert "803**** internet" in caplog.text
    assert PASSWORD not in caplog.text


async def test_no_reply_in_time(hass: HomeAssistant, outbox: Outbox) -> None:
    entry = await sms_car(hass)
    response = await result(
        call(hass, "send_sms", entry_target(entry), message="RCONF", wait_for_reply=0.2)
    )
    assert response == {"sent": True, "status": "sent", "channel": "sms", "reply": None}
    assert outbox.texts == ["RCONF"]
    # Without a wait, nothing is waited for.
    response = await result(call(hass, "send_sms", entry_target(entry), message="RCONF"))
    assert response["reply"] is None
    assert outbox.texts == ["RCONF", "RCONF"]


# -- engine commands by SMS --------------------------------------------------------------------


async def test_engine_stop_by_sms_follows_the_engine_rules(
    hass: HomeAssistant, outbox: Outbox, connect: TrackerFactory
) -> None:
    """Sent by SMS only while the latest fresh report shows the vehicle standing; while it
    moves: refused (now) or held (stopped); the held stop goes over GPRS once it stands."""
    entry = await sms_car(hass)
    tracker = await connect(entry)
    target = entry_target(entry)
    await drive(tracker, 0.0)
    response = await result(call(hass, "engine_stop", target, channel="sms"))
    assert response == {"sent": True, "status": "sent", "channel": "sms", "reply": None}
    assert outbox.texts == [f"555{PASSWORD}"]

    await drive(tracker, 40.0)
    for service, data in (
        ("engine_stop", {"channel": "sms"}),
        ("send_sms", {"message": "555PASSWORD"}),
    ):
        error = await error_of(
            ServiceValidationError, call(hass, service, target, when="now", **data)
        )
        assert error.translation_key == "engine_stop_refused"
    response = await result(call(hass, "send_sms", target, message="555PASSWORD"))
    assert response == {"sent": False, "status": "held", "channel": "gprs", "reply": None}
    assert outbox.texts == [f"555{PASSWORD}"]
    await drive(tracker, 0.0)
    await answer(tracker, STOP)  # the held stop, as the tracker's GPRS engine command
    assert outbox.texts == [f"555{PASSWORD}"]


async def test_engine_by_sms_needs_the_engine_option(hass: HomeAssistant, outbox: Outbox) -> None:
    entry = await sms_car(hass, allow_engine_commands=False)
    target = entry_target(entry)
    for service, data in (
        ("engine_stop", {"channel": "sms"}),
        ("engine_resume", {"channel": "sms"}),
        ("send_sms", {"message": "9400000"}),
    ):
        error = await error_of(ServiceValidationError, call(hass, service, target, **data))
        assert error.translation_key == "engine_commands_disabled", service
    assert outbox.calls == 0


async def test_auto_uses_sms_while_offline(
    hass: HomeAssistant, outbox: Outbox, connect: TrackerFactory
) -> None:
    """auto: SMS while the tracker has no connection, GPRS once it reports. An engine stop
    by SMS still needs a fresh report of the vehicle standing: held without one."""
    entry = await sms_car(hass)
    target = entry_target(entry)
    response = await result(call(hass, "engine_stop", target, channel="auto"))
    assert response == {"sent": False, "status": "held", "channel": "gprs", "reply": None}
    assert outbox.calls == 0
    response = await result(call(hass, "engine_resume", target, channel="auto"))
    assert response["channel"] == "sms"
    assert outbox.texts == [f"940{PASSWORD}"]  # the resume cancelled the held stop

    tracker: Client = await connect(entry)
    await report(tracker, h02_v1(dt_util.utcnow(), knots=0.0))
    task = call(hass, "engine_resume", target, channel="auto")
    await answer(tracker, RESUME)
    response = await result(task)
    assert response["channel"] == "gprs"
    assert response["reply"]["command.code"] == "S20"
    assert outbox.texts == [f"940{PASSWORD}"]
    # Its GPRS link lost seconds after a report of the vehicle standing: stopped by SMS.
    await tracker.close()
    await wait_for(hass, lambda: not entry.runtime_data.state.connected)
    response = await result(call(hass, "engine_stop", target, channel="auto"))
    assert response["channel"] == "sms"
    assert outbox.texts == [f"940{PASSWORD}", f"555{PASSWORD}"]
    assert state(hass, "binary_sensor.car_engine_stop_pending").state == "off"


# -- errors ------------------------------------------------------------------------------------


async def test_without_sms_settings(hass: HomeAssistant, outbox: Outbox) -> None:
    entry = await sms_car(hass, sms_number=None)
    for service, data in (
        ("send_sms", {"message": "RCONF"}),
        ("engine_stop", {"channel": "sms"}),
        ("setup_tracker_by_sms", {"host": "203.0.113.7"}),
    ):
        error = await error_of(
            ServiceValidationError, call(hass, service, entry_target(entry), **data)
        )
        assert error.translation_key == "sms_not_configured"
        assert "Car" in str(error)
    assert outbox.calls == 0


async def test_notify_action_missing_or_failing(hass: HomeAssistant, outbox: Outbox) -> None:
    """A notify action that does not exist: nothing sent; one that fails: tried once, and
    its error (which may echo the text) reaches the user without the password."""
    entry = await sms_car(hass, sms_notify="notify.gone")
    error = await error_of(
        ServiceValidationError, call(hass, "send_sms", entry_target(entry), message="RCONF")
    )
    assert error.translation_key == "sms_notify_missing"
    assert "notify.gone" in str(error)

    other = await sms_car(hass)
    outbox.fail = f"modem refused 710{PASSWORD}"
    failed = await error_of(
        HomeAssistantError,
        call(hass, "setup_tracker_by_sms", entry_target(other), host="203.0.113.7"),
    )
    assert failed.translation_key == "sms_failed"
    assert "modem refused 710****" in str(failed)
    assert PASSWORD not in str(failed)
    assert outbox.calls == 1  # the first text failed: the others were not sent


async def test_invalid_texts_send_nothing(hass: HomeAssistant, outbox: Outbox) -> None:
    entry = await sms_car(hass)
    target = entry_target(entry)
    for service, data in (
        ("send_sms", {"message": "x" * 161}),
        ("setup_tracker_by_sms", {"host": "tracker.example.org"}),
        ("setup_tracker_by_sms", {"host": "203.0.113.7", "apn": "two words"}),
    ):
        error = await error_of(ServiceValidationError, call(hass, service, target, **data))
        assert error.translation_key == "invalid_sms", data
    assert outbox.calls == 0


# -- setting a tracker up by SMS -----------------------------------------------------------------


async def test_setup_by_sms_then_the_tracker_connects(
    hass: HomeAssistant, outbox: Outbox, connect: TrackerFactory
) -> None:
    entry = await sms_car(hass)
    task = call(
        hass,
        "setup_tracker_by_sms",
        entry_target(entry),
        host="203.0.113.7",
        port=15013,
        apn="internet",
        wait_for_connection=30,
    )
    await wait_for(hass, lambda: len(outbox.sent) == 3)
    assert outbox.texts == [
        f"804{PASSWORD} 203.0.113.7 15013",
        f"803{PASSWORD} internet",
        f"710{PASSWORD}",
    ]
    assert {tuple(target) for _, target in outbox.sent} == {(NUMBER,)}
    assert not task.done()
    tracker = await connect(entry)
    await tracker.send(v1_frame(H02_ID))
    response = await result(task)
    assert response == {
        "sent": ["804**** 203.0.113.7 15013", "803**** internet", "710****"],
        "connected": True,
    }


async def test_setup_by_sms_default_port_without_apn(hass: HomeAssistant, outbox: Outbox) -> None:
    entry = await sms_car(hass, sms_password=None)  # the default password
    response = await result(
        call(hass, "setup_tracker_by_sms", entry_target(entry), host="203.0.113.7")
    )
    port = entry.data[CONF_PORT]
    assert outbox.texts == [f"8040000 203.0.113.7 {port}", "7100000"]
    assert response["connected"] is False


# -- options, diagnostics, the set-up flow -------------------------------------------------------


async def test_options_validate_and_keep_the_password_secret(
    hass: HomeAssistant, outbox: Outbox
) -> None:
    entry = await sms_car(hass, sms_number=None, sms_password=None, sms_notify=None)
    flow = await hass.config_entries.options.async_init(entry.entry_id)
    result_ = await hass.config_entries.options.async_configure(
        flow["flow_id"],
        nest_options(
            {
                CONF_SMS_NUMBER: "0151 12345678",
                CONF_SMS_PASSWORD: "12",
                CONF_SMS_NOTIFY: "notify.gone",
            }
        ),
    )
    assert result_["type"] is FlowResultType.FORM
    assert result_["errors"] == {"sms": "invalid_phone"}  # the section's first error
    assert_translated(result_, "options")
    result_ = await hass.config_entries.options.async_configure(
        flow["flow_id"],
        nest_options(
            {CONF_SMS_NUMBER: NUMBER, CONF_SMS_PASSWORD: "12", CONF_SMS_NOTIFY: "notify.gone"}
        ),
    )
    assert result_["errors"] == {"sms": "invalid_sms_password"}
    result_ = await hass.config_entries.options.async_configure(
        flow["flow_id"],
        nest_options(
            {CONF_SMS_NUMBER: NUMBER, CONF_SMS_PASSWORD: "9876", CONF_SMS_NOTIFY: "notify.gone"}
        ),
    )
    assert result_["errors"] == {"sms": "notify_not_found"}
    result_ = await hass.config_entries.options.async_configure(
        flow["flow_id"],
        nest_options(
            {
                CONF_SMS_NUMBER: "+49 151 1234 5678",
                CONF_SMS_PASSWORD: "9876",
                CONF_SMS_NOTIFY: "notify.sms",
            }
        ),
    )
    assert result_["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.options[CONF_SMS_NUMBER] == NUMBER
    assert entry.options[CONF_SMS_PASSWORD] == "9876"
    # Shown again: the number and action, never the password; left empty, it stays.
    flow = await hass.config_entries.options.async_init(entry.entry_id)
    suggested = shown_values(flow, "sms")
    assert suggested[CONF_SMS_NUMBER] == NUMBER
    assert suggested[CONF_SMS_NOTIFY] == "notify.sms"
    assert CONF_SMS_PASSWORD not in suggested
    await hass.config_entries.options.async_configure(flow["flow_id"], {})
    await hass.async_block_till_done()
    assert entry.options[CONF_SMS_PASSWORD] == "9876"


async def test_options_keep_a_stored_notify_action_that_is_not_loaded(
    hass: HomeAssistant,
) -> None:
    """The SMS integration still loading (its action missing) does not block other options."""
    entry = await sms_car(hass, sms_notify="notify.later")
    flow = await hass.config_entries.options.async_init(entry.entry_id)
    done = await hass.config_entries.options.async_configure(
        flow["flow_id"], {CONF_SMS_NOTIFY: "notify.later", "allow_invalid_fix": True}
    )
    assert done["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.options[CONF_SMS_NOTIFY] == "notify.later"
    assert entry.options["allow_invalid_fix"] is True


async def test_diagnostics_redact_number_and_password(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, outbox: Outbox
) -> None:
    entry = await sms_car(hass)
    diagnostics: dict[str, Any] = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    text = json.dumps(diagnostics)
    assert PASSWORD not in text
    assert "15112345678" not in text
    assert diagnostics["entry"]["options"][CONF_SMS_PASSWORD] == "**REDACTED**"
    assert diagnostics["entry"]["options"][CONF_SMS_NOTIFY] == "notify.sms"


async def sms_setup_form(hass: HomeAssistant, port: int) -> ConfigFlowResult:
    """A tracker flow at its set-up by SMS form (the connect menu offers it)."""
    flow = await start_tracker_flow(hass)
    flow = await hass.config_entries.flow.async_configure(
        flow["flow_id"],
        {
            CONF_NAME: "Car",
            CONF_TRACKER_ID: TRACKER_ID,
            CONF_PORT: port,
            CONF_ADVANCED: {CONF_BIND_ADDRESS: LOOPBACK},
        },
    )
    assert flow["menu_options"] == ["wait", "sms_setup", "finish"]
    assert_translated(flow)
    return await hass.config_entries.flow.async_configure(
        flow["flow_id"], {"next_step_id": "sms_setup"}
    )


@pytest.mark.usefixtures("source_ip")
async def test_flow_sets_the_tracker_up_by_sms(hass: HomeAssistant, outbox: Outbox) -> None:
    """With a notify action in Home Assistant, the connect menu offers the set-up by SMS:
    its form sends the commands, then the flow waits; the entry keeps the SMS settings."""
    port = free_port()
    flow = form = await sms_setup_form(hass, port)
    assert form["type"] is FlowResultType.FORM
    assert_translated(form)
    form = await hass.config_entries.flow.async_configure(
        flow["flow_id"],
        {
            CONF_SMS_NUMBER: "12345",
            CONF_SMS_NOTIFY: "notify.sms",
            CONF_SMS_HOST: "my.host",
            CONF_PORT: port,
        },
    )
    assert form["errors"] == {CONF_SMS_NUMBER: "invalid_phone", CONF_SMS_HOST: "invalid_server"}
    assert_translated(form)
    assert outbox.calls == 0
    wait = await hass.config_entries.flow.async_configure(
        flow["flow_id"],
        {
            CONF_SMS_NUMBER: NUMBER,
            CONF_SMS_NOTIFY: "notify.sms",
            CONF_SMS_HOST: "203.0.113.7",
            CONF_PORT: 15013,
            CONF_SMS_APN: "internet",
        },
    )
    assert wait["type"] is FlowResultType.SHOW_PROGRESS
    assert outbox.texts == ["8040000 203.0.113.7 15013", "8030000 internet", "7100000"]
    tracker = await Client.connect(port)
    try:
        await tracker.send(v1_frame(TRACKER_ID))
        await tracker.read_until(b"#")
        assert await shown_when(hass, flow["flow_id"], lambda r: r is None) is None
        (entry,) = hass.config_entries.async_entries(DOMAIN)
        assert entry.state is ConfigEntryState.LOADED
        assert entry.options[CONF_SMS_NUMBER] == NUMBER
        assert entry.options[CONF_SMS_NOTIFY] == "notify.sms"
        assert CONF_SMS_PASSWORD not in entry.options  # none entered: the default
    finally:
        await tracker.close()


async def test_flow_without_notify_actions_offers_no_sms(hass: HomeAssistant) -> None:
    """Without any notify action the menu is the usual one (see test_flow_wait)."""
    flow = await start_tracker_flow(hass)
    flow = await hass.config_entries.flow.async_configure(
        flow["flow_id"],
        {
            CONF_NAME: "Car",
            CONF_TRACKER_ID: TRACKER_ID,
            CONF_PORT: free_port(),
            CONF_ADVANCED: {CONF_BIND_ADDRESS: LOOPBACK},
        },
    )
    assert flow["menu_options"] == ["wait", "finish"]


async def test_reply_window_ends(hass: HomeAssistant, outbox: Outbox) -> None:
    """A reply time-stamped after the window is not the reply."""
    entry = await sms_car(hass)
    task = call(hass, "send_sms", entry_target(entry), message="RCONF", wait_for_reply=5)
    await wait_for(hass, lambda: bool(outbox.sent))
    incoming(hass, NUMBER, "too late", seconds_ago=-60)  # stamped a minute after the window
    incoming(hass, NUMBER, "in time")
    assert (await result(task))["reply"] == "in time"


@pytest.mark.usefixtures("source_ip")
async def test_flow_keeps_the_password_entered_before_an_error(
    hass: HomeAssistant, outbox: Outbox
) -> None:
    """The password is never shown back: sent again empty after an error, the one entered
    first is used (not the default, which the tracker would ignore)."""
    port = free_port()
    form = await sms_setup_form(hass, port)
    sent = {CONF_SMS_NUMBER: NUMBER, CONF_SMS_NOTIFY: "notify.sms", CONF_PORT: 15013}
    form = await hass.config_entries.flow.async_configure(
        form["flow_id"], {**sent, CONF_SMS_PASSWORD: "4321", CONF_SMS_HOST: "my.host"}
    )
    assert form["errors"] == {CONF_SMS_HOST: "invalid_server"}
    wait = await hass.config_entries.flow.async_configure(
        form["flow_id"], {**sent, CONF_SMS_HOST: "203.0.113.7"}
    )
    assert wait["type"] is FlowResultType.SHOW_PROGRESS
    assert outbox.texts == ["8044321 203.0.113.7 15013", "7104321"]
    hass.config_entries.flow.async_abort(wait["flow_id"])  # no tracker will come
    await hass.async_block_till_done()
