#!/usr/bin/env bash
# Bounded libFuzzer runs (not part of the default tests): config parser, image decoder, checkpoint
# reader, each under AddressSanitizer + UndefinedBehaviorSanitizer.
#   scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 60)
# Builds with clang into build-fuzz/, seeds each corpus with the shipped configs, the built-in emoji
# PNGs and the checkpoint of a 2-step tiny run, and prints each target's executions. A crash leaves
# its input as build-fuzz/crash-* and makes the script fail.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET="${1:-60}"
if ! command -v clang++ >/dev/null; then
  echo "fuzz.sh: needs clang and libFuzzer: sudo apt-get install clang libclang-rt-dev" >&2
  exit 1
fi
cmake -S . -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DDDPM_FUZZ=ON -DDDPM_BUILD_TESTS=OFF >/dev/null
cmake --build build-fuzz -j "$(nproc)" --target fuzz_config fuzz_image fuzz_checkpoint ddpm

corpus=build-fuzz/corpus
mkdir -p "$corpus/config" "$corpus/image" "$corpus/checkpoint"
cp configs/*.json "$corpus/config/"
# Inputs that once crashed a target are replayed first on every run.
for target in config image checkpoint; do
  if [ -d "tests/fuzz/regressions/$target" ]; then
    cp tests/fuzz/regressions/"$target"/* "$corpus/$target/"
  fi
done
if [ ! -f "$corpus/checkpoint/tiny.pt" ]; then
  run=$(mktemp -d)
  build-fuzz/ddpm data emoji --out "$run/data" --limit 32 >/dev/null
  find "$run/data" -name '*.png' -exec cp {} "$corpus/image/" \;
  build-fuzz/ddpm train --config configs/tiny.json --set train.steps=2 --set train.batch_size=4 \
    --set "data.path=$run/data" --set "train.run_dir=$run/run" >/dev/null 2>&1
  cp "$run/run/last.pt" "$corpus/checkpoint/tiny.pt"
  rm -rf "$run"
fi

status=0
for target in config image checkpoint; do
  echo "== fuzz_$target for ${SECONDS_PER_TARGET}s"
  (cd build-fuzz && ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "./fuzz_$target" -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=4096 -max_len=65536 \
    -print_final_stats=1 "corpus/$target" 2>"fuzz_$target.log") || status=1
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb|ERROR|SUMMARY" \
    "build-fuzz/fuzz_$target.log" || true
done
exit $status
