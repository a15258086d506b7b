#!/usr/bin/env python3
"""Moves the Oxford 102 Flowers JPEGs into <dest>/{train,test}/class_NNN/ using the labels and split ids
in the data set's MATLAB v5 files. Standard library only (no scipy): a minimal reader for the numeric
arrays these two files hold."""
import os
import shutil
import struct
import sys
import zlib

MI_MATRIX, MI_COMPRESSED = 14, 15
NUMERIC = {1: "b", 2: "B", 3: "h", 4: "H", 5: "i", 6: "I", 7: "f", 9: "d", 12: "q", 13: "Q"}


def elements(data, pos=0):
    """Yields (type, payload) for each data element, handling the 4-byte 'small element' form."""
    while pos + 8 <= len(data):
        mtype, size = struct.unpack_from("<II", data, pos)
        if mtype >> 16:  # small data element: size in the upper half, data in the next 4 bytes
            size, mtype = mtype >> 16, mtype & 0xFFFF
            yield mtype, data[pos + 4:pos + 4 + size]
            pos += 8
            continue
        yield mtype, data[pos + 8:pos + 8 + size]
        pos += 8 + size + (-size % 8)


def read_mat(path):
    """Returns {name: list of numbers} for every numeric matrix in a MATLAB v5 file."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 128 or not data[:6] == b"MATLAB":
        sys.exit(f"flowers_split: error: {path} is not a MATLAB v5 file")
    arrays = {}

    def matrix(payload):
        parts = list(elements(payload))
        name = parts[2][1].decode("ascii")
        mtype, values = parts[3]
        if mtype not in NUMERIC:
            return
        fmt = NUMERIC[mtype]
        count = len(values) // struct.calcsize(fmt)
        arrays[name] = list(struct.unpack_from(f"<{count}{fmt}", values))

    for mtype, payload in elements(data, 128):
        if mtype == MI_COMPRESSED:
            for inner_type, inner in elements(zlib.decompress(payload)):
                if inner_type == MI_MATRIX:
                    matrix(inner)
        elif mtype == MI_MATRIX:
            matrix(payload)
    return arrays


def main():
    labels_path, setid_path, jpg_dir, dest = sys.argv[1:5]
    labels = [int(x) for x in read_mat(labels_path)["labels"]]
    split = read_mat(setid_path)
    test_ids = {int(x) for x in split["valid"]}
    moved = 0
    for index, label in enumerate(labels, start=1):
        name = f"image_{index:05d}.jpg"
        subset = "test" if index in test_ids else "train"
        folder = os.path.join(dest, subset, f"class_{label:03d}")
        os.makedirs(folder, exist_ok=True)
        source = os.path.join(jpg_dir, name)
        if not os.path.exists(source):
            sys.exit(f"flowers_split: error: {source} missing from the archive")
        shutil.move(source, os.path.join(folder, name))
        moved += 1
    print(f"flowers_split: {moved} images sorted into {len(set(labels))} classes")


if __name__ == "__main__":
    main()
