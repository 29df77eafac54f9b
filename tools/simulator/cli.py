"""Command line of the simulator: ``python -m tools.simulator --help``."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Coroutine, Sequence
import contextlib
import json
import logging
import os
from pathlib import Path
import signal
import sys
import threading
from typing import Any

from custom_components.sinotrack.listener.config import DEFAULT_PORT

from .frames import AlarmKind
from .route import Route
from .tracker import ScheduledAlarm, SimulatedTracker, WireProtocol

DEFAULT_ID = "4210051415"
_LOGGER = logging.getLogger("tools.simulator")
_ALARMS = frozenset(kind.value for kind in AlarmKind)
_NO_STDIN = (AttributeError, OSError, ValueError)
_NO_READER = (NotImplementedError, OSError, ValueError)

HELP = """\
commands (apply to every tracker, or to the IDs given after the command):
  sos | power_cut | crash | overspeed | geofence_enter | geofence_exit [ID...]
                         raise an alarm (held for --alarm-hold reports)
  clear [ALARM] [ID...]  clear one alarm, or all
  position [ID...]       report now
  heartbeat [ID...]      send a heartbeat now
  disconnect [SECONDS] [ID...]
                         drop the connection, stay offline SECONDS (default --offline),
                         buffer the fixes meanwhile and replay them after reconnecting
  burst N [ID...]        send N position frames back to back
  status                 one line per tracker
  quit                   stop (as does Ctrl-C)"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.simulator",
        description="Simulate Sinotrack ST-903 trackers reporting to a server.",
        epilog=HELP + "\n\nEnd of input does not stop the simulator.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="server address (default %(default)s)")
    add("--port", type=int, default=DEFAULT_PORT, help="server port (default %(default)s)")
    add(
        "--id",
        action="append",
        dest="ids",
        metavar="ID",
        help=f"tracker ID, repeatable (default {DEFAULT_ID}); with --count, the first of a series",
    )
    add("--count", type=int, help="simulate N trackers with consecutive IDs")
    add(
        "--protocol",
        choices=[protocol.value for protocol in WireProtocol],
        default=WireProtocol.H02.value,
        help="wire protocol (default %(default)s)",
    )
    add("--interval", type=float, default=10.0, help="report interval, s (default %(default)s)")
    add("--heartbeat", type=float, default=60.0, help="heartbeat interval, s; 0: none")
    add(
        "--alarm",
        action="append",
        default=[],
        type=_scheduled_alarm,
        metavar="KIND@SECONDS[,repeat]",
        help="raise an alarm SECONDS after connecting (again every SECONDS with repeat); "
        f"KIND: {', '.join(kind.value for kind in AlarmKind)}",
    )
    add("--alarm-hold", type=int, default=3, help="reports an alarm stays raised (0: until clear)")
    add("--mileage", type=float, default=0.0, help="odometer at the start, km")
    add("--battery", type=int, default=100, help="battery level, %% (default %(default)s)")
    add(
        "--jt808-utc-offset",
        type=float,
        default=8.0,
        metavar="HOURS",
        help="time zone of JT/T 808 timestamps (default %(default)s)",
    )
    add(
        "--jt808-auth-code",
        metavar="CODE",
        help="JT/T 808 auth code the server issued earlier (when it answers 'already "
        "registered'); without it, the code the server issues is used",
    )
    add(
        "--jt808-auth-file",
        metavar="FILE",
        help="JSON file keeping each ID's JT/T 808 auth code across runs, as a device keeps "
        "it in its memory (read at start, written when the server issues a code)",
    )
    add("--reconnect-after", type=float, metavar="S", help="drop the connection every S s")
    add(
        "--offline", type=float, metavar="S", help="time offline after a drop (default 2 intervals)"
    )
    add("--reconnect-delay", type=float, default=1.0, help="first reconnect delay, s")
    add(
        "--connect-attempts",
        type=int,
        default=5,
        help="give up (exit 1) after N failed first connections; 0: never (default %(default)s)",
    )
    add("-v", "--verbose", action="store_true", help="print every frame sent and received")
    return parser


