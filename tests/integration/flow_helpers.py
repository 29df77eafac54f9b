"""Helpers of the config-flow, set-up and diagnostics tests (tests/support/hass.py has the
entries, conftest.py the fixtures).

``assert_translated`` is what Home Assistant's own test suite does for core integrations
(it checks every flow step, error, abort and repair issue against ``strings.json``): for a
custom integration nobody does it, so these tests check ``translations/en.json`` themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
import json
from pathlib import Path
import re
from typing import Any, cast

from homeassistant.config_entries import ConfigEntryState, ConfigFlowResult
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, section
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sinotrack.const import DOMAIN
from tests.support.frames import h02_v1

TRANSLATIONS: dict[str, Any] = json.loads(
    (
        Path(__file__).parents[2] / "custom_components" / DOMAIN / "translations" / "en.json"
    ).read_text(encoding="utf-8")
)

V1_TIME = datetime(2015, 12, 22, 16, 45, 49, tzinfo=UTC)
"""Device time of :func:`v1_frame`'s fix."""


def v1_frame(tracker_id: str) -> bytes:
    """An H02 V1 position report (valid fix, 9.9398 N 84.1118 W) from ``tracker_id``."""
    return h02_v1(V1_TIME, ident=tracker_id)


def state_of(entry: MockConfigEntry) -> ConfigEntryState:
    """The entry's state now (a call, so that type checkers do not narrow it for good)."""
    return entry.state


def _placeholders(text: str) -> set[str]:
    return set(re.findall(r"{(\w+)}", text))


def _assert_fields(strings: Mapping[str, Any], schema: Any, where: str) -> None:
    """Every field of ``schema`` has a label and a description in ``strings``."""
    for marker, validator in schema.schema.items():
        key = str(marker)
        if isinstance(validator, section):
            sub = strings.get("sections", {}).get(key)
            assert sub is not None, f"{where}: no translation for section {key}"
            assert "name" in sub, f"{where}: section {key} has no name"
            _assert_fields(sub, validator.schema, f"{where}.sections.{key}")
            continue
        assert key in strings.get("data", {}), f"{where}: no label for {key}"
        assert key in strings.get("data_description", {}), f"{where}: no description for {key}"


def assert_translated(result: ConfigFlowResult, flow: str = "config") -> None:
    """Everything the user sees of ``result`` exists in en.json, placeholders included.

    ``flow`` is ``config`` (config flows, reconfigure included) or ``options``.
    """
    strings: dict[str, Any] = TRANSLATIONS[flow]
    given = set((result.get("description_placeholders") or {}).keys())
    kind = result["type"]
    if kind is FlowResultType.FORM:
        step_id = result["step_id"]
        step = strings["step"].get(step_id)
        assert step is not None, f"{flow}.step.{step_id} is missing"
        for text in (step.get("title", ""), step.get("description", "")):
            assert _placeholders(text) <= given, f"{flow}.step.{step_id}: {text!r} vs {given}"
        schema = result["data_schema"]
        if schema is not None:
            _assert_fields(step, schema, f"{flow}.step.{step_id}")
        for error in (result["errors"] or {}).values():
            assert error in strings.get("error", {}), f"{flow}.error.{error} is missing"
    elif kind is FlowResultType.MENU:
        step_id = result["step_id"]
        step = strings["step"].get(step_id)
        assert step is not None, f"{flow}.step.{step_id} is missing"
        for text in (step.get("title", ""), step.get("description", "")):
            assert _placeholders(text) <= given, f"{flow}.step.{step_id}: {text!r} vs {given}"
        options = cast("list[str]", result["menu_options"])
        assert set(options) <= set(step.get("menu_options", {})), f"{flow}.step.{step_id}"
    elif kind is FlowResultType.SHOW_PROGRESS:
        action = result["progress_action"]
        text = strings.get("progress", {}).get(action)
        assert text is not None, f"{flow}.progress.{action} is missing"
        assert _placeholders(text) <= given, f"{flow}.progress.{action}: {text!r} vs {given}"
    elif kind is FlowResultType.ABORT:
        reason = result["reason"]
        assert reason in strings.get("abort", {}), f"{flow}.abort.{reason} is missing"
        assert _placeholders(strings["abort"][reason]) <= given
    elif kind is FlowResultType.CREATE_ENTRY and flow == "config":
        text = strings["create_entry"][result.get("description") or "default"]
        assert _placeholders(text) <= given, f"{text!r} vs {given}"


def assert_flow_title(progress: Mapping[str, Any]) -> str:
    """The title a flow in progress shows in the discovered list, placeholders filled in."""
    placeholders = progress["context"]["title_placeholders"]
    text: str = TRANSLATIONS["config"]["flow_title"]
    assert _placeholders(text) <= set(placeholders)
    return text.format(**placeholders)


def assert_issue_translated(issue: ir.IssueEntry) -> None:
    """The repair issue has a title and description whose placeholders are all given."""
    assert issue.translation_key is not None
    strings = TRANSLATIONS["issues"].get(issue.translation_key)
    assert strings is not None, f"issues.{issue.translation_key} is missing"
    given = set((issue.translation_placeholders or {}).keys())
    for part in ("title", "description"):
        assert _placeholders(strings[part]) <= given, f"{part}: {strings[part]!r} vs {given}"


async def start_tracker_flow(hass: HomeAssistant) -> ConfigFlowResult:
    """The user flow at its tracker form: "Add a tracker" chosen in the menu that comes
    first while there is no Location services entry."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": "user"})
    if result["type"] is FlowResultType.MENU:
        assert result["menu_options"] == ["tracker", "location_services"]
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"next_step_id": "tracker"}
        )
    return result
