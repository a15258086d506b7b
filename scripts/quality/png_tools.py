"""Minimal 8-bit PNG reading and writing (zlib and numpy only) for the tooling scripts: grey, grey +
alpha, RGB and RGBA, non-interlaced, as `ddpm` and stb write them."""
import struct
import zlib

import numpy as np

_CHANNELS = {0: 1, 4: 2, 2: 3, 6: 4}


def _unfilter(raw, width, height, channels):
    stride = width * channels
    out = np.zeros((height, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.int32)
    pos = 0
    for y in range(height):
        kind = raw[pos]
        line = np.frombuffer(raw, dtype=np.uint8, count=stride, offset=pos + 1).astype(np.int32)
        pos += 1 + stride
        if kind == 2:
            line = (line + prev) & 255
        elif kind in (1, 3, 4):
            cur = np.zeros(stride, dtype=np.int32)
            for x in range(stride):
                a = cur[x - channels] if x >= channels else 0
                b = prev[x]
                c = prev[x - channels] if x >= channels else 0
                if kind == 1:
                    pred = a
                elif kind == 3:
                    pred = (a + b) // 2
                else:
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                cur[x] = (line[x] + pred) & 255
            line = cur
        out[y] = line
        prev = line
    return out.reshape(height, width, channels)


def read_png(path):
    """HWC uint8 array."""
    data = open(path, "rb").read()
    pos, idat = 8, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            if depth != 8 or body[12] != 0:
                raise ValueError(f"{path}: only 8-bit non-interlaced PNG")
        elif kind == b"IDAT":
            idat += body
    return _unfilter(zlib.decompress(idat), width, height, _CHANNELS[colour])


def write_png(path, image):
    """HWC (or HW) uint8 array."""
    image = np.asarray(image, dtype=np.uint8)
    if image.ndim == 2:
        image = image[:, :, None]
    height, width, channels = image.shape
    colour = {v: k for k, v in _CHANNELS.items()}[channels]
    raw = b"".join(b"\x00" + image[y].tobytes() for y in range(height))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) +
                chunk(b"IEND", b""))


def grid(rows, padding=2, scale=1):
    """rows: lists of equally sized HWC arrays; white padding; nearest-neighbour upscaling."""
    h, w, c = rows[0][0].shape
    cols = max(len(r) for r in rows)
    out = np.full((padding + len(rows) * (h + padding), padding + cols * (w + padding), c), 255,
                  dtype=np.uint8)
    for i, row in enumerate(rows):
        for j, im in enumerate(row):
            y, x = padding + i * (h + padding), padding + j * (w + padding)
            out[y:y + h, x:x + w] = im
    return out.repeat(scale, 0).repeat(scale, 1)
