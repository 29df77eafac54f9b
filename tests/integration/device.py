"""The device side for the integration tests: frames a tracker sends, and replies to commands.

Frames follow the wire formats (docs/protocol.md); only the JT/T 808 envelope (header, checksum,
escaping) comes from the codec, through ``jt808.build_frame``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import device_registry as dr, entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sinotrack.protocol import jt808

from .conftest import Tracker, wait_for

H02_ID = "4210051415"
BINARY_ID = "4106011660"
JT808_ID = "13912345678"

BINARY_FRAME = bytes.fromhex("2441060116601245431311165035313006004318210e000000fffffbffff0024")
"""Tracker 4106011660 at 50.58855 N 4.53035 E, 2016-11-13 12:45:43 UTC, 0 knots, battery 100 %."""

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
"""Device time of the first fix of most tests."""

# H02 status word (active low; bit 10 set = ignition on).
STATUS_IDLE = 0xFFFFFBFF
"""Nothing active, ignition off."""
BIT_SOS = 1 << 18
BIT_POWER_CUT = 1 << 19
BIT_GEOFENCE_IN = 1 << 4
BIT_GEOFENCE_OUT = 1 << 7
BIT_ACC = 1 << 10


def h02_status(*active: int, acc: bool = False) -> str:
    """The status word with the given alarm bits active (cleared) and the ignition state."""
    status = STATUS_IDLE
    for bit in active:
        status &= ~bit
    if acc:
        status |= BIT_ACC
    return f"{status:08X}"


def _ddmm(value: float, width: int) -> str:
    degrees = int(abs(value))
    minutes = (abs(value) - degrees) * 60
    return f"{degrees:0{width}d}{minutes:07.4f}"


def h02_position(
    when: datetime = T0,
    *,
    latitude: float = 9.939781666,
    longitude: float = -84.11178,
    knots: float = 10.0,
    course: int = 90,
    valid: bool = True,
    status: str = "FFFFFBFF",
) -> str:
    """The position block of an H02 frame: ``hhmmss,A,lat,N,lon,E,knots,course,ddmmyy,status``."""
    return (
        f"{when:%H%M%S},{'A' if valid else 'V'},"
        f"{_ddmm(latitude, 2)},{'N' if latitude >= 0 else 'S'},"
        f"{_ddmm(longitude, 3)},{'E' if longitude >= 0 else 'W'},"
        f"{knots:06.2f},{course:03d},{when:%d%m%y},{status}"
    )


def h02_v1(
    when: datetime = T0,
    *,
    ident: str = H02_ID,
    tail: str = "712,01,0,0,6",
    **position: Any,
) -> bytes:
    """An H02 V1 position report (UTC device time); ``position``: see :func:`h02_position`."""
    return f"*HQ,{ident},V1,{h02_position(when, **position)},{tail}#".encode()


def h02_heartbeat(ident: str = H02_ID) -> bytes:
    return f"*HQ,{ident},HTBT#".encode()


async def report(tracker: Tracker, frame: bytes) -> bytes:
    """Send a V1 (or heartbeat) and read the server's answer to it.

    The listener hands a frame's messages to the tracker's runtime before it writes the
    answer, and entities are written in that same call: once the answer is read, the
    states are set. (This also works with time frozen, when ``wait_for`` cannot sleep.)
    """
    await tracker.send(frame)
    return await tracker.read_until(b"#")


# -- JT/T 808 ---------------------------------------------------------------------------------

JT808_OFFSET = timedelta(hours=8)
"""The trackers' clock zone (the option's default)."""

JT808_SOS = 1 << 0
JT808_OVERSPEED = 1 << 1
JT808_FATIGUE = 1 << 2
JT808_LOW_BATTERY = 1 << 7
JT808_POWER_CUT = 1 << 8
JT808_CRASH = 1 << 29
JT808_ROLLOVER = 1 << 30
JT808_ACC_FIXED = 0b11
"""Status word: ignition on (bit 0), position fixed (bit 1)."""


def item(item_id: int, value: bytes) -> bytes:
    """One additional-information item of a location body."""
    return bytes((item_id, len(value))) + value


def mileage_item(km: float) -> bytes:
    return item(0x01, round(km * 10).to_bytes(4))


def jt808_location(
    when: datetime = T0,
    *,
    alarm: int = 0,
    status: int = JT808_ACC_FIXED,
    latitude: float = 22.54321,
    longitude: float = 114.05789,
    altitude: int = 12,
    speed: float = 34.5,
    direction: int = 90,
    items: bytes = b"",
) -> bytes:
    """A 0x0200 body; ``when`` is UTC, sent as the tracker's local (GMT+8) time."""
    local = when + JT808_OFFSET
    return (
        alarm.to_bytes(4)
        + status.to_bytes(4)
        + round(latitude * 1e6).to_bytes(4)
        + round(longitude * 1e6).to_bytes(4)
        + altitude.to_bytes(2)
        + round(speed * 10).to_bytes(2)
        + direction.to_bytes(2)
        + bytes.fromhex(f"{local:%y%m%d%H%M%S}")
        + items
    )


