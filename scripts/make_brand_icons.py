#!/usr/bin/env python3
"""Draw the brand icon: a map pin with a signal arc, as PNG (pure Python)."""
import math, struct, sys, zlib

def png(width, height, pixels):
    raw = b"".join(b"\x00" + bytes(row) for row in pixels)
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))

def draw(size, dark=False):
    rows = []
    s = size / 256
    for y in range(size):
        row = []
        for x in range(size):
            px, py = (x + 0.5) / s, (y + 0.5) / s
            r = g = b = a = 0
            # pin: circle head + triangle tail
            cx, cy, rad = 128, 104, 64
            d = math.hypot(px - cx, py - cy)
            in_head = d <= rad
            in_tail = 150 <= py <= 226 and abs(px - cx) <= (226 - py) * 0.62 and py >= cy
            if in_head or in_tail:
                r, g, b, a = (3, 169, 244, 255)
                if d <= 26:
                    r, g, b = (255, 255, 255) if not dark else (17, 17, 17)
            # signal arcs top right
            for radius in (84, 104):
                dd = math.hypot(px - cx, py - cy)
                ang = math.degrees(math.atan2(cy - py, px - cx))
                if abs(dd - radius) <= 6 and 20 <= ang <= 70:
                    r, g, b, a = (255, 152, 0, 255)
            row += [r, g, b, a]
        rows.append(row)
    return png(size, size, rows)

out = sys.argv[1] if len(sys.argv) > 1 else "custom_components/sinotrack/brand"
for name, size, dark in (("icon.png", 256, False), ("icon@2x.png", 512, False), ("dark_icon.png", 256, True), ("dark_icon@2x.png", 512, True), ("logo.png", 256, False), ("logo@2x.png", 512, False), ("dark_logo.png", 256, True), ("dark_logo@2x.png", 512, True)):
    open(f"{out}/{name}", "wb").write(draw(size, dark))
