"""What may enter a tracker's state: values the store writes and reads back as they were."""

from __future__ import annotations

from collections.abc import Mapping
import math
from typing import Any, Final, cast

from custom_components.sinotrack.protocol import Message, message as p

MAX_SAFE_INT: Final = 2**53 - 1
"""The largest integer every JSON reader keeps exactly (and far inside the 64-bit range
Home Assistant's JSON writer accepts). A tracker value beyond it is garbage."""

MAX_TIMESTAMP: Final = 253402300799.0
"""23:59:59 UTC on 31 December 9999, the last second a ``datetime`` can hold."""


def storable(value: Any) -> bool:
    """True for a scalar value Home Assistant's JSON writer stores and reads back as it was.

    Strings, booleans, ``None``, integers within ``MAX_SAFE_INT`` and finite floats.
    Anything else (huge integers, NaN and infinities, containers, other types) is not.
    """
    if value is None or isinstance(value, (str, bool)):
        return True
    if isinstance(value, int):
        return -MAX_SAFE_INT <= value <= MAX_SAFE_INT
    if isinstance(value, float):
        return math.isfinite(value)
    return False


def storable_items(values: Mapping[Any, Any]) -> dict[str, Any]:
    """The items of ``values`` that can be stored: string keys and :func:`storable` values."""
    return {key: value for key, value in values.items() if isinstance(key, str) and storable(value)}


def storable_timestamp(value: Any) -> bool:
    """True for an epoch time a ``datetime`` can represent (from 1970 to the year 9999)."""
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and storable(value)
        and 0 <= value <= MAX_TIMESTAMP
    )


def storable_message(message: Message) -> tuple[Message, list[str]]:
    """The message without what the store could not keep, and the names of what was dropped.

    A timestamp outside what a ``datetime`` holds is dropped too: the message then counts
    as undated (it applies at the server's time).
    """
    kept = cast("Message", storable_items(message))
    timestamp = kept.get(p.TIMESTAMP)
    if timestamp is not None and not storable_timestamp(timestamp):
        del kept[p.TIMESTAMP]
    if len(kept) == len(message):
        return kept, []
    dropped = sorted(str(key) for key in message if key not in kept)
    return kept, dropped
