#!/usr/bin/env bash
# The CUDA proof, for a machine with PyTorch (CUDA) and no apt, such as a lent GPU machine.
# Before: on a Debian machine, scripts/gpu/gpu_deps.sh fills .deps/ (header-only dependencies, GoogleTest
# sources, the emoji font); carry .deps to the GPU machine. Then, one stage per command (each well
# under ten minutes on one H100):
#   scripts/gpu/gpu_check.sh build   # CMake against PyTorch's LibTorch 2.x, into build-gpu/
#   scripts/gpu/gpu_check.sh test    # the whole ctest suite against LibTorch 2.x
#   scripts/gpu/gpu_check.sh run     # train/sample on the GPU (fp32 and bf16), resume CPU -> GPU -> CPU
#   scripts/gpu/gpu_check.sh bench   # BENCHMARKS.md's GPU tables: ddpm vs eager PyTorch, fp32 and bf16
#   scripts/gpu/gpu_check.sh fashion # configs/fashion_gpu.json for STEPS (default 5000) steps, scored by
#                                # the Fashion-MNIST classifier every 1000 steps; resumable (run again)
#   scripts/gpu/gpu_check.sh all     # build, test and run in one command (under 10 minutes on an H100,
#                                # estimated from the stages' times; not yet run as one command):
#                                # a lent machine goes back when idle, taking build-gpu/ with it
# Logs, grids and tables go to $OUT (the device tool's output folder) or build-gpu/check/.
# DEVICE=cpu runs the `run` stage on the CPU (to check this script anywhere); STEPS sets its length
# and SAMPLERS its samplers (default: ddpm ddim dpmpp2m; the 1000-step ddpm one is slow on a CPU).
set -euo pipefail
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$0")/../.."
stage="${1:?usage: scripts/gpu/gpu_check.sh build|test|run|bench|fashion|all}"
out="${OUT:-build-gpu/check}"
mkdir -p "$out"
device="${DEVICE:-cuda}"
steps="${STEPS:-1000}"
ddpm=build-gpu/ddpm

fail() {
  echo "gpu_check.sh $stage: $*" | tee -a "$out/summary.txt" >&2
  exit 1
}
# Runs a command, keeping its output in $out/NAME.log; fails naming the log.
logged() {
  local name="$1"
  shift
  echo "== $name: $*" | tee -a "$out/summary.txt"
  local start=$SECONDS
  "$@" >"$out/$name.log" 2>&1 || fail "$name failed (exit $?), see $out/$name.log: $(tail -1 "$out/$name.log")"
  echo "   ok in $((SECONDS - start)) s: $(tail -1 "$out/$name.log")" | tee -a "$out/summary.txt"
}
# The step a run's last.pt reached, from `ddpm train`'s closing line.
done_step() { sed -n 's/^done: step \([0-9]*\),.*/\1/p' "$out/$1.log" | tail -1; }

