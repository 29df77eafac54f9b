"""Frames in, messages and replies out: both protocols, splitting, routing, reconnects."""

from __future__ import annotations

import asyncio
import logging

import pytest

from custom_components.sinotrack.listener import TrackerAlreadyRegisteredError
from custom_components.sinotrack.protocol import Message, TrackerSettings
from tests.support.client import jt808_sign_in
from tests.support.frames import (
    H02_BINARY,
    H02_BINARY_ID,
    H02_ID,
    JT808_ID,
    JT808_LOCATION_UTC,
    h02_heartbeat,
    h02_v1,
    h02_v1_replies,
    issued_code,
    jt808_auth,
    jt808_general_response,
    jt808_parse,
    jt808_register,
)
from tests.support.listeners import ListenerFactory, listener_warnings
from tests.support.plugin import ClientFactory
from tests.support.sink import OffsetSink, RecordingSink
from tests.support.wait import until

from .helpers import jt808_location, now


async def test_h02_replies_are_byte_exact(
    make_listener: ListenerFactory, connect: ClientFactory
) -> None:
    listener = await make_listener()
    sink = RecordingSink()
    listener.register(H02_ID, sink)
    client = await connect(listener.port)

    before = now()
    await client.send(h02_v1())
    reply = await client.recv_text()
    assert reply in h02_v1_replies(H02_ID, before, now())

    await client.send(h02_heartbeat())
    assert await client.recv_text() == b"*HQ,4210051415,HTBT#"

    await until(lambda: len(sink.messages) == 2)
    position = sink.messages[0]
    assert position["ident"] == H02_ID
    assert position["protocol.id"] == "h02"
    assert position["position.latitude"] == pytest.approx(9.939781666)
    assert position["position.longitude"] == pytest.approx(-84.11178)
    assert sink.types() == ["V1", "HTBT"]
    assert sink.connections == [(True, client.peer)]
    assert listener.is_connected(H02_ID)
    assert listener.peer(H02_ID) == client.peer


async def test_both_protocols_share_one_port(
    make_listener: ListenerFactory, connect: ClientFactory
) -> None:
    listener = await make_listener()
    text_sink, binary_sink, jt_sink = RecordingSink(), RecordingSink(), RecordingSink()
    listener.register(H02_ID, text_sink)
    listener.register(H02_BINARY_ID, binary_sink)
    listener.register(JT808_ID, jt_sink)
    text = await connect(listener.port)
    binary = await connect(listener.port)
    jt = await connect(listener.port)

    await jt.send(jt808_register(serial=0))
    await binary.send(H02_BINARY)
    await text.send(h02_v1())

    # 0x8100: device serial 0, result 0, a new random auth code, stored by the sink.
    registered = await jt.recv_jt808()
    code = issued_code(registered)
    assert jt808_parse(registered) == (0x8100, 0, b"\x00\x00\x00" + code.encode())
    assert jt_sink.auth_codes == [code]
    await jt.send(jt808_auth(serial=1, code=code))
    await jt.send(jt808_location(serial=2))
    assert await jt.recv_jt808() == jt808_general_response(1, 0x0102, server_serial=1)
    assert await jt.recv_jt808() == bytes.fromhex("7e8001000501391234567800020002020000b67e")
    assert (await text.recv_text()).startswith(b"*HQ,4210051415,V4,V1,")

    await until(
        lambda: (
            len(jt_sink.messages) == 3 and binary_sink.messages != [] and text_sink.messages != []
        )
    )
    assert jt_sink.types() == ["0x0100", "0x0102", "0x0200"]
    location = jt_sink.messages[2]
    assert location["position.latitude"] == pytest.approx(22.54321)
    assert location["timestamp"] == JT808_LOCATION_UTC
    assert binary_sink.types() == ["$"]
    assert binary_sink.messages[0]["position.latitude"] == pytest.approx(50.58855)
    assert text_sink.types() == ["V1"]
    # Each tracker's messages went to its own sink only.
    assert {m["ident"] for m in text_sink.messages} == {H02_ID}
    assert {m["ident"] for m in binary_sink.messages} == {H02_BINARY_ID}
    assert {m["ident"] for m in jt_sink.messages} == {JT808_ID}
    diagnostics = listener.diagnostics()
    assert diagnostics["connections"]["current"] == 3
    assert diagnostics["connections"]["identified"] == 3
    assert diagnostics["trackers"][JT808_ID]["protocol"] == "jt808"
    assert diagnostics["trackers"][H02_BINARY_ID]["protocol"] == "h02"


