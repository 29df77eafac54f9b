"""The location services import nothing from Home Assistant."""

from __future__ import annotations

import json
from pathlib import Path
import subprocess
import sys

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import importlib, json, sys
importlib.import_module("custom_components.sinotrack.location")
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] == "homeassistant")))
"""


def test_location_services_load_no_home_assistant_module() -> None:
    result = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True
    )

    assert json.loads(result.stdout) == []
