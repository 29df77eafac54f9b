"""The codec, the listener and the tracker model import nothing from Home Assistant.

Checked in a fresh interpreter, with Home Assistant installed: importing them (and so the
package ``custom_components.sinotrack`` itself, which Python runs first) must leave no
``homeassistant`` module in ``sys.modules``.
"""

from __future__ import annotations

import json
from pathlib import Path
import subprocess
import sys

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import importlib, importlib.util, json, sys
for name in (
    "custom_components.sinotrack.model",
    "custom_components.sinotrack.protocol",
    "custom_components.sinotrack.listener",
):
    importlib.import_module(name)
print(json.dumps({
    "installed": importlib.util.find_spec("homeassistant") is not None,
    "loaded": sorted(name for name in sys.modules if name.startswith("custom_components")),
    "home_assistant": sorted(
        name for name in sys.modules if name.split(".")[0] == "homeassistant"
    ),
}))
"""


def test_model_codec_and_listener_load_no_home_assistant_module() -> None:
    result = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True
    )
    found = json.loads(result.stdout)
    assert found["installed"]  # so that nothing but the code itself kept it out
    assert "custom_components.sinotrack.model.tracker" in found["loaded"]
    assert "custom_components.sinotrack.listener.server" in found["loaded"]
    assert "custom_components.sinotrack.entry" not in found["loaded"]
    assert found["home_assistant"] == []
