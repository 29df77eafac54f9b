"""The development config folder and the constants every user of it shares."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Final

from custom_components.sinotrack.listener.config import DEFAULT_PORT

REPO: Final = Path(__file__).resolve().parents[2]
INTEGRATION: Final = REPO / "custom_components" / "sinotrack"

DEV_NAME: Final = "Developer"
DEV_USERNAME: Final = "dev"
DEV_PASSWORD: Final = "dev-password-123"  # noqa: S105 - the documented development login
"""The development login: an admin user of a Home Assistant that listens on 127.0.0.1 only
(unless ``--host`` says otherwise)."""

TRACKER_ID: Final = "4210051415"
TRACKER_NAME: Final = "Car"
DEFAULT_HTTP_PORT: Final = 8123
DEFAULT_TRACKER_PORT: Final = DEFAULT_PORT

HOME_LATITUDE: Final = 22.5405
HOME_LONGITUDE: Final = 114.0545
"""Home: where the simulated car parks, the start of its loop through Futian, Shenzhen
(``tools/simulator/route.py``)."""

OVERRIDES: Final = REPO / "requirements" / "run-overrides.txt"
"""Packages the run envs take in other versions than Home Assistant pins (see the file)."""

CONFIGURATION_YAML: Final = f"""\
# Home Assistant configuration of the Sinotrack development instance, written once by
# tools/devhass (`make run`): edit it freely, it is kept. The HTTP server's address and port
# come from the command line (--host, --port) and are written on every start: to
# packages/http.yaml before Home Assistant 2026.10, to .storage/http from 2026.10 on (where
# the HTTP settings live in storage and `http:` in YAML is only migrated once).
homeassistant:
  name: Sinotrack development
  # Home: where the simulated car parks, in Futian, Shenzhen (tools/simulator/route.py).
  latitude: {HOME_LATITUDE}
  longitude: {HOME_LONGITUDE}
  elevation: 10
  unit_system: metric
  time_zone: Asia/Shanghai
  country: CN
  currency: CNY
  language: en
  packages: !include_dir_named packages

# The car's trail on the map and the alarm events in the logbook.
recorder:
  purge_keep_days: 3
history:
logbook:

logger:
  default: warning
  logs:
    custom_components.sinotrack: debug
"""


def homeassistant_dir() -> Path:
    """The ``homeassistant`` package this interpreter would run."""
    spec = importlib.util.find_spec("homeassistant")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("Home Assistant is not installed in this environment")
    return Path(next(iter(spec.submodule_search_locations)))


def http_settings_in_storage(ha_dir: Path) -> bool:
    """Whether this Home Assistant keeps its HTTP settings in ``.storage/http`` (2026.10+)."""
    config = ha_dir / "components" / "http" / "config.py"
    return config.is_file() and "yaml_migration_done" in config.read_text(encoding="utf-8")


def write_config(config_dir: Path, *, host: str, port: int, ha_dir: Path | None = None) -> bool:
    """Prepare ``config_dir`` for Home Assistant; True if it was new (no configuration.yaml).

    ``configuration.yaml`` is written only when missing. Refreshed every time: the HTTP
    settings (``host``, ``port``) for the Home Assistant in ``ha_dir`` (default: this
    interpreter's), and the ``custom_components/sinotrack`` link to this repository.
    """
    config_dir.mkdir(parents=True, exist_ok=True)
    configuration = config_dir / "configuration.yaml"
    created = not configuration.exists()
    if created:
        configuration.write_text(CONFIGURATION_YAML, encoding="utf-8")
    packages = config_dir / "packages"
    packages.mkdir(exist_ok=True)
    http_package = packages / "http.yaml"
    settings = {"server_host": [host], "server_port": port}
    if http_settings_in_storage(ha_dir or homeassistant_dir()):
        http_package.unlink(missing_ok=True)
        # The storage format Home Assistant before 2026.10 wrote (version 1: the settings
        # alone); Home Assistant migrates it to its own, filling in the defaults.
        storage = config_dir / ".storage"
        storage.mkdir(exist_ok=True)
        (storage / "http").write_text(
            json.dumps({"version": 1, "minor_version": 1, "key": "http", "data": settings}),
            encoding="utf-8",
        )
    else:
        http_package.write_text(
            "# Written by tools/devhass on every start (--host, --port): do not edit.\n"
            f"http:\n  server_host: {host}\n  server_port: {port}\n",
            encoding="utf-8",
        )
    (config_dir / "http.yaml").unlink(missing_ok=True)  # from earlier versions of this tool
    custom = config_dir / "custom_components"
    custom.mkdir(exist_ok=True)
    link = custom / "sinotrack"
    if link.is_symlink() and link.readlink() == INTEGRATION:
        return created
    if link.is_symlink() or not link.exists():
        link.unlink(missing_ok=True)
        link.symlink_to(INTEGRATION, target_is_directory=True)
    return created
