"""A tracker's cell position in Home Assistant: look the serving cell up off the loop.

When the model wants the position of the tracker's cell (the option is on and there is no
valid fix newer than the last cell change), the Location services resolve it (the offline
databases in a worker thread, then the online service) in a background task of the
tracker's entry, one lookup per cell at a time; the answer goes back to the model, which
takes it only if it still wants it (a newer fix meanwhile wins).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final
import weakref

from homeassistant.core import callback

from .const import DOMAIN, LOGGER
from .location_entry import LocationServices, get_location_services
from .model import Cell

if TYPE_CHECKING:
    from .runtime import SinotrackRuntime

_PENDING: Final[weakref.WeakKeyDictionary[SinotrackRuntime, set[Cell]]] = (
    weakref.WeakKeyDictionary()
)
"""The cells each tracker is looking up now."""


@callback
def async_follow_cell(runtime: SinotrackRuntime) -> None:
    """Start looking up the cell the model wants, if it wants one and none is under way."""
    cell = runtime.tracker.wanted_cell()
    if cell is None:
        return
    services = get_location_services(runtime.hass)
    if services is None:
        return
    pending = _PENDING.setdefault(runtime, set())
    if cell in pending:
        return
    pending.add(cell)
    runtime.entry.async_create_background_task(
        runtime.hass, _async_lookup(runtime, services, cell), f"{DOMAIN} {runtime.ident} cell"
    )


async def _async_lookup(runtime: SinotrackRuntime, services: LocationServices, cell: Cell) -> None:
    """Resolve ``cell`` and hand its position to the runtime."""
    try:
        position = await services.async_resolve(cell)
    except Exception:  # noqa: BLE001 - a lookup's failure leaves the position as it is
        LOGGER.debug("%s: looking up cell %s failed", runtime.ident, cell, exc_info=True)
        position = None
    finally:
        _PENDING.get(runtime, set()).discard(cell)
    if position is None:
        LOGGER.debug("%s: cell %s is unknown", runtime.ident, cell)
        return
    runtime.apply_cell_position(cell, position.latitude, position.longitude, position.accuracy_m)
