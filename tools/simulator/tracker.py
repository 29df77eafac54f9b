"""One simulated ST-903: connection lifecycle, reports, alarms, commands, offline buffer."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
import logging
import math
import random
import time
from typing import Final, cast

from custom_components.sinotrack.listener.config import DEFAULT_PORT
from custom_components.sinotrack.protocol import Frame, Framer, ProtocolError, jt808

from . import frames
from .frames import AlarmKind, Fix
from .route import Route

_LOGGER: Final = logging.getLogger("tools.simulator")


class WireProtocol(StrEnum):
    """What the simulated tracker speaks."""

    H02 = "h02"
    H02_BINARY = "h02-binary"
    JT808 = "jt808"


@dataclass(frozen=True, slots=True)
class ScheduledAlarm:
    """An alarm raised ``at`` seconds after the first connection (every ``at`` s if repeat)."""

    kind: AlarmKind
    at: float
    repeat: bool = False

    @classmethod
    def parse(cls, text: str) -> ScheduledAlarm:
        """``KIND@SECONDS[,repeat]``, e.g. ``sos@30`` or ``power_cut@60,repeat``."""
        spec, _, flag = text.partition(",")
        kind_text, at_sign, seconds = spec.partition("@")
        if not at_sign or flag.strip() not in ("", "repeat"):
            raise ValueError(f"expected KIND@SECONDS[,repeat], not {text!r}")
        try:
            kind = AlarmKind(kind_text.strip().lower())
        except ValueError:
            names = ", ".join(kind.value for kind in AlarmKind)
            raise ValueError(f"unknown alarm {kind_text!r} (one of {names})") from None
        at = float(seconds)
        if not math.isfinite(at) or at < 0 or (flag and at == 0):
            raise ValueError(f"invalid alarm time {seconds!r}")
        return cls(kind, at, repeat=bool(flag))


@dataclass(slots=True)
class ReceivedCommand:
    """A command from the server and what the tracker answered."""

    code: str
    """H02: the command code (``S20``, ``S32``...); JT/T 808: the message id (``0x8105``)."""
    data: bytes
    """The command as received (JT/T 808: unescaped, without the delimiters)."""
    replies: list[bytes] = field(default_factory=list)
    """The frames sent in answer (with a position report that followed, if any)."""
    result: str = ""
    """What it did, in words (``engine stopped``, ``unsupported``...)."""


class HandshakeError(ConnectionError):
    """The server refused or did not answer the JT/T 808 registration or authentication."""


type CommandHook = Callable[[SimulatedTracker, ReceivedCommand], None]
type SentHook = Callable[[Fix], None]

_BURST_YIELD_EVERY: Final = 64
"""During a burst, let the event loop read replies every this many frames."""


class _Link(asyncio.Protocol):
    """The tracker's TCP connection: received bytes go straight to the tracker."""

    def __init__(self, tracker: SimulatedTracker) -> None:
        self.tracker = tracker
        self.transport: asyncio.Transport | None = None
        self.paused = False
        self.closed = False
        self._drain: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast("asyncio.Transport", transport)

    def data_received(self, data: bytes) -> None:
        self.tracker._received(self, data)

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._release(ConnectionResetError("connection lost"))
        self.tracker._lost(self, exc)

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        self._release(None)

    def _release(self, error: Exception | None) -> None:
        waiter, self._drain = self._drain, None
        if waiter is not None and not waiter.done():
            if error is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(error)

    async def drain(self) -> None:
        """Wait until the transport's write buffer is below its high-water mark."""
        if self.closed:
            raise ConnectionResetError("connection lost")
        if not self.paused:
            return
        if self._drain is None:
            self._drain = asyncio.get_running_loop().create_future()
        await self._drain


