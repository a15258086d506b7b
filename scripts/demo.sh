#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: install + build, extract the built-in data sets, train a
# class-conditional model on Fashion-MNIST (configs/fashion.json) for a bounded number of steps, write
# runs/fashion/samples.png (one row per class, with the config's guidance) and report the held-out
# bits/dim bound against an untrained model. Run it again to continue the same run (STEPS=N raises the
# step budget).
#   scripts/demo.sh            Fashion-MNIST (28x28 grey, 10 classes)
#   scripts/demo.sh --emoji    the emoji set (configs/emoji.json, 32x32 colour, one class per Unicode
#                              emoji group: Smileys & Emotion, People & Body, ..., Flags; 4,800
#                              steps, about 30 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--emoji" ]; then
  name=emoji config=configs/emoji.json steps=${STEPS:-4800} eval_data=data/emoji-groups
  sample_args=(--per-class 8)
else
  name=fashion config=configs/fashion.json steps=${STEPS:-1500} eval_data=data/fashion/test
  sample_args=(--per-class 10)
fi

scripts/setup.sh --target ddpm   # also extracts data/emoji, data/emoji-groups and data/fashion

# A run continues with its own config (runs/NAME/config.json), so a run begun before a change to
# configs/ still resumes.
resume=()
if [ -f "runs/$name/last.pt" ]; then
  resume=(--resume)
  [ -f "runs/$name/config.json" ] && config="runs/$name/config.json"
fi
build/ddpm train --config "$config" --set train.steps="$steps" "${resume[@]}"
build/ddpm sample --ckpt "runs/$name/last.pt" "${sample_args[@]}" --out "runs/$name/samples.png"
build/ddpm eval --ckpt "runs/$name/last.pt" --data "$eval_data" --max-images 64 --subset 50
# With a Fashion-MNIST classifier (made once by scripts/quality/fashion_classifier.py, about 5 minutes; cached
# in data/fashion/), also the classifier FID against its real-vs-real floor and the class accuracy.
if [ "$name" = fashion ] && [ -f data/fashion/classifier.pt ]; then
  build/ddpm eval --ckpt runs/fashion/last.pt --data data/fashion/test \
    --classifier data/fashion/classifier.pt --n 500 --report runs/fashion/eval_classifier.json
fi
echo "demo: sample grid in runs/$name/samples.png, training previews in runs/$name/previews/"
