"""Config flow: add a tracker, adopt a discovered one, reconfigure, options."""

from __future__ import annotations

import asyncio
import errno
import ipaddress
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import (
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.const import CONF_NAME, CONF_PORT
from homeassistant.core import HomeAssistant, callback
from homeassistant.data_entry_flow import section
from homeassistant.helpers import selector
from homeassistant.helpers.typing import DiscoveryInfoType

if TYPE_CHECKING:  # Home Assistant 2026.9+ validates with probatio, aliased as voluptuous
    import probatio as vol
else:
    import voluptuous as vol

from .const import (
    CONF_ADVANCED,
    CONF_ALLOW_ENGINE_COMMANDS,
    CONF_ALLOW_INVALID_FIX,
    CONF_ALLOWED_NETWORKS,
    CONF_BIND_ADDRESS,
    CONF_JT808_UTC_OFFSET,
    CONF_OFFLINE_TIMEOUT,
    CONF_TRACKER_ID,
    DEFAULT_BIND_ADDRESS,
    DEFAULT_JT808_UTC_OFFSET,
    DEFAULT_OFFLINE_TIMEOUT,
    DEFAULT_PORT,
    DOMAIN,
    MAX_DISCOVERY_FLOWS,
)
from .entry import (
    DISCOVERED_ID_PATTERN,
    TRACKER_ID_PATTERN,
    discovery_flows_in_progress,
    get_pool,
)
from .listener import Listener
from .protocol import normalize_ident
from .runtime import SinotrackConfigEntry, SinotrackRuntime, parse_networks

DEFAULT_NAME = "Sinotrack"

PORT_SELECTOR = selector.NumberSelector(
    selector.NumberSelectorConfig(min=1, max=65535, step=1, mode=selector.NumberSelectorMode.BOX)
)


def normalize_tracker_id(text: str) -> str | None:
    """The tracker ID in the form the listener compares IDs, or None if it is not one.

    Accepted: the 10-digit ID printed on the label, the 15-digit IMEI, and JT/T 808
    terminal numbers (11 to 20 digits, leading zeros allowed). Spaces and dashes are
    ignored.
    """
    digits = "".join(text.split()).replace("-", "")
    if TRACKER_ID_PATTERN.fullmatch(digits) is None:
        return None
    return normalize_ident(digits)


def _valid_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


async def _port_error(
    hass: HomeAssistant, host: str, port: int, released: Listener | None = None
) -> str | None:
    """Why ``host:port`` cannot serve trackers, or None when it can.

    ``released`` is a listener that closes before ``host:port`` is opened (that of the
    entry being reconfigured, when no other entry shares it): the port it holds is free.
    """
    if get_pool(hass).get(host, port) is not None:
        return None  # this integration listens there already; trackers share the port
    try:
        server = await asyncio.get_running_loop().create_server(
            asyncio.Protocol, host, port, reuse_address=True
        )
    except OSError as err:
        if released is not None and released.port == port and err.errno == errno.EADDRINUSE:
            return None
        return "cannot_bind"
    server.close()
    await server.wait_closed()
    return None


async def _source_ip(hass: HomeAssistant) -> str:
    try:
        from homeassistant.components.network import async_get_source_ip

        return await async_get_source_ip(hass)
    except Exception:  # noqa: BLE001 - only a hint shown to the user
        return "<Home Assistant's IP address>"


class SinotrackConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add a Sinotrack tracker."""

    VERSION = 1
    MINOR_VERSION = 1

    def __init__(self) -> None:
        self._discovered: dict[str, Any] = {}

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: SinotrackConfigEntry) -> SinotrackOptionsFlow:
        return SinotrackOptionsFlow()

    async def _validate(
        self,
        user_input: dict[str, Any],
        errors: dict[str, str],
        entry: SinotrackConfigEntry | None = None,
    ) -> tuple[int, str]:
        """The port and bind address entered; ``entry`` is the entry being reconfigured.

        The port range is the selector's to enforce. An entry's unchanged address and port
        are not checked: its own listener holds them, or, when it could not get them, the
        user may still rename it (set-up retries and raises a repair issue).
        """
        advanced = user_input.get(CONF_ADVANCED) or {}
        host = str(advanced.get(CONF_BIND_ADDRESS, DEFAULT_BIND_ADDRESS)).strip()
        port = int(user_input[CONF_PORT])
        unchanged = entry is not None and (host, port) == (
            entry.data[CONF_BIND_ADDRESS],
            entry.data[CONF_PORT],
        )
        if not _valid_address(host):
            errors[CONF_ADVANCED] = "invalid_address"
        elif not unchanged and (
            error := await _port_error(self.hass, host, port, self._sole_listener(entry))
        ):
            errors[CONF_PORT] = error
        return port, host

    def _sole_listener(self, entry: SinotrackConfigEntry | None) -> Listener | None:
        """The entry's listener if no other entry uses it (it closes when the entry reloads)."""
        runtime: SinotrackRuntime | None = getattr(entry, "runtime_data", None)
        listener = runtime.listener if runtime is not None else None
        if listener is None or get_pool(self.hass).users(listener) != 1:
            return None
        return listener

    async def _finish(self, name: str, tracker_id: str, port: int, host: str) -> ConfigFlowResult:
        return self.async_create_entry(
            title=name,
            data={CONF_TRACKER_ID: tracker_id, CONF_PORT: port, CONF_BIND_ADDRESS: host},
            options={
                CONF_OFFLINE_TIMEOUT: DEFAULT_OFFLINE_TIMEOUT,
                CONF_JT808_UTC_OFFSET: DEFAULT_JT808_UTC_OFFSET,
                CONF_ALLOW_INVALID_FIX: False,
                CONF_ALLOW_ENGINE_COMMANDS: False,
                CONF_ALLOWED_NETWORKS: [],
            },
            description_placeholders={
                "host": await _source_ip(self.hass),
                "port": str(port),
                "tracker_id": tracker_id,
            },
        )

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        errors: dict[str, str] = {}
        if user_input is not None:
            tracker_id = normalize_tracker_id(str(user_input[CONF_TRACKER_ID]))
            if tracker_id is None:
                errors[CONF_TRACKER_ID] = "invalid_id"
            else:
                # A discovery of the same tracker waiting for confirmation does not block
                # adding it by hand (Home Assistant aborts that flow when this one ends).
                await self.async_set_unique_id(tracker_id, raise_on_progress=False)
                self._abort_if_unique_id_configured()
                port, host = await self._validate(user_input, errors)
                if not errors:
                    return await self._finish(user_input[CONF_NAME], tracker_id, port, host)
        schema = vol.Schema(
            {
                vol.Required(CONF_NAME, default=DEFAULT_NAME): str,
                vol.Required(CONF_TRACKER_ID): str,
                vol.Required(CONF_PORT, default=DEFAULT_PORT): PORT_SELECTOR,
                vol.Required(CONF_ADVANCED): section(
                    vol.Schema(
                        {vol.Required(CONF_BIND_ADDRESS, default=DEFAULT_BIND_ADDRESS): str}
                    ),
                    {"collapsed": True},
                ),
            }
        )
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(schema, user_input),
            errors=errors,
        )

    async def async_step_integration_discovery(
        self, discovery_info: DiscoveryInfoType
    ) -> ConfigFlowResult:
        """A tracker no entry owns connected to a running listener.

        Offered only for an ID the user form accepts, as sent (ASCII digits only), and while
        fewer than ``MAX_DISCOVERY_FLOWS`` others wait (checked before anything awaits, so
        flows started together cannot all pass).
        """
        if discovery_flows_in_progress(self.hass, but=self.flow_id) >= MAX_DISCOVERY_FLOWS:
            return self.async_abort(reason="too_many_discoveries")
        sent = str(discovery_info[CONF_TRACKER_ID])
        if DISCOVERED_ID_PATTERN.fullmatch(sent) is None:
            return self.async_abort(reason="invalid_discovered_id")
        tracker_id = normalize_ident(sent)
        await self.async_set_unique_id(tracker_id)
        self._abort_if_unique_id_configured()
        self._discovered = {
            CONF_TRACKER_ID: tracker_id,
            CONF_PORT: int(discovery_info[CONF_PORT]),
            CONF_BIND_ADDRESS: str(discovery_info.get(CONF_BIND_ADDRESS, DEFAULT_BIND_ADDRESS)),
            "protocol": str(discovery_info.get("protocol", "")),
        }
        self.context["title_placeholders"] = {"tracker_id": tracker_id}
        return await self.async_step_discovery_confirm()

    async def async_step_discovery_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        info = self._discovered
        if user_input is not None:
            return await self._finish(
                user_input[CONF_NAME],
                info[CONF_TRACKER_ID],
                info[CONF_PORT],
                info[CONF_BIND_ADDRESS],
            )
        return self.async_show_form(
            step_id="discovery_confirm",
            data_schema=vol.Schema({vol.Required(CONF_NAME, default=DEFAULT_NAME): str}),
            description_placeholders={
                "tracker_id": info[CONF_TRACKER_ID],
                "port": str(info[CONF_PORT]),
                "protocol": info["protocol"].upper() or "?",
            },
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the port, bind address or name."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            port, host = await self._validate(user_input, errors, entry)
            if not errors:
                return self.async_update_reload_and_abort(
                    entry,
                    title=user_input[CONF_NAME],
                    data_updates={CONF_PORT: port, CONF_BIND_ADDRESS: host},
                )
        schema = vol.Schema(
            {
                vol.Required(CONF_NAME, default=entry.title): str,
                vol.Required(CONF_PORT, default=entry.data[CONF_PORT]): PORT_SELECTOR,
                vol.Required(CONF_ADVANCED): section(
                    vol.Schema(
                        {
                            vol.Required(
                                CONF_BIND_ADDRESS, default=entry.data[CONF_BIND_ADDRESS]
                            ): str
                        }
                    ),
                    {"collapsed": True},
                ),
            }
        )
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(schema, user_input),
            errors=errors,
            description_placeholders={"tracker_id": entry.data[CONF_TRACKER_ID]},
        )


