"""The SMS actions: ``send_sms``, ``setup_tracker_by_sms``, and the SMS channel of the
engine actions (``channel: sms`` or ``auto``).

Administrators only, like every action that reaches the device. An engine command by SMS
obeys the rules of one over GPRS: the engine option, and the safe engine stop's decision
(``GuardRuntime.engine_gate``): sent only while the latest fresh report shows the vehicle
standing; otherwise refused (``when: now``) or held (``when: stopped``). A held command is
released by a fresh report, which came over GPRS: it goes over GPRS then, as the engine
command of the tracker's protocol.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from homeassistant.const import CONF_PORT
from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.service import async_register_admin_service

if TYPE_CHECKING:  # Home Assistant 2026.9+ validates with probatio, aliased as voluptuous
    import probatio as vol
else:
    import voluptuous as vol

from .command_store import EngineCommandsDisabledError
from .const import (
    ATTR_APN,
    ATTR_CHANNEL,
    ATTR_CONFIG_ENTRY_ID,
    ATTR_DEVICE_ID,
    ATTR_HOST,
    ATTR_MESSAGE,
    ATTR_WAIT_FOR_CONNECTION,
    ATTR_WAIT_FOR_REPLY,
    ATTR_WHEN,
    DOMAIN,
    LOGGER,
    SERVICE_SEND_SMS,
    SERVICE_SETUP_BY_SMS,
)
from .guard_runtime import EngineStopRefusedError
from .model import KEY_CONNECTED, Update
from .model.engine_stop import WHEN_NOW, WHEN_STOPPED
from .protocol import Command, CommandKind
from .protocol.commands import is_engine_payload
from .protocol.sms import SmsTextError, engine_kind, engine_text, free_text, redact, setup_texts
from .sms import (
    CHANNEL_GPRS,
    CHANNEL_SMS,
    CHANNELS,
    async_exchange,
    require_settings,
    use_sms,
)

if TYPE_CHECKING:
    from .runtime import SinotrackRuntime

type RuntimeOf = Callable[[HomeAssistant, ServiceCall], SinotrackRuntime]
type Translate = Callable[[Exception, ServiceCall, str], Exception]

_WAIT: Final = vol.All(vol.Coerce(float), vol.Range(min=0, max=600))
_TARGET: Final = {
    vol.Exclusive(ATTR_DEVICE_ID, "target"): cv.string,
    vol.Exclusive(ATTR_CONFIG_ENTRY_ID, "target"): cv.string,
}
CHANNEL_FIELDS: Final = {
    vol.Optional(ATTR_CHANNEL, default=CHANNEL_GPRS): vol.In(CHANNELS),
    vol.Optional(ATTR_WAIT_FOR_REPLY, default=0): _WAIT,
}
"""The fields the engine actions gain: the channel, and the wait for an SMS reply."""
SEND_SMS_SCHEMA: Final = vol.Schema(
    {
        **_TARGET,
        vol.Required(ATTR_MESSAGE): cv.string,
        vol.Optional(ATTR_WAIT_FOR_REPLY, default=0): _WAIT,
        vol.Optional(ATTR_WHEN, default=WHEN_STOPPED): vol.In([WHEN_STOPPED, WHEN_NOW]),
    }
)
SETUP_SCHEMA: Final = vol.Schema(
    {
        **_TARGET,
        vol.Required(ATTR_HOST): cv.string,
        vol.Optional(CONF_PORT): vol.All(vol.Coerce(int), vol.Range(min=1, max=65535)),
        vol.Optional(ATTR_APN): cv.string,
        vol.Optional(ATTR_WAIT_FOR_CONNECTION, default=0): _WAIT,
    }
)


def invalid_sms(err: SmsTextError) -> ServiceValidationError:
    """The translated error of a text, number or setting the tracker cannot take."""
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="invalid_sms",
        translation_placeholders={"error": str(err)},
    )


def _sent(status: str, reply: str | None) -> dict[str, Any]:
    return {"sent": True, "status": status, "channel": CHANNEL_SMS, "reply": reply}


def _held(status: str) -> dict[str, Any]:
    """Held until the vehicle stands: a fresh report releases it, over GPRS."""
    return {"sent": False, "status": status, "channel": CHANNEL_GPRS, "reply": None}


async def async_engine_by_sms(
    hass: HomeAssistant,
    call: ServiceCall,
    runtime: SinotrackRuntime,
    kind: CommandKind,
    translate: Translate,
) -> dict[str, Any] | None:
    """An engine stop or resume by SMS when the call's channel says so; its response data,
    or None when it goes over GPRS (the caller sends it)."""
    if not use_sms(runtime, call.data[ATTR_CHANNEL]):
        return None
    settings = require_settings(runtime)
    text = engine_text(kind, settings.password)
    if kind is CommandKind.ENGINE_STOP:
        try:
            status = runtime.guard.engine_gate(Command(kind), call.data[ATTR_WHEN])
        except (EngineCommandsDisabledError, EngineStopRefusedError) as err:
            raise translate(err, call, runtime.ident) from err
        if status is not None:
            return _held(status)
    elif not runtime.allow_engine_commands:
        disabled = EngineCommandsDisabledError(f"engine commands are off for {runtime.ident}")
        raise translate(disabled, call, runtime.ident) from disabled
    elif runtime.guard.cancel_held():
        LOGGER.info("Tracker %s: engine resume cancels the held engine stop", runtime.ident)
    reply = await async_exchange(
        hass, runtime.ident, settings, [text], wait=call.data[ATTR_WAIT_FOR_REPLY]
    )
    return _sent("sent", reply)


def async_setup_sms_services(
    hass: HomeAssistant, runtime_of: RuntimeOf, translate: Translate
) -> None:
    """Register ``send_sms`` and ``setup_tracker_by_sms`` (administrators only)."""

    async def send_sms(call: ServiceCall) -> ServiceResponse:
        runtime = runtime_of(hass, call)
        settings = require_settings(runtime)
        try:
            text = free_text(call.data[ATTR_MESSAGE], settings.password)
        except SmsTextError as err:
            raise invalid_sms(err) from err
        kind = engine_kind(text)
        if kind is not None or is_engine_payload(text):
            # The safe engine stop's rules, whatever the text; held: the protocol's own
            # engine command goes over GPRS once the vehicle stands.
            command = Command(kind) if kind else Command(CommandKind.CUSTOM, payload=text)
            try:
                status = runtime.guard.engine_gate(command, call.data[ATTR_WHEN])
            except (EngineCommandsDisabledError, EngineStopRefusedError) as err:
                raise translate(err, call, runtime.ident) from err
            if status is not None:
                return _held(status) if call.return_response else None
        reply = await async_exchange(
            hass, runtime.ident, settings, [text], wait=call.data[ATTR_WAIT_FOR_REPLY]
        )
        return _sent("sent", reply) if call.return_response else None

    async def setup_by_sms(call: ServiceCall) -> ServiceResponse:
        runtime = runtime_of(hass, call)
        settings = require_settings(runtime)
        port = int(call.data.get(CONF_PORT) or runtime.entry.data[CONF_PORT])
        try:
            texts = setup_texts(
                call.data[ATTR_HOST], port, call.data.get(ATTR_APN), settings.password
            )
        except SmsTextError as err:
            raise invalid_sms(err) from err
        came_up = asyncio.Event()

        def connection(_update: Update) -> None:
            if runtime.state.connected:
                came_up.set()

        unsubscribe = runtime.subscribe(connection, {KEY_CONNECTED})
        try:
            await async_exchange(hass, runtime.ident, settings, texts, wait=0)
            if wait := call.data[ATTR_WAIT_FOR_CONNECTION]:
                try:
                    async with asyncio.timeout(wait):
                        await came_up.wait()
                except TimeoutError:
                    pass
        finally:
            unsubscribe()
        if not call.return_response:
            return None
        return {
            "sent": [redact(text, settings.password) for text in texts],
            "connected": runtime.state.connected,
        }

    for name, handler, schema in (
        (SERVICE_SEND_SMS, send_sms, SEND_SMS_SCHEMA),
        (SERVICE_SETUP_BY_SMS, setup_by_sms, SETUP_SCHEMA),
    ):
        async_register_admin_service(hass, DOMAIN, name, handler, schema, SupportsResponse.OPTIONAL)
