#!/usr/bin/env bash
# Golden outputs of a ddpm binary, for refactors that must not change behaviour: fixed-seed training
# (with a resume, previews, held-out evaluation and snapshots), every sampler, per-class sampling with
# guidance, the bits/dim, FID/KID and classifier reports, export/import and info. Compare two binaries:
#   scripts/dev/golden.sh BIN_BEFORE /tmp/golden_before
#   scripts/dev/golden.sh BIN_AFTER  /tmp/golden_after
#   scripts/dev/golden.sh --compare /tmp/golden_before /tmp/golden_after
# Needs data/emoji, data/fashion (scripts/setup.sh), data/fashion/classifier.pt
# (scripts/quality/fashion_classifier.py) and python3-torch (for a fixed random feature network).
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ "${1:-}" = "--compare" ]; then
  a=$2/normalized b=$3/normalized
  if diff -r "$a" "$b" >/dev/null; then
    echo "golden: identical ($(ls "$a" | wc -l) outputs)"
  else
    diff -rq "$a" "$b" || true
    exit 1
  fi
  exit 0
fi

bin=$(realpath "$1")
dest=$2
# Paths are part of what the binary writes (configs, caches), so every run works in the same place.
out=/tmp/ddpm-golden-scratch
rm -rf "$out" "$dest"
mkdir -p "$out/work"
w=$out/work

# Small fixed data sets: 64 emoji; 24 train and 8 test images of each Fashion-MNIST class.
mkdir -p "$w/emoji" "$w/emoji_heldout"
emoji=(data/emoji/*.png)
cp "${emoji[@]:0:64}" "$w/emoji/"
cp "${emoji[@]:64:32}" "$w/emoji_heldout/"
for split in train:24 test:8; do
  s=${split%%:*} k=${split##*:}
  for c in data/fashion/$s/*/; do
    name=$(basename "$c")
    mkdir -p "$w/fashion/$s/$name"
    files=("$c"*.png)
    cp "${files[@]:0:$k}" "$w/fashion/$s/$name/"
  done
done
/usr/bin/python3 - "$w/features.pt" <<'EOF'
import sys, torch
torch.manual_seed(0)
net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, stride=2), torch.nn.ReLU(),
                          torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten())
torch.jit.script(net.eval()).save(sys.argv[1])
EOF

run() { echo "+ ddpm $*" >>"$out/commands.log"; "$bin" "$@" >>"$out/stdout.log" 2>>"$out/stderr.log"; }
T=(--threads 1)

# Unconditional: 30 steps, then resumed to 50, with snapshots, previews and held-out evaluation.
tiny=(--config configs/tiny.json --set data.path="$w/emoji" --set data.heldout_path="$w/emoji_heldout"
      --set train.run_dir="$out/tiny" --set train.threads=1 --set train.log_every=10
      --set train.checkpoint_every=10 --set train.snapshot_every=20 --set train.keep_snapshots=10
      --set train.preview_every=20 --set train.preview_n=8 --set train.eval_every=25
      --set train.eval_images=16 --set train.eval_bpd_subset=4 --set sample.sampler=ddim
      --set sample.steps=10)
run train "${tiny[@]}" --set train.steps=30
run train "${tiny[@]}" --set train.steps=50 --resume
ck=$out/tiny/last.pt
for s in "ddpm" "ddim --steps 10" "ddim --steps 10 --eta 1" "ddim --steps 8 --spacing quadratic" \
         "dpmpp2m --steps 8" "dpmpp2m --steps 8 --spacing uniform" "heun --steps 6" \
         "heun --steps 6 --churn 5" "ddim --steps 10 --no-clip" "ddim --steps 10 --raw"; do
  name=$(echo "$s" | tr ' ' '_' | tr -d '-')
  # shellcheck disable=SC2086
  run sample --ckpt "$ck" --n 6 --batch 4 --seed 3 --sampler $s --out "$out/sample_$name.png" "${T[@]}"
done
run eval --ckpt "$ck" --data "$w/emoji_heldout" --max-images 8 --subset 5 --batch 4 \
  --report "$out/eval_nll.json" "${T[@]}"
run eval --ckpt "$ck" --data "$w/emoji_heldout" --max-images 8 --raw --subset 0 \
  --report "$out/eval_nll_raw.json" "${T[@]}"
run eval --ckpt "$ck" --data "$w/emoji_heldout" --fid --features "$w/features.pt" --features-size 0 \
  --num 16 --sampler ddim --steps 5 --ref-stats "$out/ref_stats.bin" --report "$out/eval_fid.json" "${T[@]}"
run eval --ckpt "$ck" --data "$w/emoji_heldout" --fid --features "$w/features.pt" --features-size 0 \
  --num 16 --sampler dpmpp2m --steps 5 --ref-stats "$out/ref_stats.bin" --report "$out/eval_fid2.json" "${T[@]}"
run export --ckpt "$ck" --out "$out/tiny.safetensors"
run export --ckpt "$ck" --out "$out/tiny_raw.safetensors" --raw
run import --weights "$out/tiny.safetensors" --out "$out/imported.pt"
run sample --ckpt "$out/imported.pt" --n 4 --sampler ddim --steps 5 --out "$out/sample_imported.png" "${T[@]}"
"$bin" info "$ck" >"$out/info_tiny.txt" 2>&1 || "$bin" info --ckpt "$ck" >"$out/info_tiny.txt" 2>&1

# Class-conditional on Fashion-MNIST (28 px, 1 channel, v-prediction, label dropout).
cond=(--config configs/fashion.json --set data.path="$w/fashion/train" --set train.run_dir="$out/cond"
      --set model.base_channels=16 --set train.threads=1 --set train.batch_size=16
      --set train.log_every=10 --set train.checkpoint_every=20 --set train.preview_every=20
      --set train.preview_n=10 --set sample.steps=6 --set train.grad_accum=2)
run train "${cond[@]}" --set train.steps=20
ck=$out/cond/last.pt
run sample --ckpt "$ck" --per-class 2 --guidance 2 --out "$out/cond_perclass.png" "${T[@]}"
run sample --ckpt "$ck" --n 4 --class 3 --sampler heun --steps 5 --out "$out/cond_class3.png" "${T[@]}"
run sample --ckpt "$ck" --n 4 --class Trouser --sampler dpmpp2m --steps 5 --guidance 0 \
  --out "$out/cond_trouser.png" "${T[@]}"
run eval --ckpt "$ck" --data "$w/fashion/test" --classifier data/fashion/classifier.pt --n 20 \
  --sampler ddim --steps 5 --report "$out/eval_classifier.json" "${T[@]}"
run eval --ckpt "$ck" --data "$w/fashion/test" --max-images 10 --subset 4 --report "$out/eval_cond_nll.json" "${T[@]}"
"$bin" info "$ck" >"$out/info_cond.txt" 2>&1 || "$bin" info --ckpt "$ck" >"$out/info_cond.txt" 2>&1

/usr/bin/python3 scripts/dev/golden_normalize.py "$out" "$out/normalized"
mkdir -p "$dest"
mv "$out/normalized" "$out"/*.log "$dest/"
rm -rf "$out"
echo "golden: $(ls "$dest/normalized" | wc -l) outputs in $dest/normalized"
