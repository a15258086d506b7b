#!/usr/bin/env bash
# The Fashion-MNIST learning curve of docs/notebook/quality.md: for each snapshot of a configs/fashion.json run,
# the classifier scores (`ddpm eval --classifier`, N samples against data/fashion/test) for every
# sampler at its default steps, with the config's guidance and without; plus one per-class grid per
# snapshot (the demo's sampler). Prints one markdown table row per setting.
# usage: scripts/quality/fashion_curve.sh RUN_DIR OUT_DIR STEP... (snapshots RUN_DIR/ckpt_<step>.pt)
#   N=500 samples; SAMPLERS="ddim dpmpp2m heun" (ddim uses the config's eta); THREADS=2
set -euo pipefail
run=$1 out=$2
shift 2
n=${N:-500} threads=${THREADS:-2}
ddpm=${DDPM:-$(dirname "$0")/../../build/ddpm}
mkdir -p "$out"
echo "| step | sampler | guidance | class accuracy | classifier FID | real-vs-real floor | FID / floor | confidence | grid |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for step in "$@"; do
  ckpt=$(printf "%s/ckpt_%07d.pt" "$run" "$step")
  grid="$out/fashion_curve_step${step}.png"
  "$ddpm" sample --ckpt "$ckpt" --per-class 10 --threads "$threads" --out "$grid" >/dev/null 2>&1
  for sampler in ${SAMPLERS:-ddim dpmpp2m heun}; do
    for guidance in 2 0; do
      report="$out/fashion_curve_step${step}_${sampler}_g${guidance}.json"
      "$ddpm" eval --ckpt "$ckpt" --data data/fashion/test --classifier data/fashion/classifier.pt \
        --n "$n" --sampler "$sampler" --guidance "$guidance" --threads "$threads" \
        --report "$report" >/dev/null 2>&1
      python3 - "$step" "$sampler" "$guidance" "$report" "$grid" <<'PY'
import json, sys
step, sampler, guidance, report, grid = sys.argv[1:]
c = json.load(open(report))["classifier"]
print(f"| {step} | {sampler} {c['steps']} | {guidance} | {c['class_accuracy']:.3f} | {c['fid']:.1f} | "
      f"{c['fid_real_floor']:.1f} | {c['fid_over_floor']:.1f} | {c['confidence']:.3f} | [grid]({grid}) |")
PY
    done
  done
done
