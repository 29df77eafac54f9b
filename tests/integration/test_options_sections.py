"""The tracker options form in sections: what it shows, and options stored flat."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigFlowResult
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, section

from custom_components.sinotrack.options_flow import flatten_options, nest_options
from tests.support.hass import make_entry

from .flow_helpers import assert_translated

SECTIONS = {
    "trips": ["stop_time"],
    "cell_position": ["use_cell_position"],
    "guard": [
        "guard_radius",
        "guard_exit_delay",
        "guard_entry_delay",
        "guard_auto_arm",
        "guard_code",
        "guard_clear_code",
        "guard_arm_tracker",
        "guard_silent",
        "guard_stop_engine",
    ],
    "sms": ["sms_number", "sms_password", "sms_notify"],
}


def layout(result: ConfigFlowResult) -> dict[str, Any]:
    """The form's fields: top-level names, and each section's (name -> its fields)."""
    schema = result["data_schema"]
    assert schema is not None
    shown: dict[str, Any] = {}
    for marker, validator in schema.schema.items():
        if isinstance(validator, section):
            assert validator.options["collapsed"] is True
            # No default: with one the frontend starts the section empty, not with the
            # values its fields suggest.
            assert not callable(marker.default)
            shown[str(marker)] = [str(key) for key in validator.schema.schema]
        else:
            shown[str(marker)] = None
    return shown


def shown_values(result: ConfigFlowResult, name: str) -> dict[str, Any]:
    """What the fields of section ``name`` show: suggested value, else default."""
    schema = result["data_schema"]
    assert schema is not None
    values: dict[str, Any] = {}
    for marker, validator in schema.schema.items():
        if str(marker) != name:
            continue
        for key in validator.schema.schema:
            if key.description and "suggested_value" in key.description:
                values[str(key)] = key.description["suggested_value"]
            elif callable(key.default):
                values[str(key)] = key.default()
    return values


async def open_options(hass: HomeAssistant, **options: Any) -> tuple[Any, ConfigFlowResult]:
    entry = make_entry(**options)
    entry.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    assert_translated(result, "options")
    return entry, result


async def test_options_form_basics_first_then_sections(hass: HomeAssistant) -> None:
    _, result = await open_options(hass)

    assert layout(result) == {
        "offline_timeout": None,
        "jt808_utc_offset": None,
        "allow_invalid_fix": None,
        "allow_engine_commands": None,
        "allowed_networks": None,
        **SECTIONS,
    }


async def test_options_form_shows_the_guards_effective_defaults(hass: HomeAssistant) -> None:
    """Guard options never set show what the guard does without them (100 m, no delays,
    no auto-arm); the stop time its default, 5 minutes."""
    _, result = await open_options(hass)

    assert shown_values(result, "guard") == {
        "guard_radius": 100,
        "guard_exit_delay": 0,
        "guard_entry_delay": 0,
        "guard_auto_arm": 0,
    }
    assert shown_values(result, "trips") == {"stop_time": 5}


async def test_options_form_shows_stored_options_in_their_sections(hass: HomeAssistant) -> None:
    _, result = await open_options(
        hass, guard_radius=250, guard_silent=True, stop_time=12, guard_code_hash="x"
    )

    assert shown_values(result, "guard") == {
        "guard_radius": 250,
        "guard_exit_delay": 0,
        "guard_entry_delay": 0,
        "guard_auto_arm": 0,
        "guard_silent": True,
    }
    assert shown_values(result, "trips") == {"stop_time": 12}


async def test_options_entered_in_sections_are_stored_flat(hass: HomeAssistant) -> None:
    entry, result = await open_options(hass, offline_timeout=45)

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            "offline_timeout": 20,
            "trips": {"stop_time": 9},
            "cell_position": {"use_cell_position": True},
            "guard": {"guard_radius": 300, "guard_entry_delay": 30, "guard_code": "1234"},
        },
    )

    assert result["type"] is FlowResultType.CREATE_ENTRY
    options = dict(entry.options)
    assert not {"trips", "cell_position", "guard"} & set(options)
    assert options["offline_timeout"] == 20
    assert options["stop_time"] == 9
    assert options["use_cell_position"] is True
    assert options["guard_radius"] == 300
    assert options["guard_entry_delay"] == 30
    assert options["guard_code_format"] == "number"
    assert "guard_code" not in options


async def test_an_error_in_a_section_shows_on_the_section(hass: HomeAssistant) -> None:
    """Stopping the engine on a trigger needs engine commands: the error is on the guard
    section, and the form keeps what was entered."""
    _, result = await open_options(hass)

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {"guard": {"guard_stop_engine": True, "guard_radius": 400}, "trips": {}},
    )

    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"guard": "guard_stop_engine_needs_engine"}
    assert_translated(result, "options")
    assert shown_values(result, "guard")["guard_radius"] == 400
    assert shown_values(result, "guard")["guard_stop_engine"] is True


def test_nest_and_flatten_are_inverse() -> None:
    flat = {"offline_timeout": 30, "stop_time": 4, "guard_radius": 150, "guard_code_hash": "h"}

    nested = nest_options(flat)

    assert nested["trips"] == {"stop_time": 4}
    assert nested["guard"] == {"guard_radius": 150}
    assert nested["guard_code_hash"] == "h"  # not a field: stays at the top
    assert flatten_options(nested) == flat
