"""One tracker's rules: a frame's messages in, what changed and which alarms rose out.

The caller gives the time (the server's, an aware ``datetime``); nothing here reads a
clock, writes a store or calls anyone. Rules (the position and distance ones are in
``position``, the alarm ones in ``alarms``):

* Only what the store can write back enters the state (``storable_message``): a value no
  JSON writer keeps (a 300-digit number, an infinite mileage) is dropped and counted.
* A message older than the newest one seen (blind-area and batch uploads arrive out of
  order) changes nothing: no value, no position, no event; only a command's reply still
  brings its mileage (the tracker answers now, whatever fix it carries).
* A device date far ahead does not hold back the messages that follow: the newest mark
  stays within ``FUTURE_TOLERANCE`` of the server's clock.
* The odometer is the tracker's own mileage, and only that (never the distance counted).
* Moving and the vehicle state are derived once per message and stored.
* "Last seen" is news when the tracker comes online or goes offline (then it is the exact
  time of its last frame) and at most every ``LAST_SEEN_RESOLUTION`` in between.
* Online: a session is up and a message came within the offline timeout (``is_online``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from custom_components.sinotrack.protocol import Message, message as p

from .alarms import AlarmEvent, AlarmRateLimit, alarm_data, rising_alarms
from .cell import Cell, apply_cell_position, note_cell, wants_cell_position
from .keys import (
    KEY_ALARM,
    KEY_CONNECTED,
    KEY_LAST_SEEN,
    KEY_MOVING,
    KEY_ODOMETER,
    KEY_ONLINE,
    KEY_VEHICLE_STATE,
)
from .position import apply_position, is_requested
from .state import TrackerState
from .storable import storable_message

FUTURE_TOLERANCE: Final = 60.0
"""Seconds a device timestamp may be ahead of the server's clock and still hold back
older messages (GPS time against an NTP clock: a minute is plenty)."""
LAST_SEEN_RESOLUTION: Final = timedelta(minutes=15)
"""While the tracker keeps reporting, "last seen" is news at most this often: each write
is a row in the database and a line in the logbook, and "Connected" already says that the
tracker reports. It is exact whenever it matters: when the tracker goes offline (the time
of its last frame) or comes back."""


@dataclass(frozen=True, slots=True)
class Update:
    """What one call changed: the change keys, the alarm events that rose (rate limit
    applied), and what was left out (for the caller's log)."""

    changed: frozenset[str] = frozenset()
    """Change keys (``keys.KEY_*`` and message parameter names)."""
    alarms: tuple[AlarmEvent, ...] = ()
    """Alarm events to fire, in the order they rose."""
    suppressed: tuple[str, ...] = ()
    """Event types that rose within the rate limit: not fired (counted in the limit)."""
    dropped: tuple[str, ...] = ()
    """Names of values dropped because the store could not keep them."""
    stale: int = 0
    """Messages ignored because they were older than the newest one."""
    applied: tuple[Message, ...] = ()
    """The messages applied, as the store keeps them (stale ones left out), in order: what
    rules beside the model (the guard) read, so that they apply the same ordering."""


def is_online(
    connected: bool, last_seen: datetime | None, timeout: timedelta, now: datetime
) -> bool:
    """A session is up and the last message came less than ``timeout`` before ``now``."""
    return connected and last_seen is not None and now - last_seen < timeout


class Tracker:
    """The state of one tracker and the rules that change it."""

    __slots__ = (
        "_last_seen_written",
        "alarm_limit",
        "allow_invalid_fix",
        "offline_timeout",
        "state",
        "use_cell_position",
        "values_refused",
    )

    def __init__(
        self,
        state: TrackerState | None = None,
        *,
        offline_timeout: timedelta,
        allow_invalid_fix: bool = False,
        alarm_limit: AlarmRateLimit | None = None,
        use_cell_position: bool = False,
    ) -> None:
        self.state = state if state is not None else TrackerState()
        self.use_cell_position = use_cell_position
        """Show the serving cell's position while there is no valid fix newer than it."""
        self.offline_timeout = offline_timeout
        """Without a message for this long, the tracker is offline."""
        self.allow_invalid_fix = allow_invalid_fix
        """Move the position with fixes the tracker marks invalid."""
        self.alarm_limit = alarm_limit if alarm_limit is not None else AlarmRateLimit()
        self.values_refused = 0
        """Values dropped because the store could not keep them."""
        self._last_seen_written = self.state.last_seen

    def apply(self, messages: Iterable[Message], now: datetime) -> Update:
        """Apply the messages of one frame, received at server time ``now``."""
        state = self.state
        changed: set[str] = set()
        alarms: list[AlarmEvent] = []
        suppressed: list[str] = []
        dropped: list[str] = []
        applied: list[Message] = []
        stale = 0
        for message in messages:
            kept, refused = storable_message(message)
            if refused:
                self.values_refused += len(refused)
                dropped.extend(refused)
            if not self._apply_message(kept, now, changed):
                stale += 1
                continue
            applied.append(kept)
            for event_type in rising_alarms(state.alarms, kept):
                if self.alarm_limit.allow(event_type, now.timestamp()):
                    alarms.append(AlarmEvent(event_type, alarm_data(kept, now)))
                else:
                    suppressed.append(event_type)
        state.last_seen = now
        written = self._last_seen_written
        if written is None or now - written >= LAST_SEEN_RESOLUTION:
            self._last_seen_written = now
            changed.add(KEY_LAST_SEEN)
        changed |= self._online_changes(now)
        if alarms:
            changed.add(KEY_ALARM)
        return Update(
            frozenset(changed),
            tuple(alarms),
            tuple(suppressed),
            tuple(dropped),
            stale,
            tuple(applied),
        )

    def _apply_message(self, message: Message, now: datetime, changed: set[str]) -> bool:
        """Apply one storable message; False if it was older than the newest one."""
        state = self.state
        timestamp = message.get(p.TIMESTAMP)
        if timestamp is not None:
            if state.newest is not None and timestamp < state.newest:
                if is_requested(message):  # a command's reply answers now (S32 mileage)
                    self._apply_mileage(message, changed)
                return False
            state.newest = min(timestamp, now.timestamp() + FUTURE_TOLERANCE)
        values = state.values
        for key, value in message.items():
            if values.get(key) != value:
                values[key] = value
                changed.add(key)
        derived = state.derive(now.timestamp())
        note_cell(state, message, now)
        if p.LATITUDE in message and p.LONGITUDE in message:
            changed |= apply_position(state, message, now, allow_invalid=self.allow_invalid_fix)
        self._apply_mileage(message, changed)
        changed |= derived
        return True

    def _apply_mileage(self, message: Message, changed: set[str]) -> None:
        """The tracker's own mileage, when the message carries it, is the odometer."""
        mileage = message.get(p.MILEAGE)
        if mileage is not None and self.state.odometer != mileage:
            self.state.odometer = mileage
            changed.add(KEY_ODOMETER)

    def wanted_cell(self) -> Cell | None:
        """The cell whose position to look up now (``cell.wants_cell_position``), None when
        the option is off or GPS wins."""
        return wants_cell_position(self.state) if self.use_cell_position else None

    def apply_cell(
        self, cell: Cell, latitude: float, longitude: float, range_m: float, now: datetime
    ) -> Update:
        """The position of ``cell`` was found (range in metres): show it if still wanted."""
        if not self.use_cell_position:
            return Update()
        changed = apply_cell_position(self.state, cell, latitude, longitude, range_m, now)
        return Update(frozenset(changed))

    def set_connected(self, connected: bool, peer: str | None, now: datetime) -> Update:
        """A session came up (from ``peer``) or went down at server time ``now``."""
        state = self.state
        if peer is not None:
            state.peer = peer
        if state.connected == connected:
            return Update()
        state.connected = connected
        return Update(frozenset({KEY_CONNECTED, *self._online_changes(now)}))

    def tick(self, now: datetime) -> Update:
        """Time passed without a message: the tracker may go offline, and a vehicle that
        stopped and sends no more positions stops moving."""
        changed = self._online_changes(now)
        if self.state.derive(now.timestamp()):
            changed |= {KEY_MOVING, KEY_VEHICLE_STATE}
        return Update(frozenset(changed))

    def refresh_online(self, now: datetime) -> Update:
        """Recompute online (after the offline timeout changed)."""
        return Update(frozenset(self._online_changes(now)))

    def _online_changes(self, now: datetime) -> set[str]:
        """The keys that change when online is recomputed: "last seen" is news with it, so
        that it is exact when the tracker goes offline or comes back."""
        state = self.state
        online = is_online(state.connected, state.last_seen, self.offline_timeout, now)
        if online == state.online:
            return set()
        state.online = online
        self._last_seen_written = state.last_seen
        return {KEY_ONLINE, KEY_LAST_SEEN}
