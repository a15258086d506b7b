#!/usr/bin/env bash
# Copies ddpm's header-only dependencies (nlohmann_json with its CMake config, cxxopts, stb) and
# GoogleTest's sources from this Debian machine (after scripts/setup.sh) into .deps/, which git
# ignores. A machine with PyTorch but no apt (a lent GPU machine) builds with them: carry .deps there
# and run scripts/gpu/gpu_check.sh.
# --no-fashion leaves out Fashion-MNIST's 30 MB (only gpu_check.sh's fashion stage reads it), for
# the device tool's 64 MiB limit on what travels.
set -euo pipefail
cd "$(dirname "$0")/../.."
fashion=1
[ "${1:-}" = --no-fashion ] && fashion=0
for needed in /usr/include/nlohmann/json.hpp /usr/include/cxxopts.hpp /usr/include/stb/stb_image.h \
              /usr/share/cmake/nlohmann_json/nlohmann_jsonConfig.cmake /usr/src/googletest/CMakeLists.txt \
              /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf \
              /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz; do
  if [ ! -e "$needed" ]; then
    echo "gpu_deps.sh: $needed is missing: run scripts/setup.sh first" >&2
    exit 1
  fi
done
rm -rf .deps
mkdir -p .deps/include .deps/share/cmake
cp -r /usr/include/nlohmann /usr/include/cxxopts.hpp /usr/include/stb .deps/include/
cp -r /usr/share/cmake/nlohmann_json .deps/share/cmake/
cp -r /usr/src/googletest .deps/googletest
# The built-in data set is cut from this font.
cp /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf .deps/
# Fashion-MNIST's IDX files, for gpu_check.sh's fashion stage.
[ "$fashion" = 1 ] && cp -r /usr/share/datasets/fashion-mnist .deps/fashion-mnist
du -sh .deps