async def test_frames_split_byte_by_byte_or_coalesced(
    make_listener: ListenerFactory, connect: ClientFactory
) -> None:
    listener = await make_listener()
    split_sink, joined_sink, jt_sink = RecordingSink(), RecordingSink(), RecordingSink()
    listener.register("4210051415", split_sink)
    listener.register("4210051416", joined_sink)
    listener.register(JT808_ID, jt_sink)

    def stream(ident: str) -> bytes:
        return h02_v1(ident=ident) + h02_heartbeat(ident) + b"\r\n" + h02_v1(ident=ident)

    split = await connect(listener.port)
    reads = listener.stats.reads
    await split.send_bytewise(stream("4210051415"), listener)
    assert listener.stats.reads - reads == len(stream("4210051415"))
    joined = await connect(listener.port)
    reads = listener.stats.reads
    await joined.send(stream("4210051416"))
    jt = await connect(listener.port)
    await jt.send_bytewise(jt808_register(0), listener)
    code = issued_code(await jt.recv_jt808())
    await jt.send_bytewise(jt808_auth(1, code) + jt808_location(2), listener)
    binary_sink = RecordingSink()
    listener.register(H02_BINARY_ID, binary_sink)
    binary = await connect(listener.port)
    await binary.send_bytewise(H02_BINARY * 2, listener)

    for client, ident in ((split, "4210051415"), (joined, "4210051416")):
        assert (await client.recv_text()).startswith(b"*HQ,%s,V4,V1," % ident.encode())
        assert await client.recv_text() == b"*HQ,%s,HTBT#" % ident.encode()
        assert (await client.recv_text()).startswith(b"*HQ,%s,V4,V1," % ident.encode())
    assert [jt808_parse(await jt.recv_jt808())[:2] for _ in range(2)] == [
        (0x8001, 1),
        (0x8001, 2),
    ]
    await until(
        lambda: (
            len(split_sink.messages) == 3
            and len(joined_sink.messages) == 3
            and len(jt_sink.messages) == 3
        )
    )

    def strip(messages: list[Message]) -> list[dict[str, object]]:
        return [{k: v for k, v in m.items() if k != "ident"} for m in messages]

    assert strip(split_sink.messages) == strip(joined_sink.messages)
    assert split_sink.types() == ["V1", "HTBT", "V1"]
    assert jt_sink.types() == ["0x0100", "0x0102", "0x0200"]
    await until(lambda: len(binary_sink.messages) == 2)
    assert binary_sink.messages[0] == binary_sink.messages[1]
    assert listener.stats.rejected_frames == 0


async def test_reconnect_replaces_the_session(
    make_listener: ListenerFactory, connect: ClientFactory
) -> None:
    # The old link went silent for longer than takeover_silence (a dead link without a FIN).
    listener = await make_listener(takeover_silence=0.05)
    sink = RecordingSink()
    listener.register(H02_ID, sink)
    first = await connect(listener.port)
    await first.send(h02_v1())
    await first.recv_text()
    await asyncio.sleep(0.1)

    second = await connect(listener.port)
    await second.send(h02_v1())
    await second.recv_text()
    await first.wait_closed_by_server()

    assert listener.peer(H02_ID) == second.peer
    await until(lambda: listener.connection_count == 1)
    # The runtime sees a new peer, not a disconnect in between.
    assert sink.connections == [(True, first.peer), (True, second.peer)]
    diagnostics = listener.diagnostics()
    assert diagnostics["sessions_replaced"] == 1
    assert diagnostics["id_takeovers"] == 0
    assert diagnostics["connections"]["closed"] == {"replaced by a new connection": 1}

    await second.send(h02_heartbeat())
    assert await second.recv_text() == h02_heartbeat()
    await second.close()
    await until(lambda: not listener.is_connected(H02_ID))
    assert sink.connections[-1] == (False, second.peer)
    assert listener.peer(H02_ID) == second.peer  # the last one, for diagnostics


