#!/usr/bin/env bash
# test.sh: the one-command test suite. Installs what is missing (apt), builds with warnings as
# errors (./build) and runs every test with ctest. With STREAMGATE_SANITIZE=1, or when $CI is
# set, it also builds with ASan+UBSan (./build-asan) and runs the unit and golden tests there.
#
#   sudo bash scripts/test.sh
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=scripts/deps.sh
source "$root/scripts/deps.sh"
streamgate_install_deps

jobs=$(nproc 2>/dev/null || echo 2)

echo "==> configure + build (./build, -Werror)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTREAMGATE_WERROR=ON
cmake --build build -j "$jobs"

sanitize=0
if [ "${STREAMGATE_SANITIZE:-0}" = 1 ] || [ -n "${CI:-}" ]; then sanitize=1; fi

if [ "$sanitize" = 1 ]; then
  echo "==> configure + build with ASan+UBSan (./build-asan)"
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTREAMGATE_WERROR=ON \
    -DSTREAMGATE_SANITIZE=ON -DSTREAMGATE_BUILD_BENCH=OFF
  cmake --build build-asan -j "$jobs"
fi

echo "==> ctest (./build)"
status=0
ctest --test-dir build --output-on-failure -j "$jobs" || status=$?

if [ "$sanitize" = 1 ]; then
  echo "==> ctest under ASan+UBSan (./build-asan: unit and golden tests)"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j "$jobs" -LE 'integration|bench|oracle|packaging' || status=$?
fi
exit "$status"
