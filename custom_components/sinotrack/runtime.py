"""Per-tracker runtime: the latest state of one tracker, alarm edges, availability, commands.

The listener hands it decoded messages (it implements the listener's ``TrackerSink``); it
keeps the state that entities read and tells them which keys changed, so that an entity is
written only when one of its values changed. It knows nothing about bytes.

Rules:

* A message older than the newest one seen (blind-area and batch uploads arrive out of
  order) changes nothing: no state, no position, no event.
* A position moves only with a valid fix, unless the "allow invalid fixes" option is on.
* An alarm event fires on the rising edge of an alarm flag, not on every frame while the
  flag stays set. The flags survive a restart, so a tracker that still reports an alarm
  after Home Assistant restarts does not fire it again.
* Two distances, one source each, so that neither ever jumps: the odometer is the
  tracker's own mileage (unknown until the tracker reports one: JT/T 808 trackers send it
  with their positions, H02 trackers when asked); the distance counted adds up the way
  between valid fixes since the tracker was added. Steps under ``JITTER_KM`` (GPS jitter
  when parked) are not counted, but the distance is measured from the last counted fix,
  so a slow vehicle that reports often still adds up its way.
* Only news is written. The shown position moves when the vehicle moves (speed at
  ``MOVING_SPEED`` or more) or the fix lies farther than ``JITTER_KM`` and its accuracy
  from it; a parked tracker's wandering fixes change nothing. "Last seen" is written when
  the tracker comes online or goes offline (then it is the exact time of its last frame)
  and at most every ``LAST_SEEN_RESOLUTION`` in between.
* A stop is not the end of a trip: "moving" (and the vehicle state "moving") starts as
  soon as the speed reaches ``MOVING_SPEED`` and ends once the vehicle has stood still for
  ``STOP_DELAY`` (a traffic light is no news), or at once when the ignition goes off.
* A fix without HDOP has the accuracy ``DEFAULT_ACCURACY_M``, never 0 (which zone logic
  reads as a perfect fix).
* The state is saved at most ``SAVE_DELAY`` seconds after a change, even while frames keep
  coming, so an unclean restart loses little (the odometer never goes backwards by more);
  when only the time of the newest frame changed, ``QUIET_SAVE_DELAY`` after.
* Only what the store can write back enters the state (``model.storable``): a value no
  JSON writer keeps (a 300-digit number, an infinite mileage) is dropped where messages
  come in, and counted.
* Alarm events are rate-limited per type (``model.AlarmRateLimit``); the state's alarm
  flags still follow every frame.
* One subscriber failing (an entity whose write raises) does not stop the others: each is
  called on its own, its error logged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import logging
from typing import Any, Final, cast

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_call_later, async_track_time_interval
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .const import (
    CONF_ALLOW_ENGINE_COMMANDS,
    CONF_ALLOW_INVALID_FIX,
    CONF_ALLOWED_NETWORKS,
    CONF_JT808_UTC_OFFSET,
    CONF_OFFLINE_TIMEOUT,
    DEFAULT_JT808_UTC_OFFSET,
    DEFAULT_OFFLINE_TIMEOUT,
    DOMAIN,
    LOGGER,
    MOVING_SPEED,
)
from .listener import IPNetwork, Listener, parse_networks
from .model import AlarmRateLimit, storable_items, storable_timestamp
from .model.geo import haversine_km
from .protocol import Message, TrackerSettings, message as p

STORAGE_VERSION: Final = 1
SAVE_DELAY: Final = 30.0
QUIET_SAVE_DELAY: Final = 600.0
"""When only the time of the newest frame changed (a parked tracker's reports), the state
is saved this long after instead (a write every 30 s of nothing new wears SD cards)."""
FUTURE_TOLERANCE: Final = 60.0
"""Seconds a device timestamp may be ahead of the server's clock and still hold back
older messages (GPS time against an NTP clock: a minute is plenty)."""
LAST_SEEN_RESOLUTION: Final = timedelta(minutes=15)
"""While the tracker keeps reporting, "last seen" is written at most this often: each
write is a row in the database and a line in the logbook, and "Connected" already says
that the tracker reports. It is exact whenever it matters: when the tracker goes offline
(the time of its last frame) or comes back."""
STOP_DELAY: Final = 120.0
"""Seconds a moving vehicle must stand still before it is no longer moving: traffic lights
and queues would otherwise log "stopped" and "moving" every minute of a drive."""
DEFAULT_ACCURACY_M: Final = 15.0
"""Accuracy (m) of a fix that comes without HDOP (H02 frames). A consumer GPS receiver in
a vehicle is within about 5-15 m of the truth (95 %) with open sky; 15 m is what a phone
typically reports for such a fix, and it keeps zone logic from taking the fix as perfect."""
METERS_PER_HDOP: Final = 5.0
"""Accuracy (m) per unit of HDOP when the frame carries it (a user-equivalent range error
of about 5 m), never under ``METERS_PER_HDOP`` (HDOP 1, the best a receiver reports)."""

# Derived keys announced to entities besides the message parameters.
KEY_POSITION: Final = "position"
KEY_LAST_SEEN: Final = "last_seen"
KEY_ONLINE: Final = "online"
KEY_ODOMETER: Final = "odometer"
KEY_DISTANCE: Final = "distance"
KEY_VEHICLE_STATE: Final = "vehicle_state"
KEY_MOVING: Final = "moving"

# Alarm flags -> event types of the alarm event entity.
ALARM_EVENTS: Final[dict[str, str]] = {
    p.SOS: "sos",
    p.POWER_CUT: "power_cut",
    p.CRASH: "crash",
    p.ROLLOVER: "rollover",
    p.OVERSPEED: "overspeed",
    p.FATIGUE: "fatigue",
    p.LOW_BATTERY: "low_battery",
    p.VIBRATION: "vibration",
    p.GEOFENCE_IN: "geofence_enter",
    p.GEOFENCE_OUT: "geofence_exit",
    p.GEOFENCE: "geofence",
    p.GNSS_ANTENNA_CUT: "gnss_antenna_cut",
    p.GNSS_ANTENNA_SHORT: "gnss_antenna_short",
    p.GNSS_FAULT: "gnss_fault",
    p.ILLEGAL_IGNITION: "illegal_ignition",
    p.BATTERY_REMOVED: "battery_removed",
    p.TEMPERATURE_ALARM: "temperature",
    p.THEFT: "theft",
    p.ILLEGAL_DISPLACEMENT: "illegal_displacement",
    p.DOOR_ILLEGAL_OPEN: "illegal_door_open",
    p.PARKING_TIMEOUT: "parking_timeout",
    p.DANGER_WARNING: "danger_warning",
    p.CUSTOM_ALARM: "custom",
}
EVENT_TYPES: Final = sorted(set(ALARM_EVENTS.values()))

VEHICLE_STATES: Final = ["moving", "idling", "parked", "towing"]

KEY_AUTH_CODE: Final = "jt808_auth_code"
"""Store key of the JT/T 808 auth code issued to the tracker (beside the state's keys)."""


def auth_refused_issue_id(entry_id: str) -> str:
    """The repair issue raised when a JT/T 808 registration of the entry's ID was refused."""
    return f"jt808_registration_refused_{entry_id}"


_MAX_PLAUSIBLE_KMH: Final = 400.0
JITTER_KM: Final = 0.02
"""Fixes closer than this (20 m) to the last one are GPS jitter, not a move: not counted
as distance, and not written as a new position while the vehicle is not moving."""


def fix_accuracy(hdop: Any) -> float:
    """The accuracy (m) of a fix: from its HDOP when known, else ``DEFAULT_ACCURACY_M``."""
    if hdop is None:
        return DEFAULT_ACCURACY_M
    return max(METERS_PER_HDOP, float(hdop) * METERS_PER_HDOP)


@dataclass(slots=True)
class TrackerState:
    """What entities read. Times are aware datetimes (UTC)."""

    values: dict[str, Any] = field(default_factory=dict)
    latitude: float | None = None
    longitude: float | None = None
    accuracy: float = 0.0
    fix_time: datetime | None = None
    """Device time of the fix of the position shown."""
    last_seen: datetime | None = None
    newest: float | None = None
    """Device timestamp (epoch) of the newest message applied."""
    odometer: float | None = None
    """The tracker's own mileage (km); None until it reports one."""
    computed_km: float = 0.0
    """The distance counted between valid fixes (km)."""
    anchor: tuple[float, float, float] | None = None
    """Latitude, longitude and time (epoch) of the fix the computed distance was last
    counted from."""
    alarms: dict[str, bool] = field(default_factory=dict)
    motion: bool | None = None
    """Moving, with ``STOP_DELAY`` (None until a speed is known)."""
    stopped_since: float | None = None
    """Server time (epoch) the vehicle stopped while moving; None when not stopping."""
    connected: bool = False
    online: bool = False
    peer: str | None = None

    @property
    def distance(self) -> float | None:
        """The distance counted (km), once there was a valid fix to count from."""
        if self.anchor is None and not self.computed_km:
            return None
        return round(self.computed_km, 3)

    @property
    def vehicle_state(self) -> str | None:
        speed = self.values.get(p.SPEED)
        ignition = self.values.get(p.IGNITION)
        if speed is None and ignition is None:
            return None
        if self.motion:
            return "towing" if ignition is False else "moving"
        return "idling" if ignition else "parked"

    @property
    def moving(self) -> bool | None:
        return self.motion

    def update_motion(self, now: float) -> None:
        """Recompute ``motion`` from the speed and ignition at server time ``now``."""
        speed = self.values.get(p.SPEED)
        if speed is None:
            return
        if speed >= MOVING_SPEED:
            self.motion, self.stopped_since = True, None
        elif not self.motion or self.values.get(p.IGNITION) is False:
            self.motion, self.stopped_since = False, None  # never moving, or parked
        elif self.stopped_since is None:
            self.stopped_since = now
        elif now - self.stopped_since >= STOP_DELAY:
            self.motion, self.stopped_since = False, None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form for the store."""
        return {
            "values": storable_items(self.values),
            "latitude": self.latitude,
            "longitude": self.longitude,
            "accuracy": self.accuracy,
            "fix_time": self.fix_time.isoformat() if self.fix_time else None,
            "last_seen": self.last_seen.isoformat() if self.last_seen else None,
            "newest": self.newest,
            "odometer": self.odometer,
            "computed_km": self.computed_km,
            "anchor": list(self.anchor) if self.anchor else None,
            "device_mileage": self.odometer is not None,
            "alarms": self.alarms,
            "motion": self.motion,
            "stopped_since": self.stopped_since,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrackerState:
        def when(text: Any) -> datetime | None:
            return dt_util.parse_datetime(text) if isinstance(text, str) else None

        raw = data.get("anchor")
        anchor = (
            (float(raw[0]), float(raw[1]), float(raw[2]))
            if isinstance(raw, list) and len(raw) == 3
            else None
        )

        # Before the distance counted had its own sensor, "odometer" held it until the
        # tracker reported a mileage ("device_mileage" false): it is not a mileage.
        odometer = data.get("odometer") if data.get("device_mileage") else None
        values = storable_items(data.get("values") or {})
        motion = data.get("motion")
        if not isinstance(motion, bool):  # stored before motion was: from the speed
            speed = values.get(p.SPEED)
            motion = speed >= MOVING_SPEED if isinstance(speed, (int, float)) else None
        stopped_since = data.get("stopped_since")
        return cls(
            values=values,
            latitude=data.get("latitude"),
            longitude=data.get("longitude"),
            accuracy=float(data.get("accuracy") or 0.0),
            fix_time=when(data.get("fix_time")),
            last_seen=when(data.get("last_seen")),
            newest=data.get("newest"),
            odometer=odometer,
            computed_km=float(data.get("computed_km") or 0.0),
            anchor=anchor,
            alarms={k: bool(v) for k, v in (data.get("alarms") or {}).items()},
            motion=motion,
            stopped_since=float(stopped_since) if isinstance(stopped_since, (int, float)) else None,
        )


_BOOKKEEPING: Final = frozenset({p.TIMESTAMP, KEY_LAST_SEEN})
"""Keys that change with every frame of a parked tracker, and with nothing else."""

type StateListener = Callable[[set[str]], None]
type EventListener = Callable[[str, dict[str, Any]], None]


class SinotrackRuntime:
    """State and behaviour of one tracker (one config entry)."""

    def __init__(
        self,
        hass: HomeAssistant,
        *,
        entry_id: str,
        ident: str,
        options: dict[str, Any],
    ) -> None:
        self.hass = hass
        self.entry_id = entry_id
        self.ident = ident
        self.state = TrackerState()
        self._options = options
        self._listeners: list[StateListener] = []
        self._event_listener: EventListener | None = None
        self._store: Store[dict[str, Any]] = Store(hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}")
        self._last_seen_written: datetime | None = None
        self._unsub_timer: CALLBACK_TYPE | None = None
        self._unsub_save: CALLBACK_TYPE | None = None
        self._save_due = 0.0
        self.first_frame_callbacks: list[Callable[[], None]] = []
        self.listener: Listener | None = None
        self.unregister: Callable[[], None] | None = None
        self.alarm_limit = AlarmRateLimit()
        self.values_refused = 0
        """Values of the tracker's messages dropped because the store could not keep them."""
        self.subscriber_errors = 0
        """Subscriber calls (entity writes) that raised."""
        self.jt808_auth_code: str | None = None
        """The JT/T 808 auth code issued to the tracker, kept in the store."""
        self.registrations_refused = 0
        self.counted_odometer_restored = False
        """The store was written by a version whose odometer held the distance counted
        (the sensor platform moves that entity's history to the "distance counted" one)."""
        self._allowed_networks = parse_networks(options.get(CONF_ALLOWED_NETWORKS))

    # -- options --------------------------------------------------------------------------

    @property
    def jt808_utc_offset(self) -> float:
        return float(self._options.get(CONF_JT808_UTC_OFFSET, DEFAULT_JT808_UTC_OFFSET))

    @property
    def offline_timeout(self) -> timedelta:
        return timedelta(
            minutes=float(self._options.get(CONF_OFFLINE_TIMEOUT, DEFAULT_OFFLINE_TIMEOUT))
        )

    @property
    def allow_invalid_fix(self) -> bool:
        return bool(self._options.get(CONF_ALLOW_INVALID_FIX, False))

    @property
    def allow_engine_commands(self) -> bool:
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

    @callback
    def update_options(self, options: dict[str, Any]) -> None:
        """Apply new options at once (no reload needed)."""
        self._options = options
        self._allowed_networks = parse_networks(options.get(CONF_ALLOWED_NETWORKS))
        if self.listener is not None:
            self.listener.sink_changed(self.ident)
        self._notify(self._online_changes())

    # -- lifecycle ------------------------------------------------------------------------

    async def async_load(self) -> None:
        """Restore the state saved before the last stop."""
        data = await self._store.async_load()
        if data:
            self.state = TrackerState.from_dict(data)
            self.counted_odometer_restored = data.get("odometer") is not None and not data.get(
                "device_mileage"
            )
            self._last_seen_written = self.state.last_seen
            code = data.get(KEY_AUTH_CODE)
            self.jt808_auth_code = code if isinstance(code, str) and code else None

    @callback
    def async_start(self) -> None:
        self._unsub_timer = async_track_time_interval(
            self.hass, self._async_tick, timedelta(seconds=60), name=f"{DOMAIN} {self.ident} online"
        )

    async def async_stop(self) -> None:
        if self.unregister is not None:
            self.unregister()
            self.unregister = None
        if self._unsub_timer is not None:
            self._unsub_timer()
            self._unsub_timer = None
        if self._unsub_save is not None:
            self._unsub_save()
            self._unsub_save = None
        await self._store.async_save(self._data())

    def _data(self) -> dict[str, Any]:
        """What the store keeps: the state and the JT/T 808 auth code."""
        return {**self.state.as_dict(), KEY_AUTH_CODE: self.jt808_auth_code}

    async def async_remove_store(self) -> None:
        await self._store.async_remove()

    # -- subscriptions --------------------------------------------------------------------

    @callback
    def add_listener(self, listener: StateListener) -> CALLBACK_TYPE:
        self._listeners.append(listener)

        @callback
        def remove() -> None:
            self._listeners.remove(listener)

        return remove

    @callback
    def set_event_listener(self, listener: EventListener | None) -> None:
        self._event_listener = listener

    @callback
    def _notify(self, changed: set[str]) -> None:
        if not changed:
            return
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
        for listener in list(self._listeners):
            self._call_subscriber(listener, changed)

    def _call_subscriber[*A](self, subscriber: Callable[[*A], None], *args: *A) -> None:
        """Call one subscriber; its failure is logged and does not reach the others."""
        try:
            subscriber(*args)
        except Exception:  # noqa: BLE001 - any error of one subscriber stays with it
            self.subscriber_errors += 1
            LOGGER.exception("%s: a subscriber failed to take an update", self.ident)

    @callback
    def _async_save(self, _now: datetime) -> None:
        self._unsub_save = None
        self._store.async_delay_save(self._data)

    # -- JT/T 808 authentication ------------------------------------------------------------

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
        if self.listener is not None:
            self.listener.sink_changed(self.ident)
        ir.async_delete_issue(self.hass, DOMAIN, auth_refused_issue_id(self.entry_id))

    # -- the listener's sink --------------------------------------------------------------

    @callback
    def connection_changed(self, connected: bool, peer: str | None) -> None:
        state = self.state
        if peer is not None:
            state.peer = peer
        if state.connected == connected:
            return
        state.connected = connected
        changed = self._online_changes()
        changed.add("connected")
        self._notify(changed)

    @callback
    def handle_messages(self, messages: list[Message]) -> None:
        now = dt_util.utcnow()
        state = self.state
        first = state.last_seen is None
        changed: set[str] = set()
        for message in messages:
            self._apply(self._storable(message), now, changed)
        state.last_seen = now
        if self._last_seen_written is None or now - self._last_seen_written >= LAST_SEEN_RESOLUTION:
            self._last_seen_written = now
            changed.add(KEY_LAST_SEEN)
        changed |= self._online_changes()
        self._notify(changed)
        if first:
            for callback_ in self.first_frame_callbacks:
                self._call_subscriber(callback_)

    def _storable(self, message: Message) -> Message:
        """The message without the values the store could not keep (the one way in)."""
        kept = storable_items(message)
        timestamp = kept.get(p.TIMESTAMP)
        if timestamp is not None and not storable_timestamp(timestamp):
            del kept[p.TIMESTAMP]
        if len(kept) != len(message):
            self.values_refused += len(message) - len(kept)
            LOGGER.debug(
                "%s: dropped values the store cannot keep: %s",
                self.ident,
                sorted(str(key) for key in message if key not in kept),
            )
        return cast("Message", kept)

    def _apply(self, message: Message, now: datetime, changed: set[str]) -> None:
        state = self.state
        timestamp = message.get(p.TIMESTAMP)
        if timestamp is not None:
            if state.newest is not None and timestamp < state.newest:
                LOGGER.debug("%s: ignoring a message older than the newest one", self.ident)
                if p.COMMAND_CODE in message or p.COMMAND_REPLY_SERIAL in message:
                    # A command reply answers now, whatever fix it carries (S32 mileage).
                    self._apply_mileage(message, changed)
                return
            # A date far ahead (corrupt, or a JT/T 808 clock zone corrected later) must not
            # make the frames that follow look old: the mark stays near the server's clock.
            state.newest = min(timestamp, now.timestamp() + FUTURE_TOLERANCE)
        values = state.values
        before_state = state.vehicle_state
        before_moving = state.moving
        for key, value in message.items():
            if values.get(key) != value:
                values[key] = value
                changed.add(key)
        state.update_motion(now.timestamp())
        if p.LATITUDE in message and p.LONGITUDE in message:
            self._apply_position(message, now, changed)
        self._apply_mileage(message, changed)
        if state.vehicle_state != before_state:
            changed.add(KEY_VEHICLE_STATE)
        if state.moving != before_moving:
            changed.add(KEY_MOVING)
        self._alarm_edges(message, now)

    def _apply_mileage(self, message: Message, changed: set[str]) -> None:
        """The tracker's own mileage, when the message carries it, is the odometer."""
        mileage = message.get(p.MILEAGE)
        if mileage is None:
            return
        state = self.state
        if state.odometer != mileage:
            state.odometer = mileage
            changed.add(KEY_ODOMETER)

    def _apply_position(self, message: Message, now: datetime, changed: set[str]) -> None:
        state = self.state
        valid = bool(message.get(p.VALID, True))
        if not valid and not self.allow_invalid_fix:
            return
        latitude = float(message[p.LATITUDE])
        longitude = float(message[p.LONGITUDE])
        timestamp = message.get(p.TIMESTAMP)
        fix_time = dt_util.utc_from_timestamp(timestamp) if timestamp is not None else now
        accuracy = fix_accuracy(message.get(p.HDOP))
        if valid:
            self._add_distance(latitude, longitude, fix_time.timestamp(), changed)
        requested = p.COMMAND_CODE in message or p.COMMAND_REPLY_SERIAL in message
        if (
            state.latitude is not None
            and state.longitude is not None
            and not state.moving
            and not requested  # whoever asked for the position wants its fix time
            and haversine_km(state.latitude, state.longitude, latitude, longitude) * 1000
            < max(JITTER_KM * 1000, accuracy)
        ):
            return  # parked: the fix wanders around the position shown, no news
        if (state.latitude, state.longitude, state.accuracy, state.fix_time) != (
            latitude,
            longitude,
            accuracy,
            fix_time,
        ):
            state.latitude = latitude
            state.longitude = longitude
            state.accuracy = accuracy
            state.fix_time = fix_time
            changed.add(KEY_POSITION)

    def _add_distance(
        self, latitude: float, longitude: float, timestamp: float, changed: set[str]
    ) -> None:
        """Add the way from the last counted fix to this valid one to the odometer."""
        state = self.state
        anchor = state.anchor
        if anchor is None:
            state.anchor = (latitude, longitude, timestamp)
            changed.add(KEY_DISTANCE)
            return
        step = haversine_km(anchor[0], anchor[1], latitude, longitude)
        if step < JITTER_KM:
            return  # jitter, or a slow start: measured again from the same fix next time
        state.anchor = (latitude, longitude, timestamp)
        hours = (timestamp - anchor[2]) / 3600
        if hours > 0 and step / hours > _MAX_PLAUSIBLE_KMH:
            return  # a jump no vehicle makes: one of the two fixes is wrong
        state.computed_km += step
        changed.add(KEY_DISTANCE)

    def _alarm_edges(self, message: Message, now: datetime) -> None:
        alarms = self.state.alarms
        rising = []
        for key, event_type in ALARM_EVENTS.items():
            active = message.get(key)
            if active is None:
                continue
            was = alarms.get(key, False)
            alarms[key] = bool(active)
            if active and not was:
                rising.append(event_type)
        if "geofence" in rising and ("geofence_enter" in rising or "geofence_exit" in rising):
            rising.remove("geofence")  # the direction says more than the bare area alarm
        for event_type in rising:
            self._fire(event_type, message, now)

    def _fire(self, event_type: str, message: Message, now: datetime) -> None:
        if not self.alarm_limit.allow(event_type, now.timestamp()):
            LOGGER.debug("%s: %s alarm within the rate limit, no event", self.ident, event_type)
            return
        LOGGER.info("%s: %s alarm", self.ident, event_type)
        if self._event_listener is None:
            return
        timestamp = message.get(p.TIMESTAMP)
        data: dict[str, Any] = {
            "time": (
                dt_util.utc_from_timestamp(timestamp) if timestamp is not None else now
            ).isoformat(),
        }
        if p.LATITUDE in message:
            data["latitude"] = message[p.LATITUDE]
            data["longitude"] = message[p.LONGITUDE]
            data["position_valid"] = bool(message.get(p.VALID, True))
        if p.SPEED in message:
            data["speed"] = message[p.SPEED]
        self._call_subscriber(self._event_listener, event_type, data)

    # -- availability ---------------------------------------------------------------------

    @callback
    def _async_tick(self, _now: datetime) -> None:
        changed = self._online_changes()
        state = self.state
        # A vehicle that stopped and sends no more positions still stops moving.
        before = (state.moving, state.vehicle_state)
        state.update_motion(dt_util.utcnow().timestamp())
        if (state.moving, state.vehicle_state) != before:
            changed |= {KEY_MOVING, KEY_VEHICLE_STATE}
        self._notify(changed)

    def _online_changes(self) -> set[str]:
        """The keys that change when ``online`` is recomputed: "last seen" is written
        with it, so that it is exact when the tracker goes offline or comes back."""
        if not self._check_online():
            return set()
        self._last_seen_written = self.state.last_seen
        return {KEY_ONLINE, KEY_LAST_SEEN}

    def _check_online(self) -> bool:
        """Recompute ``online``; log once per transition. True when it changed."""
        state = self.state
        online = (
            state.connected
            and state.last_seen is not None
            and dt_util.utcnow() - state.last_seen < self.offline_timeout
        )
        if online == state.online:
            return False
        state.online = online
        if online:
            LOGGER.info("Tracker %s is online", self.ident)
        else:
            LOGGER.info("Tracker %s is offline", self.ident)
        return True


type SinotrackConfigEntry = ConfigEntry[SinotrackRuntime]
