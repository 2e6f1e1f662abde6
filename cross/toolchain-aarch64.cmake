# Cross toolchain for aarch64 (arm64) from an x86-64 Debian 12 host, using Debian multiarch:
# the target's -dev packages are installed as `:arm64` next to the host's (see cross/build.sh),
# so headers come from /usr/include and libraries from /usr/lib/aarch64-linux-gnu; no sysroot.
# The shared part (compilers, pkg-config, emulator, .deb) is cross/toolchain-common.cmake.
#
# libsimdjson-dev is not Multi-Arch: same (installing it for arm64 would remove the amd64 one
# that native builds need), so cross/build.sh unpacks the arm64 one into an overlay prefix
# (STREAMGATE_ARM64_OVERLAY) that is searched first.
#
# Emulated programs run with `qemu-aarch64 -L /`: the target's loader and glibc are the
# multiarch libc6:arm64 in /lib and /usr/lib/aarch64-linux-gnu. Do not use
# `-L /usr/aarch64-linux-gnu`: that mixes the cross toolchain's loader with libc6:arm64 and any
# program that starts a thread spins forever in pthread_create.
set(STREAMGATE_CROSS_PROCESSOR aarch64)
set(STREAMGATE_CROSS_TRIPLE aarch64-linux-gnu)
set(STREAMGATE_CROSS_DEB_ARCH arm64)
set(STREAMGATE_CROSS_QEMU qemu-aarch64)
set(STREAMGATE_CROSS_SYSROOT "")

if(DEFINED ENV{STREAMGATE_ARM64_OVERLAY})
  set(STREAMGATE_ARM64_OVERLAY "$ENV{STREAMGATE_ARM64_OVERLAY}")
else()
  set(STREAMGATE_ARM64_OVERLAY /opt/streamgate-sysroots/arm64-overlay)
endif()
list(PREPEND CMAKE_PREFIX_PATH "${STREAMGATE_ARM64_OVERLAY}/usr")
set(STREAMGATE_CROSS_PKG_CONFIG_FIRST
    "${STREAMGATE_ARM64_OVERLAY}/usr/lib/aarch64-linux-gnu/pkgconfig")

include("${CMAKE_CURRENT_LIST_DIR}/toolchain-common.cmake")
