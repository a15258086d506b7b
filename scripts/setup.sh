#!/usr/bin/env bash
# Installs everything ddpm needs from Debian's archive (idempotent) and builds it in Release into build/.
# Usage: scripts/setup.sh [--no-build | --target NAME]   (default: build everything, tests included)
set -euo pipefail
cd "$(dirname "$0")/.."

target=()
[ "${1:-}" = "--target" ] && target=(--target "$2")

packages=(libtorch-dev nlohmann-json3-dev libcxxopts-dev libstb-dev libgtest-dev libopenblas0-pthread
          cmake g++ make ccache fonts-noto-color-emoji unicode-data zlib1g-dev dataset-fashion-mnist
          libgloo-dev)
# What only the test suite and the tooling scripts use (the style check, torchrun, fashion_classifier.py).
# `--target NAME` (the demo) builds one program and skips them, to save the download.
((${#target[@]})) || packages+=(clang-format python3 python3-torch)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

[ "${1:-}" = "--no-build" ] && exit 0

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$(nproc)" "${target[@]}"

# The built-in data sets as image folders, once: Noto Color Emoji artwork (data/emoji, and
# data/emoji-groups with a folder per Unicode emoji group from unicode-data's emoji-test.txt), and
# Fashion-MNIST from Debian's dataset-fashion-mnist (data/fashion/train and data/fashion/test, one
# folder per class).
[ -d data/emoji ] || build/ddpm data emoji --out data/emoji
[ -d data/emoji-groups ] || build/ddpm data emoji --by-group --out data/emoji-groups
[ -d data/fashion ] || build/ddpm data fashion-mnist --out data/fashion
