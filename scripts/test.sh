#!/usr/bin/env bash
# The test command: installs and builds (scripts/setup.sh), then runs the whole suite through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cd build
ctest --output-on-failure -j "$(nproc)" "$@"
