"""Plausible ranges of decoded values, checked once per message for every decoder.

A value outside its range is not a measurement but a firmware fault, a corrupt frame or
an attacker's: it is dropped from the message (the parameter is absent, as if the frame
did not carry it), counted, and described in the frame's warning. The rest of the message
is kept. Coordinates are not in the table: a position without a valid latitude or
longitude means nothing, so the decoders reject such a frame whole.

Numbers are parsed from text with a length limit (:func:`bounded_int`), so a frame with a
300-digit field never becomes a huge integer: the field reads as infinite and is dropped
by the range check like any other out-of-range value.

The decoders check only the values their wire format lets go out of range, where they set
them (inline against bounds taken from the table on the hot paths, with :func:`enforce` or
:func:`put` elsewhere), and note what they drop under a private key that the connection
removes and counts (:func:`finish_message`). Nothing is copied, and a message of values
that cannot be out of range costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Final

from .message import (
    ALTITUDE,
    BATTERY_LEVEL,
    BATTERY_VOLTAGE,
    DIRECTION,
    DROPPED as DROPPED,  # noqa: PLC0414 - re-exported
    GSM_CELLID,
    GSM_LAC,
    GSM_MCC,
    GSM_MNC,
    GSM_SIGNAL,
    HDOP,
    MILEAGE,
    POWER_VOLTAGE,
    SATELLITES,
    SPEED,
    TIMESTAMP,
    Measure,
    Message,
)


@dataclass(frozen=True, slots=True)
class Range:
    """Inclusive bounds of one parameter and why they are what they are."""

    low: float
    high: float
    reason: str


RANGES: Final[dict[Measure, Range]] = {
    SPEED: Range(0, 400, "km/h; no road vehicle a tracker is fitted to goes faster"),
    DIRECTION: Range(0, 360, "degrees from north"),
    ALTITUDE: Range(-500, 10_000, "m; the Dead Sea shore is -430 m, roads end near 5,800 m"),
    SATELLITES: Range(0, 99, "receivers track a few dozen; H02 carries two digits"),
    HDOP: Range(0, 99.9, "dilution of precision; 99.9 is the receivers' 'no fix'"),
    GSM_SIGNAL: Range(0, 100, "a percentage, or CSQ 0-31 with 99 for unknown"),
    GSM_MCC: Range(0, 999, "mobile country codes have three digits"),
    GSM_MNC: Range(0, 999, "mobile network codes have two or three digits"),
    GSM_LAC: Range(0, 0xFFFFFF, "16-bit LAC/TAC, 24-bit 5G TAC"),
    GSM_CELLID: Range(0, 0xFFFF_FFFF, "cell identities fit 32 bits (LTE's are 28)"),
    MILEAGE: Range(0, 9_999_999.999, "km; below 10 million, more than any vehicle's life"),
    BATTERY_LEVEL: Range(0, 100, "percent"),
    BATTERY_VOLTAGE: Range(0, 60, "V; the tracker's own cell (~4 V) or a 12/24/48 V battery"),
    POWER_VOLTAGE: Range(0, 150, "V; 12/24 V vehicles up to 72-120 V electric scooters"),
}
"""Parameter -> inclusive range. NaN and infinities are out of every range."""

MAX_FUTURE: Final = 86_400.0
"""A ``timestamp`` more than a day ahead of the server clock is dropped: device clocks
drift and time zones are misconfigured by hours, never by more than a day."""

MAX_DIGITS: Final = 12
"""Default digits :func:`bounded_int` parses: more than any field of these protocols."""


# Bounds the hot decoding paths compare against inline (from the table, not restated).
MAX_SPEED: Final = RANGES[SPEED].high
MAX_DIRECTION: Final = RANGES[DIRECTION].high
MIN_ALTITUDE: Final = RANGES[ALTITUDE].low
MAX_ALTITUDE: Final = RANGES[ALTITUDE].high
MAX_SATELLITES: Final = RANGES[SATELLITES].high
MAX_SIGNAL: Final = RANGES[GSM_SIGNAL].high
MAX_MILEAGE: Final = RANGES[MILEAGE].high
MAX_MNC: Final = RANGES[GSM_MNC].high
MAX_CELLID: Final = RANGES[GSM_CELLID].high


def enforce(message: Message, keys: tuple[Measure, ...]) -> None:
    """Drop the values of ``keys`` that are outside their range, noting each one.

    The decoders call it for the parameters they set that can be out of range (and only
    those): on the hot paths after an inline comparison with the bounds above failed.
    """
    for key in keys:
        value = message.get(key)
        if value is not None:
            bounds = RANGES[key]
            if not bounds.low <= value <= bounds.high:
                drop(message, key, message.pop(key))


def put(message: Message, key: Measure, value: float) -> None:
    """Store ``value`` under ``key`` if it is within its range, otherwise note it dropped."""
    bounds = RANGES[key]
    if bounds.low <= value <= bounds.high:
        message[key] = value
    else:
        drop(message, key, value)


def drop(message: Message, key: Measure, value: object) -> None:
    """Note that ``value`` of ``key`` was dropped from ``message``."""
    text = repr(value)
    if len(text) > 24:
        text = text[:20] + "..."
    bounds = RANGES[key]
    note = f"{key} {text} outside {bounds.low:g}..{bounds.high:g}"
    notes: list[str] | None = message.get(DROPPED)
    if notes is None:
        message[DROPPED] = [note]
    else:
        notes.append(note)


def finish_message(message: Message, now: float) -> list[str] | None:
    """The values dropped from ``message`` (None: none), with a future date dropped too."""
    notes: list[str] | None = message.pop(DROPPED, None)
    stamp = message.get(TIMESTAMP)
    if stamp is not None and stamp > now + MAX_FUTURE:
        del message[TIMESTAMP]
        note = f"{TIMESTAMP} {stamp} is more than a day ahead of the server clock"
        notes = [note] if notes is None else [*notes, note]
    return notes


def bounded_int(text: str, max_digits: int = MAX_DIGITS, radix: int = 10) -> float:
    """An integer written with at most ``max_digits`` digits; longer reads as infinite.

    Surrounding spaces are ignored. Anything but digits of ``radix`` raises ValueError (as
    ``int`` does): the caller decides whether that is a malformed frame.
    """
    text = text.strip()
    if len(text) > max_digits:
        if not text.isalnum():
            raise ValueError(f"not a number: {text[:16]!r}")
        int(text[:max_digits], radix)  # the same ValueError for a non-digit
        return math.inf
    return int(text, radix)


def bounded_float(text: str, max_chars: int = MAX_DIGITS) -> float:
    """A decimal number of at most ``max_chars`` characters; longer reads as infinite."""
    text = text.strip()
    if len(text) > max_chars:
        if not text.replace(".", "", 1).isdigit():
            raise ValueError(f"not a number: {text[:16]!r}")
        return math.inf
    return float(text)
