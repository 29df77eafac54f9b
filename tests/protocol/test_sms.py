"""The ST-90x SMS command texts and the phone number rules (no Home Assistant)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from custom_components.sinotrack.protocol import CommandKind
from custom_components.sinotrack.protocol.sms import (
    SMS_KINDS,
    SmsTextError,
    apn_text,
    engine_kind,
    engine_text,
    free_text,
    gprs_text,
    in_window,
    normalize_number,
    redact,
    same_number,
    server_text,
    setup_texts,
)


def test_setup_texts_in_order() -> None:
    """Server, APN, then GPRS mode, each with the password after the 3-digit code."""
    assert setup_texts("203.0.113.7", 5013, "internet", "0000") == [
        "8040000 203.0.113.7 5013",
        "8030000 internet",
        "7100000",
    ]
    assert setup_texts("203.0.113.7", 5013, None, "1234") == ["8041234 203.0.113.7 5013", "7101234"]


def test_engine_texts() -> None:
    assert engine_text(CommandKind.ENGINE_STOP, "0000") == "5550000"
    assert engine_text(CommandKind.ENGINE_RESUME, "4321") == "9404321"
    assert {CommandKind.ENGINE_STOP, CommandKind.ENGINE_RESUME} == SMS_KINDS
    with pytest.raises(SmsTextError):
        engine_text(CommandKind.MILEAGE, "0000")


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("5550000", CommandKind.ENGINE_STOP),
        (" 5551234 ", CommandKind.ENGINE_STOP),
        ("9400000", CommandKind.ENGINE_RESUME),
        ("555", None),
        ("555abcd", None),
        ("8040000 203.0.113.7 5013", None),
        ("RCONF", None),
    ],
)
def test_engine_kind(text: str, kind: CommandKind | None) -> None:
    assert engine_kind(text) is kind


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: server_text("tracker.example.org", 5013, "0000"), "IPv4"),
        (lambda: server_text("2001:db8::1", 5013, "0000"), "IPv4"),
        (lambda: server_text("203.0.113.7", 0, "0000"), "port"),
        (lambda: gprs_text("000"), "4 digits"),
        (lambda: gprs_text("00000"), "4 digits"),
        (lambda: gprs_text("abcd"), "4 digits"),
        (lambda: apn_text("my apn", "0000"), "APN"),
        (lambda: apn_text("", "0000"), "APN"),
        (lambda: free_text("", "0000"), "1 to 160"),
        (lambda: free_text("x" * 161, "0000"), "1 to 160"),
        (lambda: free_text("caf\u00e9", "0000"), "ASCII"),
    ],
)
def test_refused(call: object, error: str) -> None:
    with pytest.raises(SmsTextError, match=error):
        call()  # type: ignore[operator]


def test_free_text_password_token() -> None:
    assert free_text(" 803PASSWORD internet ", "1234") == "8031234 internet"
    assert free_text("RCONF", "1234") == "RCONF"


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("+49 151 1234-5678", "+4915112345678"),
        ("0049 (151) 12345678", "+4915112345678"),
        ("+1.202.555.0142", "+12025550142"),
        ("015112345678", None),  # no country code
        ("+0151123456", None),
        ("+49", None),
        ("+1234567890123456", None),  # 16 digits
        ("+49151abc", None),
    ],
)
def test_normalize_number(typed: str, e164: str | None) -> None:
    assert normalize_number(typed) == e164


@pytest.mark.parametrize(
    ("sender", "matches"),
    [
        ("+4915112345678", True),
        ("004915112345678", True),
        ("015112345678", True),  # the modem's national form
        ("+4915112345679", False),
        ("+4415112345678", False),
        ("5678", False),  # too few digits to tell
        ("Vodafone", False),
    ],
)
def test_same_number(sender: str, matches: bool) -> None:
    assert same_number("+4915112345678", sender) is matches


def test_window() -> None:
    sent = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    window = timedelta(seconds=60)
    assert in_window(sent, sent + timedelta(seconds=59), window)
    assert not in_window(sent, sent + timedelta(seconds=61), window)
    assert not in_window(sent, sent - timedelta(seconds=1), window)


def test_redact() -> None:
    assert redact("8031234 internet", "1234") == "803**** internet"
    assert redact("RCONF", "1234") == "RCONF"
