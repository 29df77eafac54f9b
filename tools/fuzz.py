"""Robustness fuzzer for the codec: hostile byte streams through the framer and the decoders.

Streams are made of real frames of every message type the codec knows (H02 text, H02
binary ``$`` frames of each length, JT/T 808 2013 and 2019 headers, sub-packages, every
uplink message id), mutated with knowledge of their grammar (H02 fields replaced, dropped,
duplicated or made huge; BCD nibbles made invalid; JT/T 808 ids, lengths, sub-package
headers, item lengths, escapes and checksums broken), spliced with raw garbage and with
frames that never end, and fed to one ``TrackerConnection`` in reads of random sizes. The
shared corpus (``../shared/protocol/frames-dev.jsonl``) is added to the seeds when present.

Checked for every stream (:func:`check_stream`): nothing but ``Decoded`` and ``Rejected``
comes out, no exception escapes ``feed``/``flush``; ``buffered`` never exceeds the frame
limit after a read (bounded memory); every frame also goes through the decoders
(``h02.decode_text``/``decode_binary``, ``jt808.parse_frame``/``decode_body``), which may
only raise ``ProtocolError``; a stream takes bounded time (no hang).

    python -m tools.fuzz --seconds 600            # or: make fuzz SECONDS=600
    python -m tools.fuzz --seconds 60 --seed 7    # reproducible sequence of streams
    python -m tools.fuzz --replay fuzz-failure-123.bin

A failing stream is written to ``fuzz-failure-<seed>.bin`` (with its cuts and frame
limit in ``.json``) and the exit status is 1. The tests (``tests/faults/test_fuzz.py``) run
the same checks through hypothesis for a bounded time in CI.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
import json
from pathlib import Path
import random
import sys
import time
import traceback
import tracemalloc
from typing import Final

from custom_components.sinotrack.protocol import (
    Decoded,
    Frame,
    Framer,
    ProtocolError,
    Rejected,
    TrackerConnection,
    h02,
    jt808,
)
from tools.simulator import AlarmKind, Fix, frames as sim

NOW: Final = 1_790_000_000.0
CORPUS: Final = Path(__file__).resolve().parents[2] / "shared/protocol/frames-dev.jsonl"
MAX_FRAMES: Final = (64, 128, 1024, 4096)
STREAM_SECONDS: Final = 10.0
"""Longest a stream of the fuzzer's sizes may take (a hang otherwise)."""

ID: Final = "9170000001"
TERMINAL: Final = jt808.encode_terminal("9170000001")
TERMINAL_2019: Final = jt808.encode_terminal("91700000012345", version_2019=True)
POSITION: Final = "123456,A,2235.1777,N,11357.8913,E,010.00,090,150324"


# -- seeds ------------------------------------------------------------------------------------


def _fixes() -> list[Fix]:
    base = Fix(
        timestamp=1_710_505_296,
        latitude=22.5431,
        longitude=114.0579,
        speed_kmh=42.5,
        course=271,
        ignition=True,
        mileage_km=1234.5,
        battery=55,
    )
    return [
        base,
        replace(base, alarms=frozenset(AlarmKind), valid=False, engine_blocked=True),
        replace(base, latitude=-33.9, longitude=-70.6, battery=5, speed_kmh=0.0),
    ]


