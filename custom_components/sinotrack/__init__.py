"""Sinotrack for Home Assistant: Home Assistant itself is the server for ST-90x trackers.

The set-up lives in ``entry.py``. Outside Home Assistant, the sans-I/O codec in
``protocol/`` (and its command line, ``python -m custom_components.sinotrack.protocol``)
and the listener stay importable: this package only loads the Home Assistant parts when
Home Assistant is installed.
"""

from __future__ import annotations

try:
    import homeassistant.core  # noqa: F401
except ModuleNotFoundError:  # pragma: no cover - the codec used on its own
    pass
else:
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