def _scheduled_alarm(text: str) -> ScheduledAlarm:
    try:
        return ScheduledAlarm.parse(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def tracker_ids(ids: Sequence[str] | None, count: int | None) -> list[str]:
    """The IDs to simulate: the given ones, or ``count`` consecutive ones from the first."""
    ids = list(ids or [DEFAULT_ID])
    if count is None:
        return ids
    if len(ids) != 1 or not ids[0].isdigit():
        raise ValueError("--count needs exactly one numeric --id (the first of the series)")
    if count < 1:
        raise ValueError("--count must be at least 1")
    first = int(ids[0])
    return [str(first + offset).zfill(len(ids[0])) for offset in range(count)]


class Fleet:
    """The simulated trackers and the interactive commands that drive them."""

    def __init__(self, trackers: Sequence[SimulatedTracker], offline: float) -> None:
        self.trackers = list(trackers)
        self.by_id = {tracker.ident: tracker for tracker in self.trackers}
        self.offline = offline
        self.stop = asyncio.Event()
        self._tasks: set[asyncio.Task[object]] = set()
        self._lines: asyncio.Queue[str] = asyncio.Queue()
        self._spawn(self._work())

    def _targets(self, words: list[str]) -> list[SimulatedTracker] | None:
        unknown = [word for word in words if word not in self.by_id]
        if unknown:
            print(f"unknown tracker or argument: {' '.join(unknown)}", flush=True)
            return None
        return [self.by_id[word] for word in words] or self.trackers

    def _spawn(self, coroutine: Coroutine[Any, Any, object]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[object]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            print(f"error: {task.exception()}", flush=True)

    def handle(self, line: str) -> None:
        """Queue one command line; lines run one after the other."""
        self._lines.put_nowait(line)

    async def _work(self) -> None:
        while True:
            await self.execute(await self._lines.get())

    async def execute(self, line: str) -> None:
        """Run one command line."""
        words = line.split()
        if not words:
            return
        command, args = words[0].lower(), words[1:]
        if command in ("quit", "exit", "q"):
            self.stop.set()
        elif command == "help":
            print(HELP, flush=True)
        elif command == "status":
            for tracker in self.trackers:
                print(_status(tracker), flush=True)
        elif command in _ALARMS:
            if (targets := self._targets(args)) is not None:
                for tracker in targets:
                    await tracker.raise_alarm(command)
        elif command == "clear":
            kind = None
            if args and args[0].lower() in _ALARMS:
                kind = AlarmKind(args.pop(0).lower())
            if (targets := self._targets(args)) is not None:
                for tracker in targets:
                    await tracker.clear_alarm(kind)
        elif command in ("position", "heartbeat"):
            if (targets := self._targets(args)) is not None:
                for tracker in targets:
                    if command == "position":
                        tracker.send_position()
                    else:
                        tracker.send_heartbeat()
        elif command == "disconnect":
            offline = self.offline
            if args and args[0] not in self.by_id:
                try:
                    offline = float(args.pop(0))
                except ValueError:
                    print("usage: disconnect [SECONDS] [ID...]", flush=True)
                    return
            if (targets := self._targets(args)) is not None:
                for tracker in targets:
                    tracker.disconnect(offline)
        elif command == "burst":
            if not args or not args[0].isdigit():
                print("usage: burst N [ID...]", flush=True)
                return
            count = int(args.pop(0))
            if (targets := self._targets(args)) is not None:
                for tracker in targets:
                    if tracker.connected:
                        self._spawn(_burst(tracker, count))
                    else:
                        print(f"{tracker.ident} is not connected", flush=True)
        else:
            print(f"unknown command {command!r}; try 'help'", flush=True)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(tracker.stop() for tracker in self.trackers))


async def _burst(tracker: SimulatedTracker, count: int) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    await tracker.send_burst(count)
    elapsed = loop.time() - started
    _LOGGER.info("%s: burst of %d frames written in %.3f s", tracker.ident, count, elapsed)


def _status(tracker: SimulatedTracker) -> str:
    latitude, longitude = tracker.position
    alarms = ",".join(sorted(tracker.alarms)) or "-"
    return (
        f"{tracker.ident} {tracker.protocol} "
        f"{'connected' if tracker.connected else 'offline'} "
        f"at {latitude:.5f},{longitude:.5f} mileage {tracker.mileage_km:.1f} km "
        f"interval {tracker.interval:g} s alarms {alarms} "
        f"engine {'stopped' if tracker.engine_blocked else 'on'} "
        f"sent {tracker.positions_sent} positions/{tracker.frames_sent} frames, "
        f"buffered {len(tracker.buffer)}, replayed {tracker.fixes_replayed}, "
        f"commands {tracker.commands_answered}"
    )


def watch_stdin(
    loop: asyncio.AbstractEventLoop, on_line: Callable[[str], None]
) -> Callable[[], None]:
    """Call ``on_line`` for every line typed; returns a function that stops watching.

    A terminal or pipe is watched by the event loop; anything else (a file, ``/dev/null``,
    an event loop without readers) by a daemon thread reading the raw descriptor.
    """
    try:
        fd = sys.stdin.fileno()
    except _NO_STDIN:
        return lambda: None
    pending = bytearray()
    state = {"open": True}

    def feed(chunk: bytes) -> None:
        if not state["open"]:
            return
        if not chunk:
            stop()
            chunk = b"\n"
        pending.extend(chunk)
        while (end := pending.find(b"\n")) >= 0:
            line = pending[:end].decode("utf-8", "replace")
            del pending[: end + 1]
            on_line(line)

    def readable() -> None:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            chunk = b""
        feed(chunk)

    def stop() -> None:
        if state["open"]:
            state["open"] = False
            with contextlib.suppress(Exception):
                loop.remove_reader(fd)

    try:
        loop.add_reader(fd, readable)
    except _NO_READER:

        def pump() -> None:
            while state["open"]:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    chunk = b""
                try:
                    loop.call_soon_threadsafe(feed, chunk)
                except RuntimeError:  # the loop is closed
                    return
                if not chunk:
                    return

        threading.Thread(target=pump, name="simulator stdin", daemon=True).start()
    return stop


def auth_code_file(
    path: str | None,
) -> tuple[dict[str, str], Callable[[str, str], None] | None]:
    """The auth codes kept in ``path`` (ID -> code) and a callback that keeps a new one."""
    if path is None:
        return {}, None
    file = Path(path)
    try:
        loaded = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        loaded = {}
    except (OSError, ValueError) as err:
        raise SystemExit(f"cannot read the auth code file {path}: {err}") from err
    codes = {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}

    def remember(ident: str, code: str) -> None:
        codes[ident] = code
        file.write_text(json.dumps(codes, indent=1, sort_keys=True) + "\n", encoding="utf-8")

    return dict(codes), remember


async def run(args: argparse.Namespace, ids: Sequence[str]) -> int:
    """Run the fleet until ``quit``, Ctrl-C or SIGTERM. Exit status 1 if one never connected."""
    loop = asyncio.get_running_loop()
    protocol = WireProtocol(args.protocol)
    route = Route.builtin()
    count = len(ids)
    spread = min(args.interval, 10.0)
    offline = args.offline if args.offline is not None else 2 * args.interval
    codes, remember = auth_code_file(args.jt808_auth_file)
    trackers = [
        SimulatedTracker(
            ident,
            protocol,
            args.host,
            args.port,
            interval=args.interval,
            heartbeat=args.heartbeat or None,
            route=route,
            route_offset=index * 11,
            mileage_km=args.mileage,
            battery=args.battery,
            jt808_utc_offset=args.jt808_utc_offset,
            jt808_auth_code=args.jt808_auth_code or codes.get(ident),
            alarms=args.alarm,
            alarm_hold=args.alarm_hold,
            reconnect_delay=args.reconnect_delay,
            first_connect_attempts=args.connect_attempts or None,
            start_delay=index * spread / count,
            reconnect_after=args.reconnect_after,
            offline_time=offline,
            on_auth_code=remember,
        )
        for index, ident in enumerate(ids)
    ]
    fleet = Fleet(trackers, offline)
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, fleet.stop.set)
    stop_watching = watch_stdin(loop, fleet.handle)
    running = {tracker.start(): tracker for tracker in trackers}
    stopped: asyncio.Task[Any] = loop.create_task(fleet.stop.wait())
    failed = 0
    try:
        while running and not fleet.stop.is_set():
            done, _ = await asyncio.wait({*running, stopped}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                tracker = running.pop(task, None)
                if tracker is None or task.cancelled():
                    continue
                error = task.exception()
                if error is not None:
                    failed += 1
                    _LOGGER.error("%s: %s", tracker.ident, error)
    finally:
        stop_watching()
        stopped.cancel()
        await fleet.close()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signum)
    _LOGGER.info("stopped")
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        ids = tracker_ids(args.ids, args.count)
        for ident in ids:  # validate before connecting anything
            SimulatedTracker(ident, args.protocol, interval=args.interval)
    except ValueError as err:
        parser.error(str(err))
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stdout
    )
    if args.verbose:
        _LOGGER.setLevel(logging.DEBUG)
    try:
        return asyncio.run(run(args, ids))
    except KeyboardInterrupt:  # Ctrl-C before the handlers were installed
        return 130
