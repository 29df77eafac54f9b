"""Commands: round trips in both protocols, timeouts, FIFO order, queueing, disconnects."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from custom_components.sinotrack.listener import (
    MAX_WAITING_COMMANDS,
    CommandExpiredError,
    CommandQueueFullError,
    CommandTimeoutError,
    Listener,
    ListenerClosedError,
    TrackerDisconnectedError,
    TrackerOfflineError,
)
from custom_components.sinotrack.protocol import Command, CommandError, CommandKind
from tests.support.client import Client, jt808_sign_in
from tests.support.frames import (
    H02_ID,
    JT808_ID,
    JT808_LOCATION_BODY,
    h02_heartbeat,
    h02_v1,
    issued_code,
    jt808_auth,
    jt808_parse,
    jt808_register,
    jt808_uplink,
)
from tests.support.listeners import ListenerFactory
from tests.support.plugin import ClientFactory
from tests.support.sink import RecordingSink
from tests.support.wait import until

from .helpers import jt808_location

MILEAGE = Command(CommandKind.MILEAGE)
MILEAGE_BYTES = b"*HQ,4210051415,S32,000000,1#"
MILEAGE_REPLY = b"*HQ,4210051415,V4,S32,1234.5,164549#"


async def _online_h02(
    make_listener: ListenerFactory, connect: ClientFactory, **config: Any
) -> tuple[Listener, RecordingSink, Client]:
    listener = await make_listener(**config)
    sink = RecordingSink()
    listener.register(H02_ID, sink)
    client = await connect(listener.port)
    await client.send(h02_v1())
    await client.recv_text()
    return listener, sink, client


async def test_h02_command_round_trip(
    make_listener: ListenerFactory, connect: ClientFactory
) -> None:
    listener, sink, client = await _online_h02(make_listener, connect)
    task = asyncio.create_task(listener.send_command(H02_ID, MILEAGE, timeout=3))
    assert await client.recv_text() == MILEAGE_BYTES
    await client.send(MILEAGE_REPLY)
    result = await task
    assert result.reply["message.type"] == "V4"
    assert result.reply["command.code"] == "S32"
    assert result.reply["vehicle.mileage"] == 1234.5
    assert result.ack is None
    assert result.sent is not None
    assert result.sent.data == MILEAGE_BYTES
    # The reply is a normal message too (the odometer sensor reads it).
    assert sink.messages[-1] is result.reply
    commands = listener.diagnostics()["commands"]
    assert commands == {
        "sent": 1,
        "answered": 1,
        "timed_out": 0,
        "expired": 0,
        "disconnected": 0,
        "refused_queue_full": 0,
        "replies_from_other_connection": 0,
        "waiting": 0,
    }


async def _online_jt808(
    make_listener: ListenerFactory, connect: ClientFactory
) -> tuple[Listener, RecordingSink, Client]:
    listener = await make_listener()
    sink = RecordingSink()
    listener.register(JT808_ID, sink)
    client = await connect(listener.port)
    await jt808_sign_in(client)
    return listener, sink, client


async def test_jt808_position_query_round_trip(
    make_listener: ListenerFactory, connect: ClientFactory
) -> None:
    listener, _, client = await _online_jt808(make_listener, connect)
    task = asyncio.create_task(
        listener.send_command(JT808_ID, Command(CommandKind.POSITION), timeout=3)
    )
    msg_id, serial, body = jt808_parse(await client.recv_jt808())
    assert (msg_id, body) == (0x8201, b"")
    # Something unrelated first: not a reply.
    await client.send(jt808_location(serial=2))
    await client.recv_jt808()
    await client.send(jt808_uplink(0x0201, 3, serial.to_bytes(2) + JT808_LOCATION_BODY))
    result = await task
    assert result.reply["message.type"] == "0x0201"
    assert result.reply["command.reply.serial"] == serial
    assert result.reply["position.latitude"] == pytest.approx(22.54321)


async def test_jt808_text_command_ack_then_answer(
    make_listener: ListenerFactory, connect: ClientFactory
) -> None:
    listener, _, client = await _online_jt808(make_listener, connect)
    task = asyncio.create_task(
        listener.send_command(JT808_ID, Command(CommandKind.CUSTOM, payload="STATUS"), timeout=3)
    )
    msg_id, serial, body = jt808_parse(await client.recv_jt808())
    assert msg_id == 0x8300
    assert body == b"\x01STATUS"
    await client.send(jt808_uplink(0x0001, 2, serial.to_bytes(2) + (0x8300).to_bytes(2) + b"\x00"))
    await client.send(jt808_uplink(0x6006, 3, b"\x00GPS OK"))
    result = await task
    assert result.ack is not None
    assert result.ack["command.result"] == "success"
    assert result.reply["message.type"] == "0x6006"
    assert result.reply["command.response"] == "GPS OK"


async def test_command_timeout(make_listener: ListenerFactory, connect: ClientFactory) -> None:
    listener, sink, client = await _online_h02(make_listener, connect)
    with pytest.raises(CommandTimeoutError):
        await listener.send_command(H02_ID, MILEAGE, timeout=0.2)
    assert await client.recv_text() == MILEAGE_BYTES
    # A late reply is an ordinary message; it completes nothing.
    await client.send(MILEAGE_REPLY)
    await until(lambda: sink.types()[-1:] == ["V4"])
    commands = listener.diagnostics()["commands"]
    assert commands["timed_out"] == 1
    assert commands["answered"] == 0
    # The tracker is free for the next command.
    task = asyncio.create_task(listener.send_command(H02_ID, MILEAGE, timeout=3))
    assert await client.recv_text() == MILEAGE_BYTES
    await client.send(MILEAGE_REPLY)
    assert (await task).reply["vehicle.mileage"] == 1234.5


async def test_one_command_in_flight_the_rest_in_order(
    make_listener: ListenerFactory, connect: ClientFactory
) -> None:
    listener, _, client = await _online_h02(make_listener, connect)
    first = asyncio.create_task(listener.send_command(H02_ID, MILEAGE, timeout=3))
    second = asyncio.create_task(
        listener.send_command(H02_ID, Command(CommandKind.POSITION), timeout=3)
    )
    third = asyncio.create_task(listener.send_command(H02_ID, Command(CommandKind.ARM), timeout=3))
    assert await client.recv_text() == MILEAGE_BYTES
    await until(lambda: listener.diagnostics()["commands"]["waiting"] == 3)
    for _ in range(10):
        await asyncio.sleep(0)
    assert listener.stats.commands_sent == 1
    await client.send(MILEAGE_REPLY)
    assert await client.recv_text() == b"*HQ,4210051415,CR#"
    await client.send(b"*HQ,4210051415,V4,CR,164549#")
    arm = await client.recv_text()
    assert arm.startswith(b"*HQ,4210051415,SCF,")
    await client.send(b"*HQ,4210051415,V4,SCF,164549#")
    results = await asyncio.gather(first, second, third)
    assert [r.reply["command.code"] for r in results] == ["S32", "CR", "SCF"]


async def test_offline_tracker_refused_at_once(make_listener: ListenerFactory) -> None:
    listener = await make_listener()
    listener.register(H02_ID, RecordingSink())
    with pytest.raises(TrackerOfflineError):
        await listener.send_command(H02_ID, MILEAGE)


async def test_queued_command_sent_after_the_first_frame(
    make_listener: ListenerFactory, connect: ClientFactory
) -> None:
    listener = await make_listener()
    listener.register(H02_ID, RecordingSink())
    task = asyncio.create_task(
        listener.send_command(H02_ID, MILEAGE, timeout=3, queue_if_offline=True, queue_expiry=5)
    )
    await until(lambda: listener.diagnostics()["commands"]["waiting"] == 1)
    client = await connect(listener.port)
    await client.send(h02_heartbeat())
    # First the reply to the frame, then the command.
    assert await client.recv_text() == h02_heartbeat()
    assert await client.recv_text() == MILEAGE_BYTES
    await client.send(MILEAGE_REPLY)
    assert (await task).reply["vehicle.mileage"] == 1234.5


async def test_queued_jt808_command_waits_for_authentication(
    make_listener: ListenerFactory, connect: ClientFactory
) -> None:
    listener = await make_listener()
    listener.register(JT808_ID, RecordingSink())
    task = asyncio.create_task(
        listener.send_command(
            JT808_ID,
            Command(CommandKind.ENGINE_STOP),
            timeout=3,
            queue_if_offline=True,
            queue_expiry=5,
        )
    )
    client = await connect(listener.port)
    await client.send(jt808_register(0))
    code = issued_code(await client.recv_jt808())
    await until(lambda: listener.is_connected(JT808_ID))
    for _ in range(10):
        await asyncio.sleep(0)
    assert listener.stats.commands_sent == 0  # registered, not yet authenticated
    await client.send(jt808_auth(1, code))
    assert jt808_parse(await client.recv_jt808())[0] == 0x8001
    msg_id, serial, body = jt808_parse(await client.recv_jt808())
    assert (msg_id, body) == (0x8105, b"\xf0")
    await client.send(jt808_uplink(0x0001, 2, serial.to_bytes(2) + (0x8105).to_bytes(2) + b"\x00"))
    result = await task
    assert result.reply["command.result"] == "success"


async def test_queued_command_expires(make_listener: ListenerFactory) -> None:
    listener = await make_listener()
    with pytest.raises(CommandExpiredError):
        await listener.send_command(H02_ID, MILEAGE, queue_if_offline=True, queue_expiry=0.2)
    assert (
        listener.diagnostics()["commands"] | {"expired": 1, "waiting": 0}
        == listener.diagnostics()["commands"]
    )


async def test_queued_command_expires_behind_a_command_in_flight(
    make_listener: ListenerFactory, connect: ClientFactory
) -> None:
    listener, _, client = await _online_h02(make_listener, connect)
    first = asyncio.create_task(listener.send_command(H02_ID, MILEAGE, timeout=3))
    assert await client.recv_text() == MILEAGE_BYTES
    with pytest.raises(CommandExpiredError):
        await listener.send_command(H02_ID, MILEAGE, queue_if_offline=True, queue_expiry=0.1)
    await client.send(MILEAGE_REPLY)
    await first


async def test_disconnect_while_waiting_for_the_reply(
    make_listener: ListenerFactory, connect: ClientFactory
) -> None:
    listener, sink, client = await _online_h02(make_listener, connect)
    task = asyncio.create_task(listener.send_command(H02_ID, MILEAGE, timeout=3))
    assert await client.recv_text() == MILEAGE_BYTES
    await client.close()
    with pytest.raises(TrackerDisconnectedError):
        await task
    assert listener.diagnostics()["commands"]["disconnected"] == 1
    assert sink.connections[-1][0] is False


async def test_reconnect_while_waiting_for_the_reply(
    make_listener: ListenerFactory, connect: ClientFactory
) -> None:
    # The tracker's old link went silent (takeover_silence) and it reconnected.
    listener, _, client = await _online_h02(make_listener, connect, takeover_silence=0.05)
    task = asyncio.create_task(listener.send_command(H02_ID, MILEAGE, timeout=3))
    assert await client.recv_text() == MILEAGE_BYTES
    await asyncio.sleep(0.1)
    again = await connect(listener.port)
    await again.send(h02_v1())
    with pytest.raises(TrackerDisconnectedError):
        await task


async def test_command_the_protocol_cannot_carry(
    make_listener: ListenerFactory, connect: ClientFactory
) -> None:
    listener, _, _ = await _online_jt808(make_listener, connect)
    with pytest.raises(CommandError):
        await listener.send_command(JT808_ID, Command(CommandKind.ARM))
    assert listener.stats.commands_sent == 0


async def test_listener_closing_fails_waiting_commands(
    make_listener: ListenerFactory, connect: ClientFactory
) -> None:
    listener, _, client = await _online_h02(make_listener, connect)
    in_flight = asyncio.create_task(listener.send_command(H02_ID, MILEAGE, timeout=3))
    queued = asyncio.create_task(
        listener.send_command("123", MILEAGE, queue_if_offline=True, queue_expiry=5)
    )
    assert await client.recv_text() == MILEAGE_BYTES
    await until(lambda: listener.diagnostics()["commands"]["waiting"] == 2)
    await listener.close()
    for task in (in_flight, queued):
        with pytest.raises(ListenerClosedError):
            await task
    with pytest.raises(ListenerClosedError):
        await listener.send_command(H02_ID, MILEAGE)
    await client.wait_closed_by_server()


async def test_at_most_twenty_commands_wait_for_a_tracker(
    make_listener: ListenerFactory, connect: ClientFactory
) -> None:
    listener = await make_listener()
    sink = RecordingSink()
    listener.register(H02_ID, sink)
    waiting = [
        asyncio.create_task(
            listener.send_command(H02_ID, MILEAGE, timeout=3, queue_if_offline=True)
        )
        for _ in range(MAX_WAITING_COMMANDS)
    ]
    await until(lambda: listener.diagnostics()["commands"]["waiting"] == MAX_WAITING_COMMANDS)
    assert MAX_WAITING_COMMANDS == 20
    with pytest.raises(CommandQueueFullError, match="20 commands already wait"):
        await listener.send_command(H02_ID, MILEAGE, queue_if_offline=True)
    assert listener.diagnostics()["commands"]["refused_queue_full"] == 1
    # The tracker connects: the first waiting command goes out, one place frees.
    client = await connect(listener.port)
    await client.send(h02_v1())
    await client.recv_text()
    assert await client.recv_text() == MILEAGE_BYTES
    await client.send(MILEAGE_REPLY)
    await waiting[0]
    extra = asyncio.create_task(
        listener.send_command(H02_ID, MILEAGE, timeout=3, queue_if_offline=True)
    )
    for task in [*waiting[1:], extra]:
        task.cancel()
    await asyncio.gather(*waiting[1:], extra, return_exceptions=True)
