"""``python -m tools.devhass run | screenshot | requirements`` (see the package docstring)."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
import contextlib
import importlib.metadata
import json
import os
from pathlib import Path
import signal
import sys
from typing import Any, Final

import aiohttp

from tools.net import port_in_use

from .client import HassClient, HassError
from .config import (
    DEFAULT_HTTP_PORT,
    DEFAULT_TRACKER_PORT,
    DEV_PASSWORD,
    DEV_USERNAME,
    INTEGRATION,
    OVERRIDES,
    REPO,
    TRACKER_ID,
    write_config,
)
from .process import RESTART_EXIT_CODE, HassExitedError, HassProcess
from .setup import (
    TrackerEntry,
    ensure_tracker,
    ignore_install_method_issue,
    onboard_or_login,
    remove_onboarding_entries,
)

SIMULATOR_MILEAGE = 1234.5
"""The simulated car's odometer at the start, km."""


def say(text: str) -> None:
    print(f"[devhass] {text}", flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.devhass",
        description="A real Home Assistant with the Sinotrack integration and a simulated tracker.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="start the development instance (make run)")
    run.add_argument(
        "--config-dir",
        type=Path,
        default=REPO / "dev-config",
        help="Home Assistant's config folder, created on the first run (default: dev-config)",
    )
    run.add_argument(
        "--host",
        default="127.0.0.1",
        help="address Home Assistant listens on (default %(default)s; 0.0.0.0 for every one)",
    )
    run.add_argument("--port", type=int, default=DEFAULT_HTTP_PORT, help="HTTP port (8123)")
    run.add_argument(
        "--tracker-port",
        type=int,
        default=DEFAULT_TRACKER_PORT,
        help="the tracker's TCP port, when the entry is created (default %(default)s)",
    )
    run.add_argument(
        "--tracker-bind",
        default="127.0.0.1",
        help="the tracker listener's bind address, when the entry is created (%(default)s)",
    )
    run.add_argument(
        "--protocol",
        choices=["h02", "h02-binary", "jt808"],
        default="h02",
        help="the simulator's protocol (default %(default)s)",
    )
    run.add_argument(
        "--interval", type=float, default=3.0, help="seconds between positions (default 3)"
    )
    run.add_argument("--no-simulator", action="store_true", help="do not start the simulator")
    shot = commands.add_parser(
        "screenshot", help="save the device page, as headless Chromium shows it"
    )
    shot.add_argument(
        "--cdp-port", type=int, required=True, help="Chromium's remote debugging port"
    )
    shot.add_argument("--output", type=Path, default=REPO / "docs" / "device-page.png")
    shot.add_argument("--width", type=int, default=1280)
    shot.add_argument("--height", type=int, default=1000)
    commands.add_parser(
        "requirements",
        help="the requirements of the integrations Home Assistant sets up, and what is missing",
    )
    return parser


# -- run ------------------------------------------------------------------------------------


def client_url(host: str, port: int) -> str:
    """The URL to reach Home Assistant at, from this machine."""
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - the address it listens on, not a bind
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


# `python -m tools.simulator`, quiet about a Ctrl-C that comes while it is still importing
# (its own handlers take over once it runs).
_SIMULATOR_MAIN = """
import sys
try:
    from tools.simulator.cli import main
except KeyboardInterrupt:
    sys.exit(130)
sys.exit(main())
"""


SIMULATOR_AUTH_FILE: Final = "simulator-auth-codes.json"
"""In the config folder: the simulated tracker's JT/T 808 auth code, kept across runs as a
device keeps it (Home Assistant keeps its side in its storage)."""


def simulator_command(
    port: int, protocol: str, interval: float, auth_file: Path | None = None
) -> list[str]:
    """The simulator's command line; ``auth_file`` keeps its JT/T 808 auth code across runs."""
    extra = ["--jt808-auth-file", str(auth_file)] if auth_file is not None else []
    return [
        sys.executable,
        "-c",
        _SIMULATOR_MAIN,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--id",
        TRACKER_ID,
        "--protocol",
        protocol,
        "--interval",
        f"{interval:g}",
        "--mileage",
        f"{SIMULATOR_MILEAGE}",
        "--connect-attempts",
        "0",
        *extra,
    ]


async def start_simulator(
    port: int, protocol: str, interval: float, auth_file: Path | None = None
) -> asyncio.subprocess.Process:
    """``python -m tools.simulator`` in this terminal (it reads its commands from it)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        path for path in (str(REPO), env.get("PYTHONPATH", "")) if path
    )
    return await asyncio.create_subprocess_exec(
        *simulator_command(port, protocol, interval, auth_file), cwd=REPO, env=env
    )


async def stop_process(process: asyncio.subprocess.Process | None, grace: float = 15.0) -> None:
    """SIGINT (the simulator's clean stop), then SIGKILL after ``grace`` seconds."""
    if process is None or process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGINT)
    try:
        async with asyncio.timeout(grace):
            await process.wait()
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


def banner(
    url: str, args: argparse.Namespace, tracker: TrackerEntry, version: str, config_dir: Path
) -> str:
    shown = url.replace("127.0.0.1", "localhost")
    try:
        folder = config_dir.relative_to(REPO)
    except ValueError:
        folder = config_dir
    lines = [
        "",
        f"  Home Assistant {version} is running with the Sinotrack integration.",
        "",
        f"  Open      {shown}   (the car on the map: {shown}/map)",
        f"  Log in    {DEV_USERNAME} / {DEV_PASSWORD}",
    ]
    if tracker.device_id:
        lines.append(f"  Device    {shown}/config/devices/device/{tracker.device_id}")
    listening = "" if tracker.state == "loaded" else f" (entry {tracker.state}!)"
    lines.append(f"  Tracker   {TRACKER_ID} on port {tracker.port}{listening}")
    if args.no_simulator:
        lines.append("  Simulator not started (--no-simulator)")
    else:
        lines.append(
            f"  Simulator {args.protocol}, a position every {args.interval:g} s; "
            "type sos, power_cut, position, status or help"
        )
    lines += [
        f"  Config    {folder}/ (log: {folder}/home-assistant.log)",
        "",
        "  Ctrl-C stops everything.",
        "",
    ]
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> int:
    config_dir: Path = args.config_dir.resolve()
    if port_in_use(args.host, args.port):
        say(f"port {args.port} on {args.host} is in use (another Home Assistant?); try --port")
        return 1
    if write_config(config_dir, host=args.host, port=args.port):
        say(f"created {config_dir}")
    url = client_url(args.host, args.port)
    hass = HassProcess(config_dir, url=url)
    simulator: asyncio.subprocess.Process | None = None
    async with aiohttp.ClientSession() as session:
        try:
            say(f"starting Home Assistant on {url}")
            await hass.start()
            await hass.wait_http(session)
            client = HassClient(session, url)
            try:
                onboarded = await onboard_or_login(client)
            except HassError as err:
                # The development login was changed: run, but without checking the entry.
                say(f"{err}; the simulator uses port {args.tracker_port}")
                version = "(version unknown)"
                tracker = TrackerEntry("", None, args.tracker_port, "not checked", False)
            else:
                if onboarded:
                    say(f"onboarded, with the development login {DEV_USERNAME} / {DEV_PASSWORD}")
                version = str((await client.wait_running()).get("version"))
                removed = await remove_onboarding_entries(client, wait=5.0 if onboarded else 0.0)
                if removed:
                    say(f"removed what onboarding added by itself: {', '.join(removed)}")
                await ignore_install_method_issue(client)
                tracker = await ensure_tracker(
                    client, port=args.tracker_port, bind_address=args.tracker_bind
                )
                if tracker.created:
                    say(f"added tracker {TRACKER_ID} on port {tracker.port}")
            if not args.no_simulator:
                simulator = await start_simulator(
                    tracker.port,
                    args.protocol,
                    args.interval,
                    config_dir / SIMULATOR_AUTH_FILE,
                )
            print(banner(url, args, tracker, version, config_dir), flush=True)
            return await supervise(session, hass, simulator)
        except (HassExitedError, TimeoutError) as err:  # with the end of its output
            say(str(err))
            return 1
        finally:
            await stop_process(simulator)
            if hass.running:
                say("stopping Home Assistant")
            code = await hass.stop()
            if code is not None:
                say(f"Home Assistant stopped (exit status {code})")


async def supervise(
    session: aiohttp.ClientSession, hass: HassProcess, simulator: asyncio.subprocess.Process | None
) -> int:
    """Keep running until the simulator is quit; restart Home Assistant when asked to."""
    while True:
        waits: set[asyncio.Future[int]] = {asyncio.ensure_future(hass.wait())}
        if simulator is not None:
            waits.add(asyncio.ensure_future(simulator.wait()))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waits:
                waiter.cancel()
        if simulator is not None and simulator.returncode is not None:
            say(f"the simulator stopped (exit status {simulator.returncode})")
            return simulator.returncode
        code = hass.returncode
        if code != RESTART_EXIT_CODE:
            say(f"Home Assistant exited (status {code}); the end of its output:\n{hass.log_tail()}")
            return 1
        say("Home Assistant asked for a restart: starting it again")
        await hass.start()
        await hass.wait_http(session)


# -- requirements ---------------------------------------------------------------------------


def integration_requirements(extra_domains: Sequence[str]) -> dict[str, list[str]]:
    """Requirement -> integrations, for those Home Assistant sets up by default plus ``extra_domains``
    and their dependencies (manifests only: nothing is imported)."""
    from homeassistant import bootstrap, components

    base = Path(next(iter(components.__path__)))
    manifests: dict[str, dict[str, Any]] = {}
    todo = [
        *bootstrap.CORE_INTEGRATIONS,
        *bootstrap.DEFAULT_INTEGRATIONS,
        *extra_domains,
    ]
    while todo:
        domain = todo.pop()
        if domain in manifests:
            continue
        path = base / domain / "manifest.json"
        if domain == "sinotrack":
            path = INTEGRATION / "manifest.json"
        manifests[domain] = json.loads(path.read_text(encoding="utf-8"))
        todo.extend(manifests[domain].get("dependencies", []))
    # Integrations often import the helpers of their after-dependencies (analytics imports
    # hassio's, which need aiohasupervisor) even when those are not set up.
    for domain, manifest in list(manifests.items()):
        for after in manifest.get("after_dependencies", []):
            if after not in manifests and (base / after / "manifest.json").exists():
                after_manifest = json.loads((base / after / "manifest.json").read_text("utf-8"))
                manifests[f"{after} (after {domain})"] = {
                    "requirements": after_manifest.get("requirements", [])
                }
    requirements: dict[str, list[str]] = {}
    for domain, manifest in sorted(manifests.items()):
        for requirement in manifest.get("requirements", []):
            requirements.setdefault(requirement, []).append(domain)
    return requirements


def overridden() -> dict[str, str]:
    """Package name (lower case) -> version, from requirements/run-overrides.txt."""
    versions = {}
    for line in OVERRIDES.read_text(encoding="utf-8").splitlines():
        name, _, version = line.partition("==")
        if version and not line.startswith("#"):
            versions[name.strip().lower()] = version.strip()
    return versions


def requirements() -> int:
    config_domains = ["http", "recorder", "history", "logbook", "logger", "sinotrack"]
    overrides = overridden()
    missing = 0
    for requirement, domains in sorted(integration_requirements(config_domains).items()):
        name, _, wanted = requirement.partition("==")
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            installed = None
        if installed == wanted or (installed and not wanted):
            status = "ok"
        elif installed and installed == overrides.get(name.lower()):
            status = f"{installed} (requirements/run-overrides.txt)"
        else:
            status = f"MISSING (installed: {installed})" if installed else "MISSING"
            missing += 1
        print(f"{requirement:40} {status:12} {', '.join(domains)}")
    if missing:
        print(f"{missing} requirement(s) missing: add them to requirements/run-*.in")
    return 1 if missing else 0


# -- entry point ----------------------------------------------------------------------------


async def _main(args: argparse.Namespace) -> int:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    if task is None:
        raise RuntimeError("not in a task")
    stopping = False

    def stop() -> None:
        nonlocal stopping
        if stopping:
            say("still stopping...")
            return
        stopping = True
        task.cancel()

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(signum, stop)
    try:
        if args.command == "run":
            return await run(args)
        from .screenshot import screenshot

        return await screenshot(args)
    except asyncio.CancelledError:
        if not stopping:
            raise
        return 0
    except HassError as err:
        say(f"error: {err}")
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "requirements":
        return requirements()
    return asyncio.run(_main(args))
