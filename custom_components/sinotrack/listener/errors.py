"""The errors the listener raises; one base class, :class:`ListenerError`."""

from __future__ import annotations

import errno
import socket
from typing import Literal

from custom_components.sinotrack.protocol import Message


class ListenerError(Exception):
    """Base of every error the listener raises."""


type BindFailure = Literal[
    "in_use", "permission", "address_unavailable", "invalid_address", "error"
]


class ListenerBindError(ListenerError):
    """The port could not be opened; ``reason`` says why, ``str()`` is a readable message."""

    def __init__(
        self,
        message: str,
        *,
        reason: BindFailure,
        host: str | tuple[str, ...] | None,
        port: int,
        detail: str = "",
    ) -> None:
        super().__init__(message)
        self.reason: BindFailure = reason
        self.host = host
        self.port = port
        self.detail = detail or message
        """Why, without the address and port (for texts that name them already)."""

    @classmethod
    def from_os_error(
        cls, err: OSError, host: str | tuple[str, ...] | None, port: int
    ) -> ListenerBindError:
        """The bind error for ``err``, with a reason and a message a user can act on."""
        where = _describe_bind(host, port)
        code = err.errno
        reason: BindFailure
        if code == errno.EADDRINUSE:
            reason = "in_use"
            detail = "the port is already in use by another program"
        elif code in (errno.EACCES, errno.EPERM):
            reason = "permission"
            detail = "permission denied (ports below 1024 need privileges)"
        elif code in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT) or code is None:
            # asyncio skips addresses that are not available (EADDRNOTAVAIL) and raises a
            # plain OSError without errno when none is left ("could not bind on any address").
            reason = "address_unavailable"
            detail = "the address is not available on this host"
        elif isinstance(err, socket.gaierror):
            reason = "invalid_address"
            detail = f"the bind address cannot be resolved ({err.strerror or err})"
        else:
            reason = "error"
            detail = f"{err.strerror or err}"
        return cls(f"{where}: {detail}", reason=reason, host=host, port=port, detail=detail)


def _describe_bind(host: str | tuple[str, ...] | None, port: int) -> str:
    if host is None:
        hosts = "all interfaces"
    elif isinstance(host, tuple):
        hosts = ", ".join(host)
    else:
        hosts = host
    return f"cannot listen on {hosts} port {port}"


class TrackerAlreadyRegisteredError(ListenerError):
    """Another sink already owns this tracker ID on this listener."""


class CommandFailedError(ListenerError):
    """Base of the errors of :meth:`Listener.send_command`.

    A command the codec cannot encode for the tracker's protocol raises the codec's
    :class:`~custom_components.sinotrack.protocol.CommandError` instead (unchanged).
    """


class ListenerClosedError(CommandFailedError):
    """The listener is closed (or was closed while the command waited)."""


class TrackerOfflineError(CommandFailedError):
    """The tracker has no live connection and the command was not to be queued."""


class CommandTimeoutError(CommandFailedError):
    """The tracker did not answer in time. ``ack``: the JT/T 808 acknowledgement, if any."""

    def __init__(self, message: str, ack: Message | None = None) -> None:
        super().__init__(message)
        self.ack = ack


class CommandExpiredError(CommandFailedError):
    """A queued command could not be sent before its expiry."""


class TrackerDisconnectedError(CommandFailedError):
    """The connection dropped (or was replaced) after the command was sent; not resent."""


class CommandQueueFullError(CommandFailedError):
    """Too many commands already wait for this tracker (see ``MAX_WAITING_COMMANDS``)."""
