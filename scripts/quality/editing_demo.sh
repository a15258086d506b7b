#!/usr/bin/env bash
# The editing figures of docs/results.md, on the Fashion-MNIST demo model (scripts/demo.sh), into
# runs/fashion/editing/:
#   inpainting the lower half of PER_CLASS held-out test garments of every class without a class
#   label, and (with data/fashion/classifier.pt, scripts/quality/fashion_classifier.py) the fraction
#   the classifier assigns to each garment's true class, against the same for the originals;
#   an image-to-image strength sweep; interpolation strips between two garments and two seeds;
#   the inversion PSNR of one garment per class.
#   scripts/quality/editing_demo.sh      CKPT=... OUT=... PER_CLASS=10
set -euo pipefail
cd "$(dirname "$0")/../.."
ckpt=${CKPT:-runs/fashion/last.pt} out=${OUT:-runs/fashion/editing} per_class=${PER_CLASS:-10}
tools=scripts/quality
rm -rf "$out"
mkdir -p "$out/originals" "$out/one"
for dir in data/fashion/test/*/; do
  class=$(basename "$dir")
  k=0
  for file in $(ls "$dir" | sort | head -n "$per_class"); do
    cp "$dir/$file" "$out/originals/$class-$(printf %02d "$k").png"
    k=$((k + 1))
  done
  cp "$dir/$(ls "$dir" | sort | head -n 1)" "$out/one/$class.png"
done
/usr/bin/python3 -c "
import sys; sys.path.insert(0, '$tools')
import numpy as np; from png_tools import write_png
mask = np.zeros((28, 28), np.uint8); mask[14:] = 255
write_png('$out/lower_half.png', mask)"

build/ddpm sample --ckpt "$ckpt" --init "$out/originals" --mask "$out/lower_half.png" \
  --individual "$out/inpainted" --out "$out/inpainting.png"
if [ -f data/fashion/classifier.pt ]; then
  /usr/bin/python3 "$tools/editing_scores.py" accuracy data/fashion/classifier.pt \
    "$out/originals" "$out/inpainted" | tee "$out/inpainting_accuracy.md"
fi

strengths=(0.2 0.4 0.6 0.8 1.0)
for s in "${strengths[@]}"; do
  build/ddpm sample --ckpt "$ckpt" --init "$out/one" --strength "$s" --individual "$out/strength-$s" \
    --out "$out/strength-$s.png"
done
/usr/bin/python3 "$tools/editing_scores.py" sweep "$out/strength_sweep.png" "$out/one" \
  "${strengths[@]/#/$out/strength-}"

build/ddpm sample --ckpt "$ckpt" --interpolate "$out/one/0_T-shirt-top.png,$out/one/3_Dress.png" \
  --frames 8 --out "$out/interpolation_images.png"
build/ddpm sample --ckpt "$ckpt" --interpolate 3,11 --frames 8 --out "$out/interpolation_seeds.png"
build/ddpm invert --ckpt "$ckpt" --input "$out/one" --out "$out/latents.safetensors" |
  tee "$out/inversion.txt"
echo "editing figures in $out"
