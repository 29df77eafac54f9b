"""Commands by SMS, through the SMS integrations Home Assistant already has.

No modem code: an SMS goes out through a notify action an administrator picked in the
tracker's options (``notify.sms`` of the ``sms`` integration, or a cloud SMS service), the
text in ``message`` and the tracker's number in ``target``. The tracker's answer comes back
as an ``sms.incoming_sms`` event (data ``phone``, ``text``, ``date``), matched by the
sender's number and the time it arrived. The texts themselves are ``protocol.sms``.

The SMS password is a secret: no log line, error or response holds it (``redact``), and
diagnostics redact it with the tracker's number.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final

from homeassistant.const import CONF_PORT
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceNotFound, ServiceValidationError
from homeassistant.helpers import selector
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey

if TYPE_CHECKING:  # Home Assistant 2026.9+ validates with probatio, aliased as voluptuous
    import probatio as vol
else:
    import voluptuous as vol

from .const import (
    CONF_SMS_APN,
    CONF_SMS_HOST,
    CONF_SMS_NOTIFY,
    CONF_SMS_NUMBER,
    CONF_SMS_PASSWORD,
    DOMAIN,
    LOGGER,
)
from .protocol.sms import (
    DEFAULT_PASSWORD,
    SmsTextError,
    apn_text,
    check_password,
    gprs_text,
    in_window,
    normalize_number,
    redact,
    same_number,
    server_text,
)

if TYPE_CHECKING:
    from .runtime import SinotrackRuntime

EVENT_INCOMING_SMS: Final = "sms.incoming_sms"
"""Fired by the ``sms`` integration for each SMS its modem receives."""
NOTIFY: Final = "notify"
_NOT_SMS: Final = frozenset({"send_message", "persistent_notification"})
"""Notify actions that take no ``target`` number (entity notify, the UI's notifications)."""
CHANNEL_GPRS: Final = "gprs"
CHANNEL_SMS: Final = "sms"
CHANNEL_AUTO: Final = "auto"
CHANNELS: Final = [CHANNEL_GPRS, CHANNEL_SMS, CHANNEL_AUTO]
_LOCKS: HassKey[dict[str, asyncio.Lock]] = HassKey(f"{DOMAIN}_sms")
"""One SMS exchange at a time per tracker, so that a reply answers one request."""


@dataclass(frozen=True, slots=True)
class SmsSettings:
    """How to reach one tracker by SMS."""

    number: str
    """E.164."""
    password: str
    notify: str
    """The notify action, ``notify.<name>``."""


def notify_actions(hass: HomeAssistant) -> list[str]:
    """The notify actions that can take a number as ``target`` (``notify.sms``...)."""
    return sorted(
        f"{NOTIFY}.{name}"
        for name in hass.services.async_services_for_domain(NOTIFY)
        if name not in _NOT_SMS
    )


def settings_of(options: Mapping[str, Any]) -> SmsSettings | None:
    """The SMS settings in an entry's options, None without a number or notify action."""
    number = options.get(CONF_SMS_NUMBER)
    notify = options.get(CONF_SMS_NOTIFY)
    if not number or not notify:
        return None
    return SmsSettings(str(number), str(options.get(CONF_SMS_PASSWORD) or DEFAULT_PASSWORD), notify)


def require_settings(runtime: SinotrackRuntime) -> SmsSettings:
    """The tracker's SMS settings, or the translated error that it has none."""
    found = settings_of(runtime.options)
    if found is None:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="sms_not_configured",
            translation_placeholders={"name": runtime.entry.title},
        )
    return found


# -- forms (the options flow and the set-up flow) ----------------------------------------------


def sms_fields(hass: HomeAssistant, *, required: bool = False) -> dict[Any, Any]:
    """The SMS fields of a form: number, password (never shown back), notify action."""
    marker = vol.Required if required else vol.Optional
    return {
        marker(CONF_SMS_NUMBER): selector.TextSelector(
            selector.TextSelectorConfig(type=selector.TextSelectorType.TEL)
        ),
        vol.Optional(CONF_SMS_PASSWORD): selector.TextSelector(
            selector.TextSelectorConfig(type=selector.TextSelectorType.PASSWORD)
        ),
        marker(CONF_SMS_NOTIFY): selector.SelectSelector(
            selector.SelectSelectorConfig(
                options=notify_actions(hass),
                custom_value=True,
                mode=selector.SelectSelectorMode.DROPDOWN,
            )
        ),
    }


