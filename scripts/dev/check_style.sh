#!/usr/bin/env bash
# The style check the test command runs: clang-format (the checked-in .clang-format) on every C++
# source, and no function in src/ over 60 lines (scripts/dev/function_lengths.py). Fix drift with
#   clang-format -i $(git ls-files '*.cpp' '*.h')
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v clang-format >/dev/null; then
  echo "style: clang-format is not installed (apt-get install clang-format); skipped"
  exit 77  # ctest's skip code for this test
fi
mapfile -t sources < <(find src include tests -name '*.cpp' -o -name '*.h' | sort)
status=0
if ! clang-format --dry-run --Werror "${sources[@]}" 2>/tmp/ddpm-format-$$.txt; then
  grep -o '^[^:]*\.\(cpp\|h\)' /tmp/ddpm-format-$$.txt | sort -u | sed 's/^/not clang-formatted: /'
  echo "fix with: clang-format -i \$(git ls-files '*.cpp' '*.h')"
  status=1
fi
rm -f /tmp/ddpm-format-$$.txt
mapfile -t library < <(find src -name '*.cpp' | sort)
python3 scripts/dev/function_lengths.py --max 60 "${library[@]}" || status=1
[ "$status" -eq 0 ] && echo "style: clang-formatted, every function of src/ within 60 lines"
exit "$status"
