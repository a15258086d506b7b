#!/usr/bin/env bash
# Bounded libFuzzer runs (not part of the default tests), each under AddressSanitizer +
# UndefinedBehaviorSanitizer: the config parser, the image decoder, the checkpoint reader, the
# contents behind a checkpoint's CRC (metadata and tensor table), the data cache reader and the
# command line of every subcommand, and the emoji font reader.
#   scripts/dev/fuzz.sh [SECONDS_PER_TARGET]   (default 60)
# Builds with clang into build-fuzz/, seeds each corpus with the shipped configs, the built-in emoji
# PNGs and the checkpoint of a 2-step tiny run, and prints each target's executions. A crash leaves
# its input as build-fuzz/crash-* and makes the script fail.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_PER_TARGET="${1:-60}"
if ! command -v clang++ >/dev/null; then
  echo "fuzz.sh: needs clang and libFuzzer: sudo apt-get install clang libclang-rt-dev" >&2
  exit 1
fi
cmake -S . -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DDDPM_FUZZ=ON -DDDPM_BUILD_TESTS=OFF >/dev/null
targets=(config image checkpoint checkpoint_contents data_cache cli font)
cmake --build build-fuzz -j "$(nproc)" --target "${targets[@]/#/fuzz_}" ddpm

corpus=build-fuzz/corpus
for target in "${targets[@]}"; do mkdir -p "$corpus/$target"; done
cp configs/*.json "$corpus/config/"
# Inputs that once crashed a target are replayed first on every run.
for target in "${targets[@]}"; do
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
# Seeds of the structured targets: the tiny checkpoint's metadata (mode byte 0), a few network
# descriptions (odd mode bytes), a valid data cache for the target's fixed expectation, and one
# command line per subcommand (first byte picks it, NUL separates the arguments).
python3 - "$corpus" <<'PY'
import json, os, struct, sys
corpus = sys.argv[1]
raw = open(os.path.join(corpus, "checkpoint", "tiny.pt"), "rb").read()
meta_len = struct.unpack_from("<Q", raw, 16)[0]
open(os.path.join(corpus, "checkpoint_contents", "meta"), "wb").write(b"\0" + raw[24:24 + meta_len])
for i, desc in enumerate([b"\1", b"\1\1\0\1\0\1\1\1\7", b"\3\2\1\1\1\1\2\2\2\3"]):
    open(os.path.join(corpus, "checkpoint_contents", "net%d" % i), "wb").write(desc)
cache = b"DDPMDAT1" + struct.pack("<Q", 0x0123456789ABCDEF) + struct.pack("<6q", 2, 1, 8, 8, 0, 2)
cache += b"".join(struct.pack("<I", 1) + n for n in (b"a", b"b")) + struct.pack("<2q", 0, 1) + bytes(128)
open(os.path.join(corpus, "data_cache", "valid"), "wb").write(cache)
for i, args in enumerate([["--config", "c.json", "--set", "train.lr=1"], ["--ckpt", "x.pt", "--n", "4"],
                          ["--ckpt", "x.pt", "--data", "d", "--fid"], ["--config", "c.json", "--what", "train"],
                          ["emoji", "--out", "o", "--limit", "2"], ["--config", "c.json"]]):
    open(os.path.join(corpus, "cli", "cmd%d" % i), "wb").write(bytes([i]) + b"\0".join(a.encode() for a in args))
PY

status=0
for target in "${targets[@]}"; do
  echo "== fuzz_$target for ${SECONDS_PER_TARGET}s"
  # Absolute paths: fuzz_cli works in a scratch folder of its own.
  out="$PWD/build-fuzz"
  (cd build-fuzz && ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "./fuzz_$target" -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=4096 -max_len=65536 \
    -timeout=60 -artifact_prefix="$out/" -print_final_stats=1 "$out/corpus/$target" \
    2>"fuzz_$target.log") || status=1
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb|ERROR|SUMMARY" \
    "build-fuzz/fuzz_$target.log" || true
done
exit $status
