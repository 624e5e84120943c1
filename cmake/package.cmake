# package.cmake: install rules and the Debian package (CPack's DEB generator).
#
#   cmake --build build && (cd build && cpack -G DEB)
#   -> build/mlgate_<version>-1_<arch>.deb
#
# The package holds /usr/bin/mlgate, the systemd unit (run as the system user
# mlgate, created by postinst through systemd-sysusers), /etc/mlgate/mlgate.json
# (a conffile), mlgate(1), bash completion, the examples and the Debian
# copyright and changelog. Its library dependencies are computed from the
# binary by dpkg-shlibdeps. Packaging does not rebuild anything
# (CMAKE_SKIP_INSTALL_ALL_DEPENDENCY): build first, so the package test can
# reuse the binary the other tests use.
#
# The unit and the default config name /usr/bin/mlgate and /etc/mlgate, the
# package's paths; `cmake --install build --prefix /usr` installs the same
# layout without a package.

set(MLGATE_DEB_RELEASE 1)
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

# The Debian changelog's newest entry must be this version.
file(STRINGS ${PROJECT_SOURCE_DIR}/packaging/deb/changelog MLGATE_CHANGELOG_TOP LIMIT_COUNT 1)
if(NOT MLGATE_CHANGELOG_TOP MATCHES "^mlgate \\(${PROJECT_VERSION}-${MLGATE_DEB_RELEASE}\\) ")
  message(FATAL_ERROR "packaging/deb/changelog starts with '${MLGATE_CHANGELOG_TOP}'; "
                      "add an entry for ${PROJECT_VERSION}-${MLGATE_DEB_RELEASE}")
endif()

# mlgate(1), whose serve options come from the built binary's --help, and
# the changelog, both compressed as Debian wants (gzip -9n).
set(MLGATE_MAN ${PROJECT_BINARY_DIR}/packaging/mlgate.1)
set(MLGATE_CHANGELOG_GZ ${PROJECT_BINARY_DIR}/packaging/changelog.Debian.gz)
file(MAKE_DIRECTORY ${PROJECT_BINARY_DIR}/packaging)
add_custom_command(
  OUTPUT ${MLGATE_MAN} ${MLGATE_MAN}.gz
  COMMAND sh ${PROJECT_SOURCE_DIR}/packaging/gen_man.sh $<TARGET_FILE:mlgate>
          ${PROJECT_SOURCE_DIR}/packaging/mlgate.1.in ${MLGATE_MAN} ${PROJECT_VERSION}
  DEPENDS mlgate ${PROJECT_SOURCE_DIR}/packaging/mlgate.1.in ${PROJECT_SOURCE_DIR}/packaging/gen_man.sh
  COMMENT "Generating mlgate(1)"
  VERBATIM)
add_custom_command(
  OUTPUT ${MLGATE_CHANGELOG_GZ}
  COMMAND sh -c "gzip -9n -c \"$0\" > \"$1\"" ${PROJECT_SOURCE_DIR}/packaging/deb/changelog
          ${MLGATE_CHANGELOG_GZ}
  DEPENDS ${PROJECT_SOURCE_DIR}/packaging/deb/changelog
  VERBATIM)
add_custom_target(mlgate_man ALL DEPENDS ${MLGATE_MAN}.gz ${MLGATE_CHANGELOG_GZ})

install(TARGETS mlgate RUNTIME DESTINATION bin)
# Debian 12's place for units (dh_installsystemd's, and lintian's).
install(FILES packaging/mlgate.service packaging/mlgate@.service DESTINATION /lib/systemd/system)
install(FILES packaging/mlgate.json DESTINATION /etc/mlgate)
install(FILES packaging/sysusers.conf DESTINATION lib/sysusers.d RENAME mlgate.conf)
install(FILES packaging/tmpfiles.conf DESTINATION lib/tmpfiles.d RENAME mlgate.conf)
install(FILES ${MLGATE_MAN}.gz DESTINATION share/man/man1)
install(FILES packaging/mlgate.bash-completion DESTINATION share/bash-completion/completions
        RENAME mlgate)
install(FILES packaging/deb/copyright ${MLGATE_CHANGELOG_GZ} DESTINATION share/doc/mlgate)
install(FILES examples/client.py examples/client.mjs DESTINATION share/doc/mlgate/examples)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME mlgate)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "mlgate developers <dev@mlgate.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "machine-learning model behind a secure HTTP job API")
# The summary above is the first line; this is the extended description.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "mlgate serves a model (VADER sentiment, built in, or a program of your own)
behind an asynchronous HTTP job API: hashed, rotatable API keys, exact rate
limits per address and per key that survive a restart, and jobs that are on
disk before the client hears 202. All state is one SQLite file.
.
This package runs it as a sandboxed systemd service under the system user
mlgate, configured by /etc/mlgate/mlgate.json.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE ${MLGATE_DEB_RELEASE})
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# postinst creates the user and its directory with these two tools.
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "systemd | systemd-standalone-sysusers, systemd | systemd-standalone-tmpfiles")
# libpq is loaded only for --database postgresql:// (src/pg_api.hpp), so
# dpkg-shlibdeps does not see it: recommended, not required.
if(MLGATE_POSTGRES)
  set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "libpq5")
endif()
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/deb/postinst ${PROJECT_SOURCE_DIR}/packaging/deb/prerm
    ${PROJECT_SOURCE_DIR}/packaging/deb/postrm ${PROJECT_SOURCE_DIR}/packaging/deb/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
set(CPACK_STRIP_FILES ON)
set(CPACK_PRE_BUILD_SCRIPTS ${PROJECT_SOURCE_DIR}/cmake/deb_prebuild.cmake)
include(CPack)
