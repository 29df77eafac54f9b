"""End-to-end tests: a real ``hass`` process with the integration, fed by the simulator.

Home Assistant runs from the run env that ``scripts/lib.sh`` pairs with this test env
(``snt_e2e_run_env``, passed on as ``SINOTRACK_E2E_RUN_ENV``): the main test env ``ha2026.10``
starts the current release, ``requirements/run-ha2026.11.txt`` (Home Assistant 2026.11 with
its frontend and the requirements of the integrations it sets up), the oldest line
``ha2026.5`` its own, ``requirements/run-ha2026.5.txt``. The test envs cannot run Home
Assistant themselves: they lack the frontend, without which it starts in recovery mode (no
custom integrations). ``make test`` (``scripts/test``) sets the run envs up; without one the
tests fail, they do not skip. ``SINOTRACK_E2E_PYTHON`` names another Python to run Home
Assistant with.

Everything listens on 127.0.0.1, on ports that were free; the test's own HTTP and
websocket client needs ``socket_enabled`` (pytest-socket blocks sockets under PHACC).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
import os
from pathlib import Path

import pytest

from tools.devhass import REPO

from .harness import Instance, running_instance

MARKER = ".sinotrack-complete"
"""The file scripts/lib.sh leaves in a venv it finished building."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "e2e: end-to-end test with a real Home Assistant process (tests/e2e)"
    )
    config.addinivalue_line(
        "markers", "browser: end-to-end test in headless Chromium (tests/e2e/test_browser.py)"
    )


def run_env_python() -> Path:
    """The Python of the run env matching this test env (see the module docstring)."""
    if explicit := os.environ.get("SINOTRACK_E2E_PYTHON"):
        return Path(explicit)
    env = os.environ.get("SINOTRACK_E2E_RUN_ENV")
    venv = os.environ.get("SINOTRACK_VENV")
    if not env or not venv:
        pytest.fail(
            "end-to-end tests run in a test env (make test, or scripts/envrun python -m pytest "
            "tests/e2e), or with SINOTRACK_E2E_PYTHON naming a Python with Home Assistant"
        )
    lock = REPO / "requirements" / f"{env}.txt"
    if not lock.is_file():
        pytest.fail(f"run env {env} has no lock: {lock.relative_to(REPO)} is missing")
    wanted = lock.read_bytes()
    candidates = [
        path
        for path in Path(venv).parent.glob(f"{env}-*")
        if (path / MARKER).is_file() and (path / "requirements.lock").read_bytes() == wanted
    ]
    if not candidates:
        pytest.fail(
            f"run env {env} is not set up (or is older than {lock.relative_to(REPO)}): "
            f"run `scripts/provision {env}`; `make test` does it"
        )
    newest = max(candidates, key=lambda path: (path / MARKER).stat().st_mtime)
    return newest / "bin" / "python"


@pytest.fixture(scope="session")
def hass_python() -> Path:
    """The Python that runs Home Assistant for the end-to-end tests."""
    python = run_env_python()
    if not python.exists():
        pytest.fail(f"{python} does not exist")
    return python


@pytest.fixture
async def instance(
    hass_python: Path, tmp_path: Path, socket_enabled: None
) -> AsyncIterator[Instance]:
    """A fresh Home Assistant, started (not onboarded); stopped at teardown if still running."""
    async with running_instance(hass_python, tmp_path / "config") as started:
        yield started


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say where the browser tests left their screenshots."""
    from .browser import ARTIFACTS

    if ARTIFACTS.is_dir() and any(ARTIFACTS.iterdir()):
        terminalreporter.write_line(f"browser screenshots: {ARTIFACTS}")
