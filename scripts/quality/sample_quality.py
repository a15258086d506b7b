#!/usr/bin/env python3
"""Sample-quality numbers for docs/notebook/quality.md, from a folder of samples (`ddpm sample --individual DIR`)
and the training data's decoded cache (`<data>/.ddpm-cache-<size>-<channels>.bin`, written by
`ddpm train`). Tooling only (Debian's python3-numpy and python3-pil); the product is C++.

  nn      mean distance (RMS over pixels, [-1, 1] units) from each sample to its nearest training
          image. The floor: the same for as many real images, held out from the reference set.
  tv      mean absolute difference of neighbouring pixels, as a ratio to the data's: speckle and
          noise push it far above 1, blur below it.
  spread  mean pixel standard deviation across samples, as a ratio to the data's (mode collapse and
          washed-out samples push it below 1).

usage: sample_quality.py SAMPLES_DIR DATA_CACHE [--json]
"""
import json
import os
import sys

import numpy as np
from PIL import Image

from ddpm_cache import read_cache


def read_cache_images(path):
    """The cache's images in [-1, 1], float32 [N, C, H, W]."""
    return read_cache(path, labelled=False)[0].astype(np.float32) / 127.5 - 1.0


def read_samples(folder, channels):
    files = sorted(f for f in os.listdir(folder) if f.endswith(".png"))
    mode = "L" if channels == 1 else "RGB"
    ims = [np.asarray(Image.open(os.path.join(folder, f)).convert(mode), dtype=np.float32) for f in files]
    x = np.stack(ims) / 127.5 - 1.0
    return x[:, None] if channels == 1 else x.transpose(0, 3, 1, 2)


def nearest_distance(queries, data):
    q = queries.reshape(len(queries), -1)
    d = data.reshape(len(data), -1)
    d2 = (q * q).sum(1)[:, None] + (d * d).sum(1)[None, :] - 2 * q @ d.T
    return np.sqrt(np.maximum(d2.min(1), 0) / q.shape[1])


def total_variation(x):
    return 0.5 * (np.abs(np.diff(x, axis=2)).mean() + np.abs(np.diff(x, axis=3)).mean())


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    data = read_cache_images(sys.argv[2])
    samples = read_samples(sys.argv[1], data.shape[1])
    if samples.shape[1:] != data.shape[1:]:
        sys.exit(f"samples are {samples.shape[1:]}, the data {data.shape[1:]}: not the same model size")
    rng = np.random.default_rng(0)
    held = rng.permutation(len(data))
    m = min(len(samples), len(data) // 2)
    real, reference = data[held[:m]], data[held[m:]]
    result = {
        "samples": len(samples),
        "nn": float(nearest_distance(samples, reference).mean()),
        "nn_real_floor": float(nearest_distance(real, reference).mean()),
        "tv_ratio": float(total_variation(samples) / total_variation(data)),
        "spread_ratio": float(samples.std(0).mean() / data.std(0).mean()),
    }
    if "--json" in sys.argv:
        print(json.dumps(result))
    else:
        print(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
