# cmake/packaging.cmake: where `cmake --install` puts things and the Debian package built from
# that (`cpack -G DEB` in a build directory: streamgate_<version>_<arch>.deb, one per target
# architecture; the cross toolchain files in cross/ name their architecture).
#
# Included from the top-level CMakeLists.txt after the add_subdirectory() calls. The binary's
# own install rule (to bin/) lives with its target in gateway/CMakeLists.txt.
#
# The package installs:
#   /usr/bin/streamgate
#   /etc/streamgate/streamgate.conf            conffile
#   /etc/streamgate/rules.d/*.sql              conffiles (the example rules in etc/rules.d)
#   /lib/systemd/system/streamgate.service     not enabled on install (see cmake/debian/postinst)
#   /usr/share/doc/streamgate/                 README.md, licence, docs/*.md (README's links stay valid)
include_guard(GLOBAL)
include(GNUInstallDirs)

set(STREAMGATE_INSTALL_CONFDIR "/etc/streamgate" CACHE PATH
    "Where streamgate.conf and rules.d/ are installed (absolute: the unit and the defaults use it)")
set(STREAMGATE_INSTALL_UNITDIR "/lib/systemd/system" CACHE PATH
    "Where the systemd unit is installed")

# ---- install rules ----------------------------------------------------------------------------
set(_sg_conffiles "")
if(EXISTS ${PROJECT_SOURCE_DIR}/etc/streamgate.conf)
  install(FILES ${PROJECT_SOURCE_DIR}/etc/streamgate.conf
          DESTINATION ${STREAMGATE_INSTALL_CONFDIR}
          PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
  list(APPEND _sg_conffiles ${STREAMGATE_INSTALL_CONFDIR}/streamgate.conf)
endif()

# The rules directory is installed even when empty: the gateway watches it with inotify.
install(DIRECTORY DESTINATION ${STREAMGATE_INSTALL_CONFDIR}/rules.d)
file(GLOB _sg_rules CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/etc/rules.d/*.sql)
list(SORT _sg_rules)
if(_sg_rules)
  install(FILES ${_sg_rules}
          DESTINATION ${STREAMGATE_INSTALL_CONFDIR}/rules.d
          PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
  foreach(_sg_rule IN LISTS _sg_rules)
    get_filename_component(_sg_name ${_sg_rule} NAME)
    list(APPEND _sg_conffiles ${STREAMGATE_INSTALL_CONFDIR}/rules.d/${_sg_name})
  endforeach()
endif()

install(FILES ${PROJECT_SOURCE_DIR}/systemd/streamgate.service
        DESTINATION ${STREAMGATE_INSTALL_UNITDIR}
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

foreach(_sg_doc README.md LICENSE LICENSE.md LICENSE.txt COPYING)
  if(EXISTS ${PROJECT_SOURCE_DIR}/${_sg_doc})
    install(FILES ${PROJECT_SOURCE_DIR}/${_sg_doc} DESTINATION ${CMAKE_INSTALL_DOCDIR})
  endif()
endforeach()
file(GLOB _sg_docs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/*.md)
if(_sg_docs)
  install(FILES ${_sg_docs} DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs)
endif()

# ---- Debian package ---------------------------------------------------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME streamgate)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "streamgate")
set(CPACK_PACKAGE_CONTACT "streamgate maintainers <streamgate@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "MQTT edge gateway running streaming SQL rules")
set(CPACK_PACKAGE_DESCRIPTION
    "streamgate subscribes to MQTT topics, runs streaming SQL rules over the messages (filters, "
    "windows, aggregates, patterns, alerts) and publishes results and alerts back to MQTT. "
    "Rule state is checkpointed in SQLite so a restart resumes where it stopped.")
string(JOIN "" CPACK_PACKAGE_DESCRIPTION ${CPACK_PACKAGE_DESCRIPTION})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # streamgate_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "mosquitto, mosquitto-clients")
# /etc and /lib/systemd/system are absolute destinations; DESTDIR staging puts them inside the
# package instead of on the build machine. With it, CPACK_INSTALL_PREFIX (not
# CMAKE_INSTALL_PREFIX, which stays /usr/local for `cmake --install`) places bin/ and share/.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)

# Architecture: the toolchain file's when cross-compiling (cross/toolchain-*.cmake set it),
# otherwise this machine's dpkg architecture.
if(NOT CPACK_DEBIAN_PACKAGE_ARCHITECTURE)
  if(CMAKE_CROSSCOMPILING)
    if(CMAKE_LIBRARY_ARCHITECTURE STREQUAL "aarch64-linux-gnu")
      set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE arm64)
    elseif(CMAKE_LIBRARY_ARCHITECTURE STREQUAL "arm-linux-gnueabihf")
      set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE armhf)
    endif()
  else()
    find_program(STREAMGATE_DPKG dpkg)
    if(STREAMGATE_DPKG)
      execute_process(COMMAND ${STREAMGATE_DPKG} --print-architecture
                      OUTPUT_VARIABLE CPACK_DEBIAN_PACKAGE_ARCHITECTURE
                      OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    endif()
  endif()
endif()

# Dependencies: dpkg-shlibdeps reads them off the binary where it can see the target's
# libraries in the dpkg database (native builds and the arm64 multiarch cross build). In an
# mmdebstrap sysroot (armhf) it cannot, so the list is given; it is what dpkg-shlibdeps
# produced for the amd64 build on Debian 12, minus versions that differ per architecture.
option(STREAMGATE_DEB_SHLIBDEPS "Compute the .deb's Depends with dpkg-shlibdeps" ON)
if(CMAKE_SYSROOT)
  set(STREAMGATE_DEB_SHLIBDEPS OFF)
endif()
if(STREAMGATE_DEB_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
else()
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS OFF)
  set(CPACK_DEBIAN_PACKAGE_DEPENDS
      "libc6 (>= 2.34), libgcc-s1 (>= 3.0), libstdc++6 (>= 12), libboost-program-options1.74.0, "
      "libfmt9 (>= 9.1.0), libpaho-mqtt1.3 (>= 1.3.12), libpaho-mqttpp3-1 (>= 1.2.0), "
      "libsimdjson14 (>= 3.0.1), libspdlog1.10 (>= 1:1.10.0), libsqlite3-0 (>= 3.37.2), "
      "libcpp-httplib0.11 (>= 0.11.4)")
  string(JOIN "" CPACK_DEBIAN_PACKAGE_DEPENDS ${CPACK_DEBIAN_PACKAGE_DEPENDS})
  # Cluster mode links libnats when the build found it (gateway/CMakeLists.txt).
  if(STREAMGATE_HAVE_CLUSTER)
    string(APPEND CPACK_DEBIAN_PACKAGE_DEPENDS ", libnats3.4 (>= 3.4.1)")
  endif()
endif()

# conffiles (dpkg keeps an administrator's edits on upgrade) and the maintainer scripts.
set(_sg_debian_dir ${PROJECT_BINARY_DIR}/debian)
file(MAKE_DIRECTORY ${_sg_debian_dir})
list(JOIN _sg_conffiles "\n" _sg_conffiles_text)
if(_sg_conffiles_text)
  string(APPEND _sg_conffiles_text "\n")
endif()
file(CONFIGURE OUTPUT ${_sg_debian_dir}/conffiles CONTENT "${_sg_conffiles_text}" @ONLY)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/cmake/debian/postinst
    ${PROJECT_SOURCE_DIR}/cmake/debian/prerm
    ${PROJECT_SOURCE_DIR}/cmake/debian/postrm)
if(_sg_conffiles)
  list(APPEND CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${_sg_debian_dir}/conffiles)
endif()
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)

include(CPack)
