"""The parked-car guard and the safe engine stop of one tracker, in Home Assistant.

The rules are the model's (``model.guard``, ``model.engine_stop``); this part feeds them the
tracker's frames and the clock, keeps their state (the guard in the tracker's state store,
the held engine command in the command store) and acts on what they say:

* A triggering fires ``guard_triggered`` on the alarm event entity, once, and is logged.
* Arming changes only Home Assistant's guard. What reaches the device does so only through
  options an administrator set: the tracker's own arm and disarm commands (H02; skipped,
  with a log line, for JT/T 808), and an engine stop when the guard triggers (through the
  ``stopped`` path, and only while engine commands are allowed).
* An engine command (engine stop, or a raw payload that is one) is sent only while the
  vehicle stands; otherwise held (``when: stopped``) or refused (``when: now``). The held
  command is sent at the first fresh report that shows the vehicle standing, or expires
  after an hour (``command_expired`` on the alarm event entity, and a log line).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING, Any, Final

from homeassistant.core import CALLBACK_TYPE, callback
from homeassistant.helpers.event import async_call_later
from homeassistant.util import dt as dt_util

from .command_store import EngineCommandsDisabledError, is_engine_command
from .const import (
    CONF_GUARD_ARM_TRACKER,
    CONF_GUARD_AUTO_ARM,
    CONF_GUARD_ENTRY_DELAY,
    CONF_GUARD_EXIT_DELAY,
    CONF_GUARD_RADIUS,
    CONF_GUARD_SILENT,
    CONF_GUARD_STOP_ENGINE,
    DEFAULT_GUARD_RADIUS,
    DOMAIN,
    LOGGER,
)
from .listener import DEFAULT_COMMAND_TIMEOUT, CommandResult
from .model import KEY_ALARM, AlarmEvent, Update
from .model.engine_stop import (
    REFUSE,
    SEND,
    WHEN_STOPPED,
    EngineHold,
    HeldCommand,
    SpeedReport,
    decide,
    speed_report,
)
from .model.guard import DISARMED, Change, Guard, GuardOptions, guard_report
from .protocol import Command, CommandKind, Message, message as p

if TYPE_CHECKING:
    from .runtime import SinotrackRuntime

KEY_GUARD: Final = "guard"
"""Change key: the guard's state."""
KEY_ENGINE_HELD: Final = "engine_held"
"""Change key: an engine command was held, sent or dropped."""
EVENT_GUARD_TRIGGERED: Final = "guard_triggered"
EVENT_COMMAND_EXPIRED: Final = "command_expired"
GUARD_EVENT_TYPES: Final = [EVENT_COMMAND_EXPIRED, EVENT_GUARD_TRIGGERED]
"""Message parameter naming where a position comes from (``gps`` or ``cell``)."""
_HASH_ITERATIONS: Final = 100_000


class EngineStopRefusedError(Exception):
    """``when: now`` while the vehicle moves or its latest valid report is too old."""


def hash_code(code: str) -> str:
    """The stored form of a guard code: a salted PBKDF2-SHA256 hash."""
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", code.encode(), salt, _HASH_ITERATIONS)
    return f"{salt.hex()}${digest.hex()}"


def check_code(stored: str, code: str | None) -> bool:
    """Whether ``code`` is the one whose stored form is ``stored``."""
    salt, _, expected = stored.partition("$")
    if code is None or not expected:
        return False
    try:
        digest = hashlib.pbkdf2_hmac("sha256", code.encode(), bytes.fromhex(salt), _HASH_ITERATIONS)
    except ValueError:
        return False
    return hmac.compare_digest(digest.hex(), expected)


def guard_options(options: Mapping[str, Any]) -> GuardOptions:
    """The model's guard options from the entry's options."""
    auto_arm = float(options.get(CONF_GUARD_AUTO_ARM) or 0)
    return GuardOptions(
        radius_m=float(options.get(CONF_GUARD_RADIUS, DEFAULT_GUARD_RADIUS)),
        exit_delay=timedelta(seconds=float(options.get(CONF_GUARD_EXIT_DELAY) or 0)),
        entry_delay=timedelta(seconds=float(options.get(CONF_GUARD_ENTRY_DELAY) or 0)),
        silent=bool(options.get(CONF_GUARD_SILENT, False)),
        auto_arm=timedelta(minutes=auto_arm) if auto_arm > 0 else None,
    )


def reply_text(result: CommandResult) -> str:
    """A command reply's answer, for a log line (not the position it may carry)."""
    reply = result.reply
    return str(reply.get(p.COMMAND_RESPONSE) or reply.get(p.COMMAND_RESULT) or "done")


class GuardRuntime:
    """One tracker's guard and held engine command."""

    def __init__(self, runtime: SinotrackRuntime) -> None:
        self._runtime = runtime
        self.guard = Guard(guard_options(runtime.options))
        self.hold = EngineHold(HeldCommand.from_dict(runtime.commands.held))
        self.report: SpeedReport | None = None
        """The tracker's latest valid report with a speed (the engine stop's)."""
        self._unsub_delay: CALLBACK_TYPE | None = None
        """The timer that ends the exit or entry delay on time (not at the minute tick)."""

    # -- state and options ---------------------------------------------------------------

    def load(self, data: Any) -> None:
        """The guard stored before the restart. The silence counts from now: Home
        Assistant not listening is not the tracker going silent."""
        self.guard = Guard.from_dict(data, self.guard.options)
        if self.guard.last_report is not None:
            self.guard.last_report = max(self.guard.last_report, dt_util.utcnow())

    def as_dict(self) -> dict[str, Any]:
        """The guard's stored form."""
        return self.guard.as_dict()

    def apply_options(self, options: Mapping[str, Any]) -> None:
        """The entry's options changed (the panel's code format may have too)."""
        self.guard.options = guard_options(options)
        self._runtime.publish(Update(frozenset({KEY_GUARD})))
        if not self._runtime.allow_engine_commands and self.cancel_held():
            LOGGER.info(
                "Tracker %s: engine commands are off: held command dropped", self._runtime.ident
            )

    def diagnostics(self) -> dict[str, Any]:
        """The guard's state and the held engine command (no position)."""
        held = self.hold.held
        silent_after = self.guard.silent_after()
        return {
            "state": self.guard.state,
            "options": {
                "radius_m": self.guard.options.radius_m,
                "silent": self.guard.options.silent,
                "auto_arm": bool(self.guard.options.auto_arm),
            },
            "silent_after_s": silent_after.total_seconds() if silent_after else None,
            "held_command": {"kind": held.kind, "expires": held.expires.isoformat()}
            if held
            else None,
        }

    # -- the tracker's frames and the clock ------------------------------------------------

    def frame(self, messages: Iterable[Message], now: datetime) -> None:
        """The messages of one frame the tracker model applied (``Update.applied``: as
        stored, older ones left out, so a blind-area upload triggers nothing now)."""
        self.guard.frame(now)
        for message in messages:
            report = speed_report(message, now)
            if report is not None and (self.report is None or report.time >= self.report.time):
                self.report = report
            # A message carries GPS fixes only: a cell position reaches the tracker model
            # apart (Tracker.apply_cell), never the guard, so it is never displacement.
            self._changed(self.guard.observe(guard_report(message, now, "gps"), now))
        held = self.hold.release(self.report, now)
        if held is not None:
            self._held_changed()
            self._runtime.create_task(self._send_held(held), f"{DOMAIN} held {held.kind}")

    def tick(self, now: datetime) -> None:
        """The minute tick: delays, the silent rule, auto-arm, the held command's expiry."""
        self._changed(self.guard.tick(now))
        expired = self.hold.expire(now)
        if expired is not None:
            LOGGER.warning(
                "Tracker %s: the held %s command expired (the vehicle did not stand still"
                " with a fresh report within an hour)",
                self._runtime.ident,
                expired.kind,
            )
            self._held_changed()
            event = AlarmEvent(
                EVENT_COMMAND_EXPIRED,
                {
                    "command": expired.kind,
                    "held": expired.held.isoformat(),
                    "time": now.isoformat(),
                },
            )
            self._runtime.publish(Update(frozenset({KEY_ALARM}), (event,)))

    def _changed(self, change: Change) -> None:
        """Tell the entities, save, fire the event and act on a triggering."""
        if not change.state_changed:
            return
        self._runtime.save_soon()
        self._schedule_delay()
        alarms: tuple[AlarmEvent, ...] = ()
        trigger = change.fired
        if trigger is not None:
            LOGGER.warning("Tracker %s: guard triggered (%s)", self._runtime.ident, trigger.reason)
            alarms = (AlarmEvent(EVENT_GUARD_TRIGGERED, trigger.data()),)
        if change.armed:
            LOGGER.info("Tracker %s: guard armed (parked)", self._runtime.ident)
            self._tracker_alarm(CommandKind.ARM)
        changed = {KEY_GUARD, KEY_ALARM} if alarms else {KEY_GUARD}
        self._runtime.publish(Update(frozenset(changed), alarms))
        if trigger is not None and self._runtime.options.get(CONF_GUARD_STOP_ENGINE):
            self._guard_engine_stop()

    def _schedule_delay(self) -> None:
        """End a running exit or entry delay on time."""
        if self._unsub_delay is not None:
            self._unsub_delay()
            self._unsub_delay = None
        until = self.guard.until
        if until is None:
            return

        @callback
        def ended(_now: datetime) -> None:
            self._unsub_delay = None
            self._changed(self.guard.tick(dt_util.utcnow()))

        delay = max(0.0, (until - dt_util.utcnow()).total_seconds())
        self._unsub_delay = async_call_later(self._runtime.hass, delay, ended)

    def start(self) -> None:
        """The entry starts: a delay restored from the store ends on time."""
        self._schedule_delay()

    def stop(self) -> None:
        """The entry unloads: no timer left behind."""
        if self._unsub_delay is not None:
            self._unsub_delay()
            self._unsub_delay = None

    # -- the user's commands ---------------------------------------------------------------

    def arm(self) -> None:
        """Arm Home Assistant's guard (and the tracker's own alarm, if opted in)."""
        was = self.guard.state
        self._changed(self.guard.arm(dt_util.utcnow()))
        if was == DISARMED and self.guard.state != DISARMED:
            self._tracker_alarm(CommandKind.ARM)

    def disarm(self) -> None:
        """Disarm Home Assistant's guard (and the tracker's own alarm, if opted in)."""
        if self.guard.state != DISARMED:
            self._changed(self.guard.disarm())
            self._tracker_alarm(CommandKind.DISARM)

    def _tracker_alarm(self, kind: CommandKind) -> None:
        """The tracker's own arm or disarm command, when an administrator opted in."""
        runtime = self._runtime
        if not runtime.options.get(CONF_GUARD_ARM_TRACKER):
            return
        if runtime.state.values.get(p.PROTOCOL_ID) == p.PROTOCOL_JT808:
            LOGGER.info(
                "Tracker %s: no %s command for JT/T 808 trackers; only the guard changed",
                runtime.ident,
                kind.value,
            )
            return
        runtime.create_task(self._send(Command(kind), queue=True), f"{DOMAIN} {kind.value}")

    async def _send(self, command: Command, *, queue: bool) -> None:
        """Send a command for the guard; its outcome is logged."""
        ident = self._runtime.ident
        try:
            result = await self._runtime.async_send_command(
                command, timeout=DEFAULT_COMMAND_TIMEOUT, queue_if_offline=queue
            )
        except Exception as err:  # noqa: BLE001 - nobody waits for it: logged
            LOGGER.warning("Tracker %s: the %s command failed: %s", ident, command.kind.value, err)
        else:
            LOGGER.info(
                "Tracker %s: the %s command was answered: %s",
                ident,
                command.kind.value,
                reply_text(result),
            )

    # -- the safe engine stop --------------------------------------------------------------

    async def async_engine_command(
        self,
        command: Command,
        when: str,
        *,
        timeout: float,  # noqa: ASYNC109 - the reply timeout, passed on
    ) -> tuple[str, CommandResult | None]:
        """Send an engine command while the vehicle stands, else hold or refuse it.

        Returns ``("sent", result)``, ``("held", None)`` or ``("replaced", None)``.
        Raises ``EngineCommandsDisabledError``, ``EngineStopRefusedError`` and the
        errors of sending."""
        status = self.engine_gate(command, when)
        if status is not None:
            return status, None
        return "sent", await self._runtime.async_send_command(command, timeout=timeout)

    def engine_gate(self, command: Command, when: str) -> str | None:
        """Whether an engine command may go now, whatever the channel: None if it may (a
        held one is dropped: this one replaces it), ``"held"`` or ``"replaced"`` if it is
        held instead. Raises ``EngineCommandsDisabledError`` and ``EngineStopRefusedError``."""
        runtime = self._runtime
        if not runtime.allow_engine_commands:
            raise EngineCommandsDisabledError(f"engine commands are off for {runtime.ident}")
        now = dt_util.utcnow()
        decision = decide(self.report, now, when)
        if decision == REFUSE:
            raise EngineStopRefusedError(f"tracker {runtime.ident} is moving or not reporting")
        if decision == SEND:
            if self.hold.cancel():  # this one goes now: the held one is obsolete
                self._held_changed()
            return None
        replaced = self.hold.hold(command.kind.value, command.payload, now)
        LOGGER.info(
            "Tracker %s: %s command held until the vehicle stands still",
            runtime.ident,
            command.kind.value,
        )
        self._held_changed()
        return "replaced" if replaced else "held"

    def cancel_held(self) -> int:
        """Drop the held engine command; how many were dropped (0 or 1)."""
        dropped = self.hold.cancel()
        if dropped:
            self._held_changed()
        return dropped

    def _guard_engine_stop(self) -> None:
        """The guard triggered and an administrator opted in: stop the engine through the
        ``stopped`` path (held while the vehicle moves)."""
        runtime = self._runtime
        if not runtime.allow_engine_commands:
            LOGGER.warning(
                "Tracker %s: the guard may not stop the engine: engine commands are off",
                runtime.ident,
            )
            return
        now = dt_util.utcnow()
        if decide(self.report, now, WHEN_STOPPED) == SEND:
            self.hold.cancel()
            runtime.create_task(
                self._send(Command(CommandKind.ENGINE_STOP), queue=False), f"{DOMAIN} guard stop"
            )
            return
        self.hold.hold(CommandKind.ENGINE_STOP.value, "", now, origin="guard")
        self._held_changed()

    async def _send_held(self, held: HeldCommand) -> None:
        """Send the held command now that the vehicle stands."""
        command = Command(CommandKind(held.kind), held.payload)
        if not is_engine_command(command):
            return
        LOGGER.info(
            "Tracker %s: the vehicle stands: sending the held %s", self._runtime.ident, held.kind
        )
        await self._send(command, queue=False)

    def _held_changed(self) -> None:
        """Persist the held command and tell the "Engine stop pending" entity."""
        held = self.hold.held
        self._runtime.commands.set_held(held.as_dict() if held else None)
        self._runtime.publish(Update(frozenset({KEY_ENGINE_HELD})))
