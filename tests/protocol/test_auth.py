"""JT/T 808 registration and authentication, the owner's settings, and ``ready``."""

from __future__ import annotations

from typing import Final

from custom_components.sinotrack.protocol import (
    AuthEvent,
    Decoded,
    TrackerConnection,
    TrackerSettings,
)
from custom_components.sinotrack.protocol.message import MESSAGE_TYPE, TIMESTAMP
from tests.support.frames import NOW

from .helpers import epoch, jt808_frame, location_body

TERMINAL: Final = "009170000001"
TERMINAL_2019: Final = "00000000009170000001"
ID: Final = "9170000001"
STORED: Final = "8042651739264501"
REGISTER_BODY: Final = (
    (44).to_bytes(2, "big")
    + (303).to_bytes(2, "big")
    + b"SINOT"
    + b"ST-903".ljust(20, b"\x00")
    + b"0000001"
    + b"\x00"
)


def register(serial: int = 1) -> bytes:
    return jt808_frame(0x0100, TERMINAL, serial, REGISTER_BODY)


def authenticate(code: str, serial: int = 2) -> bytes:
    return jt808_frame(0x0102, TERMINAL, serial, code.encode())


def location(serial: int = 3) -> bytes:
    return jt808_frame(0x0200, TERMINAL, serial, location_body())


def one(connection: TrackerConnection, frame: bytes, now: float = NOW) -> Decoded:
    events = connection.feed(frame, now)
    assert len(events) == 1, events
    event = events[0]
    assert isinstance(event, Decoded), event
    return event


def register_reply(serial: int, result: int, code: str = "", *, reply_serial: int) -> bytes:
    body = serial.to_bytes(2, "big") + bytes((result,)) + code.encode()
    return jt808_frame(0x8100, TERMINAL, reply_serial, body)


def general_reply(serial: int, msg_id: int, result: int, *, reply_serial: int) -> bytes:
    body = serial.to_bytes(2, "big") + msg_id.to_bytes(2, "big") + bytes((result,))
    return jt808_frame(0x8001, TERMINAL, reply_serial, body)


class Owner:
    """Plays the listener's part: the stored settings per ID, the IDs asked for."""

    def __init__(self, settings: TrackerSettings | None = None) -> None:
        self.settings = settings or TrackerSettings()
        self.asked: list[str] = []

    def resolve(self, ident: str) -> TrackerSettings:
        self.asked.append(ident)
        return self.settings


def ready(connection: TrackerConnection) -> bool:
    """``connection.ready`` read afresh (a property that frames change)."""
    return connection.ready


def code_of(connection: TrackerConnection) -> str | None:
    """``connection.auth_code`` read afresh."""
    return connection.auth_code


def ident_of(connection: TrackerConnection) -> str | None:
    """``connection.ident`` read afresh."""
    return connection.ident


def stored_connection() -> TrackerConnection:
    owner = Owner(TrackerSettings(jt808_auth_code=STORED))
    return TrackerConnection(resolve=owner.resolve)


# --- a new tracker: a code is issued ------------------------------------------------------------


def test_registration_issues_a_random_code_that_authenticates() -> None:
    connection = TrackerConnection()
    event = one(connection, register())
    assert event.auth is AuthEvent.ISSUED
    code = connection.auth_code
    assert code is not None
    assert len(code) == 16
    assert code.isdigit()
    assert code != ID  # not guessable from the ID (it used to be the ID)
    assert event.reply == register_reply(1, 0, code, reply_serial=0)
    assert [message[MESSAGE_TYPE] for message in event.messages] == ["0x0100"]
    assert not ready(connection)
    accepted = one(connection, authenticate(code))
    assert accepted.auth is AuthEvent.ACCEPTED
    assert accepted.reply == general_reply(2, 0x0102, 0, reply_serial=1)
    assert ready(connection)
    report = one(connection, location())
    assert [message[MESSAGE_TYPE] for message in report.messages] == ["0x0200"]


def test_each_registration_gets_another_code() -> None:
    codes = set()
    for _ in range(20):
        connection = TrackerConnection()
        one(connection, register())
        codes.add(connection.auth_code)
    assert len(codes) == 20


def test_registration_sent_again_on_the_same_connection_gets_the_same_code() -> None:
    connection = TrackerConnection()
    one(connection, register(1))
    code = connection.auth_code
    assert code is not None
    again = one(connection, register(2))  # the device lost the answer and retries
    assert again.auth is AuthEvent.ISSUED
    assert again.reply == register_reply(2, 0, code, reply_serial=1)


def test_wrong_code_is_refused_and_reports_are_withheld() -> None:
    connection = TrackerConnection()
    one(connection, register())
    refused = one(connection, authenticate("0000000000000000"))
    assert refused.auth is AuthEvent.REFUSED
    assert refused.reply == general_reply(2, 0x0102, 1, reply_serial=1)
    assert refused.messages == []
    assert not ready(connection)
    # A report before authenticating: answered with a failure (the device keeps the fix and
    # sends it again), its messages not returned.
    report = one(connection, location(7))
    assert report.messages == []
    assert report.reply == general_reply(7, 0x0200, 1, reply_serial=2)
    assert report.warning is not None
    assert "not authenticated" in report.warning


# --- a stored code ------------------------------------------------------------------------------


