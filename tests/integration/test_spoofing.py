"""Who may speak for a tracker: the "allowed source networks" option, the JT/T 808 auth
code kept with the entry (and the action that forgets it), and bounded discovery of
unknown IDs. Real frames through the listener on 127.0.0.1."""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any

from homeassistant.config_entries import SOURCE_INTEGRATION_DISCOVERY
from homeassistant.const import CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.sinotrack.const import (
    CONF_ALLOWED_NETWORKS,
    CONF_BIND_ADDRESS,
    CONF_TRACKER_ID,
    DOMAIN,
    MAX_DISCOVERY_FLOWS,
)
from custom_components.sinotrack.entry import _async_discovered
from custom_components.sinotrack.options_flow import nest_options
from custom_components.sinotrack.runtime import auth_refused_issue_id
from tests.support.client import Client, Jt808Device
from tests.support.defaults import WAIT
from tests.support.frames import H02_ID, JT808_ID, JT808_REGISTER_BODY, T0, h02_v1, jt808_location
from tests.support.hass import load_entry, make_entry, report, state, wait_for

from .conftest import TrackerFactory
from .flow_helpers import assert_issue_translated


async def set_options(hass: HomeAssistant, entry: MockConfigEntry, **changes: Any) -> Any:
    result = await hass.config_entries.options.async_init(entry.entry_id)
    return await hass.config_entries.options.async_configure(
        result["flow_id"], nest_options({**entry.options, **changes})
    )


async def closed(tracker: Client) -> bool:
    """Whether the server closed the connection (after what it may still send)."""
    async with asyncio.timeout(WAIT):
        while data := await tracker.reader.read(4096):
            del data
    return True


# -- allowed source networks -------------------------------------------------------------------


@pytest.mark.parametrize(
    "networks", [["10.0.0.0/33"], ["not a network"], ["192.168.1.0/24", "fe80::/129"]]
)
async def test_allowed_networks_invalid_is_a_form_error(
    hass: HomeAssistant, networks: list[str]
) -> None:
    """An invalid network is an error on the field; nothing is saved."""
    entry = make_entry()
    await load_entry(hass, entry)
    result = await set_options(hass, entry, **{CONF_ALLOWED_NETWORKS: networks})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_ALLOWED_NETWORKS: "invalid_network"}
    assert CONF_ALLOWED_NETWORKS not in entry.options


