"""Snapshots of a tracker's entities (registry entries and states) after one H02 V1 report.

Home Assistant's snapshot format changes between versions (state attribute keys, registry
entry fields), so each tested version keeps its own: ``versioned_snapshots/ha<version>/``.
Not under ``snapshots/``: syrupy walks a snapshot directory recursively, and the tests that
use ``snapshots/`` would take another version's files for unused ones. After a Home
Assistant upgrade, review the new version's snapshots (``--snapshot-update``).
"""

from __future__ import annotations

from pathlib import Path
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import MAJOR_VERSION, MINOR_VERSION, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion
from syrupy.location import PyTestLocation

from tests.support.frames import T0, h02_status, h02_v1
from tests.support.hass import enable_all, report

from .conftest import TrackerFactory


class VersionedSnapshots(HomeAssistantSnapshotExtension):
    """Home Assistant's snapshot format, one directory per Home Assistant version."""

    @classmethod
    def dirname(cls, *, test_location: PyTestLocation) -> str:
        here = Path(test_location.filepath).parent
        return str(here / "versioned_snapshots" / f"ha{MAJOR_VERSION}.{MINOR_VERSION}")


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(VersionedSnapshots)


@pytest.mark.parametrize(
    "platform",
    [
        Platform.ALARM_CONTROL_PANEL,
        Platform.BINARY_SENSOR,
        Platform.CALENDAR,
        Platform.DEVICE_TRACKER,
        Platform.EVENT,
        Platform.SENSOR,
    ],
)
async def test_entities(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    config_entry: MockConfigEntry,
    connect: TrackerFactory,
    freezer: FrozenDateTimeFactory,
    platform: Platform,
) -> None:
    """Every entity of one platform, all enabled (those the report created too), after a V1
    report with ignition on."""
    freezer.move_to(T0)
    with patch("custom_components.sinotrack.entry.PLATFORMS", [platform]):
        config_entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(config_entry.entry_id)
        await hass.async_block_till_done()
        tracker = await connect(config_entry)
        await report(tracker, h02_v1(T0, knots=10, status=h02_status(acc=True)))
        await enable_all(hass, config_entry)
    await snapshot_platform(hass, entity_registry, snapshot, config_entry.entry_id)
