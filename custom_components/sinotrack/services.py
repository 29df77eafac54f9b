"""Actions: send a command, query the mileage, request a position, engine stop/resume...

Every action but ``get_trips`` (``trip_services``: it only reads) is registered for
administrators only (``async_register_admin_service``):
Home Assistant refuses a call from a user who is not an administrator, whether it comes
through the websocket API, the REST API or the UI. A raw command can do anything the
device can, and the others move or reconfigure a vehicle.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.helpers.service import async_register_admin_service
from homeassistant.util import dt as dt_util

if TYPE_CHECKING:  # Home Assistant 2026.9+ validates with probatio, aliased as voluptuous
    import probatio as vol
else:
    import voluptuous as vol

from .command_store import CommandCancelledError, EngineCommandsDisabledError
from .const import (
    ATTR_CONFIG_ENTRY_ID,
    ATTR_DEVICE_ID,
    ATTR_INTERVAL,
    ATTR_PAYLOAD,
    ATTR_QUEUE_IF_OFFLINE,
    ATTR_TIMEOUT,
    ATTR_WHEN,
    DOMAIN,
    LOGGER,
    SERVICE_ARM,
    SERVICE_CANCEL_COMMANDS,
    SERVICE_DISARM,
    SERVICE_ENGINE_RESUME,
    SERVICE_ENGINE_STOP,
    SERVICE_QUERY_MILEAGE,
    SERVICE_REQUEST_POSITION,
    SERVICE_RESET_JT808_AUTH,
    SERVICE_SEND_COMMAND,
    SERVICE_SET_INTERVAL,
)
from .guard_runtime import EngineStopRefusedError
from .listener import (
    DEFAULT_COMMAND_TIMEOUT,
    MAX_WAITING_COMMANDS,
    CommandExpiredError,
    CommandQueueFullError,
    CommandTimeoutError,
    ListenerError,
    TrackerDisconnectedError,
    TrackerOfflineError,
)
from .location_entry import is_location_entry
from .model import storable
from .model.engine_stop import WHEN_NOW, WHEN_STOPPED
from .protocol import Command, CommandError, CommandKind, Message, message as p
from .protocol.commands import check_payload, is_engine_payload
from .sms_services import CHANNEL_FIELDS, async_engine_by_sms, async_setup_sms_services
from .trip_services import async_setup_trip_services

if TYPE_CHECKING:
    from .runtime import SinotrackRuntime

_TARGET: Final = {
    vol.Exclusive(ATTR_DEVICE_ID, "target"): cv.string,
    vol.Exclusive(ATTR_CONFIG_ENTRY_ID, "target"): cv.string,
    vol.Optional(ATTR_TIMEOUT, default=DEFAULT_COMMAND_TIMEOUT): vol.All(
        vol.Coerce(float), vol.Range(min=1, max=300)
    ),
    vol.Optional(ATTR_QUEUE_IF_OFFLINE, default=False): cv.boolean,
}
BASE_SCHEMA: Final = vol.Schema(_TARGET)
RESET_AUTH_SCHEMA: Final = vol.Schema(
    {
        vol.Exclusive(ATTR_DEVICE_ID, "target"): cv.string,
        vol.Exclusive(ATTR_CONFIG_ENTRY_ID, "target"): cv.string,
    }
)
_WHEN: Final = {vol.Optional(ATTR_WHEN, default=WHEN_STOPPED): vol.In([WHEN_STOPPED, WHEN_NOW])}
"""When an engine command goes: once the vehicle stands (else held), or now (else refused)."""
SEND_COMMAND_SCHEMA: Final = vol.Schema({**_TARGET, **_WHEN, vol.Required(ATTR_PAYLOAD): cv.string})
ENGINE_STOP_SCHEMA: Final = vol.Schema({**_TARGET, **_WHEN, **CHANNEL_FIELDS})
ENGINE_RESUME_SCHEMA: Final = vol.Schema({**_TARGET, **CHANNEL_FIELDS})
SET_INTERVAL_SCHEMA: Final = vol.Schema(
    {**_TARGET, vol.Required(ATTR_INTERVAL): vol.All(vol.Coerce(int), vol.Range(min=5, max=86400))}
)

_SIMPLE: Final[dict[str, CommandKind]] = {
    SERVICE_QUERY_MILEAGE: CommandKind.MILEAGE,
    SERVICE_REQUEST_POSITION: CommandKind.POSITION,
    SERVICE_ENGINE_STOP: CommandKind.ENGINE_STOP,
    SERVICE_ENGINE_RESUME: CommandKind.ENGINE_RESUME,
    SERVICE_ARM: CommandKind.ARM,
    SERVICE_DISARM: CommandKind.DISARM,
}


def _runtime(hass: HomeAssistant, call: ServiceCall) -> SinotrackRuntime:
    """The runtime of the tracker the call targets."""
    entry_id = call.data.get(ATTR_CONFIG_ENTRY_ID)
    device_id = call.data.get(ATTR_DEVICE_ID)
    if entry_id is None and device_id is None:
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="no_target")
    if device_id is not None:
        device = dr.async_get(hass).async_get(device_id)
        if device is None:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="unknown_device",
                translation_placeholders={"device_id": device_id},
            )
        entry_id = getattr(device, "config_entry_id", None)
        if entry_id is None:  # Home Assistant before 2026.8: a device lists its entries
            entry_id = next(
                (
                    candidate
                    for candidate in device.config_entries
                    if (found := hass.config_entries.async_get_entry(candidate)) is not None
                    and found.domain == DOMAIN
                ),
                None,
            )
    entry = hass.config_entries.async_get_entry(entry_id) if entry_id else None
    if entry is None or entry.domain != DOMAIN:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="unknown_tracker",
            translation_placeholders={"target": str(device_id or entry_id)},
        )
    if entry.state is not ConfigEntryState.LOADED:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="tracker_not_loaded",
            translation_placeholders={"name": entry.title},
        )
    if is_location_entry(entry):  # no tracker: the Location services
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="unknown_tracker",
            translation_placeholders={"target": str(device_id or entry_id)},
        )
    runtime: SinotrackRuntime = entry.runtime_data
    return runtime


def _json(value: Any) -> Any:
    return value if storable(value) else str(value)


def raw_reply(reply: Message) -> dict[str, Any]:
    """The decoded reply, every parameter as JSON can carry it: the ``reply`` key of every
    action's response."""
    return {key: _json(value) for key, value in reply.items()}


