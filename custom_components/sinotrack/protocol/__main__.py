"""Decode a raw TCP capture of a tracker: one JSON object per message on stdout.

    python -m custom_components.sinotrack.protocol [--hex] [--jt808-utc-offset HOURS] [FILE|-]

The input is the bytes the tracker sent (for example a capture saved with tcpflow or
Wireshark's "Follow TCP stream" as raw), or with ``--hex`` the same as hex text with any
whitespace. Skipped frames and warnings go to stderr. Exit status 0, or 2 when the input
cannot be read.
"""

from __future__ import annotations

import argparse
import binascii
import json
from pathlib import Path
import sys
import time
from typing import TextIO

from .connection import DEFAULT_JT808_UTC_OFFSET, Decoded, TrackerConnection


def _read(path: str, as_hex: bool) -> bytes:
    raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    if as_hex:
        return bytes.fromhex("".join(raw.decode("ascii").split()))
    return raw


def run(argv: list[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    out = out or sys.stdout
    err = err or sys.stderr
    parser = argparse.ArgumentParser(
        prog="python -m custom_components.sinotrack.protocol",
        description="Decode a raw TCP capture of a Sinotrack tracker (H02 or JT/T 808).",
    )
    parser.add_argument("file", nargs="?", default="-", help="capture file, or - for stdin")
    parser.add_argument("--hex", action="store_true", help="the input is hex text")
    parser.add_argument(
        "--jt808-utc-offset",
        type=float,
        default=DEFAULT_JT808_UTC_OFFSET,
        metavar="HOURS",
        help="time zone of JT/T 808 device clocks (default: +8)",
    )
    args = parser.parse_args(argv)
    try:
        data = _read(args.file, args.hex)
    except (OSError, UnicodeDecodeError, ValueError, binascii.Error) as error:
        print(f"cannot read {args.file}: {error}", file=err)
        return 2
    connection = TrackerConnection(jt808_utc_offset=args.jt808_utc_offset, jt808_auth=False)
    count = 0
    now = time.time()
    # The capture is all there is: flush() decides what waits for more data (a lone `$`).
    for event in connection.feed(data, now) + connection.flush(now):
        if isinstance(event, Decoded):
            if event.warning:
                print(f"warning: {event.warning}: {event.frame.data[:32]!r}", file=err)
            for message in event.messages:
                print(json.dumps(message, ensure_ascii=False), file=out)
                count += 1
        else:
            print(f"skipped {event.size} bytes: {event.reason}: {event.sample!r}", file=err)
    if connection.buffered:
        print(f"incomplete frame at the end ({connection.buffered} bytes)", file=err)
    print(f"{count} messages", file=err)
    return 0


if __name__ == "__main__":
    sys.exit(run())
