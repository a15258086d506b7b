#!/usr/bin/env python3
"""Trains a small CNN on a class-folder data set (one subfolder per class, e.g. data/emoji-groups) from
its decoded cache (`<data>/.ddpm-cache-<size>-<channels>.bin`, written by `ddpm train` or
`ddpm eval` on the folder) and exports it as TorchScript for `ddpm eval --classifier`:
forward(x [N, C, H, W] in [-1, 1]) returns (features [N, 128], logits [N, K]). Tooling only
(Debian's python3-torch and python3-numpy); the product is C++.

A stratified share of every class (--holdout, at least one picture of each class with two or more) is
held out; the script prints the held-out accuracy, overall and per class, and exits non-zero below
--min-accuracy. Classes of very different sizes are drawn equally often in training, so a small class is
not simply never predicted. Random horizontal flips by default (--no-flip for data whose pictures have
a left and a right, as Fashion-MNIST's shoes do).

Near-duplicates across the split (skin-tone variants of one emoji, say) make the held-out accuracy an
upper bound on what the classifier would score on unseen pictures; it is a yardstick for comparing
models' samples, not a benchmark.

usage: folder_classifier.py CACHE [--out <data>/classifier.pt] [--epochs 30] [--holdout 0.15]
"""
import argparse
import os
import sys
import time

try:
    import numpy as np
    import torch
except ImportError as missing:
    sys.exit(f"folder_classifier.py: {missing}: install Debian's python3-torch and python3-numpy "
             "(sudo apt-get install python3-torch python3-numpy, or scripts/setup.sh)")

from classifier_net import Net, save_classifier, train_step
from ddpm_cache import read_cache

def stratified_split(labels, share, seed):
    rng = np.random.default_rng(seed)
    train, held = [], []
    for k in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == k))
        cut = int(round(share * len(members)))
        cut = max(cut, 1) if len(members) >= 2 else 0
        held.extend(members[:cut])
        train.extend(members[cut:])
    return np.array(train), np.array(held)


def predict(net, x):
    net.eval()
    with torch.no_grad():
        return torch.cat([net(x[i:i + 500])[1].argmax(1) for i in range(0, len(x), 500)])


def report(net, x, y, names):
    if len(x) == 0:
        return float("nan")
    pred = predict(net, x)
    for k, name in enumerate(names):
        members = y == k
        if members.any():
            right = (pred[members] == k).float().mean().item()
            print(f"  {name}: {right:.3f} of {int(members.sum())}")
    return (pred == y).float().mean().item()


def balanced_batches(y, batch, steps, generator):
    """Indices whose classes are drawn equally often, images uniformly within a class."""
    classes = [torch.nonzero(y == k).flatten() for k in torch.unique(y)]
    for _ in range(steps):
        pick = torch.randint(len(classes), (batch,), generator=generator)
        yield torch.stack([classes[k][torch.randint(len(classes[k]), (1,), generator=generator)][0]
                           for k in pick.tolist()])


def train(net, x, y, args):
    steps = args.epochs * max(1, len(x) // args.batch)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps)
    generator = torch.Generator().manual_seed(0)
    start = time.time()
    for step, idx in enumerate(balanced_batches(y, args.batch, steps, generator), 1):
        loss = train_step(net, opt, sched, x[idx], y[idx], args.flip, generator)
        if step % max(1, steps // 10) == 0 or step == steps:
            print(f"step {step}/{steps}: loss {loss.item():.3f}, {time.time() - start:.0f} s", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cache", help="the data folder's .ddpm-cache-<size>-<channels>.bin")
    ap.add_argument("--out", help="default: classifier.pt in the cache's folder")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--holdout", type=float, default=0.15)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--min-accuracy", type=float, default=0.0)
    ap.add_argument("--no-flip", dest="flip", action="store_false")
    args = ap.parse_args()
    if not 0 <= args.holdout < 1 or args.epochs < 1 or args.batch < 1:
        sys.exit("--holdout must be in [0, 1), --epochs and --batch at least 1")
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.cache)), "classifier.pt")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    images, labels, names = read_cache(args.cache)
    n, c, h, w = images.shape
    if h != w or h % 4:
        sys.exit(f"{args.cache}: {h}x{w} pictures; the classifier needs square ones, a multiple of 4")
    x = torch.from_numpy(images.astype(np.float32) / 127.5 - 1.0)
    y = torch.from_numpy(labels)
    train_idx, held_idx = stratified_split(labels, args.holdout, 0)
    print(f"{args.cache}: {n} pictures {c}x{h}x{w}, {len(names)} classes; "
          f"training on {len(train_idx)}, holding out {len(held_idx)}", flush=True)
    net = Net(c, h, len(names))
    train(net, x[train_idx], y[train_idx], args)
    print("held-out accuracy per class:")
    acc = report(net, x[held_idx], y[held_idx], names)
    save_classifier(net, out, "scripts/quality/folder_classifier.py", args.cache, args.flip, args.epochs,
                    acc)
    print(f"wrote {out}: held-out accuracy {acc:.4f}")
    if acc < args.min_accuracy:
        sys.exit(f"held-out accuracy {acc:.4f} is below {args.min_accuracy}")


if __name__ == "__main__":
    main()