def h02_seeds() -> list[bytes]:
    """H02 text frames of every type, and ``$`` frames of 32 and 45 bytes."""
    frames = [
        f"*HQ,{ID},V1,{POSITION},FFFFFBFF,460,00,9520,3671,5#",
        f"*HQ,{ID},V1,{POSITION},FFFFFBFF#",
        f"*HQ,{ID},V6,{POSITION},FFF7FBFF,310,260,32936,13641,8944501311217563382F,#",
        f"*HQ,{ID},V19,{POSITION},,195.63.13.195,89480610500392633029,BFFFFBFF#",
        f"*HQ,{ID},V4,S20,DONE,010203,{POSITION},F7FFFBFF#",
        f"*HQ,{ID},V4,S32,1234.5,010203,{POSITION},FFFFFBFF#",
        f"*HQ,{ID},VI1,{POSITION},FFFFFBFF#",
        f"*HQ,{ID},VP1,A,2235.1777,N,11357.8913,E,010.00,090,150324#",
        f"*HQ,{ID},V2,{POSITION},FFFFFBFF#",
        f"*HQ,{ID},V5,{POSITION},FFFFFBFF#",
        f"*HQ,{ID},V8,{POSITION},FFFFFBFF#",
        f"*HQ,{ID},NBR,160169,460,0,0,2,9520,3671,-67,9520,3672,-70,150324,FFFFFBFF,6#",
        f"*HQ,{ID},LINK,123456,20,8,67,0,0,150324,FFFFFBFF#",
        f"*HQ,{ID},V3,123456,460,00,9520,3671,-60,1,150324,FFFFFBFF#",
        f"*HQ,{ID},HTBT,85#",
        f"*HQ,{ID},HTBT#",
        f"*HQ,{ID},V0#",
        f"*HQ,{ID},XT,{POSITION},FFFFFBFF#",
        f"*HQ,{ID},SMS,Line one\nID:{ID}\r\nGPS:A-24-23#",
        f"*HQ,{ID},BC,123456,1,A,2235.1777,N,11357.8913,E,0,0,15123456,FFFFFBFF,460,00,1,2#",
        f"*HQ,{ID},ALRM,1,123456#",
        f"*HQ,,V1,{POSITION},FFFFFBFF#",
        f"*XX,{ID},V1,{POSITION},FFFFFBFF#",
    ]
    seeds = [frame.encode("latin-1") for frame in frames]
    for fix in _fixes():
        seeds.append(sim.h02_position(ID, fix))
        seeds.append(sim.h02_reply(ID, "S71", ["DONE"], "010203", fix))
        seeds.append(sim.h02_binary_position(ID, fix))
    seeds.append(sim.h02_heartbeat(ID, 77))
    seeds.append(
        bytes.fromhex(
            "2441060116600831250401145047888000008554650e000000fffff9ffff001006000000000106020299109c01"
        )
    )
    seeds.append(b"X" + bytes(range(31)))
    return seeds


def jt808_seeds() -> list[bytes]:
    """JT/T 808 frames of every uplink id the codec decodes, 2013 and 2019 headers."""
    fixes = _fixes()
    location = sim.jt808_location_body(fixes[0], 8.0)
    items = (
        bytes.fromhex("0104000036c9")
        + bytes.fromhex("30011f31010ee4020063")
        + b"\x12\x06\x01\x00\x00\x00\x01\x00"
        + b"\x2b\x04\x00\x00\x01\x02"
        + b"\xe1\x02\x01\x02"
        + b"\xfe\x06\x00\x01\x00\x02\x00\x03"
    )
    bodies = [
        (0x0200, location),
        (0x0200, sim.jt808_location_body(fixes[1], 8.0) + items),
        (0x0201, b"\x00\x07" + location),
        (0x0704, sim.jt808_batch_bodies(fixes, 8.0)[0]),
        (0x0704, b"\x00\x01\x00\x00\x1c" + location[:28]),
        (0x0210, b"\x00\x01\x00\x00\x1c" + location[:28]),
        (0x0100, sim.jt808_register_body(ID)),
        (0x0102, b"auth\x7e\x7dcode"),
        (0x0001, sim.jt808_response_body(3, 0x8105, 0)),
        (0x0002, b""),
        (0x0003, b""),
        (0x0109, b""),
        (0x0701, b"\x00\x00\x00\x05hello"),
        (0x6006, sim.jt808_text_reply_body("OK:status")),
        (0x6006, b"\x01" + "OK".encode("utf-16-be")),
        (0x1300, b"\x00\x01reply text"),
        (0x0900, b"\xf0data"),
    ]
    seeds = [
        jt808.build_frame(msg_id, TERMINAL, n, body) for n, (msg_id, body) in enumerate(bodies)
    ]
    seeds += [
        jt808.build_frame(msg_id, TERMINAL_2019, n, body, version_2019=True)
        for n, (msg_id, body) in enumerate(bodies[:4])
    ]
    # A 0x0200 in two sub-packages (attr bit 13, then total and index before the body).
    for index, part in ((1, location[:14]), (2, location[14:])):
        header = (0x0200).to_bytes(2) + (len(part) | 0x2000).to_bytes(2) + TERMINAL
        content = header + (9).to_bytes(2) + (2).to_bytes(2) + index.to_bytes(2) + part
        seeds.append(b"\x7e" + jt808.escape(content + bytes((jt808.checksum(content),))) + b"\x7e")
    return seeds


