"""Peak memory and speed of the capture decoder (``python -m custom_components.sinotrack.protocol``).

Writes a raw capture of JT/T 808 location reports (the ``bench_codec`` stream, repeated to
the size asked for) to a temporary file, runs the command-line decoder on it in a child
process with its output thrown away, and prints the child's peak resident memory and its
throughput. Figures are printed, never asserted; the capture is deleted afterwards.

    python -m benchmarks.bench_cli                    # a 50,000-frame capture
    python -m benchmarks.bench_cli --frames 0 --megabytes 1024    # a ~1 GB capture
    python -m benchmarks.bench_cli --quick            # a smoke run (5,000 frames)
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_codec import jt808_stream

REPO = Path(__file__).resolve().parents[1]
BLOCK_FRAMES = 10_000
"""Frames of the block the capture repeats (its serial numbers and clocks vary within it)."""


def write_capture(path: Path, frames: int, megabytes: float) -> tuple[int, int]:
    """Write ``frames`` frames, or ``megabytes`` MiB of whole frames; (frames, bytes)."""
    block = jt808_stream(BLOCK_FRAMES)
    frame_size = len(block) // BLOCK_FRAMES
    if frames <= 0:
        frames = int(megabytes * 1024 * 1024) // frame_size
    written = 0
    with path.open("wb") as capture:
        whole, rest = divmod(frames, BLOCK_FRAMES)
        for _ in range(whole):
            capture.write(block)
        capture.write(jt808_stream(rest))
        written = capture.tell()
    return frames, written


def run_cli(path: Path) -> tuple[float, float, int]:
    """Decode the capture in a child process: (seconds, peak RSS in MiB, exit status)."""
    start = time.perf_counter()
    child = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-m", "custom_components.sinotrack.protocol", str(path)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert child.stderr is not None
    tail = child.stderr.read()[-200:]
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    if child.returncode:
        print(tail.decode(errors="replace"), file=sys.stderr)
    return seconds, usage.ru_maxrss / 1024, child.returncode  # ru_maxrss is KiB on Linux


def main() -> None:
    """Write the capture, decode it, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--frames", type=int, default=50_000, help="frames (0: use --megabytes)")
    parser.add_argument("--megabytes", type=float, default=1024, help="capture size in MiB")
    parser.add_argument("--dir", default=None, help="where to write the capture (default: tmp)")
    parser.add_argument("--quick", action="store_true", help="a smoke run (5,000 frames)")
    args = parser.parse_args()
    if args.quick:
        args.frames = 5_000
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        path = Path(folder) / "capture.bin"
        frames, size = write_capture(path, args.frames, args.megabytes)
        seconds, peak, status = run_cli(path)
    print(
        f"Python {sys.version.split()[0]}: {frames:,} JT808 frames ({size / 2**20:,.1f} MiB): "
        f"peak RSS {peak:,.1f} MiB, {seconds:,.1f} s ({frames / seconds:,.0f} frames/s, JSON "
        f"output included), exit status {status}"
    )


if __name__ == "__main__":
    main()
