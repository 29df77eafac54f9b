"""Simulated trackers against a real TCP server that decodes with the project's codec."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
import itertools
import socket
from typing import Any, Final

import pytest

from custom_components.sinotrack.protocol import AuthEvent, Command, CommandKind, Message, jt808
from custom_components.sinotrack.protocol.message import Flag
from tests.support.defaults import WAIT
from tools.simulator import (
    AlarmKind,
    Fix,
    ReceivedCommand,
    ScheduledAlarm,
    SimulatedTracker,
    WireProtocol,
    battery_scale,
    frames,
)
from tools.simulator.frames import KNOTS_TO_KMH

from .server import CodecServer, ServerConnection, of_type

PROTOCOLS: Final = [protocol.value for protocol in WireProtocol]
H02_PROTOCOLS: Final = ["h02", "h02-binary"]
IDENTS: Final = {"h02": "4210051415", "h02-binary": "4210051416", "jt808": "4210051417"}
POSITION_TYPES: Final = {
    "h02": ("V1",),
    "h02-binary": ("$",),
    "jt808": ("0x0200", "0x0704"),
}
ALARM_FLAGS: Final[dict[AlarmKind, Flag]] = {
    AlarmKind.SOS: "sos.alarm",
    AlarmKind.POWER_CUT: "power.cut.alarm",
    AlarmKind.CRASH: "crash.event",
    AlarmKind.OVERSPEED: "overspeeding.event",
    AlarmKind.GEOFENCE_ENTER: "geofence.in.alarm",
    AlarmKind.GEOFENCE_EXIT: "geofence.out.alarm",
}

type Spawn = Callable[..., SimulatedTracker]


def positions(protocol: str) -> Callable[[Message], bool]:
    return of_type(*POSITION_TYPES[protocol])


@pytest.fixture
async def spawn(server: CodecServer) -> AsyncIterator[Spawn]:
    """Start simulated trackers on the test server (fast defaults); stopped at the end."""
    started: list[SimulatedTracker] = []

    def make(protocol: str = "h02", ident: str | None = None, **options: Any) -> SimulatedTracker:
        options.setdefault("interval", 0.05)
        options.setdefault("heartbeat", None)
        options.setdefault("reconnect_delay", 0.02)
        tracker = SimulatedTracker(
            ident or IDENTS[protocol], protocol, "127.0.0.1", server.port, **options
        )
        tracker.start()
        started.append(tracker)
        return tracker

    yield make
    await asyncio.gather(*(tracker.stop() for tracker in started))
    assert all(tracker.error is None for tracker in started)


async def connected(
    server: CodecServer, tracker: SimulatedTracker, number: int = 1
) -> tuple[ServerConnection, int]:
    """The tracker's ``number``-th server connection once its first position arrived there,
    and how many messages that connection has had so far."""
    connection = await server.connection(number)
    await server.wait_messages(positions(tracker.protocol), source=connection)
    async with asyncio.timeout(WAIT):
        await tracker.wait_connected()
    return connection, len(connection.messages)


async def answer(
    server: CodecServer, connection: ServerConnection, command: Command
) -> tuple[Message, list[Message]]:
    """Send a command; return the reply that completes it and every reply matched."""
    start = len(connection.messages)
    encoded = connection.command(command)
    [final] = await server.wait_messages(
        lambda message: encoded.match(message) == "final", source=connection, start=start
    )
    matched = [message for message in connection.messages[start:] if encoded.match(message)]
    return final, matched


# --- positions and heartbeats -----------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_positions_decode_to_what_was_sent(
    server: CodecServer, spawn: Spawn, protocol: str
) -> None:
    sent: list[Fix] = []
    tracker = spawn(protocol, on_sent=sent.append, mileage_km=1234.5, battery=80, route_offset=8)
    received = await server.wait_messages(positions(protocol), count=6)
    assert len(sent) >= 6
    for fix, message in zip(sent, received, strict=False):
        assert message["ident"] == tracker.ident
        assert message["timestamp"] == fix.timestamp
        assert message["position.valid"] is True
        assert message["position.latitude"] == pytest.approx(fix.latitude, abs=2e-6)
        assert message["position.longitude"] == pytest.approx(fix.longitude, abs=2e-6)
        assert message["position.direction"] == fix.course
        assert message["engine.ignition.status"] is fix.ignition
        if protocol == "h02":
            assert message["position.speed"] == pytest.approx(fix.speed_kmh, abs=0.02)
            assert message["battery.level"] == 80
            assert message["vehicle.state.bitmask"] == frames.h02_status(fix)
            assert message["gsm.mcc"] == 460
        elif protocol == "h02-binary":
            knots = round(fix.speed_kmh / KNOTS_TO_KMH)
            assert message["position.speed"] == pytest.approx(knots * KNOTS_TO_KMH, abs=0.01)
            assert message["battery.level"] == 80 == battery_scale(80) * 20 - 20
            assert message["vehicle.state.bitmask"] == frames.h02_status(fix)
        else:
            assert message["position.speed"] == pytest.approx(fix.speed_kmh, abs=0.05)
            assert message["battery.level"] == 80
            assert message["vehicle.mileage"] == pytest.approx(fix.mileage_km, abs=0.05)
            assert message["position.satellites"] == fix.satellites
            assert message["vehicle.state.bitmask"] == frames.jt808_status_word(fix)
            assert message["alarm.bitmask"] == 0
    # The vehicle moves along the route and the odometer follows it.
    assert len({(fix.latitude, fix.longitude) for fix in sent}) > 3
    assert sent[0].mileage_km > 1234.5
    assert sent[5].mileage_km > sent[0].mileage_km
    assert tracker.positions_sent >= 6
    assert tracker.acks_received >= (0 if protocol == "h02-binary" else 1)
    assert server.rejected == []


async def test_jt808_registers_and_authenticates_first(server: CodecServer, spawn: Spawn) -> None:
    tracker = spawn("jt808")
    connection, _ = await connected(server, tracker)
    kinds = [message["message.type"] for message in connection.messages]
    assert kinds[:3] == ["0x0100", "0x0102", "0x0200"]
    registration = connection.messages[0]
    assert registration["manufacturer.code"] == "SINOT"
    assert registration["device.model"] == "ST-903"
    assert registration["manufacturer.device.code"] == tracker.ident[-7:]
    assert registration["province.id"] == 44
    assert registration["vehicle.plate.color"] == 0
    assert connection.codec.ident == tracker.ident
    assert tracker.connected


async def test_jt808_without_registration_answer_gives_up(server: CodecServer) -> None:
    server.replies = False
    tracker = SimulatedTracker(
        "4210051417",
        "jt808",
        "127.0.0.1",
        server.port,
        connect_timeout=0.1,
        first_connect_attempts=2,
        reconnect_delay=0.01,
    )
    async with asyncio.timeout(WAIT):
        with pytest.raises(ConnectionError, match="after 2 attempts"):
            await tracker.run()
    assert [connection.messages[0]["message.type"] for connection in server.connections] == [
        "0x0100",
        "0x0100",
    ]
    assert not tracker.connected


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_heartbeats(server: CodecServer, spawn: Spawn, protocol: str) -> None:
    tracker = spawn(protocol, interval=60, heartbeat=0.03, battery=55)
    kind = "0x0002" if protocol == "jt808" else "HTBT"
    beats = await server.wait_messages(of_type(kind), count=3)
    if protocol != "jt808":
        assert all(beat["battery.level"] == 55 for beat in beats)
    assert tracker.heartbeats_sent >= 3
    # The echo (H02) or 0x8001 (JT/T 808) of each heartbeat is taken as an ack.
    await server.until(lambda: tracker.acks_received >= 3)


# --- alarms ---------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("kind", list(AlarmKind))
async def test_alarms_show_up_as_codec_flags(
    server: CodecServer, spawn: Spawn, protocol: str, kind: AlarmKind
) -> None:
    tracker = spawn(protocol, interval=60, alarm_hold=2)
    connection, start = await connected(server, tracker)
    sent_before = tracker.positions_sent
    if protocol != "jt808" and kind is AlarmKind.CRASH:
        assert not await tracker.raise_alarm(kind)  # H02 has no crash signal
        assert tracker.positions_sent == sent_before
        assert tracker.alarms == frozenset()
        return
    assert await tracker.raise_alarm(kind)  # reported at once
    tracker.send_position()  # still raised (held for two reports)
    tracker.send_position()  # cleared
    raised, held, cleared = await server.wait_messages(
        positions(protocol), count=3, source=connection, start=start
    )
    flag = ALARM_FLAGS[kind]
    assert raised[flag] is True
    assert held[flag] is True
    # JT/T 808 carries the direction of a geofence alarm only while the alarm is raised.
    assert cleared.get(flag, False) is False
    for other, other_flag in ALARM_FLAGS.items():
        if other is not kind and other_flag in raised:
            assert raised[other_flag] is False, other_flag
    if protocol == "jt808" and kind in (AlarmKind.GEOFENCE_ENTER, AlarmKind.GEOFENCE_EXIT):
        assert raised["geofence.alarm"] is True
        assert raised["geofence.id"] == frames.GEOFENCE_AREA_ID
        assert cleared["geofence.alarm"] is False
    assert server.rejected == []


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_alarm_held_until_cleared(server: CodecServer, spawn: Spawn, protocol: str) -> None:
    tracker = spawn(protocol, interval=60)
    connection, start = await connected(server, tracker)
    await tracker.raise_alarm("power_cut", hold=0)
    for _ in range(4):
        tracker.send_position()
    await tracker.clear_alarm("power_cut")  # reported at once
    await tracker.clear_alarm()  # nothing raised: no report
    received = await server.wait_messages(
        positions(protocol), count=6, source=connection, start=start
    )
    assert [message["power.cut.alarm"] for message in received] == [True] * 5 + [False]
    await asyncio.sleep(0.05)
    assert len([m for m in connection.messages[start:] if positions(protocol)(m)]) == 6


async def test_geofence_enter_and_exit_exclude_each_other(
    server: CodecServer, spawn: Spawn
) -> None:
    tracker = spawn("jt808", interval=60, alarm_hold=0)
    connection, start = await connected(server, tracker)
    await tracker.raise_alarm(AlarmKind.GEOFENCE_ENTER)
    await tracker.raise_alarm(AlarmKind.GEOFENCE_EXIT)
    entered, left = await server.wait_messages(
        positions("jt808"), count=2, source=connection, start=start
    )
    assert (entered["geofence.in.alarm"], entered["geofence.out.alarm"]) == (True, False)
    assert (left["geofence.in.alarm"], left["geofence.out.alarm"]) == (False, True)
    assert tracker.alarms == {AlarmKind.GEOFENCE_EXIT}


@pytest.mark.parametrize("protocol", ["h02", "jt808"])
async def test_scheduled_alarm_repeats(server: CodecServer, spawn: Spawn, protocol: str) -> None:
    spawn(
        protocol,
        interval=60,
        alarm_hold=1,
        alarms=[ScheduledAlarm(AlarmKind.SOS, 0.05, repeat=True)],
    )
    raised = await server.wait_messages(lambda message: message.get("sos.alarm") is True, count=3)
    assert len(raised) == 3


# --- commands ---------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", H02_PROTOCOLS)
async def test_h02_mileage_query(server: CodecServer, spawn: Spawn, protocol: str) -> None:
    commands: list[ReceivedCommand] = []
    tracker = spawn(
        protocol,
        interval=60,
        mileage_km=1234.5,
        on_command=lambda _tracker, command: commands.append(command),
    )
    connection, _ = await connected(server, tracker)  # parked: the odometer does not move
    reply, matched = await answer(server, connection, Command(CommandKind.MILEAGE))
    assert reply["message.type"] == "V4"
    assert reply["command.code"] == "S32"
    assert reply["command.time"] == "000000"
    assert reply["vehicle.mileage"] == 1234.5 == tracker.mileage_km
    assert reply["position.latitude"] == pytest.approx(tracker.position[0], abs=2e-6)
    assert matched == [reply]
    assert [command.code for command in commands] == ["S32"]
    assert (
        commands[0].replies[0].startswith(b"*HQ,%s,V4,S32,1234.5,000000," % tracker.ident.encode())
    )
    assert tracker.commands_answered == 1


@pytest.mark.parametrize("protocol", H02_PROTOCOLS)
async def test_h02_engine_stop_and_resume(server: CodecServer, spawn: Spawn, protocol: str) -> None:
    tracker = spawn(protocol, interval=60, route_offset=10)
    connection, _ = await connected(server, tracker)
    stopped, _ = await answer(server, connection, Command(CommandKind.ENGINE_STOP))
    assert stopped["command.code"] == "S20"
    assert stopped["command.result"] == "DONE"
    assert len(stopped["command.time"]) == 6
    assert stopped["engine.blocked.status"] is True
    assert tracker.engine_blocked
    start = len(connection.messages)
    fix = tracker.send_position()
    [report] = await server.wait_messages(positions(protocol), source=connection, start=start)
    assert report["engine.blocked.status"] is True
    assert report["position.speed"] == 0
    assert fix.speed_kmh == 0
    assert fix.ignition is False
    resumed, _ = await answer(server, connection, Command(CommandKind.ENGINE_RESUME))
    assert resumed["engine.blocked.status"] is False
    assert not tracker.engine_blocked


async def test_h02_position_request_interval_arm_and_custom(
    server: CodecServer, spawn: Spawn
) -> None:
    tracker = spawn("h02", interval=60)
    connection, _ = await connected(server, tracker)
    start = len(connection.messages)
    reply, _ = await answer(server, connection, Command(CommandKind.POSITION))
    assert reply["command.code"] == "CR"
    assert reply["command.result"] == ""
    assert reply["command.time"] == "000000"
    # ... then a fresh position.
    await server.wait_messages(positions("h02"), source=connection, start=start)

    reply, _ = await answer(server, connection, Command(CommandKind.INTERVAL, interval=30))
    assert reply["command.code"] == "S71"
    assert tracker.interval == 30

    armed = []
    for kind in (CommandKind.ARM, CommandKind.DISARM):
        reply, _ = await answer(server, connection, Command(kind))
        armed.append((reply["security.status"], tracker.armed))
    assert armed == [(True, True), (False, False)]

    reply, _ = await answer(server, connection, Command(CommandKind.CUSTOM, payload="XYZ,1,2"))
    assert reply["command.code"] == "XYZ"
    assert reply["command.result"] == "DONE"
    assert tracker.commands_answered == 5
    assert server.rejected == []


async def test_h02_command_for_another_id_is_ignored(server: CodecServer, spawn: Spawn) -> None:
    tracker = spawn("h02", interval=60)
    connection, _ = await connected(server, tracker)
    connection.send(b"*HQ,9999999999,S20,120000,1,1#")
    tracker.send_heartbeat()
    await server.wait_messages(of_type("HTBT"), source=connection)
    assert tracker.commands_received == 0
    assert not tracker.engine_blocked


async def test_jt808_engine_stop_and_resume(server: CodecServer, spawn: Spawn) -> None:
    tracker = spawn("jt808", interval=60, route_offset=10)
    connection, start = await connected(server, tracker)
    reply, matched = await answer(server, connection, Command(CommandKind.ENGINE_STOP))
    assert reply["message.type"] == "0x0001"
    assert reply["command.reply.id"] == 0x8105
    assert reply["command.result"] == "success"
    assert matched == [reply]
    assert tracker.engine_blocked
    # The state change is reported at once.
    [report] = await server.wait_messages(positions("jt808"), source=connection, start=start)
    assert report["engine.blocked.status"] is True
    assert report["position.speed"] == 0
    reply, _ = await answer(server, connection, Command(CommandKind.ENGINE_RESUME))
    assert reply["command.result"] == "success"
    assert not tracker.engine_blocked


async def test_jt808_text_message(server: CodecServer, spawn: Spawn) -> None:
    commands: list[ReceivedCommand] = []
    tracker = spawn(
        "jt808", interval=60, on_command=lambda _tracker, command: commands.append(command)
    )
    connection, _ = await connected(server, tracker)
    reply, matched = await answer(server, connection, Command(CommandKind.CUSTOM, payload="WHERE#"))
    assert reply["message.type"] == "0x6006"
    assert reply["command.response"] == "OK:WHERE#"
    assert [message["message.type"] for message in matched] == ["0x0001", "0x6006"]
    assert matched[0]["command.result"] == "success"
    encoded_ack = matched[0]
    assert encoded_ack["command.reply.id"] == 0x8300
    assert [command.code for command in commands] == ["0x8300"]
    assert len(commands[0].replies) == 2


@pytest.mark.parametrize("kind", [CommandKind.POSITION, CommandKind.MILEAGE])
async def test_jt808_position_query(server: CodecServer, spawn: Spawn, kind: CommandKind) -> None:
    tracker = spawn("jt808", interval=60, mileage_km=99.9)
    connection, _ = await connected(server, tracker)
    reply, matched = await answer(server, connection, Command(kind))
    assert reply["message.type"] == "0x0201"
    assert reply["vehicle.mileage"] == pytest.approx(99.9)
    assert reply["position.latitude"] == pytest.approx(tracker.position[0], abs=2e-6)
    assert reply["position.longitude"] == pytest.approx(tracker.position[1], abs=2e-6)
    assert matched == [reply]


async def test_jt808_set_interval_and_unsupported(server: CodecServer, spawn: Spawn) -> None:
    tracker = spawn("jt808", interval=60)
    connection, _ = await connected(server, tracker)
    reply, _ = await answer(server, connection, Command(CommandKind.INTERVAL, interval=30))
    assert reply["command.result"] == "success"
    assert reply["command.reply.id"] == 0x8103
    assert tracker.interval == 30
    # Heartbeat interval (0x0001) in a set-parameters message too.
    body = b"\x01" + (0x0001).to_bytes(4) + b"\x04" + (45).to_bytes(4)
    terminal = jt808.encode_terminal(tracker.ident)
    connection.send(jt808.build_frame(0x8103, terminal, 500, body))
    await server.wait_messages(
        lambda message: message.get("command.reply.serial") == 500, source=connection
    )
    assert tracker.heartbeat == 45
    # Query terminal parameters (0x8104): not supported by the simulator.
    connection.send(jt808.build_frame(0x8104, terminal, 501, b""))
    [unsupported] = await server.wait_messages(
        lambda message: message.get("command.reply.serial") == 501, source=connection
    )
    assert unsupported["command.reply.id"] == 0x8104
    assert unsupported["command.result"] == "unsupported"
    assert server.rejected == []


# --- connection loss and the offline buffer ------------------------------------------------


class StepClock:
    """A wall clock that moves ``step`` seconds at every reading."""

    def __init__(self, start: float = 1_710_506_096.0, step: float = 5.0) -> None:
        self.now = start
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_buffered_fixes_replayed_after_reconnect(
    server: CodecServer, spawn: Spawn, protocol: str
) -> None:
    sent: list[Fix] = []
    tracker = spawn(protocol, clock=StepClock(), on_sent=sent.append, route_offset=8)
    first, _ = await connected(server, tracker)
    await server.wait_messages(positions(protocol), count=2, source=first)
    tracker.disconnect(offline=0.3)
    assert not tracker.connected
    second = await server.connection(2)
    await server.until(
        lambda: (
            tracker.fixes_replayed > 0
            and len([m for m in second.messages if positions(protocol)(m)]) > tracker.fixes_replayed
        )
    )
    replayed = [fix for fix in sent if fix.replayed]
    assert len(replayed) == tracker.fixes_replayed >= 3
    received = [message for message in second.messages if positions(protocol)(message)]
    # Replayed first, in order, with their original timestamps and positions.
    assert [m["timestamp"] for m in received[: len(replayed)]] == [f.timestamp for f in replayed]
    for fix, message in zip(replayed, received, strict=False):
        assert message["position.latitude"] == pytest.approx(fix.latitude, abs=2e-6)
        if protocol == "jt808":
            assert message["message.type"] == "0x0704"
            assert message["message.archive"] is True
    # They were made while offline: after the last fix of the first connection.
    before = [m["timestamp"] for m in first.messages if positions(protocol)(m)]
    assert replayed[0].timestamp > before[-1]
    assert replayed == sorted(replayed, key=lambda fix: fix.timestamp)
    # Then live again.
    live = received[len(replayed)]
    assert live["timestamp"] > replayed[-1].timestamp
    assert "message.archive" not in live
    assert tracker.connects == 2
    assert len(tracker.buffer) == 0
    assert server.rejected == []


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_reconnects_when_the_server_drops_it(
    server: CodecServer, spawn: Spawn, protocol: str
) -> None:
    tracker = spawn(protocol)
    first, _ = await connected(server, tracker)
    first.close()
    second, _ = await connected(server, tracker, 2)
    assert tracker.connects == 2
    if protocol == "jt808":
        assert second.messages[0]["message.type"] == "0x0100"  # registers again


async def test_reconnect_after(server: CodecServer, spawn: Spawn) -> None:
    tracker = spawn("h02", reconnect_after=0.15, offline_time=0.15)
    await connected(server, tracker, 3)
    assert tracker.connects >= 3
    assert tracker.fixes_replayed >= 2


async def test_first_connection_failure_raises() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there once closed
    tracker = SimulatedTracker(
        "4210051415", "h02", "127.0.0.1", port, first_connect_attempts=3, reconnect_delay=0.01
    )
    async with asyncio.timeout(WAIT):
        with pytest.raises(ConnectionError, match="after 3 attempts"):
            await tracker.run()
    assert tracker.connects == 0
    assert len(tracker.buffer) >= 1  # it kept making fixes meanwhile


async def test_stop_while_connecting_and_twice(server: CodecServer) -> None:
    tracker = SimulatedTracker("4210051415", "h02", "127.0.0.1", server.port)
    tracker.start()
    await tracker.stop()
    await tracker.stop()
    assert tracker.error is None
    assert not tracker.connected


# --- many trackers, bursts --------------------------------------------------------------


async def test_many_trackers_in_one_process(server: CodecServer, spawn: Spawn) -> None:
    trackers = [
        spawn(protocol, f"42100600{index:02d}", interval=0.1, route_offset=index)
        for index in range(30)
        for protocol in [PROTOCOLS[index % 3]]
    ]
    idents = {tracker.ident for tracker in trackers}
    await server.until(
        lambda: (
            idents
            <= {m["ident"] for m in server.messages if m["message.type"] in ("V1", "$", "0x0200")}
        )
    )
    await server.until(lambda: all(tracker.connected for tracker in trackers))
    assert len(server.connections) == 30
    assert {connection.codec.ident for connection in server.connections} == idents
    assert server.rejected == []


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_burst(server: CodecServer, spawn: Spawn, protocol: str) -> None:
    sent: list[Fix] = []
    tracker = spawn(protocol, interval=60, on_sent=sent.append)
    connection, start = await connected(server, tracker)
    count = 500
    assert await tracker.send_burst(count) == count
    burst = [fix for fix in sent if fix.burst_index >= 0]
    assert [fix.burst_index for fix in burst] == list(range(count))
    received = await server.wait_messages(
        positions(protocol), count=count, source=connection, start=start
    )
    times = [message["timestamp"] for message in received]
    assert times == sorted(set(times))  # every frame one second after the previous one
    assert times == [fix.timestamp for fix in burst]
    assert [message["position.direction"] for message in received] == [
        index % 360 for index in range(count)
    ]
    speeds = [message["position.speed"] for message in received]
    assert speeds[:3] == pytest.approx([1.852, 3.704, 5.556], abs=0.05)
    assert all(a != b for a, b in itertools.pairwise(speeds))
    assert server.rejected == []


async def test_burst_needs_a_connection() -> None:
    tracker = SimulatedTracker("4210051415", "h02")
    with pytest.raises(ConnectionError):
        await tracker.send_burst(1)


# --- JT/T 808 auth codes ----------------------------------------------------------------------


async def test_jt808_keeps_its_auth_code_across_reconnections(
    server: CodecServer, spawn: Spawn
) -> None:
    server.store_auth_codes = True
    tracker = spawn("jt808")
    first, _ = await connected(server, tracker)
    code = server.auth_codes[tracker.ident]
    assert tracker.jt808_auth_code == code
    assert first.auth == [AuthEvent.ISSUED, AuthEvent.ACCEPTED]
    first.close()
    # The server holds the code: "already registered", no code; the tracker uses its own.
    second, _ = await connected(server, tracker, 2)
    assert second.auth == [AuthEvent.ALREADY_REGISTERED, AuthEvent.ACCEPTED]
    assert second.codec.ready
    assert tracker.jt808_auth_code == code
    assert tracker.connects == 2
    assert server.rejected == []


async def test_jt808_fresh_tracker_told_already_registered_says_why(
    server: CodecServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.store_auth_codes = True
    server.auth_codes["4210051417"] = "1234567890123456"
    tracker = SimulatedTracker(
        "4210051417",
        "jt808",
        "127.0.0.1",
        server.port,
        first_connect_attempts=2,
        reconnect_delay=0.01,
    )
    async with asyncio.timeout(WAIT):
        with pytest.raises(ConnectionError, match="already registered"):
            await tracker.run()
    assert not tracker.connected
    assert "sent no auth code, and this simulator holds none" in caplog.text
    assert [connection.auth for connection in server.connections] == [
        [AuthEvent.ALREADY_REGISTERED]
    ] * 2
    assert server.messages == []


async def test_jt808_auth_code_given_to_the_simulator(server: CodecServer, spawn: Spawn) -> None:
    server.store_auth_codes = True
    server.auth_codes["4210051417"] = "1234567890123456"
    tracker = spawn("jt808", jt808_auth_code="1234567890123456")
    connection, _ = await connected(server, tracker)
    assert connection.auth == [AuthEvent.ALREADY_REGISTERED, AuthEvent.ACCEPTED]


async def test_jt808_wrong_auth_code_is_refused(server: CodecServer) -> None:
    server.store_auth_codes = True
    server.auth_codes["4210051417"] = "1234567890123456"
    tracker = SimulatedTracker(
        "4210051417",
        "jt808",
        "127.0.0.1",
        server.port,
        jt808_auth_code="6543210987654321",
        first_connect_attempts=1,
    )
    async with asyncio.timeout(WAIT):
        with pytest.raises(ConnectionError, match="authentication refused"):
            await tracker.run()
    assert server.connections[0].auth == [AuthEvent.ALREADY_REGISTERED, AuthEvent.REFUSED]
    assert not server.connections[0].codec.ready
