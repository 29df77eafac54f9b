"""Decode throughput of the codec on one core, full fidelity.

Each stream is fed to a fresh ``TrackerConnection`` in 4 KiB chunks, as the listener
reads them: framing, decoding (timestamps, every status and alarm bit, every item) and
the reply the device expects. Figures are printed, never asserted.

    make bench        # or: python -m benchmarks.bench_codec
    python -m benchmarks.bench_codec --quick      # a smoke run (10,000 frames, once each)
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
import statistics
import sys
import time

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from custom_components.sinotrack.protocol import Decoded, TrackerConnection
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


def measure(name: str, build: Callable[[int], bytes], count: int, repeat: int = 5) -> float:
    stream = build(count)
    timings = []
    decoded = 0
    for _ in range(repeat):
        seconds, decoded = run(stream)
        timings.append(seconds)
    if decoded != count:
        raise SystemExit(f"{name}: decoded {decoded} of {count} frames")
    best = min(timings)
    rate = count / best
    print(
        f"{name:<22} {rate:>10,.0f} frames/s  (best of {repeat}, median "
        f"{count / statistics.median(timings):,.0f}/s, {len(stream) / count:.0f} B/frame)"
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
