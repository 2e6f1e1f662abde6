# Cross toolchain for 32-bit ARM hard-float (armhf, ARMv7) from an x86-64 Debian 12 host, with a
# Debian bookworm sysroot made by cross/build.sh (mmdebstrap --variant=extract; its absolute
# symlinks made relative). `dpkg --add-architecture armhf` is not used: it breaks apt-get
# update on these machines.
#
# Emulated programs run with `qemu-arm -L <sysroot>`. armhf has a 32-bit `long`: keep
# timestamps int64 (rules::TimeNs); cross/platform_check.cpp checks the atomics are lock-free.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR armv7l)
set(CMAKE_LIBRARY_ARCHITECTURE arm-linux-gnueabihf)

set(CMAKE_C_COMPILER arm-linux-gnueabihf-gcc)
set(CMAKE_CXX_COMPILER arm-linux-gnueabihf-g++)

if(DEFINED ENV{STREAMGATE_ARMHF_SYSROOT})
  set(STREAMGATE_ARMHF_SYSROOT "$ENV{STREAMGATE_ARMHF_SYSROOT}")
else()
  set(STREAMGATE_ARMHF_SYSROOT /opt/streamgate-sysroots/bookworm-armhf)
endif()
if(NOT EXISTS "${STREAMGATE_ARMHF_SYSROOT}/usr/include")
  message(FATAL_ERROR "armhf sysroot not found at ${STREAMGATE_ARMHF_SYSROOT}: run cross/build.sh "
                      "(or set STREAMGATE_ARMHF_SYSROOT)")
endif()
# GCC notes on every std::map iterator passed by value that its ARM ABI changed in GCC 7.1;
# everything here is built with GCC 12, so the note is noise.
set(CMAKE_CXX_FLAGS_INIT "-Wno-psabi")

set(CMAKE_SYSROOT "${STREAMGATE_ARMHF_SYSROOT}")
set(CMAKE_FIND_ROOT_PATH "${STREAMGATE_ARMHF_SYSROOT}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

set(ENV{PKG_CONFIG_SYSROOT_DIR} "${STREAMGATE_ARMHF_SYSROOT}")
set(ENV{PKG_CONFIG_LIBDIR}
    "${STREAMGATE_ARMHF_SYSROOT}/usr/lib/arm-linux-gnueabihf/pkgconfig:${STREAMGATE_ARMHF_SYSROOT}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

find_program(STREAMGATE_QEMU_ARM qemu-arm)
if(STREAMGATE_QEMU_ARM)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${STREAMGATE_QEMU_ARM};-L;${STREAMGATE_ARMHF_SYSROOT}")
endif()

set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE armhf)