async def test_allowed_networks_apply_at_once(
    hass: HomeAssistant, connect: TrackerFactory, hass_client: ClientSessionGenerator
) -> None:
    """Saved normalised, handed to the listener at once: the connected tracker from
    127.0.0.1 is dropped when its network is not allowed, and accepted again when it is;
    diagnostics show the networks."""
    entry = make_entry()
    await load_entry(hass, entry)
    tracker = await connect(entry)
    await report(tracker, h02_v1(T0))

    result = await set_options(
        hass, entry, **{CONF_ALLOWED_NETWORKS: ["192.0.2.7/24", " 2001:db8::/32 ", ""]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_ALLOWED_NETWORKS] == ["192.0.2.0/24", "2001:db8::/32"]
    runtime = entry.runtime_data
    assert runtime.allowed_networks == (
        ipaddress.ip_network("192.0.2.0/24"),
        ipaddress.ip_network("2001:db8::/32"),
    )
    assert await closed(tracker)
    await wait_for(hass, lambda: state(hass, "binary_sensor.car_connected").state == "off")
    again = await connect(entry)
    await again.send(h02_v1(T0.replace(minute=5)))
    assert await closed(again)
    assert runtime.state.fix_time == T0  # the refused frame changed nothing

    diagnostics: dict[str, Any] = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert diagnostics["tracker"]["safety"]["allowed_networks"] == [
        "192.0.2.0/24",
        "2001:db8::/32",
    ]

    await set_options(hass, entry, **{CONF_ALLOWED_NETWORKS: ["127.0.0.0/8"]})
    tracker = await connect(entry)
    assert (await report(tracker, h02_v1(T0.replace(minute=6)))).startswith(
        f"*HQ,{H02_ID},V4,V1,".encode()
    )


# -- JT/T 808 auth code ------------------------------------------------------------------------


async def register(device: Jt808Device) -> tuple[int, bytes]:
    """Send a registration; (result, auth code) of the server's 0x8100."""
    await device.send(0x0100, JT808_REGISTER_BODY)
    msg_id, _, body = await device.read()
    assert msg_id == 0x8100
    return body[2], body[3:]


async def test_jt808_auth_code_kept_and_reset(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    connect: TrackerFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    """The code issued at registration is stored with the entry and survives a restart;
    a registration of that ID afterwards (a factory-reset tracker, or an impostor) is
    refused with a repair issue pointing at the reset action; the action forgets the code,
    clears the issue, and the next registration gets a new code."""
    entry = make_entry(JT808_ID)
    await load_entry(hass, entry)
    device = Jt808Device(await connect(entry))
    await device.login()
    code = entry.runtime_data.jt808_auth_code
    assert code
    assert entry.runtime_data.tracker_settings().jt808_auth_code == code
    await device.location(jt808_location(T0))
    key = f"{DOMAIN}.{entry.entry_id}"
    # Written at once, not with the state's 30 s delay: a crash now does not lose it.
    await wait_for(hass, lambda: key in hass_storage)
    assert hass_storage[key]["data"]["jt808_auth_code"] == code
    await device.tracker.close()

    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    runtime = entry.runtime_data
    assert runtime.jt808_auth_code == code

    reset = Jt808Device(await connect(entry))
    assert await register(reset) == (3, b"")  # already registered, no code
    issue_id = auth_refused_issue_id(entry.entry_id)
    # Trackers that register at every start send their stored code next: no issue yet.
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
    await reset.send(0x0102, b"0000000000000000")  # not the code it was issued
    msg_id, _, body = await reset.read()
    assert (msg_id, body[-1]) == (0x8001, 1)  # refused
    await wait_for(hass, lambda: issue_registry.async_get_issue(DOMAIN, issue_id) is not None)
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["tracker_id"] == JT808_ID
    assert_issue_translated(issue)

    await hass.services.async_call(
        DOMAIN, "reset_jt808_auth", {"config_entry_id": entry.entry_id}, blocking=True
    )
    assert runtime.jt808_auth_code is None
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
    result, new_code = await register(reset)
    assert result == 0
    assert new_code
    assert new_code != code
    await wait_for(hass, lambda: runtime.jt808_auth_code == new_code.decode())


# -- discovery ---------------------------------------------------------------------------------


def discovery_flows(hass: HomeAssistant) -> list[Any]:
    return hass.config_entries.flow.async_progress_by_handler(
        DOMAIN, match_context={"source": SOURCE_INTEGRATION_DISCOVERY}
    )


async def test_at_most_10_discovery_flows(hass: HomeAssistant) -> None:
    """Fifteen unknown IDs reported: ten are offered, the rest are not."""
    entry = make_entry()
    await load_entry(hass, entry)
    for number in range(15):
        _async_discovered(
            hass,
            "127.0.0.1",
            entry.data[CONF_PORT],
            f"77000000{number:02d}",
            "h02",
            "192.0.2.1:5000",
        )
        await hass.async_block_till_done()
    assert len(discovery_flows(hass)) == MAX_DISCOVERY_FLOWS


async def test_discovery_flows_started_together_stay_within_the_cap(hass: HomeAssistant) -> None:
    """Flows started at once (as Home Assistant does for discoveries queued before it
    started) pass the cap check one at a time: ten stay, the others abort."""
    results = await asyncio.gather(
        *(
            hass.config_entries.flow.async_init(
                DOMAIN,
                context={"source": SOURCE_INTEGRATION_DISCOVERY},
                data={
                    CONF_TRACKER_ID: f"88000000{number:02d}",
                    CONF_PORT: 5013,
                    CONF_BIND_ADDRESS: "127.0.0.1",
                    "protocol": "h02",
                },
            )
            for number in range(12)
        )
    )
    reasons = sorted(
        str(result.get("reason")) for result in results if result["type"] is FlowResultType.ABORT
    )
    assert reasons == ["too_many_discoveries", "too_many_discoveries"]
    assert len(discovery_flows(hass)) == MAX_DISCOVERY_FLOWS


@pytest.mark.parametrize(
    "ident",
    [
        "CALLSUPPORT0800123456",
        "42100 51415",
        "4210-051415",
        "".join(chr(0xFF10 + int(d)) for d in H02_ID),
        "1" * 21,
    ],
)
async def test_only_digit_ids_are_offered(hass: HomeAssistant, ident: str) -> None:
    """An ID the setup form would not take as sent is never offered (letters, spaces,
    dashes, full-width digits, too long)."""
    entry = make_entry()
    await load_entry(hass, entry)
    _async_discovered(hass, "127.0.0.1", entry.data[CONF_PORT], ident, "h02", "192.0.2.1:5000")
    await hass.async_block_till_done()
    assert discovery_flows(hass) == []
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_INTEGRATION_DISCOVERY},
        data={CONF_TRACKER_ID: ident, CONF_PORT: 5013, CONF_BIND_ADDRESS: "127.0.0.1"},
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "invalid_discovered_id"