case "$stage" in
all)
  # Each stage in its own process, so that one failing still leaves the summary; the logs, grids and
  # summary are packed into one file, since the device tool returns at most 8 files from $OUT.
  # The run stage trains 300 steps (STEPS) so that the three fit in one 10-minute command.
  work="${TMPDIR:-/tmp}/ddpm_gpu_check"
  rm -rf "$work"
  status=0
  for each in build test run; do
    STEPS="${STEPS:-300}" OUT="$work/$each" bash "$self" "$each" || { status=1; [ "$each" = build ] && break; }
  done
  cat "$work"/*/summary.txt 2>/dev/null | tee "$out/summary.txt" || true
  tar czf "$out/check.tgz" -C "$work" .
  exit "$status"
  ;;
build)
  prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)') ||
    fail "python3 cannot import torch: this stage builds against PyTorch's LibTorch"
  python3 -c 'import torch; print("PyTorch", torch.__version__, "CUDA", torch.version.cuda,
              "available", torch.cuda.is_available())' | tee "$out/torch.txt"
  # One file per compiler job: 16 cores build in about 130 s, where unity batches leave most idle.
  logged cmake cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
    -DDDPM_UNITY_BUILD=OFF
  logged build cmake --build build-gpu -j "$(nproc)"
  [ "$device" = cpu ] || grep -q "DDPM_WITH_CUDA=1" build-gpu/CMakeFiles/ddpm_core.dir/flags.make ||
    fail "this LibTorch has no CUDA targets (DDPM_WITH_CUDA=0)"
  ;;
test)
  [ -x "$ddpm" ] || fail "run the build stage first"
  logged ctest bash -c "cd build-gpu && ctest -j $(nproc) --output-on-failure"
  ;;
run)
  [ -x "$ddpm" ] || fail "run the build stage first"
  if [ ! -d data/emoji ]; then
    font=/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf
    [ -f "$font" ] || font=.deps/NotoColorEmoji.ttf
    logged data "$ddpm" data emoji --font "$font" --out data/emoji
  fi
  runs=build-gpu/runs
  rm -rf "$runs"
  common=(--config configs/default.json --set data.path=data/emoji --set train.checkpoint_every=100
          --set train.preview_every=0)
  # fp32 training and all three samplers on the device.
  logged train_fp32 "$ddpm" train "${common[@]}" --set "train.device=$device" \
    --set "train.steps=$steps" --set "train.run_dir=$runs/fp32"
  [ "$(done_step train_fp32)" = "$steps" ] || fail "fp32 run stopped at step $(done_step train_fp32)"
  for sampler in ${SAMPLERS:-ddpm ddim dpmpp2m}; do
    logged "sample_$sampler" "$ddpm" sample --ckpt "$runs/fp32/last.pt" --n 64 --sampler "$sampler" \
      --device "$device" --out "$out/fp32_$sampler.png"
  done
  # bf16 autocast, training and sampling.
  logged train_bf16 "$ddpm" train "${common[@]}" --set "train.device=$device" \
    --set train.precision=bf16 --set "train.steps=$steps" --set "train.run_dir=$runs/bf16"
  [ "$(done_step train_bf16)" = "$steps" ] || fail "bf16 run stopped at step $(done_step train_bf16)"
  logged sample_bf16 "$ddpm" sample --ckpt "$runs/bf16/last.pt" --n 64 --sampler ddim --bf16 \
    --device "$device" --out "$out/bf16_ddim.png"
  # One run across device types: CPU, then the device, then the CPU again.
  logged xdev_cpu "$ddpm" train "${common[@]}" --set train.device=cpu --set train.steps=20 \
    --set "train.run_dir=$runs/xdev"
  logged xdev_device "$ddpm" train --resume "$runs/xdev/last.pt" --set "train.device=$device" \
    --set train.steps=40
  logged xdev_back "$ddpm" train --resume "$runs/xdev/last.pt" --set train.device=cpu \
    --set train.steps=60
  [ "$(done_step xdev_cpu)/$(done_step xdev_device)/$(done_step xdev_back)" = "20/40/60" ] ||
    fail "cross-device resume reached steps $(done_step xdev_cpu)/$(done_step xdev_device)/$(done_step xdev_back), expected 20/40/60"
  logged xdev_sample "$ddpm" sample --ckpt "$runs/xdev/last.pt" --n 16 --sampler ddim --device cpu \
    --out "$out/xdev_cpu.png"
  # Data-parallel: one NCCL rank through torchrun (PyTorch's own launcher on this machine), resumed
  # by --nproc 1, when the build found nccl.h.
  if grep -q "DDPM_WITH_NCCL=1" build-gpu/CMakeFiles/ddpm_core.dir/flags.make 2>/dev/null; then
    logged nccl_torchrun python3 -m torch.distributed.run --nproc_per_node 1 --no-python "$ddpm" \
      train "${common[@]}" --set "train.device=$device" --set train.steps=20 \
      --set "train.run_dir=$runs/nccl"
    logged nccl_nproc "$ddpm" train --resume "$runs/nccl/last.pt" --set "train.device=$device" \
      --set train.steps=40 --nproc 1
    grep -q "× 1 workers" "$out/nccl_torchrun.log" || fail "the torchrun run did not join a process group"
    [ "$(done_step nccl_torchrun)/$(done_step nccl_nproc)" = "20/40" ] ||
      fail "NCCL runs reached steps $(done_step nccl_torchrun)/$(done_step nccl_nproc), expected 20/40"
  else
    echo "run: no nccl.h found by CMake; the NCCL check was skipped" | tee -a "$out/summary.txt"
  fi
  echo "run: all checks passed" | tee -a "$out/summary.txt"
  ;;
bench)
  [ -x "$ddpm" ] || fail "run the build stage first"
  for args in "--config configs/cifar10.json --batch 128" "--config configs/cifar10.json --batch 128 --bf16" \
              "--config configs/default.json --batch 128"; do
    name="bench_$(echo "$args" | tr -c 'a-z0-9\n' '_' | tr -s _)"
    # shellcheck disable=SC2086
    logged "$name" python3 scripts/bench/bench_compare.py --ddpm "$ddpm" --device "$device" --rounds 3 $args
    cat "$out/$name.log" >>"$out/summary.txt"
  done
  ;;
fashion)
  [ -x "$ddpm" ] || fail "run the build stage first"
  [ -d data/fashion/train ] || logged data_fashion "$ddpm" data fashion-mnist --out data/fashion \
    --source "${FASHION_SOURCE:-.deps/fashion-mnist}"
  [ -f data/fashion/classifier.pt ] || logged classifier python3 scripts/quality/fashion_classifier.py
  runs=build-gpu/runs/fashion_gpu
  resume=()
  [ -f "$runs/last.pt" ] && resume=(--resume)
  logged train_fashion "$ddpm" train --config configs/fashion_gpu.json "${resume[@]}" \
    --set "train.device=$device" --set "train.steps=${STEPS:-5000}" --set "train.run_dir=$runs" \
    --set train.classifier=data/fashion/classifier.pt --set train.classifier_every=1000 \
    --set train.classifier_n=1000
  logged sample_fashion "$ddpm" sample --ckpt "$runs/last.pt" --per-class 10 --device "$device" \
    --out "$out/fashion_gpu_samples.png"
  grep '"fid"' "$runs/metrics.jsonl" | tee "$out/fashion_gpu_scores.jsonl" >>"$out/summary.txt" || true
  mkdir -p "$out/fashion_gpu_previews"  # the previews so far (a rerun resumes and adds to them)
  cp "$runs"/previews/*.png "$out/fashion_gpu_previews/" 2>/dev/null || true
  ;;
*)
  fail "unknown stage '$stage' (build, test, run, bench, fashion or all)"
  ;;
esac
