#!/usr/bin/env python3
"""Draw the brand images (a map pin with a signal arc) as PNG files, in pure Python.

python3 scripts/make_brand_icons.py [OUTPUT_DIR]
"""

from __future__ import annotations

import math
from pathlib import Path
import struct
import sys
import zlib

BLUE = (3, 169, 244)
ORANGE = (255, 152, 0)


def png(width: int, height: int, rows: list[bytes]) -> bytes:
    """An RGBA PNG from rows of pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    raw = b"".join(b"\x00" + row for row in rows)
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def pixel(px: float, py: float, dark: bool) -> tuple[int, int, int, int]:
    """Colour of one point of the 256x256 design."""
    cx, cy, radius = 128.0, 104.0, 64.0
    distance = math.hypot(px - cx, py - cy)
    colour = (0, 0, 0, 0)
    in_tail = cy <= py <= 226 and abs(px - cx) <= (226 - py) * 0.62
    if distance <= radius or in_tail:
        colour = (*BLUE, 255)
        if distance <= 26:
            colour = (17, 17, 17, 255) if dark else (255, 255, 255, 255)
    angle = math.degrees(math.atan2(cy - py, px - cx))
    if 20 <= angle <= 70 and any(abs(distance - arc) <= 6 for arc in (84.0, 104.0)):
        colour = (*ORANGE, 255)
    return colour


def draw(size: int, dark: bool) -> bytes:
    scale = size / 256
    rows = [
        bytes(
            channel
            for x in range(size)
            for channel in pixel((x + 0.5) / scale, (y + 0.5) / scale, dark)
        )
        for y in range(size)
    ]
    return png(size, size, rows)


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "custom_components/sinotrack/brand")
    out.mkdir(parents=True, exist_ok=True)
    for kind in ("icon", "logo"):
        for dark in (False, True):
            for size, suffix in ((256, ""), (512, "@2x")):
                name = f"{'dark_' if dark else ''}{kind}{suffix}.png"
                (out / name).write_bytes(draw(size, dark))


if __name__ == "__main__":
    main()
