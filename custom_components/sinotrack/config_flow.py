"""Config flow: add a tracker, wait for it, adopt a discovered one, reconfigure.

The options flow is in ``options_flow``.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import (
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
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
    CONF_SMS_PASSWORD,
    CONF_TRACKER_ID,
    DEFAULT_BIND_ADDRESS,
    DEFAULT_JT808_UTC_OFFSET,
    DEFAULT_OFFLINE_TIMEOUT,
    DEFAULT_PORT,
    DOMAIN,
    MAX_DISCOVERY_FLOWS,
)
from .entry import (
    CONFIG_MINOR_VERSION,
    CONFIG_VERSION,
    DISCOVERED_ID_PATTERN,
    TRACKER_ID_PATTERN,
    async_rebind_port,
    bind_address_of_port,
    discovery_flows_in_progress,
    entries_on_port,
    get_pool,
)
from .listener import Listener, ListenerBindError
from .location_entry import is_location_entry
from .location_flow import LocationFlowMixin, LocationOptionsFlow, location_options_flow
from .options_flow import SinotrackOptionsFlow
from .protocol import normalize_ident
from .runtime import SinotrackConfigEntry
from .sms import async_flow_setup, notify_actions, setup_form_fields
from .tracker_wait import TrackerWait

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
    port whose bind address changes): the port it holds is free.
    """
    if released is None and get_pool(hass).get(port) is not None:
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


@callback
def _ports_in_use(hass: HomeAssistant) -> str:
    """The ports trackers use and the bind address of each (``5013 on ::``), or ``-``."""
    ports = sorted(
        {
            int(entry.data[CONF_PORT])
            for entry in hass.config_entries.async_entries(DOMAIN)
            if CONF_PORT in entry.data
        }
    )
    shown = [f"{port} on {bind_address_of_port(hass, port)}" for port in ports]
    return ", ".join(shown) if shown else "-"


