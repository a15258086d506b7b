#!/usr/bin/env python3
"""Scores and figures for `ddpm sample --init` on Fashion-MNIST (scripts/quality/editing_demo.sh):

  editing_scores.py accuracy CLASSIFIER ORIGINALS EDITED   the fraction of each class that the
      classifier (scripts/quality/fashion_classifier.py) assigns to its true class, for the originals
      and for the edited images of the same names; names start with the class index ("3_Dress-07.png").
      Prints a Markdown table.
  editing_scores.py sweep OUT INPUTS DIR...   a grid: one row per input, the input and then the image
      of the same name in each DIR (e.g. one per strength), upscaled 3x.

Tooling only (Debian's python3-torch and python3-numpy); the product is C++."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from png_tools import grid, read_png, write_png  # noqa: E402


def images(folder):
    names = sorted(n for n in os.listdir(folder) if n.endswith(".png"))
    return names, [read_png(os.path.join(folder, n)) for n in names]


def predict(model, batch):
    import torch
    x = torch.from_numpy(np.stack(batch)).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    with torch.no_grad():
        _, logits = model(x)
    return logits.argmax(1).numpy()


def accuracy(classifier, originals, edited):
    import torch
    torch.set_num_threads(2)
    model = torch.jit.load(classifier)
    names, real = images(originals)
    fake = [read_png(os.path.join(edited, n)) for n in names]
    truth = np.array([int(n.split("_")[0]) for n in names])
    hit_real = predict(model, real) == truth
    hit_fake = predict(model, fake) == truth
    print("| class | images | originals | inpainted |")
    print("|---|---|---|---|")
    for c in sorted(set(truth)):
        m = truth == c
        label = next(n for n in names if int(n.split("_")[0]) == c).rsplit("-", 1)[0]
        print(f"| {label} | {m.sum()} | {hit_real[m].mean():.2f} | {hit_fake[m].mean():.2f} |")
    print(f"| all | {len(names)} | {hit_real.mean():.3f} | {hit_fake.mean():.3f} |")


def sweep(out, inputs, dirs):
    names, originals = images(inputs)
    rows = [[im] + [read_png(os.path.join(d, n)) for d in dirs] for n, im in zip(names, originals)]
    write_png(out, grid(rows, scale=3))
    print(f"wrote {out}: {len(rows)} rows, the input then {len(dirs)} columns")


if __name__ == "__main__":
    if len(sys.argv) >= 5 and sys.argv[1] == "accuracy":
        accuracy(*sys.argv[2:5])
    elif len(sys.argv) >= 4 and sys.argv[1] == "sweep":
        sweep(sys.argv[2], sys.argv[3], sys.argv[4:])
    else:
        sys.exit(__doc__)
