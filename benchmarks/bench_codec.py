"""Decode throughput of the codec on one core, full fidelity.

Each stream is fed to a fresh ``TrackerConnection`` in 4 KiB chunks, as the listener
reads them: framing, decoding (timestamps, every status and alarm bit, every item) and
the reply the device expects. The same frames are then decoded whole, one by one, with the
decoder alone (no framing, range checks or reply): the ratio of the two rates, measured in
the same run, is the cost of the stream around the decoder. Last, the memory of a decoded
message (tracemalloc over 50,000 messages held at once). Figures are printed, never asserted.

    make bench        # or: python -m benchmarks.bench_codec
    python -m benchmarks.bench_codec --quick      # a smoke run (10,000 frames, once each)
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
import gc
from pathlib import Path
import statistics
import sys
import time
import tracemalloc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from custom_components.sinotrack.protocol import (
    Decoded,
    Frame,
    Framer,
    Message,
    TrackerConnection,
    h02,
    jt808,
)
from custom_components.sinotrack.protocol.jt808 import build_frame, encode_terminal
from tests.support.frames import H02_BINARY

NOW = 1_790_000_000.0
CHUNK = 4096


def h02_text_stream(count: int) -> bytes:
    frames = []
    for index in range(count):
        second = index % 60
        minute = index // 60 % 60
        frames.append(
            f"*HQ,4210051415,V1,16{minute:02d}{second:02d},A,0956.{3869 + index % 500:04d},N,"
            f"08406.7068,W,{index % 90:03d}.{index % 100:02d},{index % 360:03d},221215,"
            f"FFFFFBFF,712,01,2233,{4000 + index % 97},6#\r\n".encode()
        )
    return b"".join(frames)


def h02_binary_stream(count: int) -> bytes:
    """32-byte ``$`` frames (the tracker's format does not change within a connection)."""
    return H02_BINARY * count


def h02_binary45_stream(count: int) -> bytes:
    """45-byte ``$`` frames, with the GSM cell and satellites tail."""
    frame = bytes.fromhex(
        "2441060116600831250401145047888000008554650e000000fffff9ffff001006000000000106020299109c01"
    )
    return frame * count


def jt808_stream(count: int) -> bytes:
    terminal = encode_terminal("9180271064")
    frames = []
    for index in range(count):
        body = (
            (0).to_bytes(4)  # alarm word
            + (0x000C0003).to_bytes(4)  # ACC on, fix, GPS + BeiDou
            + (22_644_830 + index).to_bytes(4)
            + (114_029_380 + index).to_bytes(4)
            + (35).to_bytes(2)
            + (index % 1200).to_bytes(2)
            + (index % 360).to_bytes(2)
            + bytes.fromhex(f"2608071807{index % 60:02d}")
            + bytes.fromhex("0104000036c9")  # mileage
            + bytes.fromhex("30011f")  # signal
            + bytes.fromhex("31010e")  # satellites
            + bytes.fromhex("e4020063")  # battery
        )
        frames.append(build_frame(0x0200, terminal, index & 0xFFFF, body))
    return b"".join(frames)


def run(stream: bytes, chunk: int = CHUNK) -> tuple[float, int]:
    """Seconds to feed ``stream`` through a fresh connection, and the messages decoded."""
    connection = TrackerConnection()
    chunks = [stream[offset : offset + chunk] for offset in range(0, len(stream), chunk)]
    feed = connection.feed
    messages = 0
    start = time.perf_counter()
    for piece in chunks:
        for event in feed(piece, NOW):
            if isinstance(event, Decoded):
                messages += len(event.messages)
    return time.perf_counter() - start, messages


def frames_of(stream: bytes) -> list[Frame]:
    """The whole frames of ``stream`` (framed once, outside any timing)."""
    framer = Framer()
    items = framer.feed(stream) + framer.flush()
    return [item for item in items if isinstance(item, Frame)]


def decode_whole(frame: Frame) -> list[Message]:
    """Decode one whole frame with the decoder alone: no framing, range checks or reply."""
    if frame.kind == "h02-text":
        return h02.decode_text(frame.data, NOW)
    if frame.kind == "h02-binary":
        return [h02.decode_binary(frame.data)]
    parsed = jt808.parse_frame(jt808.unescape(frame.data))
    return jt808.decode_body(parsed, parsed.body, parsed.ident, 8.0)


def run_whole(frames: list[Frame]) -> tuple[float, int]:
    """Seconds to decode ``frames`` one by one, and the messages decoded."""
    messages = 0
    start = time.perf_counter()
    for frame in frames:
        messages += len(decode_whole(frame))
    return time.perf_counter() - start, messages


def memory_per_message(frames: list[Frame], count: int = 50_000) -> float:
    """Bytes of heap per decoded message, with ``count`` messages held at once."""
    frames = (frames * (count // len(frames) + 1))[:count]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    held = [decode_whole(frame) for frame in frames]
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    # The list holding them is not the messages' memory.
    overhead = sys.getsizeof(held) + sum(sys.getsizeof(messages) for messages in held)
    return (after - before - overhead) / count


def measure(name: str, build: Callable[[int], bytes], count: int, repeat: int = 5) -> float:
    """Print the stream rate, its ratio to whole-frame decoding, and a message's memory."""
    stream = build(count)
    frames = frames_of(stream)
    timings = []
    whole_timings = []
    decoded = whole = 0
    for _ in range(repeat):  # interleaved: both see the same machine load
        seconds, decoded = run(stream)
        timings.append(seconds)
        seconds, whole = run_whole(frames)
        whole_timings.append(seconds)
    if decoded != count or whole != count:
        raise SystemExit(f"{name}: decoded {decoded} (whole: {whole}) of {count} frames")
    rate = count / min(timings)
    whole_rate = count / min(whole_timings)
    print(
        f"{name:<22} {rate:>10,.0f} frames/s  (best of {repeat}, median "
        f"{count / statistics.median(timings):,.0f}/s, {len(stream) / count:.0f} B/frame); "
        f"whole frames {whole_rate:,.0f}/s, stream/whole {rate / whole_rate:.2f}; "
        f"{memory_per_message(frames):,.0f} B/message"
    )
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run (figures noisy)")
    args = parser.parse_args()
    count, repeat = (10_000, 1) if args.quick else (100_000, 5)
    print(f"Python {sys.version.split()[0]}, one core, {CHUNK}-byte reads")
    measure("H02 text V1", h02_text_stream, count, repeat)
    measure("H02 binary $ 32 bytes", h02_binary_stream, count, repeat)
    measure("H02 binary $ 45 bytes", h02_binary45_stream, count, repeat)
    measure("JT808 0x0200", jt808_stream, count, repeat)


if __name__ == "__main__":
    main()
