# Cross toolchain for aarch64 (arm64) from an x86-64 Debian 12 host, using Debian multiarch:
# the target's -dev packages are installed as `:arm64` next to the host's (see cross/build.sh),
# so headers come from /usr/include and libraries from /usr/lib/aarch64-linux-gnu; no sysroot.
#
# libsimdjson-dev is not Multi-Arch: same (installing it for arm64 would remove the amd64 one
# that native builds need), so cross/build.sh unpacks the arm64 one into an overlay prefix
# (STREAMGATE_ARM64_OVERLAY) that is searched first.
#
# Emulated programs run with `qemu-aarch64 -L /`: the target's loader and glibc are the
# multiarch libc6:arm64 in /lib and /usr/lib/aarch64-linux-gnu. Do not use
# `-L /usr/aarch64-linux-gnu`: that mixes the cross toolchain's loader with libc6:arm64 and any
# program that starts a thread spins forever in pthread_create.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

if(DEFINED ENV{STREAMGATE_ARM64_OVERLAY})
  set(STREAMGATE_ARM64_OVERLAY "$ENV{STREAMGATE_ARM64_OVERLAY}")
else()
  set(STREAMGATE_ARM64_OVERLAY /opt/streamgate-sysroots/arm64-overlay)
endif()
list(PREPEND CMAKE_PREFIX_PATH "${STREAMGATE_ARM64_OVERLAY}/usr")

# Without this, FindOpenSSL (needed by Paho's CMake config) asks pkg-config, which answers with
# the x86-64 libcrypto.
set(ENV{PKG_CONFIG_LIBDIR}
    "${STREAMGATE_ARM64_OVERLAY}/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

find_program(STREAMGATE_QEMU_AARCH64 qemu-aarch64)
if(STREAMGATE_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${STREAMGATE_QEMU_AARCH64};-L;/")
endif()

# For the .deb (cmake/packaging.cmake).
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE arm64)
