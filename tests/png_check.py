#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Pixel checks of QMP screendumps (8-bit RGB/RGBA PNGs, as QEMU writes them).

    png_check.py smpte SHOT.png        modetest's SMPTE bars are on screen
    png_check.py same A.png B.png      two screendumps are identical pixel for pixel
    png_check.py color SHOT.png X Y RRGGBB   the pixel at (X, Y) has that colour

Exit status 0 when the check holds, 1 otherwise (with the first difference).
Uses only the standard library (zlib), so it runs in the build root as is.
"""

import struct
import sys
import zlib


def read_png(path):
    """Returns (width, height, rows), rows a list of lists of (r, g, b)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path}: not a PNG")
    pos, idat, width = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or color not in (2, 6) or interlace:
                raise ValueError(f"{path}: unsupported PNG (depth {depth}, color {color})")
            bpp = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    if width is None:
        raise ValueError(f"{path}: no IHDR")
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        line = raw[y * (stride + 1):(y + 1) * (stride + 1)]
        filt, cur = line[0], bytearray(line[1:])
        for x in range(stride):
            a = cur[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if filt == 1:
                cur[x] = (cur[x] + a) & 0xFF
            elif filt == 2:
                cur[x] = (cur[x] + b) & 0xFF
            elif filt == 3:
                cur[x] = (cur[x] + (a + b) // 2) & 0xFF
            elif filt == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                cur[x] = (cur[x] + pred) & 0xFF
        rows.append([tuple(cur[i:i + 3]) for i in range(0, stride, bpp)])
        prev = cur
    return width, height, rows


# The top band of modetest's SMPTE pattern (util/pattern.c): 75% grey, yellow, cyan, green,
# magenta, red, blue, seven bars of equal width over the top two thirds.
SMPTE_TOP = [(192, 192, 192), (192, 192, 0), (0, 192, 192), (0, 192, 0),
             (192, 0, 192), (192, 0, 0), (0, 0, 192)]


def check_smpte(path):
    width, height, rows = read_png(path)
    y = height // 3
    for i, want in enumerate(SMPTE_TOP):
        x0, x1 = width * i // 7, width * (i + 1) // 7
        for x in range(x0 + 2, x1 - 2):
            if rows[y][x] != want:
                return f"{path}: bar {i} at ({x},{y}) is {rows[y][x]}, expected {want}"
    return None


def check_same(a, b):
    wa, ha, ra = read_png(a)
    wb, hb, rb = read_png(b)
    if (wa, ha) != (wb, hb):
        return f"{a} is {wa}x{ha}, {b} is {wb}x{hb}"
    for y in range(ha):
        if ra[y] != rb[y]:
            x = next(i for i in range(wa) if ra[y][i] != rb[y][i])
            return f"first difference at ({x},{y}): {ra[y][x]} vs {rb[y][x]}"
    return None


def check_color(path, x, y, rgb):
    _, _, rows = read_png(path)
    want = tuple(int(rgb[i:i + 2], 16) for i in (0, 2, 4))
    if rows[y][x] != want:
        return f"{path}: pixel ({x},{y}) is {rows[y][x]}, expected {want}"
    return None


def main(argv):
    if len(argv) == 3 and argv[1] == "smpte":
        err = check_smpte(argv[2])
    elif len(argv) == 4 and argv[1] == "same":
        err = check_same(argv[2], argv[3])
    elif len(argv) == 6 and argv[1] == "color":
        err = check_color(argv[2], int(argv[3]), int(argv[4]), argv[5])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    if err:
        print(f"png_check: FAIL: {err}")
        return 1
    print(f"png_check: {argv[1]}: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
