# Install rules and the Debian package: binaries, the systemd unit, the default config, man pages
# and the operator docs; `cpack -G DEB` in a build directory builds memshield_<ver>_<arch>.deb.
include(GNUInstallDirs)

foreach(tool memshield memshield-audit memshield-udp-client)
  if(TARGET ${tool})
    install(TARGETS ${tool} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  endif()
endforeach()

# The unit and config go where Debian expects them whatever the install prefix (/usr for the
# package): systemd reads units from /lib/systemd/system, and the unit reads /etc/memshield.conf.
install(FILES ${CMAKE_SOURCE_DIR}/packaging/memshield.service DESTINATION lib/systemd/system)
install(FILES ${CMAKE_SOURCE_DIR}/packaging/memshield.conf DESTINATION /etc)

# Man pages are installed gzipped (Debian policy 12.1), -n so the archive carries no timestamp
# and the package builds the same twice.
file(GLOB memshield_man_pages ${CMAKE_SOURCE_DIR}/docs/man/*.1)
find_program(GZIP_PROGRAM gzip REQUIRED)
set(memshield_man_gz)
foreach(page ${memshield_man_pages})
  get_filename_component(name ${page} NAME)
  set(gz ${CMAKE_BINARY_DIR}/man/${name}.gz)
  add_custom_command(OUTPUT ${gz}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
    COMMAND ${GZIP_PROGRAM} -9nc ${page} > ${gz}
    DEPENDS ${page} VERBATIM)
  list(APPEND memshield_man_gz ${gz})
endforeach()
add_custom_target(man_pages ALL DEPENDS ${memshield_man_gz})
install(FILES ${memshield_man_gz} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
file(GLOB memshield_docs ${CMAKE_SOURCE_DIR}/docs/*.md)
install(FILES ${CMAKE_SOURCE_DIR}/README.md ${memshield_docs}
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(CPACK_PACKAGE_NAME memshield)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "memshield maintainers <maintainers@memshield.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "memcached-compatible memory object cache that cannot be used as a DDoS reflector")
set(CPACK_PACKAGE_DESCRIPTION
    "memshield is a drop-in replacement for memcached 1.6: same text protocol, same flags, same
stats. It listens on loopback unless told otherwise, keeps UDP off by default, and when UDP is
on it never answers an unvalidated source with more bytes than it sent, so it cannot be used
to amplify a denial-of-service attack. Includes memshield-audit, which checks memcached servers
for reflection exposure.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_GENERATOR DEB)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${CPACK_PACKAGE_CONTACT}")
set(CPACK_DEBIAN_PACKAGE_SECTION web)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libssl3, libxxhash0, libc6, libstdc++6")
if(SECCOMP_FOUND)  # --seccomp (-o drop_privileges)
  string(APPEND CPACK_DEBIAN_PACKAGE_DEPENDS ", libseccomp2")
endif()
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "systemd")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# /etc/memshield.conf is an operator-edited file: dpkg must not overwrite local changes.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
file(WRITE ${CMAKE_BINARY_DIR}/packaging/conffiles "/etc/memshield.conf\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${CMAKE_BINARY_DIR}/packaging/conffiles)
include(CPack)