def reply_data(reply: Message) -> dict[str, Any]:
    """Response data for a reply: the answer as one text, and the decoded reply."""
    text = reply.get(p.COMMAND_RESPONSE)
    if text is None:
        text = ",".join(
            str(part)
            for part in (reply.get(p.COMMAND_CODE), reply.get(p.COMMAND_RESULT))
            if part not in (None, "")
        )
    return {"response": text, "reply": raw_reply(reply)}


@dataclass(frozen=True, slots=True)
class _Translated:
    """How an error of sending a command reaches the user."""

    raise_as: type[HomeAssistantError]
    key: str
    about_call: bool = True
    """With the tracker ID and the call's timeout as placeholders."""
    with_error: bool = False
    """With the error's text as the ``error`` placeholder."""
    extra: tuple[tuple[str, str], ...] = ()


ERRORS: Final[tuple[tuple[type[Exception], _Translated], ...]] = (
    (
        EngineCommandsDisabledError,
        _Translated(ServiceValidationError, "engine_commands_disabled", about_call=False),
    ),
    (
        CommandError,
        _Translated(ServiceValidationError, "invalid_command", about_call=False, with_error=True),
    ),
    (TrackerOfflineError, _Translated(HomeAssistantError, "tracker_offline")),
    (CommandTimeoutError, _Translated(HomeAssistantError, "command_timeout")),
    (
        CommandQueueFullError,
        _Translated(
            HomeAssistantError, "command_queue_full", extra=(("max", str(MAX_WAITING_COMMANDS)),)
        ),
    ),
    (
        EngineStopRefusedError,
        _Translated(ServiceValidationError, "engine_stop_refused", about_call=False),
    ),
    (CommandCancelledError, _Translated(HomeAssistantError, "command_cancelled")),
    (CommandExpiredError, _Translated(HomeAssistantError, "command_expired")),
    (TrackerDisconnectedError, _Translated(HomeAssistantError, "tracker_disconnected")),
    (ListenerError, _Translated(HomeAssistantError, "command_failed", with_error=True)),
)
"""The one table from an error of sending a command to the translated error raised (the
first row whose type matches: subclasses before their base)."""
_TRANSLATED: Final = tuple(error_type for error_type, _ in ERRORS)


