"""What the recorder keeps of a tracker: the attributes of its rows (a real recorder on
SQLite) and which of its values become long-term statistics.

Which entities each report writes is pinned by ``test_news.py`` and ``test_runtime.py``."""

from __future__ import annotations

from datetime import timedelta

from homeassistant.components.recorder import Recorder, history
from homeassistant.components.recorder.db_schema import States
from homeassistant.components.recorder.util import session_scope
from homeassistant.components.sensor import ATTR_STATE_CLASS
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.sinotrack.device_tracker import ATTR_FIX_TIME
from tests.support.frames import T0, h02_status, h02_v1
from tests.support.hass import report, state, wait_fix

from .conftest import TrackerFactory

TRACKER = "device_tracker.car"
STATISTICS = {
    "sensor.car_battery": "measurement",
    "sensor.car_speed": "measurement",
    "sensor.car_distance_counted": "total_increasing",
    "sensor.car_trips_today": "total",
}
"""The sensors enabled by default that have long-term statistics (a graph over months)."""


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(recorder_db_url: str, enable_custom_integrations: None) -> None:
    """The recorder's database is prepared before Home Assistant starts (the recorder's
    fixtures require it), then custom_components/sinotrack is let in."""


async def recorded(hass: HomeAssistant, entity_id: str) -> list[dict[str, object]]:
    """The attributes of every state row the recorder keeps for ``entity_id``."""
    await async_wait_recording_done(hass)
    rows = await hass.async_add_executor_job(
        history.state_changes_during_period, hass, T0.replace(year=2000), None, entity_id
    )
    return [dict(row.attributes) for row in rows.get(entity_id, [])]


async def test_fix_time_is_not_recorded(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    connect: TrackerFactory,
) -> None:
    """The tracker's fix time is shown but not stored: a new time with every position
    would make every row's attributes unique."""
    tracker = await connect(loaded_entry)
    await report(tracker, h02_v1(T0, latitude=22.5))
    await wait_fix(hass, T0)
    assert ATTR_FIX_TIME in state(hass, TRACKER).attributes
    rows = await recorded(hass, TRACKER)
    assert rows
    assert rows[-1]["latitude"] == 22.5
    assert all(ATTR_FIX_TIME not in row for row in rows)


def state_rows(hass: HomeAssistant) -> int:
    """Rows in the recorder's ``states`` table (run in the recorder's executor)."""
    with session_scope(hass=hass, read_only=True) as session:
        return session.query(States).count()


async def test_parked_reports_add_no_row(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    connect: TrackerFactory,
) -> None:
    """A parked tracker (ignition off, no speed) reporting fixes that wander a metre adds
    no row to the database, for any entity, until it moves."""
    tracker = await connect(loaded_entry)
    parked = h02_status(acc=False)
    await report(tracker, h02_v1(T0, latitude=22.5, knots=0, status=parked))
    await wait_fix(hass, T0)
    await async_wait_recording_done(hass)
    before = await recorder_mock.async_add_executor_job(state_rows, hass)
    for index in range(1, 6):
        when = T0 + timedelta(seconds=10 * index)
        wander = 0.00001 * (index % 2)  # about a metre
        await report(tracker, h02_v1(when, latitude=22.5 + wander, knots=0, status=parked))
    await async_wait_recording_done(hass)
    assert await recorder_mock.async_add_executor_job(state_rows, hass) == before
    when = T0 + timedelta(seconds=60)
    await report(tracker, h02_v1(when, latitude=22.51, knots=30, status=h02_status(acc=True)))
    await wait_fix(hass, when)
    await async_wait_recording_done(hass)
    assert await recorder_mock.async_add_executor_job(state_rows, hass) > before


async def test_statistics_only_where_a_graph_means_something(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, connect: TrackerFactory
) -> None:
    """Long-term statistics (a state class) for battery, speed and distances only: not for
    text, times, durations or the last trip's figures."""
    tracker = await connect(loaded_entry)
    await report(tracker, h02_v1(T0, latitude=22.5))
    await wait_fix(hass, T0)
    classes = {
        entity_id: str(hass.states.get(entity_id).attributes[ATTR_STATE_CLASS])  # type: ignore[union-attr]
        for entity_id in hass.states.async_entity_ids("sensor")
        if ATTR_STATE_CLASS in hass.states.get(entity_id).attributes  # type: ignore[union-attr]
    }
    assert classes == STATISTICS
