// Checks, on the target (under qemu when cross-compiling), the platform facts the engine relies
// on: 64-bit time that does not depend on `long`, and lock-free 64-bit atomics (the metrics
// counters and the watchdog heartbeat are std::atomic<std::uint64_t>; a lock-based atomic
// would put a hidden mutex on the hot path). cross/build.sh compiles and runs it for each
// architecture; the static_asserts fail the build, the runtime checks the exit code.
#include <atomic>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <ctime>

#include "rules/time_util.h"

using streamgate::rules::TimeNs;

static_assert(sizeof(TimeNs) == 8, "TimeNs must be 64-bit on every target");
static_assert(std::atomic<std::int64_t>::is_always_lock_free, "atomic<int64_t> must be lock-free");
static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
              "atomic<uint64_t> must be lock-free");
static_assert(std::atomic<bool>::is_always_lock_free);
static_assert(std::atomic<std::size_t>::is_always_lock_free);

int main() {
  int failures = 0;
  auto check = [&failures](bool ok, const char* what) {
    std::printf("%s %s\n", ok ? "ok  " : "FAIL", what);
    if (!ok) ++failures;
  };

  std::atomic<std::int64_t> i64{0};
  std::atomic<std::uint64_t> u64{0};
  check(i64.is_lock_free(), "std::atomic<std::int64_t> is lock-free at run time");
  check(u64.is_lock_free(), "std::atomic<std::uint64_t> is lock-free at run time");

  // A value that needs all 64 bits survives a round trip through the atomic (a torn or
  // truncated 64-bit access would lose the high word on a 32-bit target).
  const std::uint64_t big = 0x0123'4567'89ab'cdefULL;
  u64.store(big);
  u64.fetch_add(1);
  check(u64.load() == big + 1, "64-bit atomic store/fetch_add/load keep the high word");
  const TimeNs t = 1'700'000'000'000'000'000;  // 2023-11-14 in ns: needs more than 32 bits
  i64.store(t);
  check(i64.load() == t, "TimeNs in an atomic keeps nanoseconds past 2038");

  std::printf("info sizeof(long)=%zu sizeof(void*)=%zu sizeof(TimeNs)=%zu sizeof(time_t)=%zu\n",
              sizeof(long), sizeof(void*), sizeof(TimeNs), sizeof(std::time_t));
#if defined(__arm__)
  // 32-bit ARM: `long` is 32 bits, which is why time is never `long` in this code base.
  check(sizeof(long) == 4, "armhf: sizeof(long) == 4");
#endif
  check(sizeof(TimeNs) == 8, "sizeof(TimeNs) == 8");

  std::printf("%s\n", failures == 0 ? "platform check passed" : "platform check FAILED");
  return failures == 0 ? 0 : 1;
}
