"""The command store: commands queued for an offline tracker, kept across restarts until sent.

An action called with ``queue_if_offline`` waits in the listener until the tracker
connects (up to an hour). Its command is also written to a store of the entry's
(``sinotrack.<entry id>.queue``) until it leaves for the tracker. When Home Assistant stops
(or the entry unloads) before that, the action call ends with an error, and the command
stays stored: at the next start of the entry it is queued again, for the rest of its hour,
and sent when the tracker connects. Its reply is then logged (the action call that asked
for it is gone); the reply's values reach the entities as usual (a mileage query updates
the odometer).

What is not kept: a command already sent (the tracker may have executed it; its reply
is lost with the connection, as with any disconnect mid-command), a command whose action
call was cancelled while Home Assistant kept running (the caller gave up), and an engine
command (engine_stop, engine_resume, or a raw payload that is one) once engine commands
are no longer allowed in the options.

Bounds: at most ``MAX_WAITING_COMMANDS`` (20) commands are stored per tracker, the
listener's own limit per tracker (the next call fails with ``CommandQueueFullError``), and a command identical to one already waiting is not
stored again: the second call waits for the first one's command and shares its outcome
(the same reply, or the same error). The tracker receives it once.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
import time
from typing import Any, Final
import uuid

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.storage import Store
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN, LOGGER
from .listener import (
    DEFAULT_COMMAND_TIMEOUT,
    MAX_WAITING_COMMANDS,
    CommandQueueFullError,
    CommandResult,
    Listener,
    ListenerClosedError,
)
from .protocol import Command, CommandKind, message as p
from .protocol.commands import is_engine_payload

STORAGE_VERSION: Final = 1
SAVE_DELAY: Final = 1.0
ENGINE_COMMANDS: Final = frozenset({CommandKind.ENGINE_STOP, CommandKind.ENGINE_RESUME})
DATA_COMMAND_STORES: HassKey[dict[str, CommandStore]] = HassKey(f"{DOMAIN}_command_stores")


class EngineCommandsDisabledError(Exception):
    """An engine command (or a raw payload that is one) while the options do not allow
    them: refused before anything is sent."""


class CommandCancelledError(Exception):
    """A queued command was cancelled (``cancel_commands``) before it was sent."""


def is_engine_command(command: Command) -> bool:
    """True for engine stop/resume, and for a raw payload the tracker takes as one."""
    return command.kind in ENGINE_COMMANDS or (
        command.kind is CommandKind.CUSTOM and is_engine_payload(command.payload)
    )


@dataclass(slots=True)
class _Queued:
    command: Command
    expires: float
    """Epoch seconds."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form for the store."""
        return {
            "kind": self.command.kind.value,
            "payload": self.command.payload,
            "interval": self.command.interval,
            "expires": self.expires,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> _Queued:
        """The item stored by :meth:`as_dict`."""
        command = Command(
            CommandKind(data["kind"]), str(data.get("payload", "")), int(data.get("interval", 0))
        )
        return cls(command, float(data["expires"]))


def get_command_store(hass: HomeAssistant, entry_id: str) -> CommandStore:
    """The command store of an entry; one per entry for the life of Home Assistant
    (reloads too)."""
    stores = hass.data.setdefault(DATA_COMMAND_STORES, {})
    store = stores.get(entry_id)
    if store is None:
        store = stores[entry_id] = CommandStore(hass, entry_id)
    return store


async def async_remove_command_store(hass: HomeAssistant, entry_id: str) -> None:
    """Forget an entry's queued commands (the entry is deleted)."""
    store = hass.data.get(DATA_COMMAND_STORES, {}).pop(entry_id, None)
    if store is None:
        store = CommandStore(hass, entry_id)
    await store.async_remove()


class CommandStore:
    """The queued commands of one entry, persisted until they leave for the tracker.

    The listener keeps the commands waiting for the tracker in its per-tracker lane
    (``CommandLane``); this store keeps them on disk, so that a restart does not lose them.
    """

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        self.hass = hass
        self._store: Store[dict[str, Any]] = Store(
            hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}.queue"
        )
        self._items: dict[str, _Queued] = {}
        self._live: set[str] = set()
        """Items someone waits for now (an action call or a resumed send)."""
        self._followers: dict[str, list[asyncio.Future[CommandResult]]] = {}
        """Calls waiting for the outcome of an identical item."""
        self._loaded = False
        self.held: dict[str, Any] | None = None
        """The engine command held until the vehicle stands (its stored form), if any."""
        self._tasks: dict[str, asyncio.Task[Any]] = {}
        """The task that waits for each live item (to cancel it)."""
        self._cancelled: set[str] = set()

    @property
    def waiting(self) -> int:
        """Commands stored, sent to nobody yet."""
        return len(self._items)

    async def async_load(self) -> None:
        """Read the stored commands (once)."""
        if self._loaded:
            return
        self._loaded = True
        data = await self._store.async_load()
        held = (data or {}).get("held")
        self.held = held if isinstance(held, dict) else None
        for item_id, item in ((data or {}).get("commands") or {}).items():
            try:
                self._items.setdefault(item_id, _Queued.from_dict(item))
            except KeyError, TypeError, ValueError:
                LOGGER.warning("Dropping an unreadable queued command: %s", item)

    async def async_remove(self) -> None:
        """Forget every stored command and delete the store."""
        self._items.clear()
        await self._store.async_remove()

    async def send(
        self,
        listener: Listener,
        ident: str,
        command: Command,
        *,
        timeout: float,  # noqa: ASYNC109 - the reply timeout, passed on
        expiry: float,
    ) -> CommandResult:
        """``listener.send_command(..., queue_if_offline=True)``, stored until it is sent.

        An identical command already waiting is not stored again: this call shares its
        outcome. Raises ``CommandQueueFullError`` when ``MAX_WAITING_COMMANDS`` wait already.
        """
        while (same := self._waiting_like(command)) is not None:
            follower: asyncio.Future[CommandResult] = self.hass.loop.create_future()
            self._followers.setdefault(same, []).append(follower)
            try:
                return await follower
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if not follower.cancelled() or (task is not None and task.cancelling()):
                    raise
                # The first caller gave up, not this one: queue the command afresh.
        if len(self._items) >= MAX_WAITING_COMMANDS:
            raise CommandQueueFullError(
                f"{MAX_WAITING_COMMANDS} commands are queued for tracker {ident} already"
            )
        item_id = uuid.uuid4().hex
        self._items[item_id] = _Queued(command, time.time() + expiry)
        self._save()
        return await self._send(listener, ident, item_id, timeout, resumed=False)

    def _waiting_like(self, command: Command) -> str | None:
        """The ID of a stored item with the same command that someone waits for now."""
        return next(
            (
                item_id
                for item_id, item in self._items.items()
                if item_id in self._live and item.command == command
            ),
            None,
        )

    @callback
    def resume(
        self, entry: ConfigEntry[Any], listener: Listener, ident: str, *, allow_engine: bool
    ) -> None:
        """Queue the stored commands again (at the entry's start); replies are logged."""
        now = time.time()
        for item_id, item in list(self._items.items()):
            if item_id in self._live:
                continue
            if item.expires <= now or (is_engine_command(item.command) and not allow_engine):
                LOGGER.warning(
                    "Tracker %s: dropping the queued %s command (%s)",
                    ident,
                    item.command.kind.value,
                    "expired" if item.expires <= now else "engine commands are not allowed",
                )
                self._discard(item_id)
                continue
            self._live.add(item_id)
            entry.async_create_background_task(
                self.hass,
                self._resumed(listener, ident, item_id),
                f"{DOMAIN} {ident} queued {item.command.kind.value}",
            )

    async def _resumed(self, listener: Listener, ident: str, item_id: str) -> None:
        kind = self._items[item_id].command.kind.value
        LOGGER.info("Tracker %s: %s command queued before the restart waits again", ident, kind)
        try:
            result = await self._send(
                listener, ident, item_id, DEFAULT_COMMAND_TIMEOUT, resumed=True
            )
        except ListenerClosedError:
            return
        except Exception as err:  # noqa: BLE001 - nobody else will hear of it
            LOGGER.warning("Tracker %s: the queued %s command failed: %s", ident, kind, err)
        else:
            reply = result.reply  # its text, not the position it may carry (logs get shared)
            answer = reply.get(p.COMMAND_RESPONSE) or reply.get(p.COMMAND_RESULT) or "done"
            LOGGER.info(
                "Tracker %s: the queued %s command was answered (%s): %s",
                ident,
                kind,
                reply.get(p.MESSAGE_TYPE),
                answer,
            )

    async def _send(
        self,
        listener: Listener,
        ident: str,
        item_id: str,
        timeout: float,  # noqa: ASYNC109 - the reply timeout, passed on
        *,
        resumed: bool,
    ) -> CommandResult:
        item = self._items[item_id]
        self._live.add(item_id)
        if (task := asyncio.current_task()) is not None:
            self._tasks[item_id] = task
        try:
            result = await listener.send_command(
                ident,
                item.command,
                timeout=timeout,
                queue_if_offline=True,
                queue_expiry=max(0.001, item.expires - time.time()),
                on_sent=lambda: self._discard(item_id),
            )
        except ListenerClosedError as err:
            self._settle(item_id, err)
            raise  # Home Assistant stops, or the entry unloads: kept for the next start
        except asyncio.CancelledError as err:
            if item_id in self._cancelled:
                self._cancelled.discard(item_id)
                if (task := asyncio.current_task()) is not None:
                    task.uncancel()
                error = CommandCancelledError(
                    f"the {item.command.kind.value} command was cancelled"
                )
                self._settle(item_id, error)
                raise error from err
            if not resumed and not self.hass.is_stopping:
                self._discard(item_id)  # the caller gave up
            self._settle(item_id, None)
            raise
        except Exception as err:
            self._discard(item_id)
            self._settle(item_id, err)
            raise
        else:
            self._settle(item_id, result)
            return result
        finally:
            self._live.discard(item_id)
            self._tasks.pop(item_id, None)

    def _settle(self, item_id: str, outcome: CommandResult | Exception | None) -> None:
        """Hand an item's outcome to the identical calls that wait for it (None: cancelled)."""
        for follower in self._followers.pop(item_id, ()):
            if follower.done():
                continue
            if outcome is None:
                follower.cancel()
            elif isinstance(outcome, Exception):
                follower.set_exception(outcome)
            else:
                follower.set_result(outcome)

    def _discard(self, item_id: str) -> None:
        if self._items.pop(item_id, None) is not None:
            self._save()

    def _save(self) -> None:
        self._store.async_delay_save(self._data, SAVE_DELAY)

    def _data(self) -> dict[str, Any]:
        return {
            "commands": {item_id: item.as_dict() for item_id, item in self._items.items()},
            "held": self.held,
        }

    def set_held(self, held: dict[str, Any] | None) -> None:
        """Keep the held engine command (its stored form), or forget it (None)."""
        self.held = held
        self._save()

    def cancel_all(self) -> int:
        """Drop every stored command: the calls waiting for them end with
        ``CommandCancelledError``. How many were dropped."""
        cancelled = 0
        for item_id in list(self._items):
            cancelled += 1
            task = self._tasks.get(item_id)
            if task is not None and not task.done():
                self._cancelled.add(item_id)
                task.cancel()
            self._discard(item_id)
        return cancelled