OPTIONS_SCHEMA = vol.Schema(
    {
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
        vol.Required(
            CONF_JT808_UTC_OFFSET, default=DEFAULT_JT808_UTC_OFFSET
        ): selector.NumberSelector(
            selector.NumberSelectorConfig(
                min=-12,
                max=14,
                step=0.25,
                unit_of_measurement="h",
                mode=selector.NumberSelectorMode.BOX,
            )
        ),
        vol.Required(CONF_ALLOW_INVALID_FIX, default=False): bool,
        vol.Required(CONF_ALLOW_ENGINE_COMMANDS, default=False): bool,
        vol.Optional(CONF_ALLOWED_NETWORKS, default=list): selector.TextSelector(
            selector.TextSelectorConfig(multiple=True)
        ),
    }
)


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
        errors: dict[str, str] = {}
        if user_input is not None:
            networks = _networks(user_input.get(CONF_ALLOWED_NETWORKS))
            if networks is None:
                errors[CONF_ALLOWED_NETWORKS] = "invalid_network"
            else:
                options = {**user_input, CONF_ALLOWED_NETWORKS: networks}
                entry: SinotrackConfigEntry = self.config_entry
                runtime = getattr(entry, "runtime_data", None)
                if runtime is not None:
                    runtime.update_options(options)
                return self.async_create_entry(data=options)
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(
                OPTIONS_SCHEMA, user_input if user_input is not None else self.config_entry.options
            ),
            errors=errors,
        )