def _wake_future(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class SimulatedTracker:
    """A simulated Sinotrack ST-903 that reports to ``host:port``.

    Everything runs in the task of :meth:`run` plus the protocol callbacks of its
    connection: no threads, no extra task per tracker. Received commands are answered
    from the data callback at once.
    """

    def __init__(
        self,
        ident: str,
        protocol: WireProtocol | str = WireProtocol.H02,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        *,
        interval: float = 10.0,
        heartbeat: float | None = 60.0,
        route: Route | None = None,
        route_offset: int = 0,
        mileage_km: float = 0.0,
        battery: int = 100,
        jt808_utc_offset: float = 8.0,
        jt808_auth_code: str | None = None,
        alarms: Sequence[ScheduledAlarm] = (),
        alarm_hold: int = 3,
        buffer_size: int = 100,
        reconnect_delay: float = 1.0,
        max_reconnect_delay: float = 30.0,
        first_connect_attempts: int | None = None,
        connect_timeout: float = 10.0,
        start_delay: float = 0.0,
        reconnect_after: float | None = None,
        offline_time: float | None = None,
        clock: Callable[[], float] = time.time,
        on_command: CommandHook | None = None,
        on_sent: SentHook | None = None,
        on_auth_code: Callable[[str, str], None] | None = None,
    ) -> None:
        self.protocol = WireProtocol(protocol)
        self._terminal = b""
        ident = ident.strip()
        if self.protocol is WireProtocol.H02_BINARY and (len(ident) != 10 or not ident.isdigit()):
            raise ValueError(f"H02 binary frames carry a 10-digit ID, not {ident!r}")
        if self.protocol is WireProtocol.JT808:
            if not ident.isdigit() or (len(ident) > 12 and len(ident) != 15):
                raise ValueError(f"JT/T 808 needs up to 12 digits or an IMEI, not {ident!r}")
            self._terminal = jt808.encode_terminal(ident)
        elif not ident.isascii() or not ident.isalnum():
            raise ValueError(f"invalid tracker ID {ident!r}")
        if interval <= 0:
            raise ValueError("the report interval must be positive")
        if not 0 <= battery <= 100:
            raise ValueError("the battery level is a percentage")
        self.ident = ident
        self.host = host
        self.port = port
        self.interval = float(interval)
        """Seconds between position reports (the server can change it)."""
        self.heartbeat = heartbeat if heartbeat and heartbeat > 0 else None
        """Seconds between heartbeats, None for none."""
        self.route = route if route is not None else Route.builtin()
        self._index = route_offset % len(self.route)
        self.mileage_km = float(mileage_km)
        """Odometer: the starting mileage plus the distance driven."""
        self.battery = battery
        self.jt808_utc_offset = jt808_utc_offset
        self.jt808_auth_code = jt808_auth_code
        """The JT/T 808 auth code the server issued (kept across reconnections, as the
        device keeps it), or the one given; None until the server issues one."""
        self._on_auth_code = on_auth_code
        self.schedule = tuple(alarms)
        self.alarm_hold = alarm_hold
        """Reports an alarm stays raised for (0: until cleared)."""
        self.reconnect_delay = reconnect_delay
        self.max_reconnect_delay = max_reconnect_delay
        self.first_connect_attempts = first_connect_attempts
        self.connect_timeout = connect_timeout
        self.start_delay = start_delay
        self.reconnect_after = reconnect_after
        """Drop the connection after this many seconds connected (then reconnect)."""
        self.offline_time = offline_time
        """How long a drop (:meth:`disconnect`, ``reconnect_after``) stays offline."""
        self.clock = clock
        """Wall clock for the fixes' timestamps (epoch seconds)."""
        self.on_command = on_command
        self.on_sent = on_sent
        """Called right after each position frame is written (live, burst or replayed)."""

        self.engine_blocked = False
        self.armed = False
        self.buffer: deque[Fix] = deque(maxlen=buffer_size)
        """Fixes generated while offline, replayed after the next connection."""
        self.last_fix: Fix | None = None
        self.error: BaseException | None = None
        """Why :meth:`run` ended, when it did not end by :meth:`stop`."""
        # Counters.
        self.frames_sent = 0
        self.bytes_sent = 0
        self.positions_sent = 0
        self.heartbeats_sent = 0
        self.fixes_replayed = 0
        self.commands_received = 0
        self.commands_answered = 0
        self.acks_received = 0
        self.connects = 0

        self._alarms: dict[AlarmKind, int] = {}
        self._seq = 0
        self._last_timestamp = 0
        self._serial = 0
        self._link: _Link | None = None
        self._framer: Framer | None = None
        self._ready = False
        self._connected_event = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._handshake: tuple[int, asyncio.Future[bytes]] | None = None
        self._capture: list[bytes] | None = None
        self._failures = 0
        self._next_connect = 0.0
        self._next_report = 0.0
        self._next_heartbeat = math.inf
        self._drop_at = math.inf
        self._alarm_times: list[tuple[float, ScheduledAlarm]] = []
        self._ever_connected = False

    def __repr__(self) -> str:
        return f"<SimulatedTracker {self.ident} {self.protocol} connected={self.connected}>"

    # -- public state ---------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Connected and (JT/T 808) registered and authenticated."""
        return self._ready

    @property
    def position(self) -> tuple[float, float]:
        """(latitude, longitude) of the vehicle now."""
        point = self.route[self._index]
        return point.latitude, point.longitude

    @property
    def alarms(self) -> frozenset[AlarmKind]:
        """Alarms raised now."""
        return frozenset(self._alarms)

    def supports(self, kind: AlarmKind) -> bool:
        """Whether this tracker's protocol can carry the alarm."""
        if self.protocol is WireProtocol.JT808:
            return kind in frames.JT808_ALARMS
        return kind in frames.H02_ALARMS

    async def wait_connected(self) -> None:
        """Wait until connected (wrap it in ``asyncio.timeout`` to bound the wait)."""
        await self._connected_event.wait()

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        """Run in a new task (see :meth:`run`); :meth:`stop` ends it."""
        if self._task is None or self._task.done():
            self._stopping = False
            self._task = asyncio.get_running_loop().create_task(
                self.run(), name=f"simulated tracker {self.ident}"
            )
        return self._task

    async def stop(self) -> None:
        """Close the connection and end :meth:`run`. Never raises."""
        self._stopping = True
        self._close(abort=False)
        self._wake()
        task = self._task
        if task is not None and task is not asyncio.current_task():
            await asyncio.wait([task])
            if not task.cancelled() and task.exception() is not None:
                self.error = task.exception()

    async def run(self) -> None:
        """Connect, report, answer, reconnect, until :meth:`stop`.

        Raises ConnectionError when ``first_connect_attempts`` connections in a row failed
        before the first success. Once connected, it retries for ever like a real tracker.
        """
        loop = asyncio.get_running_loop()
        if self._task is not asyncio.current_task():
            self._stopping = False  # awaited directly, not through start()
        try:
            if self.start_delay > 0:
                await self._sleep_until(loop.time() + self.start_delay)
            self._next_connect = self._next_report = loop.time()
            while not self._stopping:
                await self._step(loop)
        except BaseException as err:
            if not isinstance(err, asyncio.CancelledError):
                self.error = err
            raise
        finally:
            self._close(abort=False)

    async def _step(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        if self._link is None and now >= self._next_connect:
            await self._connect(loop)
            return
        if self._ready:
            if now >= self._drop_at:
                self.disconnect(self.offline_time)
                return
            if now >= self._next_heartbeat:
                self.send_heartbeat()
                self._next_heartbeat = now + (self.heartbeat or math.inf)
        if now >= self._next_report:
            self._report()
            self._next_report += self.interval
            if self._next_report <= now:
                self._next_report = now + self.interval
        while self._alarm_times and self._alarm_times[0][0] <= now:
            _, alarm = self._alarm_times.pop(0)
            _LOGGER.info("%s: scheduled %s alarm", self.ident, alarm.kind)
            self._raise(alarm.kind, None)
            if alarm.repeat:
                self._schedule(now + alarm.at, alarm)
        deadline = self._next_report
        if self._link is None:
            deadline = min(deadline, self._next_connect)
        elif self._ready:
            deadline = min(deadline, self._next_heartbeat, self._drop_at)
        if self._alarm_times:
            deadline = min(deadline, self._alarm_times[0][0])
        await self._sleep_until(deadline)

    async def _sleep_until(self, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiter = waiter
        handle = loop.call_at(deadline, _wake_future, waiter)
        try:
            await waiter
        finally:
            handle.cancel()
            self._waiter = None

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _schedule(self, when: float, alarm: ScheduledAlarm) -> None:
        self._alarm_times.append((when, alarm))
        self._alarm_times.sort(key=lambda item: item[0])

    # -- connection -----------------------------------------------------------------------

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, link = await loop.create_connection(lambda: _Link(self), self.host, self.port)
                self._link = link
                self._framer = Framer("jt808" if self.protocol is WireProtocol.JT808 else "h02")
                self._serial = 0
                if self.protocol is WireProtocol.JT808:
                    await self._jt808_handshake()
        except (OSError, TimeoutError) as err:
            self._close(abort=True)
            if self._stopping:
                return
            self._failures += 1
            attempts = self.first_connect_attempts
            if not self._ever_connected and attempts is not None and self._failures >= attempts:
                raise ConnectionError(
                    f"{self.ident}: cannot connect to {self.host}:{self.port} after "
                    f"{self._failures} attempts: {err or type(err).__name__}"
                ) from err
            delay = min(self.max_reconnect_delay, self.reconnect_delay * 2 ** (self._failures - 1))
            delay *= 0.75 + random.random() / 4  # noqa: S311 - jitter, not cryptography
            _LOGGER.info(
                "%s: cannot connect to %s:%s (%s); retrying in %.1f s",
                self.ident,
                self.host,
                self.port,
                err or type(err).__name__,
                delay,
            )
            self._next_connect = loop.time() + delay
            return
        if self._stopping:
            self._close(abort=False)
            return
        now = loop.time()
        self._ready = True
        self._failures = 0
        self.connects += 1
        self._connected_event.set()
        _LOGGER.info("%s: connected to %s:%s (%s)", self.ident, self.host, self.port, self.protocol)
        if not self._ever_connected:
            self._ever_connected = True
            for alarm in self.schedule:
                self._schedule(now + alarm.at, alarm)
        self._replay()
        self._report()
        self._next_report = now + self.interval
        self._next_heartbeat = now + (self.heartbeat or math.inf)
        self._drop_at = now + (self.reconnect_after or math.inf)

    async def _jt808_handshake(self) -> None:
        """0x0100 -> 0x8100 (auth code) -> 0x0102 -> 0x8001.

        A server that answers 0x8100 result 3 (terminal already registered) sends no code:
        the tracker authenticates with the code it was issued earlier, as the device does.
        """
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[bytes] = loop.create_future()
        self._handshake = (frames.REGISTER_RESPONSE, waiter)
        self._send_jt808(frames.REGISTER, frames.jt808_register_body(self.ident))
        body = await waiter
        result = body[2] if len(body) >= 3 else None
        if result == frames.RESULT_SUCCESS:
            code = bytes(body[3:])
            self.jt808_auth_code = code.decode("latin-1")
            if self._on_auth_code is not None:
                self._on_auth_code(self.ident, self.jt808_auth_code)
        elif (
            result == frames.REGISTER_TERMINAL_ALREADY_REGISTERED
            and self.jt808_auth_code is not None
        ):
            _LOGGER.info(
                "%s: already registered with the server; authenticating with the code "
                "issued earlier",
                self.ident,
            )
            code = self.jt808_auth_code.encode("latin-1")
        else:
            if result == frames.REGISTER_TERMINAL_ALREADY_REGISTERED:
                _LOGGER.warning(
                    "%s: the server says this terminal is already registered (0x8100 result "
                    "3) and sent no auth code, and this simulator holds none: give it the "
                    "code the server issued (--jt808-auth-code) or make the server forget "
                    "its stored code (Home Assistant: the sinotrack.reset_jt808_auth action)",
                    self.ident,
                )
                raise HandshakeError(
                    "registration refused: terminal already registered and no auth code held"
                )
            raise HandshakeError(f"registration refused (result {result})")
        waiter = loop.create_future()
        self._handshake = (frames.GENERAL_RESPONSE, waiter)
        serial = self._send_jt808(frames.AUTHENTICATE, code)
        body = await waiter
        if body[0:2] != serial.to_bytes(2) or body[4:5] != b"\x00":
            _LOGGER.warning("%s: the server refused the auth code", self.ident)
            raise HandshakeError(f"authentication refused ({body.hex()})")
        self._handshake = None

    def disconnect(self, offline: float | None = None) -> None:
        """Drop the connection as a lost network would; reconnect after ``offline`` s.

        Fixes generated while offline are buffered and replayed after reconnecting.
        ``offline`` defaults to the reconnect delay.
        """
        if self._link is None:
            return
        _LOGGER.info("%s: disconnecting", self.ident)
        self._close(abort=True)
        loop = asyncio.get_running_loop()
        delay = self.reconnect_delay if offline is None else offline
        self._next_connect = loop.time() + delay
        self._wake()

    def _close(self, *, abort: bool) -> None:
        link, self._link = self._link, None
        self._ready = False
        self._connected_event.clear()
        self._fail_handshake(ConnectionResetError("connection closed"))
        if link is not None and link.transport is not None:
            if abort:
                link.transport.abort()
            else:
                link.transport.close()

    def _fail_handshake(self, error: Exception) -> None:
        handshake, self._handshake = self._handshake, None
        if handshake is not None and not handshake[1].done():
            handshake[1].set_exception(error)

    def _lost(self, link: _Link, exc: Exception | None) -> None:
        if link is not self._link:
            return
        self._link = None
        was_ready = self._ready
        self._ready = False
        self._connected_event.clear()
        self._fail_handshake(ConnectionResetError("connection closed by the server"))
        if was_ready and not self._stopping:
            _LOGGER.info("%s: connection lost (%s)", self.ident, exc or "closed by the server")
            self._next_connect = asyncio.get_running_loop().time() + self.reconnect_delay
        self._wake()

    # -- sending --------------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        link = self._link
        if link is None or link.transport is None:
            raise ConnectionError(f"{self.ident} is not connected")
        link.transport.write(data)
        if self._capture is not None:
            self._capture.append(data)
        self.frames_sent += 1
        self.bytes_sent += len(data)
        if _LOGGER.isEnabledFor(logging.DEBUG):
            _LOGGER.debug("%s -> %s", self.ident, self._show(data))

    def _show(self, data: bytes) -> str:
        if data[:1] == b"*":
            return data.decode("latin-1")
        return data.hex()

    def _send_jt808(self, msg_id: int, body: bytes) -> int:
        serial = self._serial
        self._serial = (serial + 1) & 0xFFFF
        self._write(jt808.build_frame(msg_id, self._terminal, serial, body))
        return serial

    def _encode_position(self, fix: Fix) -> None:
        """Write one position frame (0x0200 in JT/T 808) and tell ``on_sent``."""
        if self.protocol is WireProtocol.H02:
            self._write(frames.h02_position(self.ident, fix))
        elif self.protocol is WireProtocol.H02_BINARY:
            self._write(frames.h02_binary_position(self.ident, fix))
        else:
            self._send_jt808(
                frames.LOCATION, frames.jt808_location_body(fix, self.jt808_utc_offset)
            )
        if self.on_sent is not None:
            self.on_sent(fix)

    def _fix(self, *, advance: bool, burst_index: int = -1, step: int = 0) -> Fix:
        """The next fix (moving along the route when ``advance``) with the current state."""
        if advance and not self.engine_blocked:
            self._index = (self._index + 1) % len(self.route)
            self.mileage_km += self.route[self._index].step_km
        point = self.route[self._index]
        timestamp = max(int(self.clock()), self._last_timestamp + step)
        self._last_timestamp = timestamp
        speed, course, ignition = point.speed_kmh, point.course, point.ignition
        if self.engine_blocked:
            speed, ignition = 0.0, False
        if burst_index >= 0:
            # Make every burst frame distinguishable: whole knots 1-100 and course 0-359.
            speed = round((1 + burst_index % 100) * frames.KNOTS_TO_KMH, 3)
            course = burst_index % 360
        if advance:
            self._seq += 1
        fix = Fix(
            timestamp=timestamp,
            latitude=point.latitude,
            longitude=point.longitude,
            speed_kmh=speed,
            course=course,
            ignition=ignition,
            mileage_km=round(self.mileage_km, 3),
            battery=self.battery,
            alarms=frozenset(self._alarms),
            engine_blocked=self.engine_blocked,
            armed=self.armed,
            seq=self._seq,
            burst_index=burst_index,
        )
        if advance:
            self.last_fix = fix
            self._count_down_alarms()
        return fix

    def _count_down_alarms(self) -> None:
        alarms = self._alarms
        for kind, left in list(alarms.items()):
            if left == 1:
                del alarms[kind]
            elif left > 1:
                alarms[kind] = left - 1

    def _report(self) -> Fix:
        """Generate the next fix: send it when connected, buffer it otherwise."""
        fix = self._fix(advance=True)
        if self._ready:
            self._encode_position(fix)
            self.positions_sent += 1
        else:
            self.buffer.append(fix)
        return fix

    def _replay(self) -> None:
        if not self.buffer:
            return
        fixes = [replace(fix, replayed=True) for fix in self.buffer]
        self.buffer.clear()
        _LOGGER.info("%s: replaying %d buffered fixes", self.ident, len(fixes))
        if self.protocol is WireProtocol.JT808:
            for body in frames.jt808_batch_bodies(fixes, self.jt808_utc_offset):
                self._send_jt808(frames.LOCATION_BATCH, body)
            if self.on_sent is not None:
                for fix in fixes:
                    self.on_sent(fix)
        else:
            for fix in fixes:
                self._encode_position(fix)
        self.fixes_replayed += len(fixes)

    def send_position(self) -> Fix:
        """Report now (buffered when offline). Returns the fix."""
        return self._report()

    def send_heartbeat(self) -> None:
        """Send one heartbeat (when connected)."""
        if not self._ready:
            return
        if self.protocol is WireProtocol.JT808:
            self._send_jt808(frames.HEARTBEAT, b"")
        else:
            self._write(frames.h02_heartbeat(self.ident, self.battery))
        self.heartbeats_sent += 1

    async def send_burst(self, count: int, *, step_seconds: int = 1) -> int:
        """Send ``count`` position frames back to back, as fast as the socket takes them.

        Frame ``k`` (``Fix.burst_index``) has ``course = k % 360`` and a speed of
        ``1 + k % 100`` knots (1.852 km/h steps), so each frame differs from the one
        before; the vehicle moves along the route as usual. Its timestamp is at least
        ``step_seconds`` after the previous frame's (0: the clock's), so a long burst
        runs ahead of the clock, and later reports keep that time until the clock catches
        up (timestamps never go back). Raises ConnectionError when not connected or when
        the connection drops.
        """
        link = self._link
        if not self._ready or link is None:
            raise ConnectionError(f"{self.ident} is not connected")
        for index in range(count):
            if link is not self._link:
                raise ConnectionResetError(f"{self.ident}: connection lost during the burst")
            self._encode_position(self._fix(advance=True, burst_index=index, step=step_seconds))
            self.positions_sent += 1
            if link.paused:
                await link.drain()
            elif index % _BURST_YIELD_EVERY == _BURST_YIELD_EVERY - 1:
                await asyncio.sleep(0)
        return count

    # -- alarms ---------------------------------------------------------------------------

    async def raise_alarm(self, kind: AlarmKind | str, *, hold: int | None = None) -> bool:
        """Raise an alarm and report it at once.

        It stays in the next ``hold`` reports (default ``alarm_hold``; 0: until
        :meth:`clear_alarm`). Returns False, and does nothing, when the protocol cannot
        carry it (a crash in H02).
        """
        return self._raise(AlarmKind(kind), hold)

    def _raise(self, kind: AlarmKind, hold: int | None) -> bool:
        if not self.supports(kind):
            _LOGGER.warning("%s: %s cannot report a %s alarm", self.ident, self.protocol, kind)
            return False
        if kind is AlarmKind.GEOFENCE_ENTER:
            self._alarms.pop(AlarmKind.GEOFENCE_EXIT, None)
        elif kind is AlarmKind.GEOFENCE_EXIT:
            self._alarms.pop(AlarmKind.GEOFENCE_ENTER, None)
        hold = self.alarm_hold if hold is None else hold
        self._alarms[kind] = hold if hold > 0 else -1
        _LOGGER.info("%s: %s alarm raised", self.ident, kind)
        self._report()
        return True

    async def clear_alarm(self, kind: AlarmKind | str | None = None) -> None:
        """Clear one alarm (all when None) and report at once if any was raised."""
        if kind is None:
            cleared = bool(self._alarms)
            self._alarms.clear()
        else:
            cleared = self._alarms.pop(AlarmKind(kind), None) is not None
        if cleared:
            _LOGGER.info("%s: %s cleared", self.ident, kind or "alarms")
            self._report()

    # -- receiving ------------------------------------------------------------------------

    def _received(self, link: _Link, data: bytes) -> None:
        if link is not self._link or self._framer is None:
            return
        for item in self._framer.feed(data):
            if not isinstance(item, Frame):
                _LOGGER.warning("%s: skipped %d bytes: %s", self.ident, item.size, item.reason)
                continue
            if link is not self._link:
                return  # a reply closed the connection
            if _LOGGER.isEnabledFor(logging.DEBUG):
                shown = f"7e{item.data.hex()}7e" if item.kind == "jt808" else self._show(item.data)
                _LOGGER.debug("%s <- %s", self.ident, shown)
            try:
                if item.kind == "jt808":
                    self._on_jt808(jt808.parse_frame(jt808.unescape(item.data)))
                elif item.kind == "h02-text":
                    self._on_h02(item.data)
            except ProtocolError as err:
                _LOGGER.warning("%s: bad frame from the server: %s", self.ident, err)

    def _answer(self, command: ReceivedCommand, handler: Callable[[ReceivedCommand], None]) -> None:
        """Run a command handler; every frame it writes is recorded as a reply."""
        self.commands_received += 1
        self._capture = command.replies
        try:
            handler(command)
        finally:
            self._capture = None
        self.commands_answered += 1
        _LOGGER.info("%s: command %s: %s", self.ident, command.code, command.result)
        if self.on_command is not None:
            self.on_command(self, command)

    def _on_h02(self, data: bytes) -> None:
        fields = data[1:-1].decode("latin-1").split(",")
        if len(fields) < 3:
            return
        code = fields[2].strip().upper()
        if code in ("V4", "HTBT", "R12", "V0"):
            self.acks_received += 1
            return
        if fields[1].strip() != self.ident:
            _LOGGER.warning("%s: ignoring a command for %s", self.ident, fields[1])
            return
        self._answer(
            ReceivedCommand(code, data), lambda command: self._h02_command(fields, command)
        )

    def _h02_command(self, fields: list[str], command: ReceivedCommand) -> None:
        """Answer ``*HQ,<ID>,<code>[,hhmmss][,params]#`` with a V4 reply (and act on it)."""
        code = command.code
        if len(fields) > 3 and len(fields[3]) == 6 and fields[3].isdigit():
            command_time, params = fields[3], fields[4:]
        else:
            command_time, params = "000000", fields[3:]
        results = ["DONE"]
        if code == "S20":
            self.engine_blocked = params[-1:] == ["1"]
            command.result = "engine stopped" if self.engine_blocked else "engine resumed"
        elif code == "S32":
            results = [f"{self.mileage_km:.1f}"]
            command.result = f"mileage {results[0]} km"
        elif code == "S71" and len(params) >= 2 and params[1].isdigit() and int(params[1]) > 0:
            self._set_interval(int(params[1]))
            command.result = f"interval {self.interval:g} s"
        elif code == "SCF":
            self.armed = params[:2] == ["0", "0"]
            command.result = "armed" if self.armed else "disarmed"
        elif code == "CR":
            results = []
            command.result = "position sent"
        else:
            command.result = "acknowledged"
        fix = self._fix(advance=False)
        self._write(frames.h02_reply(self.ident, code, results, command_time, fix))
        if code == "CR":
            self._report()

    def _set_interval(self, seconds: float) -> None:
        self.interval = float(seconds)
        self._next_report = asyncio.get_running_loop().time() + self.interval
        self._wake()

    def _on_jt808(self, frame: jt808.Jt808Frame) -> None:
        msg_id, body = frame.msg_id, frame.body
        handshake = self._handshake
        if (
            handshake is not None
            and handshake[0] == msg_id
            and not handshake[1].done()
            and (msg_id != frames.GENERAL_RESPONSE or body[2:4] == frames.AUTHENTICATE.to_bytes(2))
        ):
            handshake[1].set_result(body)
            return
        if msg_id in (frames.GENERAL_RESPONSE, frames.REGISTER_RESPONSE):
            self.acks_received += 1
            return
        command = ReceivedCommand(f"0x{msg_id:04X}", bytes(body))
        self._answer(command, lambda command: self._jt808_command(frame, command))

    def _jt808_command(self, frame: jt808.Jt808Frame, command: ReceivedCommand) -> None:
        """Answer a downlink: 0x0001 (and 0x6006 for text), or 0x0201 for a position query."""
        msg_id, body = frame.msg_id, frame.body
        if msg_id == frames.POSITION_QUERY:
            location = frames.jt808_location_body(self._fix(advance=False), self.jt808_utc_offset)
            self._send_jt808(frames.POSITION_REPLY, frame.serial.to_bytes(2) + location)
            command.result = "position sent"
            return
        result = frames.RESULT_SUCCESS
        answer: bytes | None = None
        report = False
        if msg_id == frames.TEXT_MESSAGE:
            text = body[1:].decode("gbk", "replace")
            command.result = f"text {text!r} answered"
            answer = frames.jt808_text_reply_body(f"OK:{text}")
        elif msg_id == frames.TERMINAL_CONTROL and body[:1] in (b"\xf0", b"\xf1"):
            self.engine_blocked = body[:1] == b"\xf0"
            command.result = "engine stopped" if self.engine_blocked else "engine resumed"
            report = True
        elif msg_id == frames.SET_PARAMETERS:
            command.result = self._set_parameters(body)
        else:
            result = frames.RESULT_UNSUPPORTED
            command.result = "unsupported"
        self._send_jt808(
            frames.TERMINAL_RESPONSE, frames.jt808_response_body(frame.serial, msg_id, result)
        )
        if answer is not None:
            self._send_jt808(frames.TEXT_REPLY, answer)
        if report:
            self._report()

    def _set_parameters(self, body: bytes) -> str:
        """0x8103: count, then ``id DWORD, len BYTE, value``; 0x0029 interval, 0x0001 heartbeat."""
        done = []
        position = 1
        for _ in range(body[0] if body else 0):
            if position + 5 > len(body):
                break
            param = int.from_bytes(body[position : position + 4])
            size = body[position + 4]
            value = int.from_bytes(body[position + 5 : position + 5 + size])
            position += 5 + size
            if param == 0x0029 and value > 0:
                self._set_interval(value)
                done.append(f"interval {value} s")
            elif param == 0x0001 and value > 0:
                self.heartbeat = float(value)
                self._next_heartbeat = asyncio.get_running_loop().time() + value
                self._wake()
                done.append(f"heartbeat {value} s")
            else:
                done.append(f"parameter 0x{param:04X} ignored")
        return ", ".join(done) or "no parameters"
