# Cross toolchain for 32-bit ARM hard-float (armhf, ARMv7) from an x86-64 Debian 12 host, with a
# Debian bookworm sysroot made by cross/build.sh (mmdebstrap --variant=extract; its absolute
# symlinks made relative). `dpkg --add-architecture armhf` is not used: it breaks apt-get
# update on these machines. The shared part (compilers, sysroot search modes, pkg-config,
# emulator, .deb) is cross/toolchain-common.cmake.
#
# Emulated programs run with `qemu-arm -L <sysroot>`. armhf has a 32-bit `long`: keep
# timestamps int64 (rules::TimeNs); cross/platform_check.cpp checks the atomics are lock-free.
set(STREAMGATE_CROSS_PROCESSOR armv7l)
set(STREAMGATE_CROSS_TRIPLE arm-linux-gnueabihf)
set(STREAMGATE_CROSS_DEB_ARCH armhf)
set(STREAMGATE_CROSS_QEMU qemu-arm)

if(DEFINED ENV{STREAMGATE_ARMHF_SYSROOT})
  set(STREAMGATE_ARMHF_SYSROOT "$ENV{STREAMGATE_ARMHF_SYSROOT}")
else()
  set(STREAMGATE_ARMHF_SYSROOT /opt/streamgate-sysroots/bookworm-armhf)
endif()
if(NOT EXISTS "${STREAMGATE_ARMHF_SYSROOT}/usr/include")
  message(FATAL_ERROR "armhf sysroot not found at ${STREAMGATE_ARMHF_SYSROOT}: run cross/build.sh "
                      "(or set STREAMGATE_ARMHF_SYSROOT)")
endif()
set(STREAMGATE_CROSS_SYSROOT "${STREAMGATE_ARMHF_SYSROOT}")

# GCC notes on every std::map iterator passed by value that its ARM ABI changed in GCC 7.1;
# everything here is built with GCC 12, so the note is noise.
set(CMAKE_CXX_FLAGS_INIT "-Wno-psabi")

include("${CMAKE_CURRENT_LIST_DIR}/toolchain-common.cmake")
