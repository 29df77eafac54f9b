"""Configuration checks, misuse of the API, and counters that stay bounded."""

from __future__ import annotations

import resource

import pytest

from custom_components.sinotrack.listener import (
    Listener,
    ListenerClosedError,
    ListenerConfig,
    default_max_connections,
)
from custom_components.sinotrack.protocol import Command, CommandKind, jt808
from tests.support.frames import H02_ID, JT808_TERMINAL, h02_v1
from tests.support.listeners import ListenerFactory
from tests.support.plugin import ClientFactory
from tests.support.sink import RecordingSink
from tests.support.wait import until


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("max_frame", 0, "max_frame must be at least 1"),
        ("max_connections", 0, "max_connections must be at least 1"),
        ("max_read_rate", -1, "max_read_rate must not be negative"),
        ("max_connections_per_source", -5, "max_connections_per_source must not be negative"),
        ("jt808_utc_offset", 15.0, r"between -12 and \+14 hours"),
        ("memory_budget", 0, "memory_budget must be at least 1"),
        ("loop_read_budget", 0, "loop_read_budget must be at least 1"),
        ("loop_read_time", 0.0, "loop_read_time must be positive"),
        ("max_frame_rate", -1, "max_frame_rate must not be negative"),
        ("takeover_silence", 0, "takeover_silence must be positive"),
        ("discoveries_per_source", -1, "discoveries_per_source must not be negative"),
    ],
)
def test_impossible_limits_are_refused(field: str, value: float, message: str) -> None:
    """A configuration error says which setting is wrong, before anything is opened."""
    with pytest.raises(ValueError, match=message):
        ListenerConfig(**{field: value})  # type: ignore[arg-type]


async def test_commands_need_a_running_listener() -> None:
    listener = Listener(ListenerConfig(host="127.0.0.1", port=0))
    with pytest.raises(ListenerClosedError):
        await listener.send_command(H02_ID, Command(CommandKind.POSITION))
    await listener.close()
    with pytest.raises(ListenerClosedError):
        await listener.start()


async def test_command_timeouts_must_be_positive(make_listener: ListenerFactory) -> None:
    listener = await make_listener()
    with pytest.raises(ValueError, match="positive"):
        await listener.send_command(H02_ID, Command(CommandKind.POSITION), timeout=0)


async def test_rejection_reasons_are_bounded(
    make_listener: ListenerFactory, connect: ClientFactory
) -> None:
    """However many kinds of bad frames a peer invents, diagnostics keep a bounded list."""
    listener = await make_listener(max_rejected_frames=1000)
    listener.register(H02_ID, RecordingSink())
    client = await connect(listener.port)
    await client.send(h02_v1())
    kinds = [f"Z{chr(65 + i // 26)}{chr(65 + i % 26)}" for i in range(60)]
    await client.send(b"".join(f"*HQ,{H02_ID},{kind},1#".encode() for kind in kinds))
    await until(lambda: listener.diagnostics()["rejected"]["frames"] == 60)
    reasons = listener.diagnostics()["rejected"]["reasons"]
    assert len(reasons) <= 33
    assert reasons["other"] > 0
    assert sum(reasons.values()) == 60


async def test_checksum_mismatch_is_accepted_and_counted(
    make_listener: ListenerFactory, connect: ClientFactory
) -> None:
    """A JT/T 808 frame with a wrong checksum is decoded (firmware gets it wrong) and the
    oddity shows in diagnostics."""
    listener = await make_listener()
    sink = RecordingSink()
    listener.register("13912345678", sink)
    client = await connect(listener.port)
    content = bytearray(bytes.fromhex("0002 0000") + JT808_TERMINAL + (7).to_bytes(2) + b"\x00")
    content[-1] = jt808.checksum(bytes(content[:-1])) ^ 0xFF
    await client.send(b"\x7e" + jt808.escape(bytes(content)) + b"\x7e")
    await until(lambda: sink.types() == ["0x0002"])
    assert listener.diagnostics()["traffic"]["frame_warnings"] == 1


async def test_a_failing_discovery_callback_does_not_break_the_listener(
    make_listener: ListenerFactory, connect: ClientFactory
) -> None:
    listener = await make_listener(discovery_delay=0)  # offered at its first good frame
    seen: list[str] = []

    def callback(ident: str, protocol: str, peer: str) -> None:
        seen.append(ident)
        raise RuntimeError("boom")

    listener.set_unknown_tracker_callback(callback)
    client = await connect(listener.port)
    await client.send(h02_v1())
    assert (await client.recv_text()).startswith(f"*HQ,{H02_ID},V4,V1,".encode())
    await until(lambda: seen == [H02_ID])
    # The connection is still served.
    await client.send(h02_v1())
    assert (await client.recv_text()).startswith(f"*HQ,{H02_ID},V4,V1,".encode())


@pytest.mark.parametrize(
    ("soft", "expected"),
    [(1024, 256), (2048, 768), (4096, 1792), (1_048_576, 4000), (resource.RLIM_INFINITY, 4000)],
)
def test_the_connection_cap_leaves_descriptors_to_the_rest_of_the_process(
    monkeypatch: pytest.MonkeyPatch, soft: int, expected: int
) -> None:
    """512 descriptors for Home Assistant, half the rest for trackers, at most 4,000."""
    monkeypatch.setattr(resource, "getrlimit", lambda _which: (soft, resource.RLIM_INFINITY))
    assert default_max_connections() == expected
    assert ListenerConfig().max_connections == expected


def test_every_limit_is_in_the_diagnostics() -> None:
    config = ListenerConfig(port=0)
    shown = config.as_dict()
    assert shown["memory_budget"] == 4 * 1024 * 1024
    assert shown["max_frame_rate"] == 5.0
    assert shown["takeover_silence"] == 120.0
    assert shown["discovery_delay"] == 30.0
    assert shown["discoveries_per_source"] == 3
    assert shown["per_source_exempt"] == ["127.0.0.0/8", "::1/128"]
