"""The parked-car guard as an alarm panel: ``alarm_control_panel.<device>_guard``.

Arming and disarming change Home Assistant's guard only; what reaches the device does so
through options an administrator set (see ``guard_runtime``). With a code set in the
options, arming and disarming need it.
"""

from __future__ import annotations

from homeassistant.components.alarm_control_panel import (
    AlarmControlPanelEntity,
    AlarmControlPanelEntityFeature,
    AlarmControlPanelState,
    CodeFormat,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import CONF_GUARD_CODE_FORMAT, CONF_GUARD_CODE_HASH, DOMAIN
from .entity import SinotrackEntity
from .guard_runtime import KEY_GUARD, check_code
from .runtime import SinotrackConfigEntry, SinotrackRuntime

PARALLEL_UPDATES = 0

GUARD = EntityDescription(key="guard", translation_key="guard")


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SinotrackConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the guard."""
    async_add_entities([SinotrackGuard(entry.runtime_data, entry.title)])


class SinotrackGuard(SinotrackEntity, AlarmControlPanelEntity):
    """Disarmed, arming, armed away, pending or triggered (until disarmed)."""

    _attr_supported_features = AlarmControlPanelEntityFeature.ARM_AWAY

    def __init__(self, runtime: SinotrackRuntime, name: str) -> None:
        super().__init__(runtime, GUARD, name, (KEY_GUARD,))

    @property
    def alarm_state(self) -> AlarmControlPanelState:
        """The guard's state."""
        return AlarmControlPanelState(self.runtime.guard.guard.state)

    @property
    def code_format(self) -> CodeFormat | None:
        """Number or text when a code is set in the options; None without one."""
        if not self.runtime.options.get(CONF_GUARD_CODE_HASH):
            return None
        if self.runtime.options.get(CONF_GUARD_CODE_FORMAT) == CodeFormat.NUMBER.value:
            return CodeFormat.NUMBER
        return CodeFormat.TEXT

    @property
    def code_arm_required(self) -> bool:
        """Arming needs the code when one is set."""
        return bool(self.runtime.options.get(CONF_GUARD_CODE_HASH))

    def _check(self, code: str | None) -> None:
        """Refuse a wrong or missing code (when one is set)."""
        stored = self.runtime.options.get(CONF_GUARD_CODE_HASH)
        if stored and not check_code(str(stored), code):
            raise ServiceValidationError(translation_domain=DOMAIN, translation_key="invalid_code")

    async def async_alarm_arm_away(self, code: str | None = None) -> None:
        """Arm (after the exit delay, if one is set)."""
        self._check(code)
        self.runtime.guard.arm()

    async def async_alarm_disarm(self, code: str | None = None) -> None:
        """Disarm; a triggering is over."""
        self._check(code)
        self.runtime.guard.disarm()
