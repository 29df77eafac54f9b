"""Decode a raw TCP capture of a tracker: one JSON object per message on stdout.

    python -m custom_components.sinotrack.protocol [--hex] [--jt808-utc-offset HOURS] [FILE|-]

The input is the bytes the tracker sent (for example a capture saved with tcpflow or
Wireshark's "Follow TCP stream" as raw), or with ``--hex`` the same as hex text with any
whitespace. It is read and decoded as it comes, in chunks: each message is printed once its
frame is complete, so memory does not grow with the capture and a pipe is decoded live.
Skipped frames and warnings go to stderr. Exit status 0 (also when the reader of the output
stops early, as ``| head`` does), or 2 when the input cannot be read (the messages before the
unreadable part have been printed then).
"""

from __future__ import annotations

import argparse
import binascii
from collections.abc import Iterator
from contextlib import nullcontext
import json
import os
from pathlib import Path
import string
import sys
import time
from typing import BinaryIO, Final, TextIO

from .connection import DEFAULT_JT808_UTC_OFFSET, Decoded, Event, TrackerConnection

CHUNK: Final = 65536
"""Bytes read at a time (a read from a pipe returns what has arrived, up to this)."""
_WHITESPACE: Final = string.whitespace.encode() + b"\x1c\x1d\x1e\x1f"
"""What ``str.split()`` takes for whitespace among ASCII characters."""


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    """The bytes of ``stream`` as they arrive, at most :data:`CHUNK` at a time."""
    read = getattr(stream, "read1", stream.read)
    while chunk := read(CHUNK):
        yield chunk


def _from_hex(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Hex text (any whitespace, pairs split across chunks) to bytes, chunk by chunk."""
    odd = b""
    for chunk in chunks:
        digits = odd + chunk.translate(None, _WHITESPACE)
        even = len(digits) & ~1
        odd = digits[even:]
        if even:
            yield bytes.fromhex(digits[:even].decode("ascii"))
    if odd:
        raise ValueError("hex text with an odd number of digits")


class _Printer:
    """Writes the events of the capture as they are decoded; counts the messages."""

    def __init__(self, out: TextIO, err: TextIO) -> None:
        self.out = out
        self.err = err
        self.count = 0

    def write(self, events: list[Event]) -> None:
        """Print each message as a JSON line, problems to stderr."""
        out, err = self.out, self.err
        for event in events:
            if isinstance(event, Decoded):
                if event.warning:
                    print(f"warning: {event.warning}: {event.frame.data[:32]!r}", file=err)
                for message in event.messages:
                    out.write(json.dumps(message, ensure_ascii=False))
                    out.write("\n")
                    self.count += 1
            else:
                print(f"skipped {event.size} bytes: {event.reason}: {event.sample!r}", file=err)
        if events:
            out.flush()


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
    connection = TrackerConnection(jt808_utc_offset=args.jt808_utc_offset, jt808_auth=False)
    printer = _Printer(out, err)
    try:
        with (
            nullcontext(sys.stdin.buffer) if args.file == "-" else Path(args.file).open("rb")
        ) as stream:
            chunks = _chunks(stream)
            for data in _from_hex(chunks) if args.hex else chunks:
                printer.write(connection.feed(data, time.time()))
    except BrokenPipeError:
        raise  # the output's reader went away: see main()
    except (OSError, UnicodeDecodeError, ValueError, binascii.Error) as error:
        print(f"cannot read {args.file}: {error}", file=err)
        return 2
    # The capture is all there is: flush() decides what waits for more data (a lone `$`).
    printer.write(connection.flush(time.time()))
    if connection.buffered:
        print(f"incomplete frame at the end ({connection.buffered} bytes)", file=err)
    print(f"{printer.count} messages", file=err)
    return 0


def main() -> int:
    """:func:`run`, stopping quietly when the reader of the output goes away (``| head``)."""
    try:
        return run()
    except BrokenPipeError:
        # Nothing more can be written: what is still buffered must not fail at exit either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