def corpus_seeds(path: Path = CORPUS) -> list[bytes]:
    """The shared corpus' frames (empty when the file is absent)."""
    if not path.is_file():
        return []
    seeds = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            record = json.loads(line)
            if "frame_hex" in record:
                seeds.append(bytes.fromhex(record["frame_hex"]))
            elif "frame_ascii" in record:
                seeds.append(str(record["frame_ascii"]).encode("latin-1"))
    return seeds


@dataclass(frozen=True, slots=True)
class Seeds:
    """Frames to mutate: built here (one tracker ID, so that a connection keeps decoding them:
    a frame with another ID than the connection's first is rejected), and the corpus'."""

    h02: list[bytes]
    jt808: list[bytes]
    corpus_h02: list[bytes]
    corpus_jt808: list[bytes]

    @classmethod
    def load(cls, corpus: bool = True) -> Seeds:
        frames = corpus_seeds() if corpus else []
        return cls(
            h02_seeds(),
            jt808_seeds(),
            [frame for frame in frames if frame[:1] != b"\x7e"],
            [frame for frame in frames if frame[:1] == b"\x7e"],
        )

    def pool(self, rng: random.Random, jt808_frames: bool) -> list[bytes]:
        own, other = (
            (self.jt808, self.corpus_jt808) if jt808_frames else (self.h02, self.corpus_h02)
        )
        return other if other and rng.random() < 0.3 else own


# -- mutations --------------------------------------------------------------------------------

_TEXT_VALUES: Final = (
    "",
    "0",
    "-1",
    "999999999999999999999999",
    "1e308",
    "nan",
    "inf",
    "-0.0",
    "FFFFFFFF",
    "ZZZZ",
    "A",
    "V",
    "N",
    "S",
    "E",
    "W",
    "#",
    "*",
    "$",
    "~",
    ",",
    "\x00",
    "\xff\xfe",
    "9" * 300,
    "12345678901234567890",
    "320299",
    "999999",
    "000000",
    "991231",
    "2235.1777",
    "9999.9999",
    "-12.5",
)
_H02_TYPES: Final = (
    "V1", "V2", "V4", "V5", "V6", "V8", "V19", "VI1", "VP1", "HTBT", "V0", "XT", "NBR", "LINK",
    "V3", "SMS", "BC", "ALRM", "NOPE", "",
)  # fmt: skip
_JT808_IDS: Final = (
    0x0001, 0x0002, 0x0003, 0x0100, 0x0102, 0x0109, 0x0200, 0x0201, 0x0210, 0x0701, 0x0704,
    0x0900, 0x1300, 0x6006, 0x8001, 0xFFFF, 0x0000,
)  # fmt: skip


def mutate_h02_text(rng: random.Random, frame: bytes) -> bytes:
    """Field-level mutations of ``*...#``."""
    text = frame[1:-1].decode("latin-1") if frame.endswith(b"#") else frame[1:].decode("latin-1")
    fields = text.split(",")
    for _ in range(rng.randint(1, 3)):
        index = rng.randrange(len(fields))
        action = rng.randrange(7)
        if action == 0:
            fields[index] = rng.choice(_TEXT_VALUES)
        elif action == 1 and len(fields) > 1:
            del fields[index]
        elif action == 2:
            fields.insert(index, fields[index])
        elif action == 3 and len(fields) > 2:
            fields[2] = rng.choice(_H02_TYPES)
        elif action == 4:
            fields[index] = fields[index][: rng.randrange(len(fields[index]) + 1)]
        elif action == 5:
            fields.extend(rng.choice(_TEXT_VALUES) for _ in range(rng.randint(1, 40)))
        else:
            fields[index] = "".join(
                rng.choice("0123456789ABCDEF.-NSEW") for _ in range(rng.randint(0, 20))
            )
    return b"*" + ",".join(fields).encode("latin-1", "replace") + b"#"


