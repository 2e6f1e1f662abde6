# The part of cross/toolchain-<arch>.cmake both architectures share: compilers, pkg-config, the
# qemu-user emulator that ctest and gtest discovery run target programs through, the .deb
# architecture. Included at the end of each toolchain file, which first sets:
#   STREAMGATE_CROSS_PROCESSOR  CMAKE_SYSTEM_PROCESSOR (aarch64, armv7l)
#   STREAMGATE_CROSS_TRIPLE     GNU triple: compiler prefix and multiarch folder (aarch64-linux-gnu)
#   STREAMGATE_CROSS_DEB_ARCH   Debian architecture of the .deb (arm64, armhf)
#   STREAMGATE_CROSS_QEMU       qemu-user program (qemu-aarch64, qemu-arm)
#   STREAMGATE_CROSS_SYSROOT    the target's root: a sysroot directory, or empty when the target's
#                               packages are installed on / through Debian multiarch
#   STREAMGATE_CROSS_PKG_CONFIG_FIRST  pkgconfig folders searched before the target's (optional)
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR ${STREAMGATE_CROSS_PROCESSOR})
set(CMAKE_LIBRARY_ARCHITECTURE ${STREAMGATE_CROSS_TRIPLE})

set(CMAKE_C_COMPILER ${STREAMGATE_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${STREAMGATE_CROSS_TRIPLE}-g++)

if(STREAMGATE_CROSS_SYSROOT)
  set(CMAKE_SYSROOT "${STREAMGATE_CROSS_SYSROOT}")
  set(CMAKE_FIND_ROOT_PATH "${STREAMGATE_CROSS_SYSROOT}")
  set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
  set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
  set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
  set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
  # pkg-config prefixes the -I/-L paths of the .pc files it finds with the sysroot.
  set(ENV{PKG_CONFIG_SYSROOT_DIR} "${STREAMGATE_CROSS_SYSROOT}")
endif()

# Only the target's pkgconfig folders: otherwise pkg-config answers with the host's (x86-64)
# libraries, e.g. the libcrypto FindOpenSSL asks for (Paho's CMake config needs OpenSSL).
set(_streamgate_pc "${STREAMGATE_CROSS_PKG_CONFIG_FIRST}")
list(APPEND _streamgate_pc
     "${STREAMGATE_CROSS_SYSROOT}/usr/lib/${STREAMGATE_CROSS_TRIPLE}/pkgconfig"
     "${STREAMGATE_CROSS_SYSROOT}/usr/share/pkgconfig")
string(REPLACE ";" ":" _streamgate_pc "${_streamgate_pc}")
set(ENV{PKG_CONFIG_LIBDIR} "${_streamgate_pc}")
set(ENV{PKG_CONFIG_PATH} "")

# qemu's -L (where the target's loader and glibc are): the sysroot, or / for multiarch, whose
# libc6:<arch> is on / (see toolchain-aarch64.cmake for why not the cross toolchain's folder).
string(TOUPPER "${STREAMGATE_CROSS_QEMU}" _streamgate_qemu_var)
string(REPLACE "-" "_" _streamgate_qemu_var "STREAMGATE_${_streamgate_qemu_var}")
find_program(${_streamgate_qemu_var} ${STREAMGATE_CROSS_QEMU})
if(${_streamgate_qemu_var})
  if(STREAMGATE_CROSS_SYSROOT)
    set(CMAKE_CROSSCOMPILING_EMULATOR "${${_streamgate_qemu_var}};-L;${STREAMGATE_CROSS_SYSROOT}")
  else()
    set(CMAKE_CROSSCOMPILING_EMULATOR "${${_streamgate_qemu_var}};-L;/")
  endif()
endif()

# For the .deb (cmake/packaging.cmake).
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE ${STREAMGATE_CROSS_DEB_ARCH})
