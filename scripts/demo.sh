#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: install + build, extract the built-in emoji data set,
# train configs/default.json for a bounded number of steps, write an 8x8 sample grid, and report the
# bits/dim bound against an untrained model. Run it again to continue the same run (STEPS=N raises the
# step budget).
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${STEPS:-400}

scripts/setup.sh --target ddpm   # also extracts the emoji set into data/emoji

resume=()
[ -f runs/default/last.pt ] && resume=(--resume)
build/ddpm train --config configs/default.json --set train.steps="$steps" "${resume[@]}"
build/ddpm sample --ckpt runs/default/last.pt --n 64 --sampler ddim --steps 50 \
  --out runs/default/samples.png
build/ddpm eval --ckpt runs/default/last.pt --data data/emoji --max-images 64 --subset 50
echo "demo: sample grid in runs/default/samples.png, training previews in runs/default/previews/"