def check_sms_input(
    hass: HomeAssistant,
    values: dict[str, Any],
    errors: dict[str, str],
    stored: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The SMS settings entered, normalised (number in E.164); ``errors`` per field. Fields
    left empty are left out (the stored ones stay). A notify action must exist unless it is
    the ``stored`` one (its integration may be loading: the other options can still change)."""
    checked: dict[str, Any] = {}
    number = str(values.get(CONF_SMS_NUMBER) or "").strip()
    if number:
        normalised = normalize_number(number)
        if normalised is None:
            errors[CONF_SMS_NUMBER] = "invalid_phone"
        checked[CONF_SMS_NUMBER] = normalised
    password = str(values.get(CONF_SMS_PASSWORD) or "").strip()
    if password:
        try:
            checked[CONF_SMS_PASSWORD] = check_password(password)
        except SmsTextError:
            errors[CONF_SMS_PASSWORD] = "invalid_sms_password"
    notify = str(values.get(CONF_SMS_NOTIFY) or "").strip()
    if notify:
        domain, _, name = notify.partition(".")
        unchanged = stored is not None and notify == stored.get(CONF_SMS_NOTIFY)
        if not unchanged and (domain != NOTIFY or not hass.services.has_service(NOTIFY, name)):
            errors[CONF_SMS_NOTIFY] = "notify_not_found"
        checked[CONF_SMS_NOTIFY] = notify
    return checked


# -- sending and the reply ---------------------------------------------------------------------


async def async_notify(hass: HomeAssistant, settings: SmsSettings, text: str) -> None:
    """Send one SMS through the notify action; translated errors (the password hidden)."""
    name = settings.notify.partition(".")[2]
    if not hass.services.has_service(NOTIFY, name):
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="sms_notify_missing",
            translation_placeholders={"action": settings.notify},
        )
    try:
        await hass.services.async_call(
            NOTIFY, name, {"message": text, "target": [settings.number]}, blocking=True
        )
    except ServiceNotFound as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="sms_notify_missing",
            translation_placeholders={"action": settings.notify},
        ) from err
    except Exception as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="sms_failed",
            translation_placeholders={
                "action": settings.notify,
                "error": redact(str(err) or type(err).__name__, settings.password),
            },
        ) from err


async def async_exchange(
    hass: HomeAssistant,
    ident: str,
    settings: SmsSettings,
    texts: list[str],
    *,
    wait: float,
) -> str | None:
    """Send ``texts`` in order (each once; the first failure stops the rest) and return
    the tracker's first SMS that arrives within ``wait`` seconds of the last, or None."""
    lock = hass.data.setdefault(_LOCKS, {}).setdefault(ident, asyncio.Lock())
    async with lock:
        replies: asyncio.Queue[str] = asyncio.Queue()
        sent_at = dt_util.utcnow()
        window = timedelta(seconds=wait)

        @callback
        def incoming(event: Event[Any]) -> None:
            phone, text = event.data.get("phone"), event.data.get("text")
            if (
                isinstance(phone, str)
                and isinstance(text, str)
                and same_number(settings.number, phone)
                and in_window(sent_at, event.time_fired, window)
            ):
                replies.put_nowait(text)

        unsubscribe = hass.bus.async_listen(EVENT_INCOMING_SMS, incoming) if wait else None
        try:
            for text in texts:
                await async_notify(hass, settings, text)
                sent_at = dt_util.utcnow()
                LOGGER.info(
                    "Tracker %s: SMS sent through %s: %s",
                    ident,
                    settings.notify,
                    redact(text, settings.password),
                )
            if not wait:
                return None
            try:
                async with asyncio.timeout(wait):
                    reply = await replies.get()
            except TimeoutError:
                LOGGER.info("Tracker %s: no SMS reply within %g s", ident, wait)
                return None
            LOGGER.debug("Tracker %s: SMS reply received", ident)
            return reply
        finally:
            if unsubscribe is not None:
                unsubscribe()


def use_sms(runtime: SinotrackRuntime, channel: str) -> bool:
    """Whether a command goes by SMS: ``sms``, or ``auto`` while the tracker is offline (no
    TCP session, or nothing heard within the offline timeout)."""
    if channel == CHANNEL_AUTO:
        state = runtime.state
        return not (state.connected and state.online)
    return channel == CHANNEL_SMS


# -- the set-up flow: pointing a new tracker at Home Assistant by SMS ---------------------------


def setup_form_fields(hass: HomeAssistant, port: int) -> dict[Any, Any]:
    """The set-up SMS form: how to reach the tracker, and the server, port and APN to send."""
    return {
        **sms_fields(hass, required=True),
        vol.Required(CONF_SMS_HOST): str,
        vol.Required(CONF_PORT, default=port): selector.NumberSelector(
            selector.NumberSelectorConfig(
                min=1, max=65535, step=1, mode=selector.NumberSelectorMode.BOX
            )
        ),
        vol.Optional(CONF_SMS_APN): str,
    }


async def async_flow_setup(
    hass: HomeAssistant, ident: str, values: dict[str, Any], errors: dict[str, str]
) -> dict[str, Any]:
    """Check the set-up SMS form and send the server, APN and GPRS commands; the SMS
    options of the new entry. ``errors`` per field (``base``: the SMS failed)."""
    sms = check_sms_input(hass, values, errors)
    password = str(sms.get(CONF_SMS_PASSWORD, DEFAULT_PASSWORD))
    texts: list[str] = []
    try:
        texts.append(
            server_text(str(values.get(CONF_SMS_HOST, "")), int(values[CONF_PORT]), password)
        )
    except SmsTextError:
        errors[CONF_SMS_HOST] = "invalid_server"
    if apn := str(values.get(CONF_SMS_APN) or "").strip():
        try:
            texts.append(apn_text(apn, password))
        except SmsTextError:
            errors[CONF_SMS_APN] = "invalid_apn"
    if errors:
        return {}
    settings = SmsSettings(sms[CONF_SMS_NUMBER], password, sms[CONF_SMS_NOTIFY])
    try:
        await async_exchange(hass, ident, settings, [*texts, gprs_text(password)], wait=0)
    except HomeAssistantError as err:
        LOGGER.warning("Tracker %s: the set-up SMS failed: %s", ident, err)
        errors["base"] = "sms_failed"
        return {}
    return sms
