"""End-to-end tests: a real ``hass`` process with the integration, fed by the simulator.

Home Assistant runs from the run env of this test env's Home Assistant line: test env
``ha2026.10`` starts the Home Assistant of ``requirements/run-ha2026.10.txt`` (Home Assistant
2026.10 with its frontend and the requirements of the integrations it sets up), ``ha2026.5``
that of ``requirements/run-ha2026.5.txt``. The test envs cannot run Home Assistant itself:
they lack the frontend, without which it starts in recovery mode (no custom integrations).
``make test`` (``scripts/test``) sets the run envs up; without one the tests fail, they do
not skip. ``SINOTRACK_E2E_PYTHON`` names another Python to run Home Assistant with.

Everything listens on 127.0.0.1, on ports that were free; the test's own HTTP and
websocket client needs ``socket_enabled`` (pytest-socket blocks sockets under PHACC).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import tools  # noqa: F401  # the codec, importable without Home Assistant
from tools.devhass import REPO

MARKER = ".sinotrack-complete"
"""The file scripts/lib.sh leaves in a venv it finished building."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "e2e: end-to-end test with a real Home Assistant process (tests/e2e)"
    )


def run_env_python() -> Path:
    """The Python of the run env matching this test env (see the module docstring)."""
    if explicit := os.environ.get("SINOTRACK_E2E_PYTHON"):
        return Path(explicit)
    env = os.environ.get("SINOTRACK_ENV")
    venv = os.environ.get("SINOTRACK_VENV")
    if not env or not venv:
        pytest.fail(
            "end-to-end tests run in a test env (make test, or scripts/envrun python -m pytest "
            "tests/e2e), or with SINOTRACK_E2E_PYTHON naming a Python with Home Assistant"
        )
    lock = REPO / "requirements" / f"run-{env}.txt"
    if not lock.is_file():
        pytest.fail(f"test env {env} has no run env: {lock.relative_to(REPO)} is missing")
    wanted = lock.read_bytes()
    candidates = [
        path
        for path in Path(venv).parent.glob(f"run-{env}-*")
        if (path / MARKER).is_file() and (path / "requirements.lock").read_bytes() == wanted
    ]
    if not candidates:
        pytest.fail(
            f"run env run-{env} is not set up (or is older than {lock.relative_to(REPO)}): "
            f"run `scripts/provision run-{env}`; `make test` does it"
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
