"""The values every location service shares: a cell, a position from a cell, a lookup's answer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
import math
from typing import Literal

from custom_components.sinotrack.protocol import message as p

type PositionSource = Literal["opencellid", "geolocate"]

RADIOS: frozenset[str] = frozenset({"GSM", "UMTS", "LTE", "NR", "CDMA"})
"""Radio types of the OpenCelliD export (``radio`` column)."""

GEOLOCATE_RADIO: dict[str, str] = {
    "GSM": "gsm",
    "UMTS": "wcdma",
    "LTE": "lte",
    "NR": "nr",
    "CDMA": "cdma",
}
"""OpenCelliD radio names to the geolocate API's ``radioType``."""


@dataclass(frozen=True, slots=True)
class CellKey:
    """A serving cell as a tracker reports it: MCC, MNC, LAC (or TAC) and cell ID.

    ``radio`` (an OpenCelliD name: GSM, UMTS, LTE, NR, CDMA) is optional: trackers seldom
    say it, and a cell is identified without it.
    """

    mcc: int
    mnc: int
    lac: int
    cell: int
    radio: str | None = None

    @property
    def ident(self) -> tuple[int, int, int, int]:
        """(mcc, mnc, lac, cell): what identifies the cell (the radio is left out)."""
        return (self.mcc, self.mnc, self.lac, self.cell)

    @property
    def plausible(self) -> bool:
        """True when every number is in its range (MCC 1-999, MNC and SID, LAC, cell ID)."""
        return (
            0 < self.mcc <= 999
            and 0 <= self.mnc <= 32767
            and 0 <= self.lac <= 0xFFFFFF
            and 0 <= self.cell <= 0xFFFFFFFFF
        )


def cell_from_message(message: Mapping[str, object]) -> CellKey | None:
    """The serving cell a decoded message reports, None when it has none (or a bad one)."""
    values = [message.get(key) for key in (p.GSM_MCC, p.GSM_MNC, p.GSM_LAC, p.GSM_CELLID)]
    numbers: list[int] = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        if not math.isfinite(value) or value != int(value):
            return None
        numbers.append(int(value))
    mcc, mnc, lac, cell_id = numbers
    cell = CellKey(mcc, mnc, lac, cell_id)
    return cell if cell.plausible else None


@dataclass(frozen=True, slots=True)
class CellPosition:
    """Where a cell is: its estimated position and its range in metres (the accuracy)."""

    latitude: float
    longitude: float
    accuracy_m: float
    source: PositionSource


class LookupStatus(StrEnum):
    """How an online lookup ended."""

    FOUND = "found"
    """The service answered with a result."""
    NOT_FOUND = "not_found"
    """The service answered that it knows nothing here (cached, for a shorter time)."""
    NOT_NOW = "not_now"
    """Not asked: over the rate limit, backing off after failures, or the lookup failed."""


@dataclass(frozen=True, slots=True)
class Lookup[T]:
    """An online lookup's answer: its status, its value when found, and whether it was cached."""

    status: LookupStatus
    value: T | None = None
    cached: bool = False

    @property
    def found(self) -> bool:
        """True when a value was found."""
        return self.status is LookupStatus.FOUND