def translated_error(err: Exception, call: ServiceCall, ident: str = "") -> Exception:
    """The translated error to raise for ``err`` (a call of tracker ``ident``); ``err``
    itself if the table lacks it."""
    for error_type, translated in ERRORS:
        if isinstance(err, error_type):
            placeholders: dict[str, str] = {}
            if translated.about_call:
                placeholders["tracker_id"] = ident
                placeholders["timeout"] = f"{call.data[ATTR_TIMEOUT]:g}"
            if translated.with_error:
                placeholders["error"] = str(err)
            placeholders.update(translated.extra)
            return translated.raise_as(
                translation_domain=DOMAIN,
                translation_key=translated.key,
                translation_placeholders=placeholders or None,
            )
    return err


async def _send(
    hass: HomeAssistant, call: ServiceCall, command: Command
) -> tuple[SinotrackRuntime, Message]:
    """Send ``command`` to the tracker the call targets; its runtime and the reply."""
    runtime = _runtime(hass, call)
    try:
        result = await runtime.async_send_command(
            command,
            timeout=call.data[ATTR_TIMEOUT],
            queue_if_offline=call.data[ATTR_QUEUE_IF_OFFLINE],
        )
    except _TRANSLATED as err:
        raise translated_error(err, call, runtime.ident) from err
    return runtime, result.reply


