#!/usr/bin/env python3
"""Trains a small CNN on Fashion-MNIST's train split (Debian's dataset-fashion-mnist) and exports it as
TorchScript for `ddpm eval --classifier`: forward(x [N, 1, 28, 28] in [-1, 1]) returns
(features [N, 128], logits [N, 10]). Tooling only (Debian's python3-torch); the product is C++.

No augmentation by default, as configs/fashion.json: every sandal, sneaker and ankle boot in
Fashion-MNIST points its toe to the left, so horizontal flips would teach the classifier a shoe that the
test split never shows (--flip adds them, for a model trained with data.random_flip). Prints the test
accuracy; exits non-zero below --min-accuracy (0.90).

usage: fashion_classifier.py [--out data/fashion/classifier.pt] [--epochs 4] [--threads 2] [--flip]
"""
import argparse
import gzip
import os
import struct
import sys
import time

try:
    import numpy as np
    import torch
except ImportError as missing:
    sys.exit(f"fashion_classifier.py: {missing}: install Debian's python3-torch "
             "(sudo apt-get install python3-torch, or scripts/setup.sh)")

from classifier_net import Net, save_classifier, train_step

SOURCE = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    if data[:2] != b"\x00\x00" or data[2] != 8:
        sys.exit(f"{path}: not an unsigned-byte IDX file")
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    array = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if array.size != int(np.prod(dims)):
        sys.exit(f"{path}: truncated or corrupt (header promises {int(np.prod(dims))} bytes)")
    return array.reshape(dims)


def load(split, source):
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(os.path.join(source, f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(source, f"{prefix}-labels-idx1-ubyte.gz"))
    x = torch.from_numpy(images.astype(np.float32) / 127.5 - 1.0).unsqueeze(1)
    return x, torch.from_numpy(labels.astype(np.int64))


def accuracy(net, x, y):
    net.eval()
    with torch.no_grad():
        right = sum((net(x[i:i + 1000])[1].argmax(1) == y[i:i + 1000]).sum().item()
                    for i in range(0, len(x), 1000))
    return right / len(x)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="data/fashion/classifier.pt")
    ap.add_argument("--source", default=SOURCE)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--min-accuracy", type=float, default=0.90)
    ap.add_argument("--flip", action="store_true",
                    help="random horizontal flips, for models trained with data.random_flip")
    args = ap.parse_args()
    if not os.path.isdir(args.source):
        sys.exit(f"{args.source}: not found; install Debian's package: sudo apt-get install dataset-fashion-mnist")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x, y = load("train", args.source)
    xt, yt = load("test", args.source)
    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    steps = args.epochs * (len(x) // 128)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps)
    start = time.time()
    for epoch in range(args.epochs):
        order = torch.randperm(len(x))
        for i in range(0, len(x) - 127, 128):
            idx = order[i:i + 128]
            loss = train_step(net, opt, sched, x[idx], y[idx], args.flip)
        print(f"epoch {epoch + 1}/{args.epochs}: loss {loss.item():.3f}, test accuracy "
              f"{accuracy(net, xt, yt):.4f}, {time.time() - start:.0f} s", flush=True)
    acc = accuracy(net, xt, yt)
    save_classifier(net, args.out, "scripts/quality/fashion_classifier.py", args.source, args.flip,
                    args.epochs, acc)
    print(f"wrote {args.out}: test accuracy {acc:.4f}")
    if acc < args.min_accuracy:
        sys.exit(f"test accuracy {acc:.4f} is below {args.min_accuracy}")


if __name__ == "__main__":
    main()
