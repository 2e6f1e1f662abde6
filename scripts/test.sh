#!/usr/bin/env bash
# test.sh: the one-command test suite. Installs what is missing (apt), builds with warnings as
# errors (./build) and runs every test with ctest. With STREAMGATE_SANITIZE=1, or when $CI is
# set, it also builds with ASan+UBSan (./build-asan) and runs the unit, golden and cluster-mode
# tests there, and runs each libFuzzer target for 60 s (STREAMGATE_FUZZ_SECONDS=N to choose;
# clang, ./build-fuzz).
# With STREAMGATE_TSAN=1, or when $CI is set, it builds the gateway with ThreadSanitizer
# (./build-tsan) and runs the gateway unit tests (rings, ...) and the integration tests there.
#
#   sudo bash scripts/test.sh
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=scripts/deps.sh
source "$root/scripts/deps.sh"
# The fuzz runs below need clang and its libFuzzer runtime.
if [ -n "${CI:-}" ] || [ "${STREAMGATE_FUZZ_SECONDS:-0}" != 0 ]; then
  STREAMGATE_APT_PACKAGES+=(clang-14 libclang-rt-14-dev)
fi
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

tsan=0
if [ "${STREAMGATE_TSAN:-0}" = 1 ] || [ -n "${CI:-}" ]; then tsan=1; fi
if [ "$tsan" = 1 ]; then
  # Target tsan_tests (tests/CMakeLists.txt): the gateway unit tests and the integration tests
  # with the binary they start; nothing else is built there.
  echo "==> configure + build with ThreadSanitizer (./build-tsan: target tsan_tests)"
  cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTREAMGATE_WERROR=ON \
    -DSTREAMGATE_TSAN=ON -DSTREAMGATE_BUILD_BENCH=OFF
  cmake --build build-tsan -j "$jobs" --target tsan_tests
fi

echo "==> ctest (./build)"
status=0
ctest --test-dir build --output-on-failure -j "$jobs" || status=$?

if [ "$sanitize" = 1 ]; then
  echo "==> ctest under ASan+UBSan (./build-asan: unit and golden tests)"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j "$jobs" -LE 'integration|bench|oracle|packaging' || status=$?
  # Cluster mode under ASan+UBSan: the tests and every `streamgate` instance they start (also the
  # ones they kill or stop) write their reports to build-asan/asan/report.<pid>, so a report in
  # an instance whose exit status a test does not read still fails the run (~100 s).
  echo "==> ctest under ASan+UBSan (./build-asan: cluster mode)"
  rm -rf build-asan/asan && mkdir -p build-asan/asan
  ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:log_path=$root/build-asan/asan/report" \
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$root/build-asan/asan/report" \
    ctest --test-dir build-asan --output-on-failure -j "$jobs" -R '^Cluster' || status=$?
  shopt -s nullglob
  asan_reports=(build-asan/asan/report.*)
  shopt -u nullglob
  if [ "${#asan_reports[@]}" -gt 0 ]; then
    head -n 60 "${asan_reports[@]}" >&2
    echo "error: ASan/UBSan reported in ${#asan_reports[@]} process(es): build-asan/asan/" >&2
    status=1
  fi
fi

# ThreadSanitizer: every process it instruments (the test binaries and each `streamgate` they
# start, also the ones a test kills) writes its reports to build-tsan/tsan/report.<pid>, so a
# race fails the run even where the test itself does not look at the exit code.
if [ "$tsan" = 1 ]; then
  echo "==> ctest under ThreadSanitizer (./build-tsan: labels gateway and integration)"
  rm -rf build-tsan/tsan && mkdir -p build-tsan/tsan
  # tests/tsan.supp: races inside uninstrumented libraries only (each entry says why).
  # The cluster tests too: the instances they start, kill, freeze and thaw run instrumented.
  TSAN_OPTIONS="log_path=$root/build-tsan/tsan/report suppressions=$root/tests/tsan.supp second_deadlock_stack=1 history_size=4" \
    ctest --test-dir build-tsan --output-on-failure -j "$jobs" -L 'gateway|integration' || status=$?
  shopt -s nullglob
  reports=(build-tsan/tsan/report.*)
  shopt -u nullglob
  if [ "${#reports[@]}" -ne 0 ]; then
    cat "${reports[@]}" >&2
    echo "error: ThreadSanitizer reported in ${#reports[@]} process(es): build-tsan/tsan/" >&2
    status=1
  fi
fi

# Fuzzing (issue 4): each libFuzzer target for a bounded time from its committed seed corpus.
# New coverage goes to a scratch dir (the committed corpus is not modified); a crash leaves its
# reproducer in build-fuzz/fuzz-<target>/ and fails the run.
if [ -n "${CI:-}" ] || [ "${STREAMGATE_FUZZ_SECONDS:-0}" != 0 ]; then
  fuzz_seconds=${STREAMGATE_FUZZ_SECONDS:-60}
  fuzz_cxx=$(command -v clang++-14 || command -v clang++ || true)
  if [ -z "$fuzz_cxx" ]; then
    echo "error: fuzzing needs clang (apt-get install clang-14)" >&2
    status=1
  else
    echo "==> fuzz targets, ${fuzz_seconds}s each (./build-fuzz, $fuzz_cxx)"
    CXX="$fuzz_cxx" cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DSTREAMGATE_FUZZ=ON -DSTREAMGATE_BUILD_BENCH=OFF
    cmake --build build-fuzz -j "$jobs" --target rule_parser_fuzz ingest_fuzz
    for target in rule_parser ingest; do
      work="build-fuzz/fuzz-$target"
      rm -rf "$work" && mkdir -p "$work/new"
      "build-fuzz/tests/fuzz/${target}_fuzz" -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$work/" "$work/new" "tests/fuzz/corpus/$target" \
        >"$work/log" 2>&1 || {
        tail -n 60 "$work/log"
        echo "error: fuzz target $target failed; reproducer in $work/ (add it to tests/fuzz/corpus/$target once fixed)" >&2
        status=1
      }
      grep -E '^stat::number_of_executed_units|^#[0-9]+ *DONE' "$work/log" || true
    done
  fi
fi
exit "$status"
