#!/usr/bin/env bash
# Builds the whole test suite with AddressSanitizer + UndefinedBehaviorSanitizer (CMake option
# DDPM_SANITIZE) into build-asan/ and runs it. Not part of scripts/test.sh: it takes about three
# times as long. Any sanitizer report fails the run.
set -euo pipefail
cd "$(dirname "$0")/../.."
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDDPM_SANITIZE=ON >/dev/null
cmake --build build-asan -j "$(nproc)"
# LibTorch itself is not instrumented; leak checking would report its intentional globals.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:halt_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
cd build-asan && ctest -j "$(nproc)" --output-on-failure --timeout 1200 "$@"
