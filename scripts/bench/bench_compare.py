#!/usr/bin/env python3
"""Runs `ddpm bench` and scripts/bench/bench_reference.py alternately on one machine and prints a Markdown
table: median images/s of each over the rounds and their ratio. Alternating spreads the machine's
drift (other tenants, clocks) over both sides.

    /usr/bin/python3 scripts/bench/bench_compare.py --config configs/default.json --rounds 5
    python3 scripts/bench/bench_compare.py --config configs/cifar10.json --batch 128 --device cuda --bf16

Every other option (--batch, --sample-batch, --warmup, --repeats, --device, --threads, --bf16) goes
to both sides unchanged.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--ddpm", default=os.path.join(ROOT, "build", "ddpm"))
    p.add_argument("--python", default=sys.executable)
    a, passthrough = p.parse_known_args()
    ours, ref = [], []
    for r in range(a.rounds):
        for name, cmd, out in (
            ("ddpm", [a.ddpm, "bench", "--config", a.config, "--json", *passthrough], ours),
            ("python", [a.python, os.path.join(ROOT, "scripts", "bench_reference.py"), "--config",
                        a.config, "--json", *passthrough], ref)):
            print(f"round {r + 1}/{a.rounds}: {name}", file=sys.stderr, flush=True)
            res = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True)
            out.append(json.loads(res.stdout.strip().splitlines()[-1]))
    first = ours[0]
    print(f"config {a.config}: {first['parameters']} parameters, {first['forward_gflops_per_image']:.3f} "
          f"GFLOP forward/image; {first['machine']}; {first['device']}; ddpm on LibTorch {first['torch']}, "
          f"reference on PyTorch {ref[0]['torch']}; {a.rounds} alternating rounds, medians\n")
    print("| step | batch | ddpm images/s | python images/s | ratio | ddpm ms/step | ddpm GFLOP/s | peak MB |")
    print("|---|---|---|---|---|---|---|---|")
    for i, run in enumerate(first["runs"]):
        o = statistics.median(x["runs"][i]["images_per_sec"] for x in ours)
        p_ = statistics.median(x["runs"][i]["images_per_sec"] for x in ref)
        ms = statistics.median(x["runs"][i]["ms_per_step"] for x in ours)
        gf = statistics.median(x["runs"][i]["gflops_per_sec"] for x in ours)
        mem = max(x["runs"][i]["peak_memory_mb"] for x in ours)
        print(f"| {run['what']} | {run['batch']} | {o:.1f} | {p_:.1f} | {o / p_:.2f}× | {ms:.1f} | {gf:.1f} | {mem:.0f} |")


if __name__ == "__main__":
    main()
