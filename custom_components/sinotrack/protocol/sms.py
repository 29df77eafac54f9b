"""The Sinotrack ST-90x SMS commands, and the rules for the tracker's phone number.

Pure text: no sockets, no Home Assistant. An ST-90x command by SMS is a 3-digit code with
the tracker's 4-digit SMS password right after it, then its arguments, space separated:

===========================  ============================  =====================
What                         Text (password 0000)          Function
===========================  ============================  =====================
server address and port      ``8040000 203.0.113.7 5013``  :func:`server_text`
GPRS (online) mode           ``7100000``                   :func:`gprs_text`
APN of the SIM               ``8030000 internet``          :func:`apn_text`
engine stop                  ``5550000``                   :func:`engine_text`
engine resume                ``9400000``                   :func:`engine_text`
===========================  ============================  =====================

A free text (``send_sms``) names the password with the word :data:`PASSWORD_TOKEN`
(``803PASSWORD internet``), so that automations need not hold it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
import ipaddress
import re
from typing import Final

from .commands import CommandKind

DEFAULT_PASSWORD: Final = "0000"  # noqa: S105 - the factory default, documented
PASSWORD_TOKEN: Final = "PASSWORD"  # noqa: S105 - a placeholder word
"""In a free text, the word the tracker's SMS password replaces."""
MAX_TEXT: Final = 160
"""Longest text: one SMS of the GSM alphabet (a longer one would be split in parts)."""
MAX_APN: Final = 63

_PASSWORD: Final = re.compile(r"\d{4}")
_E164: Final = re.compile(r"\+[1-9]\d{6,14}")
_NUMBER_NOISE: Final = re.compile(r"[\s\-().\/]")
_MIN_SUFFIX: Final = 7
"""Fewest digits of a number without its country code that can match a tracker's number."""
_ENGINE_CODES: Final = {CommandKind.ENGINE_STOP: "555", CommandKind.ENGINE_RESUME: "940"}
SMS_KINDS: Final = frozenset(_ENGINE_CODES)
"""The command kinds with an SMS form (the others exist only over GPRS)."""


class SmsTextError(ValueError):
    """A text, number, password, address or APN the tracker cannot take."""


def normalize_number(text: str) -> str | None:
    """The phone number in E.164 form (``+4915112345678``), or None if it is not one.

    Spaces, dashes, dots, slashes and brackets are ignored; a leading ``00`` counts as
    ``+``. A number without its country code is not E.164: None.
    """
    digits = _NUMBER_NOISE.sub("", text.strip())
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    return digits if _E164.fullmatch(digits) else None


def same_number(configured: str, sender: str) -> bool:
    """Whether an SMS from ``sender`` (as the modem reports it) comes from ``configured``
    (E.164). A sender without country code (``015112345678``) matches by its digits after
    the leading zeros, if there are at least 7 of them."""
    number = normalize_number(sender)
    if number is not None:
        return number == configured
    digits = _NUMBER_NOISE.sub("", sender.strip())
    if not digits.isdigit():
        return False
    national = digits.lstrip("0")
    return len(national) >= _MIN_SUFFIX and configured[1:].endswith(national)


def in_window(sent: datetime, received: datetime, window: timedelta) -> bool:
    """Whether an SMS received at ``received`` can answer one sent at ``sent``."""
    return sent <= received <= sent + window


def check_password(password: str) -> str:
    """The SMS password, or ``SmsTextError``: the ST-90x password is 4 digits."""
    if _PASSWORD.fullmatch(password) is None:
        raise SmsTextError("the SMS password is 4 digits")
    return password


def _check_text(text: str) -> str:
    if not text or len(text) > MAX_TEXT:
        raise SmsTextError(f"an SMS command is 1 to {MAX_TEXT} characters")
    if not all(" " <= char <= "~" for char in text):
        raise SmsTextError("an SMS command is printable ASCII")
    return text


def free_text(text: str, password: str) -> str:
    """A free text with :data:`PASSWORD_TOKEN` replaced by the password, checked."""
    return _check_text(text.strip().replace(PASSWORD_TOKEN, check_password(password)))


def server_text(host: str, port: int, password: str) -> str:
    """The server command: the tracker reports to ``host`` (an IPv4 address) ``port``."""
    try:
        address = ipaddress.IPv4Address(host.strip())
    except ValueError as err:
        raise SmsTextError("the server is an IPv4 address, not a host name") from err
    if not 1 <= port <= 65535:
        raise SmsTextError("the port is 1 to 65535")
    return f"804{check_password(password)} {address} {port}"


def gprs_text(password: str) -> str:
    """The command that puts the tracker in GPRS (online) mode."""
    return f"710{check_password(password)}"


def apn_text(apn: str, password: str) -> str:
    """The command that sets the APN of the tracker's SIM."""
    apn = apn.strip()
    if not apn or len(apn) > MAX_APN or not all("!" <= char <= "~" for char in apn):
        raise SmsTextError(f"the APN is 1 to {MAX_APN} printable characters without spaces")
    return f"803{check_password(password)} {apn}"


def setup_texts(host: str, port: int, apn: str | None, password: str) -> list[str]:
    """The set-up commands in the order they are sent: server, APN (if any), GPRS mode."""
    texts = [server_text(host, port, password)]
    if apn:
        texts.append(apn_text(apn, password))
    texts.append(gprs_text(password))
    return texts


def engine_text(kind: CommandKind, password: str) -> str:
    """The engine stop or resume command."""
    code = _ENGINE_CODES.get(kind)
    if code is None:
        raise SmsTextError(f"no SMS form for {kind.value}")
    return f"{code}{check_password(password)}"


def engine_kind(text: str) -> CommandKind | None:
    """The engine command a text is (its code followed by digits), or None."""
    word = text.strip().split(" ", 1)[0]
    for kind, code in _ENGINE_CODES.items():
        if word.startswith(code) and word[3:].isdigit():
            return kind
    return None


def redact(text: str, password: str) -> str:
    """``text`` with the password hidden (for logs and response data)."""
    return text.replace(password, "*" * len(password)) if password else text
