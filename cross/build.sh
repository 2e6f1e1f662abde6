#!/usr/bin/env bash
# Cross-builds streamgate for aarch64 and armhf from an x86-64 Debian 12 host and runs the unit
# and engine tests under qemu-user (CMAKE_CROSSCOMPILING_EMULATOR). Sets up what it needs first,
# idempotently: the cross compilers and qemu, Debian multiarch :arm64 -dev packages, an armhf
# sysroot made with mmdebstrap. See cross/README.md.
#
# usage: cross/build.sh [--arch aarch64|armhf|all] [--setup-only] [--no-setup] [--no-tests]
#                       [--deb] [--snapshot] [-j N]
#   --snapshot  build a copy of the sources taken when the script starts (build-cross-src/), so
#               files edited during the long build cannot put two versions of a header into
#               one binary
# environment:
#   STREAMGATE_SYSROOTS            where sysroots live (/opt/streamgate-sysroots)
#   STREAMGATE_ARMHF_SYSROOT       armhf sysroot ($STREAMGATE_SYSROOTS/bookworm-armhf)
#   STREAMGATE_ARM64_OVERLAY       arm64 libsimdjson-dev overlay ($STREAMGATE_SYSROOTS/arm64-overlay)
#   STREAMGATE_CROSS_BUILD_ROOT    where build-cross-<arch> go (the source tree)
#   STREAMGATE_CROSS_EXCLUDE_LABELS  ctest label regex not run under emulation
#                                  (default integration|packaging; see note below)
#   STREAMGATE_CROSS_TARGETS       ninja targets to build (default: all); with a list, tests
#                                  of targets not built (<target>_NOT_BUILT) are not run
#   TEST_TIMEOUT                   default per-test ctest timeout in seconds (300)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SYSROOTS="${STREAMGATE_SYSROOTS:-/opt/streamgate-sysroots}"
ARMHF_SYSROOT="${STREAMGATE_ARMHF_SYSROOT:-$SYSROOTS/bookworm-armhf}"
ARM64_OVERLAY="${STREAMGATE_ARM64_OVERLAY:-$SYSROOTS/arm64-overlay}"
BUILD_ROOT="${STREAMGATE_CROSS_BUILD_ROOT:-$ROOT}"
# integration: needs Mosquitto and starts the real binary as a child process; packaging: cpack,
# dpkg -x and systemd-analyze are host tools. golden_test runs the real binary through a shell,
# which under qemu-user (no binfmt_misc here) only works because it prefixes the command with
# STREAMGATE_TEST_EMULATOR (see cross/README.md); without the prefix it is left out.
if [[ -z "${STREAMGATE_CROSS_EXCLUDE_LABELS:-}" ]]; then
  if grep -qs STREAMGATE_TEST_EMULATOR "$ROOT/tests/golden/golden_test.cpp"; then
    EXCLUDE_LABELS="integration|packaging"
  else
    EXCLUDE_LABELS="integration|packaging|golden"
  fi
else
  EXCLUDE_LABELS="$STREAMGATE_CROSS_EXCLUDE_LABELS"
fi
TEST_TIMEOUT="${TEST_TIMEOUT:-300}"
read -r -a TARGETS <<<"${STREAMGATE_CROSS_TARGETS:-}"
export STREAMGATE_ARMHF_SYSROOT="$ARMHF_SYSROOT" STREAMGATE_ARM64_OVERLAY="$ARM64_OVERLAY"

ARCHES=(aarch64 armhf)
JOBS=1
DO_SETUP=1
DO_BUILD=1
DO_TESTS=1
DO_DEB=0
DO_SNAPSHOT=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --arch) shift; [[ "$1" == all ]] && ARCHES=(aarch64 armhf) || ARCHES=("$1") ;;
    --setup-only) DO_BUILD=0 ;;
    --no-setup) DO_SETUP=0 ;;
    --no-tests) DO_TESTS=0 ;;
    --deb) DO_DEB=1 ;;
    -j) shift; JOBS="$1" ;;
    -j*) JOBS="${1#-j}" ;;
    --snapshot) DO_SNAPSHOT=1 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "cross/build.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done

