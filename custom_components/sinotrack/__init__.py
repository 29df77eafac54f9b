"""Sinotrack for Home Assistant: Home Assistant itself is the server for ST-90x trackers.

The set-up lives in ``entry.py``. This module imports nothing at load time: Home Assistant
reads the set-up functions as attributes of the package (``async_setup_entry``...), and
they are taken from ``entry`` when first read. So importing the codec (``protocol``, and
its command line ``python -m custom_components.sinotrack.protocol``), the listener or the
tracker model loads no Home Assistant module, whether Home Assistant is installed or not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .entry import (
        CONFIG_SCHEMA,
        PLATFORMS,
        async_migrate_entry,
        async_remove_entry,
        async_setup,
        async_setup_entry,
        async_unload_entry,
        get_pool,
    )

__all__ = [
    "CONFIG_SCHEMA",
    "PLATFORMS",
    "async_migrate_entry",
    "async_remove_entry",
    "async_setup",
    "async_setup_entry",
    "async_unload_entry",
    "get_pool",
]


def __getattr__(name: str) -> Any:
    """The set-up attributes Home Assistant reads, from ``entry`` (imported at first use)."""
    if name in __all__:
        from . import entry  # Home Assistant is imported only once it asks

        return getattr(entry, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