def mutate_h02_binary(rng: random.Random, frame: bytes) -> bytes:
    """Invalid BCD nibbles, other lengths, changed flags and tails."""
    data = bytearray(frame)
    for _ in range(rng.randint(1, 3)):
        action = rng.randrange(4)
        if action == 1 or len(data) < 2:  # another length: one of the known ones, or any
            size = rng.choice((32, 42, 45, 46, 48, rng.randint(2, 60)))
            data = (data + rng.randbytes(60))[:size]
        elif action == 0:  # a nibble over 9
            data[rng.randrange(1, len(data))] |= rng.choice((0xA0, 0x0A, 0xF0, 0x0F))
        elif action == 2:
            data[rng.randrange(1, len(data))] = rng.randrange(256)
        else:
            data[-rng.randint(1, min(5, len(data))) :] = rng.randbytes(rng.randint(0, 8))
    return bytes(data)


def _jt808_content(frame: bytes) -> bytes:
    try:
        return jt808.unescape(frame[1:-1])
    except ProtocolError:  # a corpus frame with a broken escape: mutate it as it is
        return frame[1:-1]


def mutate_jt808(rng: random.Random, frame: bytes) -> bytes:
    """Header, length, sub-package, item and escape mutations; checksum kept or broken."""
    content = bytearray(_jt808_content(frame))
    if len(content) < 13:
        return b"\x7e" + rng.randbytes(rng.randint(0, 40)) + b"\x7e"
    for _ in range(rng.randint(1, 3)):
        size = len(content)
        body_start = min(size, 17 if size > 2 and content[2] & 0x40 else 12)
        action = rng.randrange(9)
        if action == 0 and size >= 2:
            content[0:2] = rng.choice(_JT808_IDS).to_bytes(2)
        elif action == 1 and size >= 4:  # declared length, flags (sub-package, 2019)
            attr = int.from_bytes(content[2:4]) ^ (1 << rng.randrange(16))
            content[2:4] = attr.to_bytes(2)
        elif action == 2 and size >= 4:  # a sub-package header, any total and index
            content[body_start:body_start] = rng.randbytes(4)
            content[2] |= 0x20
        elif action == 3 and size > body_start + 2:  # an item with a wrong length
            position = rng.randrange(body_start, size - 1)
            content[position : position + 2] = rng.randbytes(2)
        elif action == 4:  # a truncated body
            del content[rng.randint(body_start, size) :]
        elif action == 5:  # an extended body (items that run over the end)
            content[-1:-1] = rng.randbytes(rng.randint(1, 300))
        elif action == 6 and size > 10:  # terminal digits made invalid BCD
            content[4 + rng.randrange(6)] = rng.randrange(0xA0, 0x100)
        elif action == 7 and size:
            content[rng.randrange(size)] = rng.randrange(256)
        else:
            del content[rng.randint(0, size) :]
    if len(content) > 1 and rng.random() < 0.7:  # most keep a valid checksum
        content[-1] = jt808.checksum(bytes(content[:-1]))
    escaped = jt808.escape(bytes(content))
    if rng.random() < 0.1:  # a broken escape sequence
        position = rng.randint(0, len(escaped))
        escaped = escaped[:position] + b"\x7d" + bytes((rng.randrange(256),)) + escaped[position:]
    return b"\x7e" + escaped + b"\x7e"


def mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    """Byte-level: flip, insert, delete, duplicate."""
    buffer = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        position = rng.randrange(len(buffer) + 1)
        action = rng.randrange(4)
        if action == 0 and position < len(buffer):
            buffer[position] ^= 1 << rng.randrange(8)
        elif action == 1:
            buffer[position:position] = rng.randbytes(rng.randint(1, 16))
        elif action == 2:
            del buffer[position : position + rng.randint(1, 16)]
        else:
            end = min(len(buffer), position + rng.randint(1, 64))
            buffer[position:position] = buffer[position:end]
    return bytes(buffer)


def mutate(rng: random.Random, frame: bytes) -> bytes:
    """One frame, mutated according to its kind (sometimes left intact)."""
    if rng.random() < 0.25:
        return frame
    if frame[:1] == b"*":
        frame = mutate_h02_text(rng, frame)
    elif frame[:1] == b"$":
        frame = mutate_h02_binary(rng, frame)
    elif frame[:1] == b"\x7e":
        frame = mutate_jt808(rng, frame)
    return mutate_bytes(rng, frame) if rng.random() < 0.3 else frame


