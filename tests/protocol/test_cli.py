"""``python -m custom_components.sinotrack.protocol``: decode a capture to JSON lines."""

from __future__ import annotations

import io
import json
from pathlib import Path
import subprocess
import sys
from typing import Any, Final

import pytest

from custom_components.sinotrack.protocol.__main__ import run

from .helpers import binary_frame, epoch, jt808_frame, location_body

REPO: Final = Path(__file__).resolve().parents[2]
ID: Final = "9170000001"
V1: Final = (
    f"*HQ,{ID},V1,123456,A,2235.1777,N,11357.8913,E,010.00,090,150324,FFFFFBFF#\r\n".encode()
)
HTBT: Final = f"*HQ,{ID},HTBT,85#".encode()
CAPTURE: Final = b"\x00junk" + V1 + HTBT + b"*HQ,9170000001,V1,1"
JT808: Final = jt808_frame(
    0x0100,
    "009170000001",
    1,
    b"\x00\x2c\x01\x2f70111" + b"ST-903".ljust(20, b"\x00") + b"0567872\x01" + "粤B1".encode("gbk"),
) + jt808_frame(0x0200, "009170000001", 2, location_body(), checksum=0)


def invoke(argv: list[str]) -> tuple[int, list[dict[str, Any]], str]:
    out, err = io.StringIO(), io.StringIO()
    status = run(argv, out, err)
    return status, [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


def test_decodes_a_raw_capture(tmp_path: Path) -> None:
    path = tmp_path / "capture.bin"
    path.write_bytes(CAPTURE)
    status, messages, err = invoke([str(path)])
    assert status == 0
    assert [message["message.type"] for message in messages] == ["V1", "HTBT"]
    assert all(message["protocol.id"] == "h02" and message["ident"] == ID for message in messages)
    assert messages[0]["position.latitude"] == pytest.approx(22 + 35.1777 / 60)
    assert messages[0]["timestamp"] == epoch("2024-03-15T12:34:56Z")
    assert messages[1]["battery.level"] == 85
    # Problems go to stderr: the garbage, the incomplete frame at the end, the count.
    assert "skipped 5 bytes" in err
    assert "incomplete frame at the end (19 bytes)" in err
    assert "2 messages" in err


def test_lone_binary_frame(tmp_path: Path) -> None:
    # The capture is all there is: a lone 32-byte `$` frame is decoded, not left waiting.
    path = tmp_path / "capture.txt"
    path.write_text(binary_frame().hex())
    status, messages, err = invoke(["--hex", str(path)])
    assert status == 0
    assert [message["message.type"] for message in messages] == ["$"]
    assert "incomplete" not in err


def test_hex_input_with_whitespace(tmp_path: Path) -> None:
    path = tmp_path / "capture.txt"
    text = JT808.hex()
    path.write_text("\n".join(text[index : index + 32] for index in range(0, len(text), 32)) + "\n")
    status, messages, err = invoke(["--hex", str(path)])
    assert status == 0
    assert [message["message.type"] for message in messages] == ["0x0100", "0x0200"]
    assert messages[0]["vehicle.plate"] == "粤B1"
    assert messages[1]["timestamp"] == epoch("2024-03-15T12:34:56Z")  # GMT+8 by default
    assert "warning: checksum mismatch" in err


def test_jt808_utc_offset(tmp_path: Path) -> None:
    path = tmp_path / "capture.bin"
    path.write_bytes(JT808)
    status, messages, _ = invoke(["--jt808-utc-offset", "0", str(path)])
    assert status == 0
    assert messages[1]["timestamp"] == epoch("2024-03-15T20:34:56Z")
    _, messages, _ = invoke(["--jt808-utc-offset", "-3.5", str(path)])
    assert messages[1]["timestamp"] == epoch("2024-03-16T00:04:56Z")


def test_reads_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(V1.hex().encode())))
    status, messages, _ = invoke(["--hex", "-"])
    assert status == 0
    assert [message["message.type"] for message in messages] == ["V1"]


def test_missing_file(tmp_path: Path) -> None:
    status, messages, err = invoke([str(tmp_path / "nope.bin")])
    assert status == 2
    assert messages == []
    assert "cannot read" in err


@pytest.mark.parametrize("text", ["zz", "abc", "7e\u00e9"])
def test_invalid_hex(tmp_path: Path, text: str) -> None:
    path = tmp_path / "capture.txt"
    path.write_bytes(text.encode())
    status, messages, err = invoke(["--hex", str(path)])
    assert status == 2
    assert messages == []
    assert "cannot read" in err


def test_empty_input(tmp_path: Path) -> None:
    path = tmp_path / "empty.bin"
    path.write_bytes(b"")
    status, messages, err = invoke([str(path)])
    assert (status, messages) == (0, [])
    assert "0 messages" in err


def test_bad_option_value() -> None:
    with pytest.raises(SystemExit) as exit_info:
        run(["--jt808-utc-offset", "eight", "-"], io.StringIO(), io.StringIO())
    assert exit_info.value.code == 2


@pytest.mark.timeout(120)
def test_runs_as_a_module(tmp_path: Path) -> None:
    path = tmp_path / "capture.txt"
    path.write_text(CAPTURE.hex())
    result = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-m", "custom_components.sinotrack.protocol", "--hex", str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=110,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["message.type"] for line in lines] == ["V1", "HTBT"]
    assert "2 messages" in result.stderr
    missing = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "custom_components.sinotrack.protocol", str(tmp_path / "nope")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert missing.returncode == 2
    assert missing.stdout == ""
