"""A real Home Assistant with the Sinotrack integration and a simulated tracker.

Used by ``make run`` (``scripts/run``), ``make screenshot`` (``scripts/screenshot``) and the
end-to-end tests (``tests/e2e``). Home Assistant runs from a run env (``requirements/run-*.txt``:
Home Assistant, its frontend and the requirements of the integrations it sets up), started as
``python -m homeassistant -c CONFIG --skip-pip`` so that it never installs anything.

* :func:`write_config` writes a config folder: ``configuration.yaml`` (once; home in Futian,
  Shenzhen, where the simulated car drives), the HTTP address and port (on every start:
  ``packages/http.yaml`` before Home Assistant 2026.10, ``.storage/http`` from 2026.10 on, where
  the HTTP settings live in storage) and ``custom_components/sinotrack``, a link to this
  repository's integration.
* :class:`HassProcess` starts ``hass``, waits for its HTTP server and stops it (SIGTERM, then
  waits; SIGKILL only if it does not stop in time).
* :class:`HassClient` speaks Home Assistant's REST API: onboarding (the development login,
  :data:`DEV_USERNAME` / :data:`DEV_PASSWORD`), the login flow, config flows, states and
  actions; :class:`HassWebsocket` its websocket API (commands, event subscriptions).

Command line (inside a run env: ``scripts/envrun --env run-ha2026.11 python -m tools.devhass``)::

    python -m tools.devhass run [--config-dir dev-config] [--host 127.0.0.1] [--port 8123]
        [--tracker-port 5013] [--protocol h02] [--interval 5] [--no-simulator]
    python -m tools.devhass screenshot --cdp-port PORT [--output docs/device-page.png]
    python -m tools.devhass requirements

``run`` starts Home Assistant on the config folder (created and onboarded on the first run),
adds the Sinotrack tracker :data:`TRACKER_ID` if it has no entry, starts the simulator
(``python -m tools.simulator``, which reads its commands from the terminal: ``sos``,
``position``, ``status``...) and prints the URL and the login. Ctrl-C stops the simulator and
Home Assistant; a restart from Home Assistant's UI restarts it. ``screenshot`` does the same
in a temporary config folder, waits for the car to drive, and saves the device page as seen
by a headless Chromium already listening for the DevTools protocol on ``--cdp-port``.
``requirements`` lists the requirements of the integrations Home Assistant sets up and says
which are not installed.
"""

from .client import HassClient, HassError, HassWebsocket
from .config import (
    DEV_NAME,
    DEV_PASSWORD,
    DEV_USERNAME,
    HOME_LATITUDE,
    HOME_LONGITUDE,
    REPO,
    TRACKER_ID,
    TRACKER_NAME,
    write_config,
)
from .process import HassExitedError, HassProcess

__all__ = [
    "DEV_NAME",
    "DEV_PASSWORD",
    "DEV_USERNAME",
    "HOME_LATITUDE",
    "HOME_LONGITUDE",
    "REPO",
    "TRACKER_ID",
    "TRACKER_NAME",
    "HassClient",
    "HassError",
    "HassExitedError",
    "HassProcess",
    "HassWebsocket",
    "write_config",
]
