# The Debian package: install rules for everything but the binary (that
# one is in app/CMakeLists.txt) and CPack's DEB generator.
#   make package          builds presenced, then build/presenced_<version>_amd64.deb
# What goes where, and the maintainer scripts: packaging/README.md.
#
# The install rules describe the package: the unit and the config go to
# absolute paths (/lib/systemd/system, /etc/presenced) and the unit runs
# /usr/bin/presenced, so a plain `cmake --install` is only meant for
# staging (`--prefix /usr` with DESTDIR); install the .deb instead.

set(PRESENCE_PACKAGE_MAINTAINER "presenced maintainers <presenced@example.invalid>"
    CACHE STRING "Maintainer field of the Debian package (Name <email>)")
set(pkg_dir ${PROJECT_SOURCE_DIR}/packaging)
set(pkg_out ${PROJECT_BINARY_DIR}/packaging)
set(pkg_prefix /usr)

# The unit: deploy/presenced.service with the package's paths and its
# static user (adduser in postinst) instead of DynamicUser=yes, so the data
# stays in /var/lib/presenced owned by `presenced` and the config file is
# readable by that group.
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
             ${PROJECT_SOURCE_DIR}/deploy/presenced.service)
file(READ ${PROJECT_SOURCE_DIR}/deploy/presenced.service unit)
string(REPLACE
  "ExecStart=/usr/local/bin/presenced --data-dir /var/lib/presenced"
  "ExecStart=${pkg_prefix}/bin/presenced --config /etc/presenced/presenced.toml"
  unit "${unit}")
string(REPLACE "DynamicUser=yes" "User=presenced\nGroup=presenced" unit "${unit}")
# The data holds private messages: like postinst's mkdir, not world-readable.
string(REPLACE "StateDirectory=presenced" "StateDirectory=presenced\nStateDirectoryMode=0750"
  unit "${unit}")
string(REPLACE "EnvironmentFile=-/etc/presenced/presenced.env"
  "# Settings: /etc/presenced/presenced.toml. PRESENCE_* variables in this\n# optional file override it (example: /usr/share/doc/presenced/examples).\nEnvironmentFile=-/etc/presenced/presenced.env"
  unit "${unit}")
string(REPLACE "# Settings come from PRESENCE_* variables (see docs/operations.md).\n"
  "" unit "${unit}")
if(NOT unit MATCHES "ExecStart=/usr/bin/presenced --config"
   OR NOT unit MATCHES "User=presenced" OR unit MATCHES "DynamicUser"
   OR NOT unit MATCHES "StateDirectoryMode=0750")
  message(WARNING "packaging: deploy/presenced.service changed; update the "
                  "replacements in packaging/package.cmake (the package's "
                  "unit would be wrong)")
endif()
file(CONFIGURE OUTPUT ${pkg_out}/presenced.service CONTENT "${unit}" @ONLY)

# Debian wants the changelog and the man page gzipped with no timestamp.
set(pkg_date "")
find_package(Git QUIET)
if(GIT_FOUND AND EXISTS ${PROJECT_SOURCE_DIR}/.git)
  execute_process(COMMAND ${GIT_EXECUTABLE} log -1 --format=%cD
                  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
                  OUTPUT_VARIABLE pkg_date OUTPUT_STRIP_TRAILING_WHITESPACE
                  ERROR_QUIET)
endif()
if(NOT pkg_date)
  string(TIMESTAMP pkg_date "%a, %d %b %Y %H:%M:%S +0000" UTC)
endif()
configure_file(${pkg_dir}/changelog.in ${pkg_out}/changelog @ONLY)
configure_file(${pkg_dir}/presenced.8 ${pkg_out}/presenced.8 COPYONLY)
foreach(f changelog presenced.8)
  execute_process(COMMAND gzip -9nc ${pkg_out}/${f}
                  OUTPUT_FILE ${pkg_out}/${f}.gz COMMAND_ERROR_IS_FATAL ANY)
endforeach()

install(FILES ${pkg_out}/presenced.service DESTINATION /lib/systemd/system)
install(FILES ${pkg_dir}/presenced.toml DESTINATION /etc/presenced)
install(FILES ${pkg_dir}/copyright ${pkg_out}/changelog.gz
        DESTINATION share/doc/presenced)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/presenced.env
        DESTINATION share/doc/presenced/examples)
install(FILES ${pkg_out}/presenced.8.gz DESTINATION share/man/man8)

# cpack and `--target package` install only what is built (no `all` first:
# the suite's package test must not start a build); `make package` builds
# presenced before.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY TRUE)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME presenced)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${PRESENCE_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGING_INSTALL_PREFIX ${pkg_prefix})
set(CPACK_STRIP_FILES TRUE)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "real-time presence server")
# The summary is prepended to this (the control file's first line).
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
"presenced knows who is online, on which devices, with what status and
since when, pushes each change to the people who care within
milliseconds, and remembers when everyone was last seen (RocksDB). It
speaks WebSocket, Socket.IO v4 and REST, and runs alone or as a cluster.

This package runs it as a systemd service under the presenced system user,
with its settings in /etc/presenced/presenced.toml and its data in
/var/lib/presenced.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# The libraries the binary links, found by dpkg-shlibdeps; adduser for
# postinst (not essential in Debian 12; init-system-helpers is).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${pkg_dir}/conffiles ${pkg_dir}/postinst ${pkg_dir}/prerm ${pkg_dir}/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
include(CPack)