async def _send_engine(hass: HomeAssistant, call: ServiceCall, command: Command) -> dict[str, Any]:
    """Send an engine command once the vehicle stands (``when``); the response data."""
    runtime = _runtime(hass, call)
    try:
        status, result = await runtime.guard.async_engine_command(
            command, call.data[ATTR_WHEN], timeout=call.data[ATTR_TIMEOUT]
        )
    except _TRANSLATED as err:
        raise translated_error(err, call, runtime.ident) from err
    if result is None:
        return {"status": status}
    return {"status": status, **reply_data(result.reply)}


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the actions (once, for every tracker)."""

    async def send_command(call: ServiceCall) -> ServiceResponse:
        try:
            # What every protocol refuses (empty, too long, not printable ASCII), checked
            # before the tracker is needed; H02's own limits are checked when encoding.
            payload = check_payload(call.data[ATTR_PAYLOAD], h02=False)
        except CommandError as err:
            raise translated_error(err, call) from err
        command = Command(CommandKind.CUSTOM, payload=payload)
        if is_engine_payload(payload):  # the safe engine stop's path
            response = await _send_engine(hass, call, command)
            return response if call.return_response else None
        _, reply = await _send(hass, call, command)
        return reply_data(reply) if call.return_response else None

    async def query_mileage(call: ServiceCall) -> ServiceResponse:
        runtime, reply = await _send(hass, call, Command(CommandKind.MILEAGE))
        mileage = reply.get(p.MILEAGE)
        if mileage is None or not storable(mileage):  # none, or no number (a 400-digit one)
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="no_mileage",
                translation_placeholders={"tracker_id": runtime.ident},
            )
        if not call.return_response:
            return None
        return {
            "mileage_km": mileage,
            "time": dt_util.utcnow().isoformat(),  # when it answered (its fix may be older)
            "reply": raw_reply(reply),
        }

    async def set_interval(call: ServiceCall) -> ServiceResponse:
        command = Command(CommandKind.INTERVAL, interval=call.data[ATTR_INTERVAL])
        _, reply = await _send(hass, call, command)
        return reply_data(reply) if call.return_response else None

    def simple(kind: CommandKind) -> Callable[[ServiceCall], Coroutine[Any, Any, ServiceResponse]]:
        async def handler(call: ServiceCall) -> ServiceResponse:
            _, reply = await _send(hass, call, Command(kind))
            return reply_data(reply) if call.return_response else None

        return handler

    async def engine_stop(call: ServiceCall) -> ServiceResponse:
        kind = CommandKind.ENGINE_STOP
        response = await async_engine_by_sms(
            hass, call, _runtime(hass, call), kind, translated_error
        )
        if response is None:  # over GPRS
            response = {**await _send_engine(hass, call, Command(kind)), "channel": "gprs"}
        return response if call.return_response else None

    async def engine_resume(call: ServiceCall) -> ServiceResponse:
        runtime = _runtime(hass, call)
        kind = CommandKind.ENGINE_RESUME
        by_sms = await async_engine_by_sms(hass, call, runtime, kind, translated_error)
        if by_sms is not None:
            return by_sms if call.return_response else None
        if runtime.allow_engine_commands and runtime.guard.cancel_held():
            LOGGER.info("Tracker %s: engine resume cancels the held engine stop", runtime.ident)
        _, reply = await _send(hass, call, Command(kind))
        return {**reply_data(reply), "channel": "gprs"} if call.return_response else None

    async def cancel_commands(call: ServiceCall) -> ServiceResponse:
        runtime = _runtime(hass, call)
        cancelled = runtime.guard.cancel_held() + runtime.commands.cancel_all()
        LOGGER.info("Tracker %s: %d command(s) cancelled", runtime.ident, cancelled)
        return {"cancelled": cancelled} if call.return_response else None

    async def reset_jt808_auth(call: ServiceCall) -> None:
        _runtime(hass, call).reset_jt808_auth()

    def register(
        name: str,
        handler: Callable[[ServiceCall], Coroutine[Any, Any, ServiceResponse]],
        schema: vol.Schema,
        supports_response: SupportsResponse = SupportsResponse.OPTIONAL,
    ) -> None:
        async_register_admin_service(hass, DOMAIN, name, handler, schema, supports_response)

    register(SERVICE_SEND_COMMAND, send_command, SEND_COMMAND_SCHEMA)
    register(SERVICE_QUERY_MILEAGE, query_mileage, BASE_SCHEMA)
    register(SERVICE_SET_INTERVAL, set_interval, SET_INTERVAL_SCHEMA)
    for name, kind in _SIMPLE.items():
        if name not in (SERVICE_QUERY_MILEAGE, SERVICE_ENGINE_STOP, SERVICE_ENGINE_RESUME):
            register(name, simple(kind), BASE_SCHEMA)
    register(SERVICE_ENGINE_STOP, engine_stop, ENGINE_STOP_SCHEMA)
    register(SERVICE_ENGINE_RESUME, engine_resume, ENGINE_RESUME_SCHEMA)
    register(SERVICE_CANCEL_COMMANDS, cancel_commands, RESET_AUTH_SCHEMA)
    register(SERVICE_RESET_JT808_AUTH, reset_jt808_auth, RESET_AUTH_SCHEMA, SupportsResponse.NONE)
    async_setup_trip_services(hass, _runtime)  # get_trips: any user (it only reads)
    async_setup_sms_services(hass, _runtime, translated_error)
