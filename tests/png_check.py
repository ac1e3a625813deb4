#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Pixel checks of QMP screendumps (8-bit RGB/RGBA PNGs, as QEMU writes them).

    png_check.py smpte SHOT.png        modetest's SMPTE bars are on screen
    png_check.py same A.png B.png      two screendumps are identical pixel for pixel
    png_check.py pattern-a SHOT.png    drm-test's pattern A, every pixel
    png_check.py pattern-b SHOT.png    drm-test's pattern B, every pixel
    png_check.py cursor-trace TRACE X Y [X Y ...]
                                       QEMU's cursor commands in trace.log: the cursor
                                       image was set at the first position, then moved
                                       to each further one in turn
    png_check.py import-trace TRACE N  the last N blobs created in trace.log (the imports)
                                       were shown (SET_SCANOUT_BLOB) and flushed, never
                                       uploaded (TRANSFER_TO_HOST_2D), then detached
                                       (DETACH_BACKING) and unreferenced
    png_check.py unuploaded-trace TRACE N
                                       at least N resources in trace.log were shown
                                       (SET_SCANOUT_BLOB) and flushed and never uploaded
                                       (imports: a compositor's buffers of another GPU)
    png_check.py shown DRMTEST.txt DIR every "shown TAG RRGGBB" line drm-test printed: the
                                       screendump DIR/shot-TAG.png is that colour, whole
    png_check.py move-trace TRACE N[+] N (N+: at least N) moves in trace.log, each a
                                       DETACH_BACKING of a resource, then its
                                       ATTACH_BACKING, then its SET_SCANOUT_BLOB, in that
                                       order (a detach before a release is not a move)
    png_check.py off DRMTEST.txt DIR   every "off TAG RRGGBB" line drm-test printed: no pixel
                                       of DIR/shot-TAG.png has that (revoked) colour
    png_check.py detach-trace TRACE N  at least N DETACH_BACKINGs in trace.log, none of a
                                       resource a scanout shows at that point
    png_check.py color SHOT.png X Y RRGGBB   the pixel at (X, Y) has that colour
    png_check.py window SHOT.png MIN RRGGBB...
                                       a client's window: at least MIN pixels are none
                                       of the colours (the desktop's)
    png_check.py size SHOT.png WxH     the screendump is W x H pixels (the scanout's size)
    png_check.py text SHOT.png ROWS MIN
                                       console text: at least MIN pixels of the first ROWS
                                       rows differ from the background (the bottom right
                                       pixel), and no pixel below them does

Exit status 0 when the check holds, 1 otherwise (with the first difference).
Uses only the standard library (zlib), so it runs in the build root as is.
"""

import re
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
    low = int.from_bytes(b"\x7f" * stride, "little")
    high = int.from_bytes(b"\x80" * stride, "little")
    for y in range(height):
        line = raw[y * (stride + 1):(y + 1) * (stride + 1)]
        filt, cur = line[0], bytearray(line[1:])
        if filt == 2:
            # Up, the filter of nearly every row QEMU writes: each byte plus the one above,
            # modulo 256, for the whole row at once: the low 7 bits of the bytes add without
            # carrying into the next byte, and the top bits are XORed.
            a, b = int.from_bytes(cur, "little"), int.from_bytes(prev, "little")
            total = ((a & low) + (b & low)) ^ ((a ^ b) & high)
            cur = bytearray(total.to_bytes(stride, "little"))
        elif filt != 0:
            unfilter(filt, cur, prev, bpp)
        rows.append(list(zip(cur[0::bpp], cur[1::bpp], cur[2::bpp])))
        prev = cur
    return width, height, rows


def unfilter(filt, cur, prev, bpp):
    """Undoes PNG filter `filt` (1 Sub, 3 Average, 4 Paeth) of the row `cur` in place, whose
    bytes depend on those before them, given the row above, `prev`."""
    for x in range(len(cur)):
        a = cur[x - bpp] if x >= bpp else 0
        b = prev[x]
        c = prev[x - bpp] if x >= bpp else 0
        if filt == 1:
            cur[x] = (cur[x] + a) & 0xFF
        elif filt == 3:
            cur[x] = (cur[x] + (a + b) // 2) & 0xFF
        elif filt == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            cur[x] = (cur[x] + pred) & 0xFF


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


def check_size(path, size):
    m = re.match(r"^(\d+)x(\d+)$", size)
    if not m:
        return f"bad size {size!r}, expected WxH"
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return f"{path}: not a PNG"
    width, height = struct.unpack(">II", head[16:24])
    if (width, height) != (int(m.group(1)), int(m.group(2))):
        return f"{path} is {width}x{height}, expected {size}"
    return None


def check_text(path, rows, least):
    width, height, pixels = read_png(path)
    background = pixels[height - 1][width - 1]
    ink = sum(1 for y in range(min(rows, height)) for p in pixels[y] if p != background)
    if ink < least:
        return f"{path}: {ink} text pixels in the first {rows} rows, expected at least {least}"
    for y in range(rows, height):
        for x, p in enumerate(pixels[y]):
            if p != background:
                return f"{path}: pixel ({x},{y}) is {p}, below the text (background {background})"
    return None


# drm-test's patterns (tests/drm-test/src/patterns.rs, which has the same formulas): four
# quadrants split at (W/2, H/2), and a 64x64 square.
RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)
YELLOW, MAGENTA = (255, 255, 0), (255, 0, 255)
PATTERNS = {
    # quadrants: top left, top right, bottom left, bottom right; square: x, y, size, colour
    "a": ((RED, GREEN, BLUE, WHITE), (96, 96, 64, YELLOW)),
    "b": ((WHITE, BLUE, GREEN, RED), (800, 600, 64, MAGENTA)),
}


def pattern_row(name, y, width, height):
    """The expected pixels of row y of pattern NAME on a WIDTH x HEIGHT screen."""
    quads, (sx, sy, size, colour) = PATTERNS[name]
    mx = width // 2
    half = 0 if y < height // 2 else 2
    row = [quads[half]] * mx + [quads[half + 1]] * (width - mx)
    if sy <= y < sy + size:
        row[sx:sx + size] = [colour] * size
    return row


def check_pattern(name, path):
    width, height, rows = read_png(path)
    _, (sx, sy, size, _) = PATTERNS[name]
    if width < sx + size or height < sy + size:
        return f"{path}: {width}x{height} is too small for pattern {name.upper()}"
    bad, first = 0, None
    for y in range(height):
        want = pattern_row(name, y, width, height)
        if rows[y] != want:
            for x in range(width):
                if rows[y][x] != want[x]:
                    bad += 1
                    if first is None:
                        first = f"({x},{y}) is {rows[y][x]}, expected {want[x]}"
    if bad:
        return f"{path}: {bad} of {width * height} pixels differ from pattern {name.upper()}, first {first}"
    return None


# QEMU's trace event of both cursor commands (hw/display/trace-events):
#   virtio_gpu_update_cursor scanout %d, x %d, y %d, %s, res 0x%x
# with "move" for VIRTIO_GPU_CMD_MOVE_CURSOR and "update" for VIRTIO_GPU_CMD_UPDATE_CURSOR.
CURSOR_RE = re.compile(r"virtio_gpu_update_cursor scanout (\d+), x (-?\d+), y (-?\d+), "
                       r"(move|update), res 0x([0-9a-f]+)")


def check_cursor_trace(path, positions):
    """The first UPDATE_CURSOR with an image (res != 0) is at positions[0]; the next cursor
    commands are MOVE_CURSORs to positions[1:], in order, on the same scanout and with the same
    resource id. What follows
    (e.g. the cursor turned off when the program closes the device) does not matter."""
    events = []
    with open(path, errors="replace") as f:
        for line in f:
            m = CURSOR_RE.search(line)
            if m:
                events.append((int(m[1]), int(m[2]), int(m[3]), m[4], int(m[5], 16)))
    if not events:
        return (f"{path}: no virtio_gpu_update_cursor events (the runner must trace them: "
                "-trace virtio_gpu_update_cursor)")
    start = next((i for i, e in enumerate(events) if e[3] == "update" and e[4] != 0), None)
    if start is None:
        return f"{path}: {len(events)} cursor commands, none sets an image"
    scanout, x, y, _, res = events[start]
    if (x, y) != positions[0]:
        return f"{path}: cursor image (res {res:#x}) set at ({x},{y}), expected {positions[0]}"
    for i, want in enumerate(positions[1:], 1):
        if start + i >= len(events):
            return f"{path}: no cursor move to {want} after the cursor was set"
        got = events[start + i]
        if got[3] != "move" or (got[1], got[2]) != want or got[0] != scanout:
            return (f"{path}: cursor command {i + 1} after setting the image is "
                    f"{got[3]} to ({got[1]},{got[2]}) on scanout {got[0]}, expected a move to "
                    f"{want} on scanout {scanout}")
        # QEMU passes a MOVE_CURSOR's resource_id to its UI as the cursor's visibility
        # (update_cursor(): dpy_mouse_set(con, x, y, resource_id)): 0 hides the cursor.
        if got[4] != res:
            return (f"{path}: the cursor move to {want} carries resource {got[4]:#x}, not the "
                    f"cursor's {res:#x}: QEMU takes it for the cursor's visibility "
                    f"({'hidden' if got[4] == 0 else 'another image'})")
    return None


TRACE_CMD_RE = re.compile(r"virtio_gpu_cmd_(\w+) .*?res 0x([0-9a-f]+)")


def check_import_trace(path, count):
    """The last `count` resources created with RESOURCE_CREATE_BLOB (drm-test's imports, made
    after fbdev's buffer) were scanned out and flushed without any upload, then detached and
    unreferenced when the program closed the device."""
    cmds = {}
    created = []
    with open(path, errors="replace") as f:
        for line in f:
            m = TRACE_CMD_RE.search(line)
            if not m:
                continue
            cmd, res = m[1], int(m[2], 16)
            if cmd == "res_create_blob":
                created.append(res)
            cmds.setdefault(res, []).append(cmd)
    if len(created) < count:
        return f"{path}: {len(created)} blobs created, expected at least {count} imports"
    for res in created[-count:]:
        seen = cmds[res]
        for want in ("set_scanout_blob", "res_flush", "res_back_detach", "res_unref"):
            if want not in seen:
                return f"{path}: imported resource {res:#x} had no {want}"
        # At teardown the host lets go of the pages, then of the resource.
        if seen[-2:] != ["res_back_detach", "res_unref"]:
            return f"{path}: imported resource {res:#x} ended with {seen[-2:]}, not a detach " \
                   "and its unref"
        if "res_xfer_toh_2d" in seen or "res_back_attach" in seen:
            return f"{path}: imported resource {res:#x} was copied to the host ({seen})"
    return None


def check_unuploaded_trace(path, count):
    """At least `count` resources were shown with SET_SCANOUT_BLOB and flushed, and never
    uploaded with TRANSFER_TO_HOST_2D: the host scanned out guest pages in place. (Dumb
    buffers, also blobs, are uploaded when flushed.)"""
    cmds = {}
    with open(path, errors="replace") as f:
        for line in f:
            m = TRACE_CMD_RE.search(line)
            if m:
                cmds.setdefault(int(m[2], 16), set()).add(m[1])
    shown = [res for res, seen in cmds.items()
             if {"set_scanout_blob", "res_flush"} <= seen and "res_xfer_toh_2d" not in seen]
    if len(shown) < count:
        return (f"{path}: {len(shown)} resources shown and flushed without an upload "
                f"({[hex(r) for r in shown]}), expected at least {count}")
    return None


def tagged_shots(listing, folder, kind):
    """The screendumps that drm-test's "KIND TAG RRGGBB" lines name: (path, width, height,
    rows, colour) for DIR/shot-TAG.png."""
    with open(listing, errors="replace") as f:
        for line in f:
            m = re.match(rf"^{kind} (\S+) ([0-9a-f]{{6}})$", line.strip())
            if m:
                path = f"{folder}/shot-{m[1]}.png"
                yield (path, *read_png(path), tuple(bytes.fromhex(m[2])))


def check_shown(listing, folder):
    """Each "shown TAG RRGGBB" line of drm-test's output names a screendump that must be that
    colour in every pixel."""
    count = 0
    for path, width, height, rows, want in tagged_shots(listing, folder, "shown"):
        whole = [want] * width
        for y in range(height):
            if rows[y] != whole:
                x = next(x for x in range(width) if rows[y][x] != want)
                return f"{path}: pixel ({x},{y}) is {rows[y][x]}, expected {want}"
        count += 1
    if count == 0:
        return f"{listing}: no shown lines"
    return None


def check_off(listing, folder):
    """Each "off TAG RRGGBB" line of drm-test's output names a screendump taken right after the
    buffer of that colour was revoked: no pixel may still show it."""
    count = 0
    for path, width, height, rows, stale in tagged_shots(listing, folder, "off"):
        for y in range(height):
            if stale in rows[y]:
                x = rows[y].index(stale)
                return f"{path}: pixel ({x},{y}) still shows the revoked pages {stale}"
        count += 1
    if count == 0:
        return f"{listing}: no off lines"
    return None


SCANOUT_RE = re.compile(r"virtio_gpu_cmd_set_scanout(?:_blob)? id (\d+), res 0x([0-9a-f]+)")


def check_detach_trace(path, detaches):
    """No resource is detached (DETACH_BACKING) while a scanout shows it, following what
    SET_SCANOUT and SET_SCANOUT_BLOB put on each scanout; at least `detaches` detaches."""
    shown = {}
    found = 0
    with open(path, errors="replace") as f:
        for n, line in enumerate(f, 1):
            m = SCANOUT_RE.search(line)
            if m:
                shown[int(m[1])] = int(m[2], 16)
                continue
            m = TRACE_CMD_RE.search(line)
            if not m or m[1] != "res_back_detach":
                continue
            res = int(m[2], 16)
            on = [s for s, r in shown.items() if r == res]
            if on:
                return f"{path}:{n}: resource {res:#x} detached while scanout {on[0]} shows it"
            found += 1
    if found < detaches:
        return f"{path}: {found} detaches, expected at least {detaches}"
    return None


def check_move_trace(path, moves, at_least=False):
    """Each move is DETACH_BACKING, ATTACH_BACKING and SET_SCANOUT_BLOB of one resource, in
    that order, and there are `moves` of them; a detach before the resource's release (or
    at the end) is not a move."""
    seq = []
    with open(path, errors="replace") as f:
        for line in f:
            m = TRACE_CMD_RE.search(line)
            if m and m[1] in ("res_back_detach", "res_back_attach", "set_scanout_blob",
                              "res_unref"):
                seq.append((m[1], int(m[2], 16)))
    found = 0
    for i, (cmd, res) in enumerate(seq):
        if cmd != "res_back_detach":
            continue
        rest = [c for c in seq[i + 1:] if c[1] == res][:2]
        if not rest or rest[0][0] == "res_unref":
            continue  # the release of the buffer (the C driver detaches first)
        if rest != [("res_back_attach", res), ("set_scanout_blob", res)]:
            return f"{path}: detach {found + 1} of {res:#x} is followed by {rest}"
        found += 1
    if found != moves and not (at_least and found > moves):
        return f"{path}: {found} detaches, expected {moves}{'+' if at_least else ''}"
    return None


def check_window(path, least, colours):
    """At least `least` pixels of the screendump are none of `colours`: something other than
    the desktop (a client's window) covers that many."""
    width, height, rows = read_png(path)
    known = {tuple(bytes.fromhex(c)) for c in colours}
    other = sum(1 for y in range(height) for x in range(width) if rows[y][x] not in known)
    if other < least:
        return f"{path}: {other} pixels differ from the desktop's colours, expected {least}"
    return None


def main(argv):
    if len(argv) == 3 and argv[1] == "smpte":
        err = check_smpte(argv[2])
    elif len(argv) == 4 and argv[1] == "same":
        err = check_same(argv[2], argv[3])
    elif len(argv) == 3 and argv[1] in ("pattern-a", "pattern-b"):
        err = check_pattern(argv[1][-1], argv[2])
    elif len(argv) >= 5 and len(argv) % 2 == 1 and argv[1] == "cursor-trace":
        try:
            nums = [int(v) for v in argv[3:]]
        except ValueError:
            print(__doc__, file=sys.stderr)
            return 2
        err = check_cursor_trace(argv[2], list(zip(nums[0::2], nums[1::2])))
    elif len(argv) == 4 and argv[1] == "shown":
        err = check_shown(argv[2], argv[3])
    elif len(argv) == 4 and argv[1] == "off":
        err = check_off(argv[2], argv[3])
    elif len(argv) == 4 and argv[1] == "detach-trace":
        err = check_detach_trace(argv[2], int(argv[3]))
    elif len(argv) == 4 and argv[1] == "move-trace":
        err = check_move_trace(argv[2], int(argv[3].rstrip("+")), argv[3].endswith("+"))
    elif len(argv) == 4 and argv[1] == "unuploaded-trace":
        err = check_unuploaded_trace(argv[2], int(argv[3]))
    elif len(argv) == 4 and argv[1] == "import-trace":
        err = check_import_trace(argv[2], int(argv[3]))
    elif len(argv) == 5 and argv[1] == "text":
        err = check_text(argv[2], int(argv[3]), int(argv[4]))
    elif len(argv) == 4 and argv[1] == "size":
        err = check_size(argv[2], argv[3])
    elif len(argv) >= 5 and argv[1] == "window":
        err = check_window(argv[2], int(argv[3]), argv[4:])
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
