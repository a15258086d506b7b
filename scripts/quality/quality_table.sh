#!/usr/bin/env bash
# Samples one checkpoint with every sampler at the given step counts and prints one markdown table row
# per setting with scripts/quality/sample_quality.py's numbers; the grids go to OUT_DIR/<tag>_<sampler>_<steps>.png.
# usage: scripts/quality/quality_table.sh CKPT DATA_CACHE OUT_DIR TAG [N=64] [THREADS=2]
#   SETTINGS="ddpm:0 ddim:50 ..." overrides the list (steps 0: the sampler's default).
set -euo pipefail
ckpt=$1 cache=$2 out=$3 tag=$4 n=${5:-64} threads=${6:-2}
here="$(cd "$(dirname "$0")" && pwd)"
ddpm=${DDPM:-$here/../../build/ddpm}
settings=${SETTINGS:-"ddpm:0 ddim:20 ddim:50 ddim_eta1:50 dpmpp2m:10 dpmpp2m:20 heun:10 heun:18"}
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for s in $settings; do
  sampler=${s%%:*} steps=${s##*:}
  args=(--sampler "${sampler%_eta1}")
  [ "$steps" != 0 ] && args+=(--steps "$steps")
  [ "$sampler" = ddim_eta1 ] && args+=(--eta 1)
  grid="$out/${tag}_${sampler}_${steps}.png"
  start=$(date +%s)
  "$ddpm" sample --ckpt "$ckpt" --n "$n" "${args[@]}" --threads "$threads" --out "$grid" \
    --individual "$tmp/$s" > /dev/null 2>&1
  seconds=$(( $(date +%s) - start ))
  q=$(${PYTHON:-python3} "$here/sample_quality.py" "$tmp/$s" "$cache" --json)
  ${PYTHON:-python3} - "$tag" "$sampler" "$steps" "$seconds" "$grid" "$q" <<'EOF'
import json, sys
tag, sampler, steps, seconds, grid, q = sys.argv[1:]
q = json.loads(q)
print(f"| {tag} | {sampler} | {steps} | {q['nn']:.3f} | {q['tv_ratio']:.2f} | {q['spread_ratio']:.2f} | "
      f"{float(seconds):.0f} | [grid]({grid}) |")
EOF
done