# The -dev packages of every library the project finds with find_package, for the target.
# libsimdjson-dev is handled apart for arm64 (not Multi-Arch: same; see setup_arm64).
TARGET_DEV_PACKAGES=(libcpp-httplib-dev libpaho-mqttpp-dev libpaho-mqtt-dev libspdlog-dev libfmt-dev libsqlite3-dev
                     libboost-program-options-dev libgtest-dev libgmock-dev libssl-dev)
ARMHF_SYSROOT_PACKAGES=(libc6-dev libstdc++-12-dev "${TARGET_DEV_PACKAGES[@]}" libsimdjson-dev
                        nlohmann-json3-dev)
HOST_PACKAGES=(crossbuild-essential-arm64 crossbuild-essential-armhf qemu-user mmdebstrap cmake
               ninja-build pkg-config nlohmann-json3-dev)

log() { printf '\n=== %s\n' "$*"; }
SUDO=""
[[ $(id -u) -eq 0 ]] || SUDO="sudo"
APT_UPDATED=0
apt_update_once() {
  if [[ $APT_UPDATED -eq 0 ]]; then $SUDO apt-get update -q; APT_UPDATED=1; fi
}
# Installs only the packages (name or name:arch) that are not installed yet.
apt_install_missing() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [[ ${#missing[@]} -gt 0 ]]; then
    apt_update_once
    log "apt-get install ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
  fi
}

# The Debian archive this machine's apt uses (deb822 or one-line sources), for mmdebstrap.
debian_mirror() {
  local uri
  uri=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null |
        awk '{print $2}' | grep -v security | grep '/debian/*$' | head -1 || true)
  if [[ -z "$uri" ]]; then
    uri=$(grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null |
          awk '{print $2}' | grep -v security | grep '/debian/*$' | head -1 || true)
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

setup_host() { apt_install_missing "${HOST_PACKAGES[@]}"; }

setup_arm64() {
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    log "dpkg --add-architecture arm64"
    $SUDO dpkg --add-architecture arm64
    APT_UPDATED=0
  fi
  local pkgs=() p
  for p in "${TARGET_DEV_PACKAGES[@]}" libsimdjson14; do pkgs+=("$p:arm64"); done
  apt_install_missing "${pkgs[@]}"
  # libsimdjson-dev:arm64 would replace libsimdjson-dev:amd64 (no Multi-Arch: same), so unpack
  # it, with its runtime library, into an overlay prefix the toolchain file searches first.
  if [[ ! -f "$ARM64_OVERLAY/usr/lib/aarch64-linux-gnu/cmake/simdjson/simdjson-config.cmake" ]]; then
    log "unpacking libsimdjson-dev:arm64 into $ARM64_OVERLAY"
    apt_update_once
    local tmp; tmp=$(mktemp -d)
    (cd "$tmp" && apt-get download -q libsimdjson-dev:arm64 libsimdjson14:arm64)
    $SUDO mkdir -p "$ARM64_OVERLAY"
    for p in "$tmp"/*.deb; do $SUDO dpkg -x "$p" "$ARM64_OVERLAY"; done
    rm -rf "$tmp"
  fi
}

# Rewrites every absolute symlink in the sysroot as a relative one, so that the cross linker
# and qemu resolve them inside the sysroot instead of on the host.
relativize_symlinks() {
  local root="$1" link target
  while IFS= read -r -d '' link; do
    target=$(readlink "$link")
    [[ "$target" == /* ]] || continue
    ln -sfn "$(realpath -m -s --relative-to="$(dirname "$link")" "$root$target")" "$link"
  done < <(find "$root" -path "$root/dev" -prune -o -path "$root/proc" -prune -o -type l -print0)
}

setup_armhf() {
  # No `dpkg --add-architecture armhf`: it breaks apt-get update on these machines.
  local stamp="$ARMHF_SYSROOT/.streamgate-sysroot" want
  want="bookworm ${ARMHF_SYSROOT_PACKAGES[*]}"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then return; fi
  local mirror tmp="$ARMHF_SYSROOT.tmp"
  mirror=$(debian_mirror)
  log "mmdebstrap armhf sysroot into $ARMHF_SYSROOT (from $mirror)"
  $SUDO rm -rf "$tmp"
  $SUDO mkdir -p "$(dirname "$ARMHF_SYSROOT")"
  # Suite named `bookworm`, not `stable` (now Debian 13); no security suite (its armhf
  # download currently fails).
  local include; include=$(IFS=,; echo "${ARMHF_SYSROOT_PACKAGES[*]}")
  $SUDO mmdebstrap --architectures=armhf --variant=extract --include="$include" \
    bookworm "$tmp" "deb $mirror bookworm main"
  relativize_symlinks "$tmp"
  echo "$want" | $SUDO tee "$tmp/.streamgate-sysroot" >/dev/null
  $SUDO rm -rf "$ARMHF_SYSROOT"
  $SUDO mv "$tmp" "$ARMHF_SYSROOT"
}

emulator_for() {
  case "$1" in
    aarch64) echo "qemu-aarch64 -L /" ;;
    armhf) echo "qemu-arm -L $ARMHF_SYSROOT" ;;
  esac
}

declare -A SUMMARY
now() { date +%s; }

# --snapshot: copies the source tree (not the build directories, .git or .signals) to
# $BUILD_ROOT/build-cross-src, which is then built. Files unchanged since the previous snapshot
# keep their times and files that changed get the current time, so ninja rebuilds exactly what
# changed. A build dir configured from the other source tree is reconfigured from scratch (CMake
# refuses a cache made for a different source directory).
SRC="$ROOT"
take_snapshot() {
  SRC="$BUILD_ROOT/build-cross-src"
  log "snapshot of $ROOT into $SRC"
  rm -rf "$SRC.tmp"
  mkdir -p "$SRC.tmp"
  tar -C "$ROOT" --exclude='./build*' --exclude=./.git --exclude=./.signals --exclude=./.cache \
    -cf - . | tar -C "$SRC.tmp" -xf -
  if [[ -d "$SRC" ]]; then
    # ninja rebuilds what is newer than its outputs. A file edited after the previous snapshot was
    # taken but before that build compiled it carries an older time than the object, so keeping
    # the tree's times would leave the object stale. Instead: a file whose content changed since
    # the previous snapshot gets the current time, an unchanged one keeps its previous time.
    (cd "$SRC.tmp" && find . -type f -print0) | while IFS= read -r -d '' f; do
      if cmp -s "$SRC.tmp/$f" "$SRC/$f"; then touch -r "$SRC/$f" "$SRC.tmp/$f"; else touch "$SRC.tmp/$f"; fi
    done
  fi
  rm -rf "$SRC"
  mv "$SRC.tmp" "$SRC"
}

# cross/platform_check.cpp: compiled with the cross compiler alone (no CMake) and run under qemu.
platform_check() {
  local arch="$1" dir="$2" cxx out
  case "$arch" in
    aarch64) cxx=(aarch64-linux-gnu-g++) ;;
    armhf) cxx=(arm-linux-gnueabihf-g++ "--sysroot=$ARMHF_SYSROOT") ;;
  esac
  out="$dir/platform_check"
  mkdir -p "$dir"
  if ! "${cxx[@]}" -std=c++20 -O2 -Wall -Wextra -Werror -I"$SRC" "$SRC/cross/platform_check.cpp" \
      -o "$out"; then
    SUMMARY[$arch.platform]="FAILED to compile (a static_assert?)"
    return 1
  fi
  # shellcheck disable=SC2046
  if $(emulator_for "$arch") "$out"; then
    SUMMARY[$arch.platform]="passed"
  else
    SUMMARY[$arch.platform]="FAILED"
    return 1
  fi
}

build_arch() {
  local arch="$1"
  local dir="$BUILD_ROOT/build-cross-$arch" t0 t1 rc=0
  log "$arch: platform check"
  platform_check "$arch" "$dir" || rc=1

  log "$arch: configure ($dir from $SRC)"
  t0=$(now)
  if [[ -f "$dir/CMakeCache.txt" ]] &&
     ! grep -qx "CMAKE_HOME_DIRECTORY:INTERNAL=$SRC" "$dir/CMakeCache.txt"; then
    rm -rf "$dir/CMakeCache.txt" "$dir/CMakeFiles"
  fi
  if ! cmake -S "$SRC" -B "$dir" -G Ninja \
      -DCMAKE_TOOLCHAIN_FILE="$SRC/cross/toolchain-$arch.cmake" \
      -DCMAKE_BUILD_TYPE=Release \
      -DSTREAMGATE_BUILD_TESTS=ON -DSTREAMGATE_BUILD_BENCH=OFF; then
    SUMMARY[$arch.build]="configure FAILED"
    return 1
  fi
  log "$arch: build (-j$JOBS)"
  if ! ninja -C "$dir" -j "$JOBS" "${TARGETS[@]}"; then
    t1=$(now); SUMMARY[$arch.build]="build FAILED after $((t1 - t0)) s"
    return 1
  fi
  t1=$(now)
  SUMMARY[$arch.build]="ok in $((t1 - t0)) s"

  if [[ $DO_DEB -eq 1 ]]; then
    if (cd "$dir" && cpack -G DEB); then
      SUMMARY[$arch.deb]="$(cd "$dir" && ls -1 ./*.deb 2>/dev/null | tr '\n' ' ')"
    else
      SUMMARY[$arch.deb]="cpack FAILED"; rc=1
    fi
  fi

  if [[ $DO_TESTS -eq 1 ]]; then
    log "$arch: ctest under $(emulator_for "$arch") (excluding labels: $EXCLUDE_LABELS)"
    t0=$(now)
    local logf="$dir/ctest-cross.log"
    local skip=()
    [[ ${#TARGETS[@]} -eq 0 ]] || skip=(-E '_NOT_BUILT$')
    ctest --test-dir "$dir" --timeout "$TEST_TIMEOUT" -LE "$EXCLUDE_LABELS" "${skip[@]}" \
        --output-on-failure -j "$JOBS" 2>&1 | tee "$logf" || true
    t1=$(now)
    local line
    line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$logf" | tail -1 || true)
    [[ -n "$line" ]] || line=$(grep -E 'No tests were found' "$logf" | tail -1 || true)
    SUMMARY[$arch.tests]="${line:-no ctest summary} ($((t1 - t0)) s)"
    grep -q 'tests passed, 0 tests failed' "$logf" || rc=1
  fi
  return $rc
}

if [[ $DO_SETUP -eq 1 ]]; then
  t_setup=$(now)
  setup_host
  for a in "${ARCHES[@]}"; do
    case "$a" in
      aarch64) setup_arm64 ;;
      armhf) setup_armhf ;;
      *) echo "cross/build.sh: unknown architecture '$a'" >&2; exit 2 ;;
    esac
  done
  log "setup done in $(( $(now) - t_setup )) s"
fi
[[ $DO_BUILD -eq 1 ]] || exit 0
[[ $DO_SNAPSHOT -eq 0 ]] || take_snapshot

overall=0
for a in "${ARCHES[@]}"; do
  t_arch=$(now)
  build_arch "$a" || overall=1
  SUMMARY[$a.total]="$(( $(now) - t_arch )) s"
done

log "summary"
for a in "${ARCHES[@]}"; do
  printf '%-8s platform check: %s\n' "$a" "${SUMMARY[$a.platform]:-not run}"
  printf '%-8s build:          %s\n' "$a" "${SUMMARY[$a.build]:-not run}"
  [[ $DO_DEB -eq 1 ]] && printf '%-8s deb:            %s\n' "$a" "${SUMMARY[$a.deb]:-not built}"
  [[ $DO_TESTS -eq 1 ]] && printf '%-8s tests:          %s\n' "$a" "${SUMMARY[$a.tests]:-not run}"
  printf '%-8s total:          %s\n' "$a" "${SUMMARY[$a.total]:-?}"
done
exit $overall
