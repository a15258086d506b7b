#!/usr/bin/python3
"""The comparable form of scripts/dev/golden.sh's outputs: timestamps, speeds and pointer-keyed optimizer
state (LibTorch 1.13 keys AdamW state by TensorImpl address) replaced by stable forms.
usage: golden_normalize.py RUN_DIR OUT_DIR"""
import hashlib
import io
import json
import pathlib
import struct
import sys

import torch

VOLATILE = {"images_per_sec", "seconds", "saved_at"}


def scrub(v):
    if isinstance(v, dict):
        return {k: scrub(x) for k, x in v.items() if k not in VOLATILE}
    if isinstance(v, list):
        return [scrub(x) for x in v]
    return v


def digest(t):
    t = t.detach().contiguous()
    return f"{t.dtype} {list(t.shape)} {hashlib.sha256(t.numpy().tobytes()).hexdigest()}"


def module_tensors(mod):
    return [f"{n}: {digest(p)}" for n, p in list(mod.named_parameters()) + list(mod.named_buffers())]


def optimizer_lines(opt):
    """AdamW state in parameter order, with the address keys replaced by the parameter index."""
    group = opt.param_groups._c.getattr("param_groups/0")
    options = group.getattr("options")
    lines = [f"options: {options.dump_to_str(False, False, False).split('attributes {')[1].split('}')[0].split()}"]
    for i in range(int(group.getattr("params/size"))):
        key = group.getattr(f"params/{i}")
        if not opt.state._c.hasattr(key):
            lines.append(f"param {i}: no state")
            continue
        s = opt.state._c.getattr(key)
        lines.append(f"param {i}: step {s.getattr('step')} exp_avg {digest(s.getattr('exp_avg'))} "
                     f"exp_avg_sq {digest(s.getattr('exp_avg_sq'))}")
    return lines


def checkpoint_lines(data):
    n = struct.unpack_from("<Q", data, 16)[0]
    meta = scrub(json.loads(data[24:24 + n]))
    m = struct.unpack_from("<Q", data, 24 + n)[0]
    archive = torch.jit.load(io.BytesIO(data[32 + n:32 + n + m]))
    lines = [f"header: {data[:16].hex()}", "meta: " + json.dumps(meta, sort_keys=True)]
    parts = dict(archive.named_children())
    for part in ("model", "ema"):
        if part in parts:
            lines += [f"{part}/{x}" for x in module_tensors(parts[part])]
    if "optimizer" in parts:
        lines += ["optimizer/" + x for x in optimizer_lines(parts["optimizer"])]
    if "rng" in parts:
        lines.append(f"rng/cpu: {digest(parts['rng']._c.getattr('cpu'))}")
    return lines


def main(root, out):
    out.mkdir(parents=True, exist_ok=True)
    for f in sorted(root.rglob("*")):
        if not f.is_file() or f.name.startswith("events.out.tfevents") or f.suffix == ".log":
            continue
        if (root / "work") in f.parents:
            continue  # inputs (the data caches hold file times)
        rel = str(f.relative_to(root)).replace("/", "__")
        data = f.read_bytes()
        if data[:8] == b"DDPMCKPT":
            (out / (rel + ".txt")).write_text("\n".join(checkpoint_lines(data)) + "\n")
        elif f.suffix == ".json":
            (out / rel).write_text(json.dumps(scrub(json.loads(data)), sort_keys=True))
        elif f.suffix == ".jsonl":
            rows = [scrub(json.loads(x)) for x in data.decode().splitlines() if x.strip()]
            (out / rel).write_text("\n".join(json.dumps(r, sort_keys=True) for r in rows))
        elif f.name.startswith("info_"):
            (out / rel).write_text("\n".join(x for x in data.decode().splitlines()
                                             if not x.startswith("saved:")))
        else:
            (out / rel).write_bytes(data)


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]))
