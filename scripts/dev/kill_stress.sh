#!/usr/bin/env bash
# SIGKILL stress run (not part of the default tests): kills a training run that writes a checkpoint
# every step at random moments, TRIALS times, checking after every kill that last.pt loads into the
# model and never goes backwards, then that --resume finishes the run.
#   scripts/dev/kill_stress.sh [TRIALS]   (default 100; about 2 s per trial on 2 cores)
# Builds into build/ (as scripts/test.sh does) when needed.
set -euo pipefail
cd "$(dirname "$0")/../.."
TRIALS="${1:-100}"
if [ ! -f build/CMakeCache.txt ]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build build -j "$(nproc)" --target ddpm ddpm_e2e_tests >/dev/null
DDPM_KILL_TRIALS="$TRIALS" build/ddpm_e2e_tests --gtest_filter='*SigkillAtAnyMoment*'