def test_stored_code_answers_registration_with_already_registered() -> None:
    owner = Owner(TrackerSettings(jt808_auth_code=STORED))
    connection = TrackerConnection(resolve=owner.resolve)
    event = one(connection, register())
    assert owner.asked == [ID]
    assert event.auth is AuthEvent.ALREADY_REGISTERED
    # 0x8100 result 3 (terminal already registered) and no code.
    assert event.reply == register_reply(1, 3, reply_serial=0)
    assert event.messages == []
    assert connection.auth_code == STORED
    assert not ready(connection)


def test_stored_code_authenticates_the_real_tracker() -> None:
    connection = stored_connection()
    one(connection, register())
    event = one(connection, authenticate(STORED))
    assert event.auth is AuthEvent.ACCEPTED
    assert ready(connection)
    assert one(connection, location()).messages


def test_tracker_authenticating_straight_away_with_the_stored_code() -> None:
    connection = stored_connection()
    event = one(connection, authenticate(STORED, 1))
    assert event.auth is AuthEvent.ACCEPTED
    assert event.reply == general_reply(1, 0x0102, 0, reply_serial=0)
    assert ready(connection)


def test_spoofer_without_the_code_gets_nothing_through() -> None:
    connection = stored_connection()
    # Reports straight away, as a tracker that never authenticates would.
    for serial in range(1, 4):
        event = one(connection, location(serial))
        assert event.messages == []
        assert event.reply == general_reply(serial, 0x0200, 1, reply_serial=serial - 1)
    heartbeat = one(connection, jt808_frame(0x0002, TERMINAL, 9, b""))
    assert heartbeat.messages == []
    refused = one(connection, authenticate(ID, 10))  # the old code: the ID
    assert refused.auth is AuthEvent.REFUSED
    assert not ready(connection)


def test_2019_authentication_body() -> None:
    owner = Owner(TrackerSettings(jt808_auth_code=STORED))
    connection = TrackerConnection(resolve=owner.resolve)
    body = bytes((len(STORED),)) + STORED.encode() + b"861234567890123" + b"V1.0".ljust(20, b"\0")
    event = one(connection, jt808_frame(0x0102, TERMINAL_2019, 1, body, version=1))
    assert event.auth is AuthEvent.ACCEPTED
    assert ready(connection)


# --- trackers that never register (and no code stored): as before --------------------------------


def test_legacy_tracker_is_ready_at_its_first_report() -> None:
    connection = TrackerConnection()
    event = one(connection, location())
    assert [message[MESSAGE_TYPE] for message in event.messages] == ["0x0200"]
    assert event.reply == general_reply(3, 0x0200, 0, reply_serial=0)
    assert event.auth is None
    assert ready(connection)
    assert connection.auth_code is None


def test_legacy_authentication_with_any_code_is_acknowledged() -> None:
    connection = TrackerConnection()
    event = one(connection, authenticate("authentication", 6))
    assert event.auth is None
    assert event.reply == general_reply(6, 0x0102, 0, reply_serial=0)
    assert ready(connection)


# --- settings: resolve and configure ------------------------------------------------------------


def test_resolve_sets_the_clock_offset_before_the_first_frame_is_decoded() -> None:
    owner = Owner(TrackerSettings(jt808_utc_offset=0.0))
    connection = TrackerConnection(resolve=owner.resolve)
    event = one(connection, location())
    # location_body's clock 24-03-15 20:34:56 read as UTC, not as GMT+8.
    assert event.messages[0][TIMESTAMP] == epoch("2024-03-15T20:34:56Z")
    one(connection, location(4))
    assert owner.asked == [ID]  # once


def test_resolve_with_the_normalised_id() -> None:
    owner = Owner()
    connection = TrackerConnection(resolve=owner.resolve)
    one(connection, b"*HQ,0004210051415,HTBT,80#")
    assert owner.asked == ["4210051415"]
    assert ready(connection)


def test_configure_changes_the_offset_and_forgets_the_code() -> None:
    owner = Owner(TrackerSettings(jt808_auth_code=STORED))
    connection = TrackerConnection(resolve=owner.resolve)
    assert one(connection, location(1)).messages == []
    connection.configure(TrackerSettings(jt808_utc_offset=8.0, jt808_auth_code=None))
    assert connection.auth_code is None
    # No code in force any more: a new registration gets a new code.
    event = one(connection, register(2))
    assert event.auth is AuthEvent.ISSUED
    assert code_of(connection) not in (None, STORED)
    # None as the offset means the connection's default.
    connection.configure(TrackerSettings(jt808_auth_code=connection.auth_code))
    assert connection.jt808_utc_offset == 8.0


def test_configure_with_the_code_issued_keeps_the_connection_ready() -> None:
    connection = TrackerConnection()
    one(connection, register())
    code = connection.auth_code
    assert code is not None
    one(connection, authenticate(code))
    connection.configure(TrackerSettings(jt808_auth_code=code))  # the owner stored it
    assert ready(connection)
    assert one(connection, location()).messages


def test_h02_ready_after_its_first_frame() -> None:
    connection = TrackerConnection()
    assert not ready(connection)
    one(connection, b"*HQ,4210051415,HTBT,80#")
    assert ready(connection)


def test_a_rejected_first_frame_identifies_nothing_and_resolves_once() -> None:
    owner = Owner()
    connection = TrackerConnection(resolve=owner.resolve)
    events = connection.feed(jt808_frame(0x0100, TERMINAL, 1, b"\x00" * 10), NOW)  # too short
    assert [type(event).__name__ for event in events] == ["Rejected"]
    assert connection.ident is None
    one(connection, location())
    assert ident_of(connection) == ID
    assert owner.asked == [ID]
