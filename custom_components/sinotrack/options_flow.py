"""The options flow: options that apply at once, without a reload."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from homeassistant.config_entries import ConfigFlowResult, OptionsFlow
from homeassistant.data_entry_flow import section
from homeassistant.helpers import selector

if TYPE_CHECKING:  # Home Assistant 2026.9+ validates with probatio, aliased as voluptuous
    import probatio as vol
else:
    import voluptuous as vol

from .const import (
    CONF_ALLOW_ENGINE_COMMANDS,
    CONF_ALLOW_INVALID_FIX,
    CONF_ALLOWED_NETWORKS,
    CONF_GUARD_ARM_TRACKER,
    CONF_GUARD_AUTO_ARM,
    CONF_GUARD_CLEAR_CODE,
    CONF_GUARD_CODE,
    CONF_GUARD_CODE_FORMAT,
    CONF_GUARD_CODE_HASH,
    CONF_GUARD_ENTRY_DELAY,
    CONF_GUARD_EXIT_DELAY,
    CONF_GUARD_RADIUS,
    CONF_GUARD_SILENT,
    CONF_GUARD_STOP_ENGINE,
    CONF_JT808_UTC_OFFSET,
    CONF_OFFLINE_TIMEOUT,
    CONF_SMS_PASSWORD,
    CONF_STOP_TIME,
    CONF_USE_CELL_POSITION,
    DEFAULT_GUARD_RADIUS,
    DEFAULT_JT808_UTC_OFFSET,
    DEFAULT_OFFLINE_TIMEOUT,
)
from .guard_runtime import hash_code
from .listener import parse_networks
from .protocol.message import PROTOCOL_H02, PROTOCOL_ID
from .runtime import SinotrackRuntime
from .sms import check_sms_input, sms_fields
from .trip_log import DEFAULT_STOP_TIME_MIN

SECTIONS: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    ("trips", (CONF_STOP_TIME,)),
    ("cell_position", (CONF_USE_CELL_POSITION,)),
    (
        "guard",
        (
            CONF_GUARD_RADIUS,
            CONF_GUARD_EXIT_DELAY,
            CONF_GUARD_ENTRY_DELAY,
            CONF_GUARD_AUTO_ARM,
            CONF_GUARD_CODE,
            CONF_GUARD_CLEAR_CODE,
            CONF_GUARD_ARM_TRACKER,
            CONF_GUARD_SILENT,
            CONF_GUARD_STOP_ENGINE,
        ),
    ),
    ("sms", ("sms_number", "sms_password", "sms_notify")),
)
"""The form's collapsed sections, in order, with the options each shows (in this order);
the other options are at the top. A section with none of its options in the form is left
out. The stored options stay flat: :func:`nest_options` and :func:`flatten_options`."""
SECTION_OF: Final = {key: name for name, keys in SECTIONS for key in keys}
SHOWN_DEFAULTS: Final[dict[str, Any]] = {
    CONF_STOP_TIME: DEFAULT_STOP_TIME_MIN,
    CONF_GUARD_RADIUS: DEFAULT_GUARD_RADIUS,
    CONF_GUARD_EXIT_DELAY: 0,
    CONF_GUARD_ENTRY_DELAY: 0,
    CONF_GUARD_AUTO_ARM: 0,
}
"""What applies while these options are not set, shown in their fields: the guard's own
defaults (the form gives its fields none: an option left out keeps the guard's), and the
stop time (the frontend fills in no default of a field in a section)."""


def nest_options(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Options as the form holds them: those of a section under the section's name."""
    nested: dict[str, Any] = {k: v for k, v in flat.items() if k not in SECTION_OF}
    for name, keys in SECTIONS:
        nested[name] = {key: flat[key] for key in keys if key in flat}
    return nested


def flatten_options(nested: Mapping[str, Any]) -> dict[str, Any]:
    """The form's input as stored options: each section's fields at the top."""
    names = {name for name, _ in SECTIONS}
    flat: dict[str, Any] = {k: v for k, v in nested.items() if k not in names}
    for name in names:
        flat.update(nested.get(name) or {})
    return flat


def section_errors(errors: dict[str, str]) -> dict[str, str]:
    """``errors`` by field as the form shows them: an error of a field in a section shows on
    the section, the first one (in the form's order) when several of its fields have one."""
    shown: dict[str, str] = {}
    for key, error in errors.items():
        shown.setdefault(SECTION_OF.get(key, key), error)
    return shown


def sectioned(schema: vol.Schema) -> vol.Schema:
    """``schema``'s fields grouped into :data:`SECTIONS` (collapsed), after the others."""
    top: dict[Any, Any] = {}
    groups: dict[str, dict[Any, Any]] = {name: {} for name, _ in SECTIONS}
    for marker, validator in schema.schema.items():
        name = SECTION_OF.get(str(marker))
        (top if name is None else groups[name])[marker] = validator
    for name, keys in SECTIONS:
        fields = sorted(groups[name].items(), key=lambda item: keys.index(str(item[0])))
        if fields:
            # Optional: an API caller may leave a section out. No default: with one, the
            # frontend would start the section empty instead of with its fields' values.
            top[vol.Optional(name)] = section(vol.Schema(dict(fields)), {"collapsed": True})
    return vol.Schema(top)


def options_schema(protocol: str | None) -> vol.Schema:
    """The options form; the JT/T 808 clock time zone is left out for a tracker known to
    speak H02 (``protocol``: the one it reported, None before its first frame)."""
    fields: dict[Any, Any] = {
        vol.Required(
            CONF_OFFLINE_TIMEOUT, default=DEFAULT_OFFLINE_TIMEOUT
        ): selector.NumberSelector(
            selector.NumberSelectorConfig(
                min=1,
                max=1440,
                step=1,
                unit_of_measurement="min",
                mode=selector.NumberSelectorMode.BOX,
            )
        ),
    }
    if protocol != PROTOCOL_H02:
        fields[vol.Required(CONF_JT808_UTC_OFFSET, default=DEFAULT_JT808_UTC_OFFSET)] = (
            selector.NumberSelector(
                selector.NumberSelectorConfig(
                    min=-12,
                    max=14,
                    step=0.25,
                    unit_of_measurement="h",
                    mode=selector.NumberSelectorMode.BOX,
                )
            )
        )
    fields[vol.Required(CONF_STOP_TIME, default=DEFAULT_STOP_TIME_MIN)] = selector.NumberSelector(
        selector.NumberSelectorConfig(
            min=1, max=120, step=1, unit_of_measurement="min", mode=selector.NumberSelectorMode.BOX
        )
    )
    fields[vol.Required(CONF_ALLOW_INVALID_FIX, default=False)] = bool
    fields[vol.Optional(CONF_USE_CELL_POSITION)] = bool  # absent: off
    fields[vol.Required(CONF_ALLOW_ENGINE_COMMANDS, default=False)] = bool
    fields[vol.Optional(CONF_ALLOWED_NETWORKS, default=list)] = selector.TextSelector(
        selector.TextSelectorConfig(multiple=True)
    )
    fields.update(guard_fields())
    return vol.Schema(fields)


def _number(low: float, high: float, unit: str) -> selector.NumberSelector:
    return selector.NumberSelector(
        selector.NumberSelectorConfig(
            min=low,
            max=high,
            step=1,
            unit_of_measurement=unit,
            mode=selector.NumberSelectorMode.BOX,
        )
    )


def guard_fields() -> dict[Any, Any]:
    """The guard's options (the code is entered here, stored only as a hash). No defaults
    in the form: an option left out keeps the guard's default (``guard_runtime``)."""
    return {
        vol.Optional(CONF_GUARD_RADIUS): _number(30, 10000, "m"),
        vol.Optional(CONF_GUARD_EXIT_DELAY): _number(0, 600, "s"),
        vol.Optional(CONF_GUARD_ENTRY_DELAY): _number(0, 600, "s"),
        vol.Optional(CONF_GUARD_CODE): selector.TextSelector(
            selector.TextSelectorConfig(type=selector.TextSelectorType.PASSWORD)
        ),
        vol.Optional(CONF_GUARD_CLEAR_CODE): bool,
        vol.Optional(CONF_GUARD_ARM_TRACKER): bool,
        vol.Optional(CONF_GUARD_AUTO_ARM): _number(0, 1440, "min"),
        vol.Optional(CONF_GUARD_SILENT): bool,
        vol.Optional(CONF_GUARD_STOP_ENGINE): bool,
    }


def guard_code_options(user_input: dict[str, Any], options: dict[str, Any]) -> None:
    """Move the code entered into ``options``: a new code as its hash, or the stored one
    kept or removed; the code itself is never stored."""
    code = str(user_input.pop(CONF_GUARD_CODE, "") or "").strip()
    clear = bool(user_input.pop(CONF_GUARD_CLEAR_CODE, False))
    options.pop(CONF_GUARD_CODE, None)
    options.pop(CONF_GUARD_CLEAR_CODE, None)
    if code:
        options[CONF_GUARD_CODE_HASH] = hash_code(code)
        options[CONF_GUARD_CODE_FORMAT] = "number" if code.isdigit() else "text"
    elif clear:
        options.pop(CONF_GUARD_CODE_HASH, None)
        options.pop(CONF_GUARD_CODE_FORMAT, None)


def _networks(value: Any) -> list[str] | None:
    """The "allowed source networks" entered, normalised (``10.1.2.3/8`` -> ``10.0.0.0/8``);
    None if one is not a network. Blank lines are ignored."""
    texts = [value] if isinstance(value, str) else list(value or [])
    try:
        return [str(network) for network in parse_networks(t for t in texts if str(t).strip())]
    except ValueError:
        return None


class SinotrackOptionsFlow(OptionsFlow):
    """Options that apply at once, without a reload."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """The options form; the options apply when the entry is updated."""
        errors: dict[str, str] = {}
        if user_input is not None:
            user_input = flatten_options(user_input)
            networks = _networks(user_input.get(CONF_ALLOWED_NETWORKS))
            # Errors on the SMS fields; the stored notify action is not checked again.
            sms = check_sms_input(self.hass, user_input, errors, self.config_entry.options)
            if networks is None:
                errors[CONF_ALLOWED_NETWORKS] = "invalid_network"
            elif user_input.get(CONF_GUARD_STOP_ENGINE) and not user_input.get(
                CONF_ALLOW_ENGINE_COMMANDS
            ):
                errors[CONF_GUARD_STOP_ENGINE] = "guard_stop_engine_needs_engine"
            if not errors:
                user_input = dict(user_input)
                user_input.pop(CONF_SMS_PASSWORD, None)  # kept unless a new one is entered
                entered: dict[str, Any] = {
                    k: user_input.pop(k)
                    for k in (CONF_GUARD_CODE, CONF_GUARD_CLEAR_CODE)
                    if k in user_input
                }
                # Options the form did not show (the JT/T 808 zone of an H02 tracker) stay.
                options = {
                    **self.config_entry.options,
                    **user_input,
                    CONF_ALLOWED_NETWORKS: networks,
                    **sms,
                }
                guard_code_options(entered, options)
                # A loaded entry's update listener applies them at once (no reload).
                return self.async_create_entry(data=options)
        return self.async_show_form(
            step_id="init",
            data_schema=vol.Schema(
                self.add_suggested_values_to_schema(
                    sectioned(
                        vol.Schema(
                            {**options_schema(self._protocol()).schema, **sms_fields(self.hass)}
                        )
                    ),
                    nest_options(
                        {
                            **SHOWN_DEFAULTS,
                            **{
                                key: value
                                for key, value in (
                                    user_input
                                    if user_input is not None
                                    else self.config_entry.options
                                ).items()
                                if key not in (CONF_GUARD_CODE, CONF_SMS_PASSWORD)  # never shown
                            },
                        }
                    ),
                ).schema,
                # A hidden option sent anyway (an API caller replaying every option) is
                # dropped, not an error: its stored value stays.
                extra=vol.REMOVE_EXTRA,
            ),
            errors=section_errors(errors),
        )

    def _protocol(self) -> str | None:
        """The protocol the tracker reported (kept across restarts), None if not yet."""
        runtime: SinotrackRuntime | None = getattr(self.config_entry, "runtime_data", None)
        if runtime is None:
            return None
        protocol = runtime.state.values.get(PROTOCOL_ID)
        return str(protocol) if protocol else None