async def test_takeover_from_another_address_is_counted_and_logged(
    make_listener: ListenerFactory, connect: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    listener = await make_listener(takeover_silence=0.05)
    sink = RecordingSink()
    listener.register(H02_ID, sink)
    first = await connect(listener.port)
    await first.send(h02_v1())
    await first.recv_text()
    await asyncio.sleep(0.1)  # silent for longer than takeover_silence
    other = await connect(listener.port, source="127.0.0.2")
    with caplog.at_level(logging.WARNING):
        await other.send(h02_v1())
        await other.recv_text()
    await first.wait_closed_by_server()
    assert listener.diagnostics()["id_takeovers"] == 1
    assert listener.peer(H02_ID) == other.peer
    assert other.peer.startswith("127.0.0.2:")
    warnings = listener_warnings(caplog)
    assert len(warnings) == 1
    assert "replaces it" in warnings[0].getMessage()


async def test_unknown_tracker_reported_once_and_ignored(
    make_listener: ListenerFactory, connect: ClientFactory
) -> None:
    listener = await make_listener(discovery_delay=0)  # offered at its first good frame
    owned = RecordingSink()
    listener.register("1111111111", owned)
    reported: list[tuple[str, str, str]] = []
    listener.set_unknown_tracker_callback(
        lambda ident, protocol, peer: reported.append((ident, protocol, peer))
    )

    client = await connect(listener.port)
    await client.send(h02_v1() + h02_heartbeat())
    # Still answered, so that the tracker stays connected until it is adopted.
    assert (await client.recv_text()).startswith(b"*HQ,4210051415,V4,V1,")
    assert await client.recv_text() == h02_heartbeat()
    assert reported == [(H02_ID, "h02", client.peer)]

    again = await connect(listener.port)
    await again.send(h02_v1())
    await again.recv_text()
    assert len(reported) == 1
    assert owned.messages == []
    assert owned.connections == []
    assert listener.diagnostics()["unknown_trackers"] == 1

    # Adopted while connected: told at once, and the next frames are delivered.
    adopted = RecordingSink()
    unregister = listener.register(H02_ID, adopted)
    assert adopted.connections == [(True, again.peer)]
    await again.send(h02_heartbeat())
    await again.recv_text()
    await until(lambda: adopted.types() == ["HTBT"])

    # Unregistered (entry removed): reported again on its next connection.
    unregister()
    unregister()  # idempotent
    third = await connect(listener.port)
    await third.send(h02_v1())
    await third.recv_text()
    assert len(reported) == 2


async def test_jt808_clock_offset_of_the_sink_applies_from_the_first_frame(
    make_listener: ListenerFactory, connect: ClientFactory
) -> None:
    listener = await make_listener()
    sink = OffsetSink(jt808_utc_offset=0.0)
    listener.register(JT808_ID, sink)
    client = await connect(listener.port)
    # A reconnecting device may start with a location (no registration first).
    await client.send(jt808_location(serial=7))
    await client.recv_jt808()
    await client.send(jt808_location(serial=8))
    await client.recv_jt808()
    await until(lambda: len(sink.messages) == 2)
    assert [m["timestamp"] for m in sink.messages] == [JT808_LOCATION_UTC + 8 * 3600] * 2


async def test_sink_errors_do_not_break_the_connection(
    make_listener: ListenerFactory, connect: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    class FailingSink(RecordingSink):
        def handle_messages(self, messages: list[Message]) -> None:
            super().handle_messages(messages)
            raise RuntimeError("boom")

        def connection_changed(self, connected: bool, peer: str | None) -> None:
            super().connection_changed(connected, peer)
            raise RuntimeError("boom")

    listener = await make_listener()
    sink = FailingSink()
    listener.register(H02_ID, sink)
    client = await connect(listener.port)
    await client.send(h02_v1())
    await client.recv_text()
    await client.send(h02_heartbeat())
    assert await client.recv_text() == h02_heartbeat()
    await until(lambda: len(sink.messages) == 2)
    assert "Error handling the messages of tracker 4210051415" in caplog.text


async def test_register_twice_is_refused(make_listener: ListenerFactory) -> None:
    listener = await make_listener()
    unregister = listener.register("004210051415", RecordingSink())
    with pytest.raises(TrackerAlreadyRegisteredError):
        listener.register("4210051415", RecordingSink())  # the same ID, normalised
    unregister()
    listener.register("4210051415", RecordingSink())


async def test_diagnostics_counters(make_listener: ListenerFactory, connect: ClientFactory) -> None:
    listener = await make_listener()
    listener.register(H02_ID, RecordingSink())
    client = await connect(listener.port)
    data = b"junk" + h02_v1() + b"*HQ,4210051415,ZZ9,1#" + h02_heartbeat()
    await client.send(data)
    await client.recv_text()
    await client.recv_text()
    await until(lambda: listener.stats.frames == 2 and listener.stats.rejected_frames == 2)

    diagnostics = listener.diagnostics()
    traffic = diagnostics["traffic"]
    assert traffic["bytes_in"] == len(data)
    assert traffic["frames"] == traffic["messages"] == 2
    assert traffic["replies_sent"] == 2
    assert traffic["bytes_out"] > 0
    assert diagnostics["rejected"]["frames"] == 2
    assert sum(diagnostics["rejected"]["reasons"].values()) == 2
    assert diagnostics["connections"] | {"refused": {}, "closed": {}} == {
        "current": 1,
        "identified": 1,
        "unidentified": 0,
        "unknown": 0,
        "evicted": 0,
        "total": 1,
        "refused": {},
        "closed": {},
    }
    tracker = listener.tracker_diagnostics(H02_ID)
    assert tracker is not None
    assert tracker["connected"] is True
    assert tracker["peer"] == client.peer
    assert tracker["protocol"] == "h02"
    assert tracker["frames"] == 2
    assert diagnostics["trackers"] == {H02_ID: tracker}
    assert listener.tracker_diagnostics("999") is None


async def test_the_device_is_answered_before_its_messages_are_handled(
    make_listener: ListenerFactory, connect: ClientFactory
) -> None:
    """A busy sink never delays an ack: every reply of a read is written first."""
    listener = await make_listener()
    written_before: list[int] = []

    class SlowSink(RecordingSink):
        def handle_messages(self, messages: list[Message]) -> None:
            written_before.append(listener.stats.replies_sent)
            super().handle_messages(messages)

    listener.register(H02_ID, SlowSink())
    client = await connect(listener.port)
    await client.send(h02_v1() + h02_heartbeat() + h02_v1())
    for _ in range(3):
        await client.recv_text()
    await until(lambda: len(written_before) == 3)
    assert written_before == [3, 3, 3]


async def test_sink_changed_applies_the_new_clock_offset_at_once(
    make_listener: ListenerFactory, connect: ClientFactory
) -> None:
    listener = await make_listener()
    sink = OffsetSink(jt808_utc_offset=0.0)
    listener.register(JT808_ID, sink)
    client = await connect(listener.port)
    await client.send(jt808_location(serial=7))
    await client.recv_jt808()
    sink.settings = TrackerSettings(jt808_utc_offset=8.0)
    listener.sink_changed(JT808_ID)
    await client.send(jt808_location(serial=8))
    await client.recv_jt808()
    await until(lambda: len(sink.messages) == 2)
    assert [m["timestamp"] for m in sink.messages] == [
        JT808_LOCATION_UTC + 8 * 3600,
        JT808_LOCATION_UTC,
    ]


async def test_jt808_auth_codes_reach_the_sink(
    make_listener: ListenerFactory, connect: ClientFactory
) -> None:
    """Issued codes are stored by the sink; a second registration is refused and reported."""
    listener = await make_listener()
    sink = RecordingSink()
    listener.register(JT808_ID, sink)
    first = await connect(listener.port)
    code = await jt808_sign_in(first)
    assert sink.auth_codes == [code]
    assert listener.diagnostics()["jt808_auth"]["codes_issued"] == 1
    await first.close()
    await until(lambda: not listener.is_connected(JT808_ID))

    # Someone registering the same terminal later: "already registered", no code.
    again = await connect(listener.port)
    await again.send(jt808_register(0))
    msg_id, _, body = jt808_parse(await again.recv_jt808())
    assert (msg_id, body[2:]) == (0x8100, b"\x03")
    assert sink.refused_registrations == []  # a device that kept its code sends it next
    assert sink.connections == [(True, first.peer), (False, first.peer)]  # not yet online
    # A wrong code is refused, and the owner told; the stored one is accepted.
    await again.send(jt808_auth(1, "WRONG"))
    assert jt808_parse(await again.recv_jt808())[2][-1] == 1  # 0x8001 failure
    await until(lambda: sink.refused_registrations == [again.peer])
    await again.send(jt808_auth(2, code))
    assert jt808_parse(await again.recv_jt808())[2][-1] == 0
    await until(lambda: sink.connections[-1] == (True, again.peer))
    auth = listener.diagnostics()["jt808_auth"]
    assert auth == {"codes_issued": 1, "refused": 1, "registrations_refused": 1}


async def test_a_tracker_that_registers_again_with_its_code_is_not_reported(
    make_listener: ListenerFactory, connect: ClientFactory
) -> None:
    """Trackers that register at every start answer "already registered" with their code."""
    listener = await make_listener()
    sink = RecordingSink()
    listener.register(JT808_ID, sink)
    first = await connect(listener.port)
    code = await jt808_sign_in(first)
    await first.close()
    await until(lambda: not listener.is_connected(JT808_ID))
    again = await connect(listener.port)
    await again.send(jt808_register(0))
    assert jt808_parse(await again.recv_jt808())[2][2:] == b"\x03"
    await again.send(jt808_auth(1, code))
    assert jt808_parse(await again.recv_jt808())[2][-1] == 0
    await again.close()
    await until(lambda: not listener.is_connected(JT808_ID))
    assert sink.refused_registrations == []


async def test_a_registration_refused_then_silent_is_reported_when_it_closes(
    make_listener: ListenerFactory, connect: ClientFactory
) -> None:
    """A tracker that lost its code cannot authenticate: its owner hears of it."""
    listener = await make_listener()
    sink = RecordingSink()
    listener.register(JT808_ID, sink)
    first = await connect(listener.port)
    await jt808_sign_in(first)
    await first.close()
    await until(lambda: not listener.is_connected(JT808_ID))
    lost = await connect(listener.port)
    await lost.send(jt808_register(0))
    assert jt808_parse(await lost.recv_jt808())[2][2:] == b"\x03"
    await lost.close()
    await until(lambda: sink.refused_registrations == [lost.peer])


async def test_a_code_issued_before_the_entry_existed_is_handed_to_it(
    make_listener: ListenerFactory, connect: ClientFactory
) -> None:
    """Discovery: the tracker registered while no entry owned it; the new entry stores it."""
    listener = await make_listener()
    client = await connect(listener.port)
    code = await jt808_sign_in(client)
    sink = RecordingSink()
    listener.register(JT808_ID, sink)
    assert sink.auth_codes == [code]
    assert sink.connections == [(True, client.peer)]
    await client.send(jt808_location(serial=2))
    assert jt808_parse(await client.recv_jt808())[0] == 0x8001
    await until(lambda: sink.types() == ["0x0200"])
