#!/usr/bin/env bash
# Data-parallel scaling on this machine: images/s of real `ddpm train` runs with the same global batch,
# 1 process × all cores against N processes × (cores / N) threads (`--nproc N`, Gloo over loopback).
# Prints a markdown table row per config and mode: the mean images/s of the log lines after the first
# (warm-up). Both modes train the same model on the same batches; the difference is the cost (or gain)
# of splitting the cores between processes, plus the gradient allreduce.
# Usage: scripts/bench/bench_scaling.sh [STEPS] [CONFIG...]   (default: 40 steps of configs/fashion.json and
# configs/default.json; build first with scripts/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."
steps=${1:-40}
shift || true
configs=("$@")
((${#configs[@]})) || configs=(configs/fashion.json configs/default.json)
cores=$(nproc)
scratch=$(mktemp -d /tmp/ddpm-scaling.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
# A failed run shows its log instead of ending the table silently.
run() { "$@" 2>"$log" || { cat "$log" >&2; exit 1; }; }

# Mean images/s over the progress lines, the first one left out.
mean_ips() { sed -n 's/.*| \([0-9.]*\) img\/s.*/\1/p' "$1" | tail -n +2 | awk '{s+=$1; n++} END {printf "%.1f", s/n}'; }

echo "| config | global batch | processes × threads | images/s |"
echo "| --- | --- | --- | --- |"
for config in "${configs[@]}"; do
  batch=$(sed -n 's/.*"batch_size": *\([0-9]*\).*/\1/p' "$config" | head -1)
  common=(--config "$config" --set train.steps="$steps" --set train.log_every=5 --set train.preview_every=0
          --set train.checkpoint_every=100000 --set train.tensorboard=false)
  log=$scratch/one.log
  run build/ddpm train "${common[@]}" --set train.threads="$cores" --set train.run_dir="$scratch/one"
  echo "| $(basename "$config") | $batch | 1 × $cores | $(mean_ips "$scratch/one.log") |"
  log=$scratch/two.log
  run build/ddpm train "${common[@]}" --set train.threads=$((cores / 2)) --set train.run_dir="$scratch/two" \
    --nproc 2
  echo "| $(basename "$config") | $batch | 2 × $((cores / 2)) | $(mean_ips "$scratch/two.log") |"
  rm -rf "$scratch/one" "$scratch/two"
done
