"""Fuzzing the framer, ``TrackerConnection.feed`` and the decoders, bounded in time for CI.

The streams and checks are ``tools/fuzz.py``'s (grammar-aware mutations of real frames of
every message type, garbage, frames that never end, random read sizes; see its docstring),
driven here by hypothesis, which shrinks a failure to a small stream and prints it.
``tests/protocol/test_properties.py`` has the per-decoder properties; this is robustness at
scale: long streams, every message type mutated, memory over megabytes of hostile input.

Budget: ``SINOTRACK_FUZZ_EXAMPLES`` streams per test (default 150) and a time-boxed plain
run of ``SINOTRACK_FUZZ_SECONDS`` (default 5). Longer, on demand::

    SINOTRACK_FUZZ_EXAMPLES=20000 SINOTRACK_FUZZ_SECONDS=300 make test PYTEST_ARGS=tests/faults
    make fuzz SECONDS=600
"""

from __future__ import annotations

import os
from pathlib import Path
import random
import time
import tracemalloc
from typing import Final

from hypothesis import HealthCheck, given, settings, strategies as st

from custom_components.sinotrack.protocol import TrackerConnection
from tools import fuzz

EXAMPLES: Final = int(os.environ.get("SINOTRACK_FUZZ_EXAMPLES", "150"))
SECONDS: Final = float(os.environ.get("SINOTRACK_FUZZ_SECONDS", "5"))
SEEDS: Final = fuzz.Seeds.load()
FUZZ: Final = settings(
    max_examples=EXAMPLES,
    deadline=None,  # time is checked per stream below, with a bound that survives coverage
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(rng=st.randoms(use_true_random=False), max_frame=st.sampled_from(fuzz.MAX_FRAMES))
def test_hostile_streams(rng: random.Random, max_frame: int) -> None:
    """Mutated frames of both protocols, garbage, endless frames, cut at random."""
    data = fuzz.make_stream(rng, SEEDS, 16384)
    started = time.perf_counter()
    fuzz.check_stream(data, fuzz.make_cuts(rng, len(data)), max_frame)
    assert time.perf_counter() - started < fuzz.STREAM_SECONDS


@FUZZ
@given(
    frames=st.lists(
        st.sampled_from(SEEDS.h02 + SEEDS.jt808 + SEEDS.corpus_h02 + SEEDS.corpus_jt808),
        min_size=1,
        max_size=6,
    ),
    rng=st.randoms(use_true_random=False),
)
def test_each_message_type_mutated(frames: list[bytes], rng: random.Random) -> None:
    """Every seed frame, mutated by its grammar, through the decoders and a connection."""
    data = b"".join(fuzz.mutate(rng, frame) for frame in frames)
    fuzz.check_stream(data, fuzz.make_cuts(rng, len(data)), 4096)


def test_fuzz_for_a_while(tmp_path: Path) -> None:
    """The plain fuzzer loop for ``SINOTRACK_FUZZ_SECONDS`` (fixed seed: the same streams)."""
    lines: list[str] = []
    streams = fuzz.run(SECONDS, seed=20261123, report=lines.append, out=tmp_path)
    assert streams > 0
    assert lines[-1].startswith("OK:"), lines


def test_memory_stays_bounded_over_megabytes_of_hostile_input() -> None:
    """16 MiB of hostile bytes through one connection: the peak stays a few reads' worth."""
    rng = random.Random(11)
    chunks = [fuzz.make_stream(rng, SEEDS, 65536) for _ in range(64)]
    endless = fuzz.endless(rng, 1 << 20)
    connection = TrackerConnection()
    tracemalloc.start()
    try:
        for _ in range(4):
            for chunk in [*chunks, endless]:
                for offset in range(0, len(chunk), 16384):
                    connection.feed(chunk[offset : offset + 16384], fuzz.NOW)
                    assert connection.buffered <= 4096
        connection.flush(fuzz.NOW)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1024 * 1024, f"peak {peak} bytes"