def endless(rng: random.Random, size: int) -> bytes:
    """A frame start that never ends (no terminator within ``size`` bytes)."""
    start = rng.choice((b"*HQ,9170000001,V1,", b"\x7e\x02\x00\x00", b"$9170000001"))
    filler = rng.choice((b"1", b"9,", b"\x01\x02", b"A"))
    return start + filler * (size // len(filler))


def make_stream(rng: random.Random, seeds: Seeds, max_size: int = 65536) -> bytes:
    """One connection's worth of hostile bytes, mostly one protocol, up to ``max_size``."""
    jt808_frames = rng.random() < 0.5
    pool = seeds.pool(rng, jt808_frames)
    parts: list[bytes] = []
    size = 0
    target = rng.randint(1, max_size)
    while size < target:
        roll = rng.random()
        if roll < 0.8:
            part = mutate(rng, rng.choice(pool))
        elif roll < 0.86:
            part = mutate(rng, rng.choice(seeds.pool(rng, not jt808_frames)))
        elif roll < 0.95:
            part = rng.randbytes(rng.randint(1, 512))
        elif roll < 0.98:
            part = b"\r\n" * rng.randint(1, 4)
        else:
            part = endless(rng, rng.randint(100, 9000))
        parts.append(part)
        size += len(part)
    return b"".join(parts)[:max_size]


def make_cuts(rng: random.Random, size: int) -> list[int]:
    """Read boundaries: byte by byte for a while, then TCP-like reads of any size."""
    cuts: list[int] = []
    position = 0
    while position < size:
        position += rng.choice((1, 1, 2, 7, 31, 512, 1460, 4096, 16384, rng.randint(1, 20000)))
        cuts.append(min(position, size))
    return cuts


# -- checks -----------------------------------------------------------------------------------


class InvariantError(AssertionError):
    """An invariant broke for a stream."""


def check_frames(data: bytes) -> None:
    """Every frame the framer finds goes through the decoders: only ProtocolError may escape."""
    framer = Framer()
    for item in framer.feed(data) + framer.flush():
        if not isinstance(item, Frame):
            continue
        raw = item.data
        try:
            if item.kind == "h02-text":
                messages = h02.decode_text(raw, NOW)
                h02.text_reply(raw, messages, NOW)
            elif item.kind == "h02-binary":
                h02.decode_binary(raw)
            elif item.kind == "jt808":
                parsed = jt808.parse_frame(jt808.unescape(raw))
                jt808.decode_body(parsed, parsed.body, parsed.ident, 8.0)
                jt808.reply_for(parsed, parsed.ident or "0", 1, NOW)
        except ProtocolError:
            pass
        except Exception as err:
            where = traceback.extract_tb(err.__traceback__)[-1]
            raise InvariantError(
                f"{type(err).__name__}: {err} from the decoder"
                f" ({Path(where.filename).name}:{where.lineno} {where.name}) on {raw!r}"
            ) from err


def check_stream(data: bytes, cuts: list[int], max_frame: int) -> tuple[int, int]:
    """Feed ``data`` cut at ``cuts`` to one connection; raise InvariantError if an invariant breaks.

    Returns (decoded, rejected) event counts.
    """
    connection = TrackerConnection(max_frame=max_frame)
    limit = max(max_frame, 64)
    decoded = rejected = 0
    start = 0
    started = time.perf_counter()
    for cut in [*cuts, len(data)]:
        if cut <= start:
            continue
        try:
            events = connection.feed(data[start:cut], NOW)
            if cut == len(data) or cut - start > 4096:
                events += connection.flush(NOW)
        except Exception as err:
            raise InvariantError(
                f"{type(err).__name__} escaped feed at byte {start}: {err}"
            ) from err
        for event in events:
            if isinstance(event, Decoded):
                decoded += 1
                _check_decoded(event)
            elif isinstance(event, Rejected):
                rejected += 1
                if event.size < 0:
                    raise InvariantError(f"negative rejected size {event.size}")
            else:
                raise InvariantError(f"unexpected event {event!r}")
        if connection.buffered > limit:
            raise InvariantError(f"{connection.buffered} bytes buffered, over the {limit} limit")
        start = cut
    seconds = time.perf_counter() - started
    if seconds > STREAM_SECONDS:
        raise InvariantError(f"{len(data)} bytes took {seconds:.1f} s")
    check_frames(data)
    return decoded, rejected


def _check_decoded(event: Decoded) -> None:
    if event.reply is not None and not isinstance(event.reply, bytes):
        raise InvariantError(f"reply {event.reply!r} is not bytes")
    for message in event.messages:
        if not isinstance(message, dict) or not all(isinstance(key, str) for key in message):
            raise InvariantError(f"message {message!r} is not a mapping of names")


def memory_peak(rng: random.Random, seeds: Seeds, size: int = 4 * 1024 * 1024) -> int:
    """Peak bytes allocated while a ``size``-byte hostile stream goes through one connection."""
    chunks = [make_stream(rng, seeds, 65536) for _ in range(max(1, size // 65536))]
    connection = TrackerConnection()
    tracemalloc.start()
    try:
        for chunk in chunks:
            for offset in range(0, len(chunk), 16384):
                connection.feed(chunk[offset : offset + 16384], NOW)
        connection.flush(NOW)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# -- the command line ---------------------------------------------------------------------------


def run(
    seconds: float,
    seed: int,
    *,
    max_size: int = 65536,
    report: Callable[[str], None] = print,
    out: Path = Path(),
) -> int:
    """Fuzz for ``seconds``; the number of streams checked. Raises InvariantError (and saves it)."""
    seeds = Seeds.load()
    report(f"{len(seeds.h02)} H02 and {len(seeds.jt808)} JT/T 808 seed frames, seed {seed}")
    deadline = time.monotonic() + seconds
    streams = total = decoded = rejected = 0
    next_report = time.monotonic() + 10
    for stream_seed in _seeds(seed):
        if time.monotonic() >= deadline:
            break
        rng = random.Random(stream_seed)  # noqa: S311 - reproducible, not secret
        data = make_stream(rng, seeds, max_size)
        cuts = make_cuts(rng, len(data))
        max_frame = rng.choice(MAX_FRAMES)
        try:
            counts = check_stream(data, cuts, max_frame)
        except InvariantError:
            path = out / f"fuzz-failure-{stream_seed}.bin"
            path.write_bytes(data)
            path.with_suffix(".json").write_text(json.dumps({"cuts": cuts, "max_frame": max_frame}))
            report(f"FAILED on stream {stream_seed}: saved to {path}")
            raise
        streams += 1
        total += len(data)
        decoded += counts[0]
        rejected += counts[1]
        if time.monotonic() >= next_report:
            next_report += 10
            report(f"{streams:,} streams, {total / 1e6:,.1f} MB, {decoded:,} frames decoded")
    peak = memory_peak(random.Random(seed), seeds)  # noqa: S311
    report(
        f"OK: {streams:,} streams ({total / 1e6:,.1f} MB, {decoded:,} frames decoded,"
        f" {rejected:,} rejected) in {seconds:g} s; peak memory over a 4 MiB stream"
        f" {peak / 1024:,.0f} KiB"
    )
    return streams


def _seeds(seed: int) -> Iterator[int]:
    rng = random.Random(seed)  # noqa: S311
    while True:
        yield rng.getrandbits(48)


def replay(path: Path) -> None:
    data = path.read_bytes()
    meta_path = path.with_suffix(".json")
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    check_stream(data, meta.get("cuts", []), meta.get("max_frame", 4096))
    print(f"{path}: OK")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.fuzz", description=__doc__.split("\n", 1)[0]
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="how long (default 60)")
    parser.add_argument("--seed", type=int, default=None, help="default: from the clock")
    parser.add_argument("--max-size", type=int, default=65536, help="longest stream, bytes")
    parser.add_argument("--replay", type=Path, help="check one saved failing stream")
    args = parser.parse_args(argv)
    if args.replay is not None:
        replay(args.replay)
        return 0
    seed = args.seed if args.seed is not None else time.time_ns() % 1_000_000
    try:
        run(args.seconds, seed, max_size=args.max_size)
    except InvariantError as err:
        print(f"FAILED: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
