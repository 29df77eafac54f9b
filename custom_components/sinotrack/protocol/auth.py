"""JT/T 808 registration and authentication: who may report as a terminal ID.

The standard's handshake is 0x0100 registration -> 0x8100 (result and an auth code) ->
0x0102 authentication with that code -> 0x8001. The codec enforces it once a code is in
force for the ID (issued on this connection, or stored by the tracker's owner and handed
in through :class:`~.connection.TrackerSettings`):

* 0x0100 with no code in force: a random code is issued (0x8100 result 0 with the code,
  :attr:`AuthEvent.ISSUED`). The owner stores it; it outlives the connection.
* 0x0100 while a stored code is in force: 0x8100 result 3 ("terminal already registered")
  with no code (:attr:`AuthEvent.ALREADY_REGISTERED`). Whoever sent it learns nothing; the
  real tracker authenticates with the code it holds. The owner can forget the stored code
  to let a reset tracker register again. A 0x0100 repeated on the connection the code was
  issued on (a device retrying because the answer was lost) gets the same code again.
* 0x0102 with the code in force: 0x8001 success (:attr:`AuthEvent.ACCEPTED`); the
  connection is ready. With another code: 0x8001 result 1 failure
  (:attr:`AuthEvent.REFUSED`).
* Until then, every other frame is answered with 0x8001 result 1 failure where the
  platform would acknowledge it (a device keeps a fix that was not acknowledged and sends
  it again once authenticated, so nothing is lost), and its messages are withheld.

With no code in force and no registration on the connection (trackers that never register,
or were registered by another server), nothing changes: the connection is ready at its
first frame other than a 0x0100, and any 0x0102 is acknowledged.
"""

from __future__ import annotations

from enum import StrEnum
import secrets
from typing import Final

AUTH_CODE_DIGITS: Final = 16
"""Issued codes are 16 decimal digits (53 bits): the shape of the standard's own examples,
which any device firmware stores and echoes, and far beyond guessing over a network."""

MAX_AUTH_CODE: Final = 64
"""Longest auth code compared (a code is a short string; longer bodies are not codes)."""

REGISTER_SUCCESS: Final = 0
REGISTER_TERMINAL_ALREADY_REGISTERED: Final = 3
GENERAL_SUCCESS: Final = 0
GENERAL_FAILURE: Final = 1


class AuthEvent(StrEnum):
    """What the JT/T 808 registration or authentication in one frame did."""

    ISSUED = "issued"
    """0x0100 answered with 0x8100 result 0 and a new random code (in ``auth_code``)."""
    ACCEPTED = "accepted"
    """0x0102 with the code in force: the connection is ready."""
    REFUSED = "refused"
    """0x0102 with another code: answered with 0x8001 failure."""
    ALREADY_REGISTERED = "already_registered"
    """0x0100 while a code is stored: 0x8100 result 3, no code."""


def new_auth_code() -> str:
    """A fresh random auth code (cryptographically strong)."""
    return f"{secrets.randbelow(10**AUTH_CODE_DIGITS):0{AUTH_CODE_DIGITS}d}"


def auth_code_of(body: bytes, *, version_2019: bool) -> str:
    """The auth code a 0x0102 body carries (2019: length byte, code, IMEI, version)."""
    if version_2019 and body and body[0] < len(body):
        body = body[1 : 1 + body[0]]
    return body[:MAX_AUTH_CODE].decode("latin-1").strip("\x00 ")


def same_code(presented: str, expected: str) -> bool:
    """Constant-time comparison of two auth codes."""
    return secrets.compare_digest(
        presented.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )
