"""Per-tracker runtime: one tracker's model in Home Assistant, its store, subscribers and commands.

The runtime is the one object the platforms, the actions and the diagnostics touch. It is
built with what it needs (its entry, the listener of its port, the entry's command store),
registers itself with the listener as the sink of its tracker ID and unregisters when it
stops. The listener hands it decoded messages; the tracker model (``model``, no Home
Assistant) applies them and says what changed and which alarms rose; the runtime tells the
subscribers that watch those keys, saves the state and keeps the clock (the minute tick).

Its own rules:

* The state is saved at most ``SAVE_DELAY`` seconds after a change, even while frames keep
  coming, so an unclean restart loses little (the odometer never goes backwards by more);
  when only the time of the newest frame changed, ``QUIET_SAVE_DELAY`` after. The trip
  log keeps its own stores (``trip_log``).
* A subscriber is called only when a key it watches changed. One subscriber failing (an
  entity whose write raises) does not stop the others: each is called on its own, its
  error logged and counted.
* A command is sent live, or queued until the tracker connects (kept in the command store
  across restarts); engine commands only when the options allow them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterable, Mapping
from datetime import datetime, timedelta
from functools import cache
import logging
from typing import Any, Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import CALLBACK_TYPE, Event, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.helpers.event import (
    async_call_later,
    async_track_time_change,
    async_track_time_interval,
)
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey

from .cell_runtime import async_follow_cell
from .command_store import CommandStore, EngineCommandsDisabledError, is_engine_command
from .const import (
    CONF_ALLOW_ENGINE_COMMANDS,
    CONF_ALLOW_INVALID_FIX,
    CONF_ALLOWED_NETWORKS,
    CONF_JT808_UTC_OFFSET,
    CONF_OFFLINE_TIMEOUT,
    CONF_STOP_TIME,
    CONF_TRACKER_ID,
    CONF_USE_CELL_POSITION,
    DEFAULT_JT808_UTC_OFFSET,
    DEFAULT_OFFLINE_TIMEOUT,
    DOMAIN,
    LOGGER,
)
from .guard_runtime import GuardRuntime
from .listener import DEFAULT_QUEUE_EXPIRY, CommandResult, IPNetwork, Listener, parse_networks
from .model import (
    KEY_LAST_SEEN,
    KEY_ONLINE,
    AlarmRateLimit,
    Tracker,
    TrackerState,
    Update,
    holds_counted_odometer,
)
from .protocol import Command, Message, TrackerSettings, message as p
from .subscription import Subscription
from .trip_log import DEFAULT_STOP_TIME_MIN, TripLog, async_remove_trip_store

STORAGE_VERSION: Final = 1
SAVE_DELAY: Final = 30.0
QUIET_SAVE_DELAY: Final = 600.0
"""When only the time of the newest frame changed (a parked tracker's reports), the state
is saved this long after instead (a write every 30 s of nothing new wears SD cards)."""
TICK: Final = timedelta(seconds=60)
"""How often the runtime checks, without a message, whether the tracker went offline or
stopped moving."""

KEY_AUTH_CODE: Final = "jt808_auth_code"
"""Store key of the JT/T 808 auth code issued to the tracker (beside the state's keys)."""
KEY_OPTIONS: Final = "options"
"""Change key: the entry's options changed (for entities that exist with some options)."""
KEY_GUARD_STATE: Final = "guard"
"""Store key of the guard's state (armed survives a restart)."""

_CLOCK: Final[HassKey[_Clock]] = HassKey(f"{DOMAIN}_clock")
_BOOKKEEPING: Final = frozenset({p.TIMESTAMP, KEY_LAST_SEEN})
"""Keys that change with every frame of a parked tracker, and with nothing else."""
_ALL: Final[frozenset[str]] = frozenset({""})
"""The keys of subscribers that watch every change."""

type Subscriber = Callable[[Update], None]
"""Called with the update of the tracker's state (its ``changed`` keys, its ``alarms``)."""


@cache
def _frozen(keys: tuple[str, ...]) -> frozenset[str]:
    """One set per distinct tuple of keys (the entities of one kind share theirs)."""
    return frozenset(keys)


def shared_keys(keys: Iterable[str]) -> frozenset[str]:
    """``keys`` as a set shared with every subscriber that watches the same keys."""
    return keys if isinstance(keys, frozenset) else _frozen(tuple(sorted(keys)))


def auth_refused_issue_id(entry_id: str) -> str:
    """The repair issue raised when a JT/T 808 registration of the entry's ID was refused."""
    return f"jt808_registration_refused_{entry_id}"


def _state_store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, Any]]:
    """The store of an entry's tracker state (``sinotrack.<entry id>``)."""
    return Store(hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}")


async def async_remove_state_store(hass: HomeAssistant, entry_id: str) -> None:
    """Delete the stored state of an entry's tracker (the entry is deleted)."""
    await _state_store(hass, entry_id).async_remove()
    await async_remove_trip_store(hass, entry_id)


def _offline_timeout(options: Mapping[str, Any]) -> timedelta:
    """The "offline after" option (minutes)."""
    return timedelta(minutes=float(options.get(CONF_OFFLINE_TIMEOUT, DEFAULT_OFFLINE_TIMEOUT)))


class _Clock:
    """The minute tick and the stop at Home Assistant's stop of every running tracker: one
    timer and one listener for all of them (not two per tracker)."""

    def __init__(self, hass: HomeAssistant) -> None:
        self.hass = hass
        self.runtimes: dict[SinotrackRuntime, None] = {}
        """The running trackers, in the order they started."""
        self._unsub_tick = async_track_time_interval(
            hass, self._tick, TICK, name=f"{DOMAIN} online"
        )
        self._unsub_midnight = async_track_time_change(
            hass, self._midnight, hour=0, minute=0, second=0
        )
        self._unsub_stop: CALLBACK_TYPE | None = hass.bus.async_listen_once(
            EVENT_HOMEASSISTANT_STOP, self._stop
        )

    @staticmethod
    def of(hass: HomeAssistant) -> _Clock:
        """The clock of ``hass``'s trackers (started with the first one)."""
        clock = hass.data.get(_CLOCK)
        if clock is None:
            clock = hass.data[_CLOCK] = _Clock(hass)
        return clock

    def add(self, runtime: SinotrackRuntime) -> None:
        """Tick ``runtime`` from now on, and stop it with Home Assistant."""
        self.runtimes[runtime] = None

    def remove(self, runtime: SinotrackRuntime) -> None:
        """``runtime`` stopped; the last one stops the clock."""
        self.runtimes.pop(runtime, None)
        if not self.runtimes:
            self._unsub_tick()
            self._unsub_midnight()
            if self._unsub_stop is not None:
                self._unsub_stop()
            if self.hass.data.get(_CLOCK) is self:
                del self.hass.data[_CLOCK]

    @callback
    def _tick(self, now: datetime) -> None:
        """Each tracker's tick."""
        self._each("the minute tick", lambda runtime: runtime._async_tick(now))

    @callback
    def _midnight(self, _now: datetime) -> None:
        """Local midnight: each tracker's trip log starts a new day."""
        self._each("the new day", lambda runtime: runtime.trips.new_day())

    def _each(self, what: str, action: Callable[[SinotrackRuntime], None]) -> None:
        """``action`` for each tracker; one failing does not stop the others'."""
        for runtime in list(self.runtimes):
            try:
                action(runtime)
            except Exception:  # noqa: BLE001 - one tracker's failure stays with it
                LOGGER.exception("%s: %s failed", runtime.ident, what)

    async def _stop(self, _event: Event) -> None:
        """Home Assistant stops: stop every tracker (each saves its state)."""
        self._unsub_stop = None  # fired: gone from the bus already
        await asyncio.gather(*(runtime.async_stop() for runtime in list(self.runtimes)))


class SinotrackRuntime:
    """One tracker (one config entry) in Home Assistant."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: SinotrackConfigEntry,
        listener: Listener,
        commands: CommandStore,
    ) -> None:
        self.hass = hass
        self.entry = entry
        self.entry_id = entry.entry_id
        self.ident: str = entry.data[CONF_TRACKER_ID]
        self.listener = listener
        """The listener of the tracker's port (shared with the other entries on it)."""
        self.commands = commands
        """The entry's stored queued commands."""
        self.tracker = Tracker(offline_timeout=_offline_timeout(entry.options))
        """The tracker model: the state and its rules."""
        self._title = entry.title
        self._entry_data = dict(entry.data)
        """What the runtime was built with (ID, port, bind address): a change needs a reload."""
        self.trips = TripLog(hass, entry.entry_id, self.ident)
        """The trip log: trip detection fed with every fix, its own store."""
        self._options: dict[str, Any] = {}
        self._allowed_networks: tuple[IPNetwork, ...] = ()
        self._apply_options(entry.options)
        self.guard = GuardRuntime(self)
        """The parked-car guard and the held engine command."""
        self._store = _state_store(hass, entry.entry_id)
        self._subscriptions: list[Subscription[Subscriber]] = []
        """Who watches which keys, in the order they subscribed."""
        self._started = False
        self._unregister: Callable[[], None] | None = None
        self._unsub_save: CALLBACK_TYPE | None = None
        self._save_due = 0.0
        self.subscriber_errors = 0
        """Subscriber calls (entity writes) that raised."""
        self.jt808_auth_code: str | None = None
        """The JT/T 808 auth code issued to the tracker, kept in the store."""
        self.registrations_refused = 0
        self.counted_odometer_restored = False
        """The store was written by a version whose odometer held the distance counted
        (the sensor platform moves that entity's history to the "distance counted" one)."""

    # -- state ----------------------------------------------------------------------------

    @property
    def state(self) -> TrackerState:
        """What entities read."""
        return self.tracker.state

    @property
    def alarm_limit(self) -> AlarmRateLimit:
        """The alarm events' rate limit (and what it held back)."""
        return self.tracker.alarm_limit

    @property
    def values_refused(self) -> int:
        """Values of the tracker's messages dropped because the store could not keep them."""
        return self.tracker.values_refused

    # -- options --------------------------------------------------------------------------

    @property
    def jt808_utc_offset(self) -> float:
        """Hours from UTC of a JT/T 808 tracker's clock."""
        return float(self._options.get(CONF_JT808_UTC_OFFSET, DEFAULT_JT808_UTC_OFFSET))

    @property
    def offline_timeout(self) -> timedelta:
        """Without a message for this long, the tracker is offline."""
        return self.tracker.offline_timeout

    @property
    def allow_invalid_fix(self) -> bool:
        """Whether fixes the tracker marks invalid move its position."""
        return self.tracker.allow_invalid_fix

    @property
    def allow_engine_commands(self) -> bool:
        """Whether engine stop and resume (and raw commands that are one) may be sent."""
        return bool(self._options.get(CONF_ALLOW_ENGINE_COMMANDS, False))

    @property
    def allowed_networks(self) -> tuple[IPNetwork, ...]:
        """Source networks the tracker may connect from; () for any (the listener reads it)."""
        return self._allowed_networks

    def tracker_settings(self) -> TrackerSettings:
        """What the codec applies to this tracker's frames (the listener reads it)."""
        return TrackerSettings(
            jt808_utc_offset=self.jt808_utc_offset, jt808_auth_code=self.jt808_auth_code
        )

    def _apply_options(self, options: Mapping[str, Any]) -> None:
        """Take the entry's options into the model and the listener's view of the sink."""
        self._options = dict(options)
        self.tracker.offline_timeout = _offline_timeout(options)
        self.tracker.allow_invalid_fix = bool(options.get(CONF_ALLOW_INVALID_FIX, False))
        self.tracker.use_cell_position = bool(options.get(CONF_USE_CELL_POSITION, False))
        self._allowed_networks = parse_networks(options.get(CONF_ALLOWED_NETWORKS))
        self.trips.set_stop_time(options.get(CONF_STOP_TIME, DEFAULT_STOP_TIME_MIN))

    @callback
    def async_entry_updated(self, entry: SinotrackConfigEntry) -> None:
        """The entry changed: a new port or bind address reloads it; a new name renames
        the device, and options apply, at once (the tracker stays connected)."""
        if dict(entry.data) != self._entry_data:
            self.hass.config_entries.async_schedule_reload(entry.entry_id)
            return
        if entry.title != self._title:
            self._title = entry.title
            registry = dr.async_get(self.hass)
            device = registry.async_get_device(identifiers={(DOMAIN, self.ident)})
            if device is not None:
                registry.async_update_device(device.id, name=entry.title)
        if dict(entry.options) != self._options:
            self._apply_options(entry.options)
            self.guard.apply_options(entry.options)
            self.listener.sink_changed(self.ident)
            self._publish(self.tracker.refresh_online(dt_util.utcnow()))
            self._publish(Update(frozenset({KEY_OPTIONS})))

    # -- lifecycle ------------------------------------------------------------------------

    async def async_load(self) -> None:
        """Restore the state saved before the last stop."""
        data = await self._store.async_load()
        await self.trips.async_load()
        if data:
            self.tracker = Tracker(
                TrackerState.from_dict(data),
                offline_timeout=self.tracker.offline_timeout,
                allow_invalid_fix=self.tracker.allow_invalid_fix,
                use_cell_position=self.tracker.use_cell_position,
            )
            self.counted_odometer_restored = holds_counted_odometer(data)
            self.guard.load(data.get(KEY_GUARD_STATE))
            code = data.get(KEY_AUTH_CODE)
            self.jt808_auth_code = code if isinstance(code, str) and code else None

    @callback
    def async_register(self) -> None:
        """Own the tracker's ID on the listener: its messages come here from now on."""
        if self._unregister is None:
            self._unregister = self.listener.register(self.ident, self)

    @callback
    def async_unregister(self) -> None:
        """Give the tracker's ID back to the listener."""
        if self._unregister is not None:
            unregister, self._unregister = self._unregister, None
            unregister()

    @callback
    def async_start(self) -> None:
        """Start the clock, queue again the commands stored before a restart, and stop
        with Home Assistant."""
        _Clock.of(self.hass).add(self)
        self._started = True
        self.guard.start()
        self.commands.resume(
            self.entry, self.listener, self.ident, allow_engine=self.allow_engine_commands
        )

    async def async_stop(self) -> None:
        """Unregister from the listener, stop the clock and save the state now."""
        self.async_unregister()
        if self._started:
            self._started = False
            _Clock.of(self.hass).remove(self)
        self.guard.stop()
        if self._unsub_save is not None:
            self._unsub_save()
            self._unsub_save = None
        await self._store.async_save(self._data())
        await self.trips.async_stop()

    def _data(self) -> dict[str, Any]:
        """What the store keeps: the state, the JT/T 808 auth code and the guard's state."""
        return {
            **self.state.as_dict(),
            KEY_AUTH_CODE: self.jt808_auth_code,
            KEY_GUARD_STATE: self.guard.as_dict(),
        }

    @callback
    def _async_tick(self, _now: datetime) -> None:
        """A minute passed: whether the tracker went offline or stopped moving."""
        now = dt_util.utcnow()
        self._publish(self.tracker.tick(now))
        self.guard.tick(now)
        self.trips.tick(now)

    # -- subscriptions --------------------------------------------------------------------

    @callback
    def subscribe(self, subscriber: Subscriber, keys: Iterable[str] | None) -> CALLBACK_TYPE:
        """Call ``subscriber(update)`` after every update that changes one of ``keys``
        (change keys: ``model.keys`` and message parameter names; None: any change).
        Subscribers are called in the order they subscribed. Returns the unsubscribe."""
        return Subscription(
            _ALL if keys is None else shared_keys(keys), subscriber, self._subscriptions
        )

    @callback
    def _publish(self, update: Update) -> None:
        """Log, save and tell the subscribers what ``update`` changed."""
        self._log(update)
        changed = update.changed
        if not changed:
            return
        self._schedule_save(changed)
        due = [
            subscription.subscriber
            for subscription in self._subscriptions
            if subscription.keys is _ALL or not subscription.keys.isdisjoint(changed)
        ]
        for subscriber in due:
            self._call_subscriber(subscriber, update)

    def _log(self, update: Update) -> None:
        """What an update says that is worth a log line."""
        ident = self.ident
        if update.dropped:
            LOGGER.debug("%s: dropped values the store cannot keep: %s", ident, update.dropped)
        if update.stale:
            LOGGER.debug("%s: ignoring %d message(s) older than the newest", ident, update.stale)
        for event_type in update.suppressed:
            LOGGER.debug("%s: %s alarm within the rate limit, no event", ident, event_type)
        for event in update.alarms:
            LOGGER.info("%s: %s alarm", ident, event.type)
        if KEY_ONLINE in update.changed:
            LOGGER.info("Tracker %s is %s", ident, "online" if self.state.online else "offline")

    def _schedule_save(self, changed: frozenset[str]) -> None:
        """Save within ``SAVE_DELAY`` after news, ``QUIET_SAVE_DELAY`` after bookkeeping."""
        delay = QUIET_SAVE_DELAY if changed <= _BOOKKEEPING else SAVE_DELAY
        due = dt_util.utcnow().timestamp() + delay
        if self._unsub_save is not None and due < self._save_due:
            self._unsub_save()  # news: sooner than the quiet save that was planned
            self._unsub_save = None
        if self._unsub_save is None:
            self._save_due = due
            # Not Store.async_delay_save(..., SAVE_DELAY): each call would postpone the
            # write again, and a tracker reporting every few seconds would never be saved.
            self._unsub_save = async_call_later(self.hass, delay, self._async_save)

    def _call_subscriber(self, subscriber: Subscriber, update: Update) -> None:
        """Call one subscriber; its failure is logged and does not reach the others."""
        try:
            subscriber(update)
        except Exception:  # noqa: BLE001 - any error of one subscriber stays with it
            self.subscriber_errors += 1
            LOGGER.exception("%s: a subscriber failed to take an update", self.ident)

    @callback
    def _async_save(self, _now: datetime) -> None:
        self._unsub_save = None
        self._store.async_delay_save(self._data)

    # -- commands -------------------------------------------------------------------------

    async def async_send_command(
        self,
        command: Command,
        *,
        timeout: float,  # noqa: ASYNC109 - the reply timeout, passed on
        queue_if_offline: bool = False,
    ) -> CommandResult:
        """Send ``command`` to the tracker and return its reply.

        With ``queue_if_offline``, a tracker that is not connected gets it when it connects
        (kept in the command store across restarts, for ``DEFAULT_QUEUE_EXPIRY``). Raises
        ``EngineCommandsDisabledError`` for an engine command the options do not allow
        (nothing is sent), ``CommandError`` for one that cannot be encoded, and the
        listener's errors (offline, timeout, queue full, disconnected...).
        """
        if is_engine_command(command) and not self.allow_engine_commands:
            # Raw payloads too: S20 for H02, RELAY and the engine texts for JT/T 808.
            raise EngineCommandsDisabledError(f"engine commands are off for {self.ident}")
        if queue_if_offline:
            return await self.commands.send(
                self.listener, self.ident, command, timeout=timeout, expiry=DEFAULT_QUEUE_EXPIRY
            )
        return await self.listener.send_command(self.ident, command, timeout=timeout)

    # -- JT/T 808 authentication ----------------------------------------------------------

    @callback
    def auth_code_issued(self, code: str) -> None:
        """The listener issued ``code`` to the tracker: keep it (written at once, it survives
        restarts and crashes)."""
        if code == self.jt808_auth_code:
            return
        self.jt808_auth_code = code
        self._store.async_delay_save(self._data, 0)
        ir.async_delete_issue(self.hass, DOMAIN, auth_refused_issue_id(self.entry_id))

    @callback
    def registration_refused(self, peer: str) -> None:
        """A JT/T 808 connection for this ID could not authenticate (a code is stored and it
        did not send it): tell the user."""
        self.registrations_refused += 1
        # Once at warning level: whoever keeps trying must not fill the log.
        LOGGER.log(
            logging.WARNING if self.registrations_refused == 1 else logging.DEBUG,
            "Tracker %s: a JT/T 808 connection from %s could not authenticate (a new"
            " registration is refused while an auth code is stored)",
            self.ident,
            peer,
        )
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            auth_refused_issue_id(self.entry_id),
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key="jt808_registration_refused",
            translation_placeholders={"tracker_id": self.ident, "peer": peer},
        )

    @callback
    def reset_jt808_auth(self) -> None:
        """Forget the stored auth code: the tracker's next registration is accepted."""
        self.jt808_auth_code = None
        self._store.async_delay_save(self._data, 0)
        self.listener.sink_changed(self.ident)
        ir.async_delete_issue(self.hass, DOMAIN, auth_refused_issue_id(self.entry_id))

    # -- the listener's sink --------------------------------------------------------------

    @callback
    def connection_changed(self, connected: bool, peer: str | None) -> None:
        """The tracker connected (from ``peer``) or its connection closed."""
        self._publish(self.tracker.set_connected(connected, peer, dt_util.utcnow()))

    @callback
    def handle_messages(self, messages: list[Message]) -> None:
        """The messages of one decoded frame."""
        now = dt_util.utcnow()
        update = self.tracker.apply(messages, now)
        self._publish(update)
        self.guard.frame(update.applied, now)
        self.trips.feed(messages, now)  # every fix, the late ones the model ignores too
        if self.tracker.use_cell_position:
            async_follow_cell(self)

    # -- for the guard ----------------------------------------------------------------------

    @property
    def options(self) -> Mapping[str, Any]:
        """The entry's options, as applied."""
        return self._options

    @callback
    def publish(self, update: Update) -> None:
        """Tell the subscribers (and the store) about a change made beside the model."""
        self._publish(update)

    @callback
    def save_soon(self) -> None:
        """Save the state now (the guard was armed, disarmed or triggered)."""
        self._store.async_delay_save(self._data, 0)

    @callback
    def create_task(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        """Run ``coro`` in the background for as long as the entry is loaded."""
        self.entry.async_create_background_task(self.hass, coro, name)

    @callback
    def apply_cell_position(
        self, cell: tuple[int, int, int, int], latitude: float, longitude: float, range_m: float
    ) -> None:
        """The position of ``cell`` was found: show it if the model still wants it."""
        if self._unregister is not None:  # still running
            self._publish(
                self.tracker.apply_cell(cell, latitude, longitude, range_m, dt_util.utcnow())
            )


type SinotrackConfigEntry = ConfigEntry[SinotrackRuntime]