def area_item(enter: bool, area: int = 7) -> bytes:
    """0x12: a circular area (type 1) entered (0) or left (1)."""
    return item(0x12, b"\x01" + area.to_bytes(4) + (b"\x00" if enter else b"\x01"))


class Jt808Device:
    """A JT/T 808 tracker on a connection: numbered uplinks, the server's downlinks."""

    def __init__(self, tracker: Tracker, ident: str = JT808_ID) -> None:
        self.tracker = tracker
        self.terminal = jt808.encode_terminal(ident)
        self.serial = 0

    async def send(self, msg_id: int, body: bytes = b"") -> int:
        serial = self.serial
        self.serial += 1
        await self.tracker.send(jt808.build_frame(msg_id, self.terminal, serial, body))
        return serial

    async def read(self) -> tuple[int, int, bytes]:
        """(message id, serial, body) of the next frame the server sends."""
        content = jt808.unescape((await self.tracker.read_jt808())[1:-1])
        return int.from_bytes(content[0:2]), int.from_bytes(content[10:12]), content[12:-1]

    async def login(self) -> None:
        """Register (0x0100 -> 0x8100 with an auth code) and authenticate (0x0102)."""
        register = (
            (11).to_bytes(2)
            + (22).to_bytes(2)
            + b"MAKER"
            + b"ST-903".ljust(20, b"\0")
            + b"DEV1234"
            + b"\x01ABC"
        )
        await self.send(0x0100, register)
        msg_id, _, body = await self.read()
        assert msg_id == 0x8100
        assert body[2] == 0  # registered
        serial = await self.send(0x0102, body[3:])
        assert await self.read() == (0x8001, 1, serial.to_bytes(2) + b"\x01\x02\x00")

    async def location(self, body: bytes) -> None:
        """A 0x0200 report, and the server's 0x8001 for it."""
        serial = await self.send(0x0200, body)
        msg_id, _, reply = await self.read()
        assert (msg_id, reply) == (0x8001, serial.to_bytes(2) + b"\x02\x00\x00")

    async def respond(self, msg_id: int, serial: int, result: int = 0) -> None:
        """The 0x0001 general response to the server message ``msg_id``/``serial``."""
        await self.send(0x0001, serial.to_bytes(2) + msg_id.to_bytes(2) + bytes((result,)))


# -- Home Assistant side ------------------------------------------------------------------------


def state(hass: HomeAssistant, entity_id: str) -> State:
    found = hass.states.get(entity_id)
    assert found is not None, f"{entity_id} has no state"
    return found


async def wait_state(hass: HomeAssistant, entity_id: str, expected: str) -> State:
    """Wait until ``entity_id`` has state ``expected``."""
    await wait_for(
        hass, lambda: (s := hass.states.get(entity_id)) is not None and s.state == expected
    )
    return state(hass, entity_id)


async def enable_all(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Enable the entities that are disabled by default, and reload the entry."""
    registry = er.async_get(hass)
    for entity in er.async_entries_for_config_entry(registry, entry.entry_id):
        if entity.disabled_by is not None:
            registry.async_update_entity(entity.entity_id, disabled_by=None)
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()


def tracker_device(hass: HomeAssistant, entry: MockConfigEntry) -> dr.DeviceEntry:
    devices = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
    assert len(devices) == 1
    return devices[0]


def states_of(hass: HomeAssistant, entity_ids: Iterable[str]) -> dict[str, str]:
    return {entity_id: state(hass, entity_id).state for entity_id in entity_ids}


def fix_time(hass: HomeAssistant) -> str | None:
    """The time of the fix the tracker entity shows (its ``fix_time`` attribute)."""
    return state(hass, "device_tracker.car").attributes.get("fix_time")


async def wait_fix(hass: HomeAssistant, expected: datetime) -> None:
    """Wait until the tracker entity shows the fix taken at ``expected``."""
    await wait_for(
        hass,
        lambda: (
            (s := hass.states.get("device_tracker.car")) is not None
            and s.attributes.get("fix_time") == expected.isoformat()
        ),
    )
