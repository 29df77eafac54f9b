"""Commands to trackers: one lane per tracker ID, one command in flight, the rest in order.

Each command waits for its reply (``EncodedCommand.match``) with a timeout, and only a reply
from the session it was sent on counts. A command for an offline tracker is refused at once,
or queued until the tracker's session is ready (the codec's ``ready``: after its first frame;
JT/T 808 once authenticated) with an expiry. A command whose connection drops after it was
sent fails with :class:`TrackerDisconnectedError` and is *not* resent on reconnect: the
device may have executed it already. At most ``MAX_WAITING_COMMANDS`` wait per tracker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
import logging
import time
from typing import TYPE_CHECKING, Final, Protocol

from custom_components.sinotrack.protocol import Command, EncodedCommand, Message

from .errors import (
    CommandExpiredError,
    CommandQueueFullError,
    CommandTimeoutError,
    ListenerClosedError,
    TrackerDisconnectedError,
    TrackerOfflineError,
)

if TYPE_CHECKING:
    from .routes import Route, Routes
    from .session import Session
    from .stats import Stats

_LOGGER: Final = logging.getLogger(__package__)

MAX_WAITING_COMMANDS: Final = 20
"""Commands one tracker may have waiting (in flight included): a tracker handles one at a
time, and a caller queueing thousands (3,657 engine cuts in 3 s) is refused."""


@dataclass(frozen=True, slots=True)
class CommandResult:
    """The reply that completed a command."""

    reply: Message
    ack: Message | None = None
    """JT/T 808: the 0x0001 acknowledgement that preceded the answer (text, position)."""
    sent: EncodedCommand | None = None
    """What was sent."""


@dataclass(slots=True)
class PendingCommand:
    """A command written to ``session``, waiting for its reply."""

    encoded: EncodedCommand
    future: asyncio.Future[CommandResult]
    session: Session
    ack: Message | None = None


class CommandLane:
    """Per tracker ID: the FIFO lock of its commands, a wake-up, the command in flight."""

    __slots__ = ("changed", "lock", "pending", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.changed = asyncio.Event()
        self.users = 0
        self.pending: PendingCommand | None = None

    def match(self, session: Session, messages: list[Message]) -> bool:
        """Complete the command in flight with its reply among ``messages``, if any.

        Returns False when a message would have matched but came from another session.
        """
        pending = self.pending
        if pending is None:
            return True
        for message in messages:
            match = pending.encoded.match(message)
            if match is None:
                continue
            if session is not pending.session:
                return False
            if match == "ack":
                pending.ack = message
                continue
            self.pending = None
            if not pending.future.done():
                pending.future.set_result(CommandResult(message, pending.ack, pending.encoded))
            return True
        return True

    def session_lost(self, session: Session, error: Exception) -> bool:
        """Fail the command in flight on ``session``; whether there was one."""
        pending = self.pending
        if pending is None or pending.session is not session:
            return False
        self.pending = None
        if pending.future.done():
            return False
        pending.future.set_exception(error)
        return True


class CommandHost(Protocol):
    """What the command lanes need from their listener."""

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The running loop."""

    @property
    def is_closed(self) -> bool:
        """Whether the listener is closed."""

    stats: Stats
    routes: Routes


async def send_command(
    host: CommandHost,
    ident: str,
    command: Command,
    timeout: float,  # noqa: ASYNC109 - the reply timeout, not a cancel scope
    expires: float | None,
    on_sent: Callable[[], None] | None,
) -> CommandResult:
    """Wait for the lane of ``ident`` and the tracker, send, wait for the reply."""
    route = host.routes.obtain(ident)
    lane = route.lane
    if lane is None:
        lane = route.lane = CommandLane()
    if lane.users >= MAX_WAITING_COMMANDS:
        host.stats.commands_refused_full += 1
        host.routes.release(route)
        raise CommandQueueFullError(
            f"{MAX_WAITING_COMMANDS} commands already wait for tracker {ident}"
        )
    lane.users += 1
    try:
        try:
            async with asyncio.timeout_at(expires):
                await lane.lock.acquire()
        except TimeoutError:
            host.stats.commands_expired += 1
            raise CommandExpiredError(
                f"the command for tracker {ident} expired in the queue"
            ) from None
        try:
            session = await _wait_ready(host, route, lane, timeout, expires)
            return await _exchange(host, route, lane, session, command, timeout, on_sent)
        finally:
            lane.lock.release()
    finally:
        lane.users -= 1
        if lane.users == 0 and route.lane is lane:
            route.lane = None
            host.routes.release(route)


async def _wait_ready(
    host: CommandHost,
    route: Route,
    lane: CommandLane,
    reply_timeout: float,
    expires: float | None,
) -> Session:
    ident = route.ident
    deadline = expires if expires is not None else host.loop.time() + reply_timeout
    while True:
        if host.is_closed:
            raise ListenerClosedError("the listener was closed")
        session = route.session
        if session is not None and session.closing is None and session.ready:
            return session
        if session is None and expires is None:
            raise TrackerOfflineError(f"tracker {ident} is not connected")
        lane.changed.clear()
        try:
            async with asyncio.timeout_at(deadline):
                await lane.changed.wait()
        except TimeoutError:
            if expires is not None:
                host.stats.commands_expired += 1
                raise CommandExpiredError(
                    f"tracker {ident} did not connect before the command expired"
                ) from None
            host.stats.commands_timed_out += 1
            raise CommandTimeoutError(
                f"tracker {ident} was not ready for commands in time"
            ) from None


async def _exchange(
    host: CommandHost,
    route: Route,
    lane: CommandLane,
    session: Session,
    command: Command,
    reply_timeout: float,
    on_sent: Callable[[], None] | None,
) -> CommandResult:
    ident = route.ident
    encoded = session.encode(command, time.time())  # CommandError propagates
    future: asyncio.Future[CommandResult] = host.loop.create_future()
    pending = lane.pending = PendingCommand(encoded, future, session)
    session.send(encoded.data)
    host.stats.commands_sent += 1
    if on_sent is not None:
        on_sent()
    _LOGGER.debug("Sent %s to tracker %s: %r", command.kind.value, ident, encoded.data)
    try:
        async with asyncio.timeout(reply_timeout):
            result = await future
    except TimeoutError:
        host.stats.commands_timed_out += 1
        raise CommandTimeoutError(
            f"tracker {ident} did not answer the command within {reply_timeout:g} s", pending.ack
        ) from None
    finally:
        if lane.pending is pending:
            lane.pending = None
    host.stats.commands_answered += 1
    return result


def disconnected_error(ident: str | None, reason: str) -> TrackerDisconnectedError:
    """The error of a command whose connection closed before its reply."""
    return TrackerDisconnectedError(
        f"the connection of tracker {ident} closed ({reason}) before its reply"
    )