class SinotrackConfigFlow(LocationFlowMixin, ConfigFlow, domain=DOMAIN):
    """Add a Sinotrack tracker (or the Location services, from the user step's menu)."""

    VERSION = CONFIG_VERSION
    MINOR_VERSION = CONFIG_MINOR_VERSION

    def __init__(self) -> None:
        self._discovered: dict[str, Any] = {}
        self._pending: dict[str, Any] = {}
        """The tracker being added: name, ID, port, bind address (user step)."""
        self._instructions: dict[str, str] = {}
        self._wait: TrackerWait | None = None
        self._rebind: dict[str, Any] = {}
        """Reconfigure: the name, port and new bind address waiting for confirmation."""
        self._tracker_chosen = False
        """The user step's menu was answered (or not shown): the user step is the form."""
        self._sms_options: dict[str, Any] = {}
        self._sms_password: str | None = None
        """The SMS password entered in an earlier attempt (never shown back, kept)."""
        """The SMS settings entered to set the tracker up by SMS (the new entry's options)."""

    @staticmethod
    @callback
    def async_get_options_flow(
        config_entry: SinotrackConfigEntry,
    ) -> SinotrackOptionsFlow | LocationOptionsFlow:
        """The options flow of an entry."""
        return location_options_flow(config_entry) or SinotrackOptionsFlow()

    @callback
    def async_remove(self) -> None:
        """The flow ended (entry created, aborted or closed): give the waited port back."""
        if self._wait is not None:
            wait, self._wait = self._wait, None
            self.hass.async_create_task(wait.close(), eager_start=False)

    async def _validate(
        self,
        user_input: dict[str, Any],
        errors: dict[str, str],
        entry: SinotrackConfigEntry | None = None,
    ) -> tuple[int, str]:
        """The port and bind address entered; ``entry`` is the entry being reconfigured.

        A port other trackers use keeps its bind address: the one typed is ignored (the form
        says so) and the tracker joins the port. The port range is the selector's to
        enforce. An entry's unchanged address and port are not checked: its own listener
        holds them, or, when it could not get them, the user may still rename it (set-up
        retries and raises a repair issue).
        """
        advanced = user_input.get(CONF_ADVANCED) or {}
        typed = str(advanced.get(CONF_BIND_ADDRESS, DEFAULT_BIND_ADDRESS)).strip()
        port = int(user_input[CONF_PORT])
        own_port = entry is not None and port == entry.data[CONF_PORT]
        shared = None if own_port else bind_address_of_port(self.hass, port)
        host = shared if shared is not None else typed
        unchanged = own_port and entry is not None and host == entry.data[CONF_BIND_ADDRESS]
        if shared is None and not _valid_address(host):
            errors[CONF_ADVANCED] = "invalid_address"
        elif not unchanged:
            released = get_pool(self.hass).get(port) if own_port else None
            if error := await _port_error(self.hass, host, port, released):
                errors[CONF_PORT] = error
        return port, host

    def _entry_options(self) -> dict[str, Any]:
        return {
            CONF_OFFLINE_TIMEOUT: DEFAULT_OFFLINE_TIMEOUT,
            CONF_JT808_UTC_OFFSET: DEFAULT_JT808_UTC_OFFSET,
            CONF_ALLOW_INVALID_FIX: False,
            CONF_ALLOW_ENGINE_COMMANDS: False,
            CONF_ALLOWED_NETWORKS: [],
            **self._sms_options,
        }

    async def _placeholders(self, tracker_id: str, port: int) -> dict[str, str]:
        """The set-up instructions' placeholders."""
        return {
            "host": await _source_ip(self.hass),
            "port": str(port),
            "tracker_id": tracker_id,
        }

    async def _finish(
        self,
        name: str,
        tracker_id: str,
        port: int,
        host: str,
        *,
        connected: bool = False,
    ) -> ConfigFlowResult:
        return self.async_create_entry(
            title=name,
            data={CONF_TRACKER_ID: tracker_id, CONF_PORT: port, CONF_BIND_ADDRESS: host},
            options=self._entry_options(),
            description="connected" if connected else None,
            description_placeholders=await self._placeholders(tracker_id, port),
        )

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Name, ID, port (and bind address): every field checked at each submit.

        While there is no Location services entry, a menu first offers a tracker or it.
        """
        if user_input is None and not self._tracker_chosen and self.location_offered():
            return await self.async_step_add()
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
            if not errors and tracker_id is not None:
                self._pending = {
                    CONF_NAME: user_input[CONF_NAME],
                    CONF_TRACKER_ID: tracker_id,
                    CONF_PORT: port,
                    CONF_BIND_ADDRESS: host,
                }
                self._instructions = await self._placeholders(tracker_id, port)
                return await self.async_step_connect()
        default_host = bind_address_of_port(self.hass, DEFAULT_PORT) or DEFAULT_BIND_ADDRESS
        schema = vol.Schema(
            {
                vol.Required(CONF_NAME, default=DEFAULT_NAME): str,
                vol.Required(CONF_TRACKER_ID): str,
                vol.Required(CONF_PORT, default=DEFAULT_PORT): PORT_SELECTOR,
                vol.Required(CONF_ADVANCED): section(
                    vol.Schema({vol.Required(CONF_BIND_ADDRESS, default=default_host): str}),
                    {"collapsed": True},
                ),
            }
        )
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(schema, user_input),
            errors=errors,
            description_placeholders={"ports_in_use": _ports_in_use(self.hass)},
        )

    async def async_step_tracker(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The menu's "Add a tracker": the user form."""
        self._tracker_chosen = True
        return await self.async_step_user()

    async def async_step_connect(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """How to point the tracker at Home Assistant; wait for it, or finish now."""
        return self.async_show_menu(
            step_id="connect",
            menu_options=self._menu(),
            description_placeholders=self._instructions,
        )

    def _menu(self) -> list[str]:
        """Wait or finish; and set the tracker up by SMS when Home Assistant can send one."""
        return ["wait", "sms_setup", "finish"] if notify_actions(self.hass) else ["wait", "finish"]

    async def async_step_sms_setup(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Send the tracker its server, APN and GPRS commands by SMS, then wait for it."""
        errors: dict[str, str] = {}
        if user_input is not None:
            entered = str(user_input.get(CONF_SMS_PASSWORD) or "")
            if entered:
                self._sms_password = entered
            elif self._sms_password is not None:  # not shown back: the one entered before
                user_input = {**user_input, CONF_SMS_PASSWORD: self._sms_password}
            ident = self._pending[CONF_TRACKER_ID]
            sms = await async_flow_setup(self.hass, ident, user_input, errors)
            if not errors:
                self._sms_options = sms
                return await self.async_step_wait()
        shown = {k: v for k, v in (user_input or {}).items() if k != CONF_SMS_PASSWORD}
        schema = vol.Schema(setup_form_fields(self.hass, self._pending[CONF_PORT]))
        return self.async_show_form(
            step_id="sms_setup",
            data_schema=self.add_suggested_values_to_schema(schema, shown),
            errors=errors,
            description_placeholders=self._instructions,
        )

    async def async_step_wait(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Wait for the tracker's first frame, showing what arrives on the port."""
        wait = self._wait
        if wait is None:
            pending = self._pending
            wait = TrackerWait(
                self.hass, pending[CONF_TRACKER_ID], pending[CONF_PORT], pending[CONF_BIND_ADDRESS]
            )
            try:
                await wait.start()
            except ListenerBindError:
                await wait.close()
                return await self.async_step_not_connected()
            self._wait = wait
        if wait.arrived:
            return self.async_show_progress_done(next_step_id="finish")
        if wait.timed_out:
            # The port is given back while the user decides (the next wait opens it again).
            self._wait = None
            await wait.close()
            return self.async_show_progress_done(next_step_id="not_connected")
        return self.async_show_progress(
            step_id="wait",
            progress_action="wait_other_ids" if wait.others else "wait",
            description_placeholders=wait.placeholders(),
            progress_task=wait.task(),
        )

    async def async_step_not_connected(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The tracker has not connected (yet): wait again, or finish now."""
        return self.async_show_menu(
            step_id="not_connected",
            menu_options=self._menu(),
            description_placeholders=self._instructions,
        )

    async def async_step_finish(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Create the entry (the tracker appears when it connects, if it has not yet)."""
        pending = self._pending
        return await self._finish(
            pending[CONF_NAME],
            pending[CONF_TRACKER_ID],
            pending[CONF_PORT],
            pending[CONF_BIND_ADDRESS],
            connected=self._wait is not None and self._wait.arrived,
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
        """Name a discovered tracker and add it."""
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
        """Change the port, bind address or name.

        A new bind address on the entry's port moves the port's listener, so it changes for
        every tracker on the port: when there are others, a second step names them and asks
        to confirm. A new port joins the trackers already on it (with its bind address).
        """
        entry = self._get_reconfigure_entry()
        if is_location_entry(entry):
            return self.async_abort(reason="location_use_options")
        errors: dict[str, str] = {}
        if user_input is not None:
            port, host = await self._validate(user_input, errors, entry)
            if not errors:
                name = user_input[CONF_NAME]
                if port == entry.data[CONF_PORT] and host != entry.data[CONF_BIND_ADDRESS]:
                    self._rebind = {CONF_NAME: name, CONF_PORT: port, CONF_BIND_ADDRESS: host}
                    if self._others_on_port(entry, port):
                        return await self.async_step_reconfigure_shared()
                    return await self._rebind_and_abort(entry)
                return self._update_and_abort(
                    entry, title=name, data_updates={CONF_PORT: port, CONF_BIND_ADDRESS: host}
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
            description_placeholders={
                "tracker_id": entry.data[CONF_TRACKER_ID],
                "ports_in_use": _ports_in_use(self.hass),
            },
        )

    def _update_and_abort(
        self, entry: SinotrackConfigEntry, *, title: str, data_updates: dict[str, Any]
    ) -> ConfigFlowResult:
        """Store the new name, port and bind address.

        A loaded entry's update listener applies them (a new port reloads it; a new name
        renames the device). An entry that is not loaded (waiting for its port, say) has no
        update listener: it is set up again here, with what was stored.
        """
        loaded = entry.state is ConfigEntryState.LOADED
        result = self.async_update_and_abort(entry, title=title, data_updates=data_updates)
        if not loaded:
            self.hass.config_entries.async_schedule_reload(entry.entry_id)
        return result

    def _others_on_port(self, entry: SinotrackConfigEntry, port: int) -> list[str]:
        """The titles of the other entries on ``port``."""
        return sorted(
            e.title for e in entries_on_port(self.hass, port) if e.entry_id != entry.entry_id
        )

    async def async_step_reconfigure_shared(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Confirm a new bind address for a port other trackers share: it moves them too."""
        entry = self._get_reconfigure_entry()
        if user_input is not None:
            return await self._rebind_and_abort(entry)
        rebind = self._rebind
        return self.async_show_form(
            step_id="reconfigure_shared",
            data_schema=vol.Schema({}),
            description_placeholders={
                "port": str(rebind[CONF_PORT]),
                "old_host": str(entry.data[CONF_BIND_ADDRESS]),
                "host": rebind[CONF_BIND_ADDRESS],
                "trackers": ", ".join(self._others_on_port(entry, rebind[CONF_PORT])),
            },
        )

    async def _rebind_and_abort(self, entry: SinotrackConfigEntry) -> ConfigFlowResult:
        """Rename the entry and move its port (every entry on it) to the new bind address."""
        rebind = self._rebind
        self.hass.config_entries.async_update_entry(entry, title=rebind[CONF_NAME])
        await async_rebind_port(self.hass, rebind[CONF_PORT], rebind[CONF_BIND_ADDRESS])
        return self.async_abort(reason="reconfigure_successful")
