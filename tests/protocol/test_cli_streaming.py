"""The capture decoder streams: messages come out as their frames come in."""

from __future__ import annotations

import io
import json
from pathlib import Path
import subprocess
import sys
from typing import Final

import pytest

from custom_components.sinotrack.protocol import __main__ as cli

from .helpers import jt808_frame, location_body

REPO: Final = Path(__file__).resolve().parents[2]
ID: Final = "9170000001"


def v1(second: int) -> bytes:
    """An H02 V1 position at 12:34:<second> on 15 March 2024."""
    return (
        f"*HQ,{ID},V1,1234{second:02d},A,2235.1777,N,11357.8913,E,010.00,090,150324,FFFFFBFF#\r\n"
    ).encode()


@pytest.mark.timeout(120)
def test_prints_each_message_before_the_input_ends() -> None:
    child = subprocess.Popen(
        [sys.executable, "-m", "custom_components.sinotrack.protocol", "-"],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdin is not None
    assert child.stdout is not None
    try:
        for second in (1, 2):
            child.stdin.write(v1(second))
            child.stdin.flush()
            # The input is still open: the message is out as soon as its frame is whole.
            line = json.loads(child.stdout.readline())
            assert line["message.type"] == "V1"
            assert line["timestamp"] % 60 == second
        child.stdin.write(v1(3))
    finally:
        child.stdin.close()
    rest = child.stdout.read().decode().splitlines()
    assert child.wait(timeout=60) == 0
    assert [json.loads(line)["timestamp"] % 60 for line in rest] == [3]


def decode(path: Path, *options: str) -> tuple[int, list[str], str]:
    """Run the decoder in this process: (status, stdout lines, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    status = cli.run([*options, str(path)], out, err)
    return status, out.getvalue().splitlines(), err.getvalue()


def capture() -> bytes:
    """H02 positions and JT/T 808 locations cannot share a connection: H02 only, with junk."""
    return b"\x00junk" + b"".join(v1(second) for second in range(20)) + b"*HQ,91700"


@pytest.mark.parametrize("chunk", [1, 2, 7, 64])
def test_frames_and_hex_pairs_split_across_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    raw = tmp_path / "capture.bin"
    raw.write_bytes(capture())
    text = capture().hex()
    hexed = tmp_path / "capture.txt"
    hexed.write_text(" \n".join(text[index : index + 5] for index in range(0, len(text), 5)))
    expected = decode(raw)
    assert expected[0] == 0
    assert len(expected[1]) == 20
    assert "incomplete frame at the end (9 bytes)" in expected[2]
    monkeypatch.setattr(cli, "CHUNK", chunk)
    for status, lines, err in (decode(raw), decode(hexed, "--hex")):
        assert (status, lines) == expected[:2]
        assert err.endswith("incomplete frame at the end (9 bytes)\n20 messages\n")


def test_jt808_split_across_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    frames = b"".join(
        jt808_frame(0x0200, "009170000001", serial, location_body()) for serial in range(5)
    )
    path = tmp_path / "capture.bin"
    path.write_bytes(frames)
    monkeypatch.setattr(cli, "CHUNK", 3)
    status, lines, err = decode(path)
    assert status == 0
    assert [json.loads(line)["event.seqnum"] for line in lines] == [0, 1, 2, 3, 4]
    assert "5 messages" in err


def test_unreadable_hex_after_good_frames(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # What came before the bad text is printed; the status says the input was not all read.
    path = tmp_path / "capture.txt"
    path.write_text(v1(1).hex() + " zz")
    monkeypatch.setattr(cli, "CHUNK", len(v1(1).hex()))
    status, lines, err = decode(path, "--hex")
    assert status == 2
    assert "cannot read" in err
    assert [json.loads(line)["message.type"] for line in lines] == ["V1"]


@pytest.mark.timeout(120)
def test_reader_that_stops_early(tmp_path: Path) -> None:
    # `... | head -1`: the decoder stops quietly when nobody reads its output any more.
    path = tmp_path / "capture.bin"
    path.write_bytes(b"".join(v1(second % 60) for second in range(50_000)))
    child = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-m", "custom_components.sinotrack.protocol", str(path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdout is not None
    assert child.stderr is not None
    assert json.loads(child.stdout.readline())["message.type"] == "V1"
    child.stdout.close()
    err = child.stderr.read().decode()
    assert child.wait(timeout=60) == 0
    assert "Traceback" not in err
    assert "Exception ignored" not in err
