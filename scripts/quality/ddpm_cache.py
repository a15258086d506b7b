"""Reads the decoded-image cache that `ddpm train` writes beside a data folder
(`<data>/.ddpm-cache-<size>-<channels>.bin`), for the tooling scripts. Tooling only (Debian's
python3-numpy); the product is C++ (src/data/data_cache.cpp writes and validates the same format)."""
import struct
import sys

import numpy as np

MAGIC = b"DDPMDAT1"


def read_cache(path, labelled=True):
    """(images uint8 [N, C, H, W], labels int64 [N], class names) from a ddpm data cache; with
    `labelled`, a cache without class labels (a folder that is not one of class folders) is an
    error."""
    try:
        with open(path, "rb") as f:
            if f.read(8) != MAGIC:
                sys.exit(f"{path}: not a ddpm data cache (run `ddpm train` on the folder once)")
            header = f.read(56)
            if len(header) != 56:
                sys.exit(f"{path}: truncated header; delete it and run `ddpm train` on the folder again")
            _key, n, c, h, w, _skipped, count = struct.unpack("<Q6q", header)
            if min(n, c, h, w) < 1 or count < 0 or count > 100000:
                sys.exit(f"{path}: corrupt header (n {n}, c {c}, {h}x{w}, {count} class names)")
            names = []
            for _ in range(count):
                (length,) = struct.unpack("<I", f.read(4))
                names.append(f.read(length).decode("utf-8", "replace"))
            labels = np.frombuffer(f.read(8 * n), dtype=np.int64)
            pixels = f.read(n * c * h * w)
    except OSError as err:
        sys.exit(f"{path}: {err.strerror}; run `ddpm train` on the data folder once to write the cache")
    if len(labels) != n or len(pixels) != n * c * h * w:
        sys.exit(f"{path}: truncated; delete it and run `ddpm train` on the folder again")
    if labelled and (not names or labels.min() < 0 or labels.max() >= len(names)):
        sys.exit(f"{path}: has no class labels in [0, {len(names)}): not a folder of class folders")
    images = np.frombuffer(pixels, dtype=np.uint8).reshape(n, c, h, w)
    return images, labels.copy(), names
