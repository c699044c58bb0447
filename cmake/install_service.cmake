# Run by `cmake --install` (install(SCRIPT) in CMakeLists.txt), where CMAKE_INSTALL_PREFIX is the
# prefix given at install time. Writes the systemd unit with the paths of this install, and the
# default settings file and the environment profiles (config/*.toml; the unit runs prod) where
# Debian keeps configuration: /etc for the /usr prefix (as GNUInstallDirs does), PREFIX/etc
# otherwise. An existing settings file or profile is kept: it is the admin's.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(sysconfdir /etc)
else()
  set(sysconfdir ${CMAKE_INSTALL_PREFIX}/etc)
endif()
set(IMAGEFLEX_BINARY ${CMAKE_INSTALL_PREFIX}/${IMAGEFLEX_BINDIR}/imageflex)
set(IMAGEFLEX_ENV_FILE ${sysconfdir}/imageflex/imageflex.env)
set(IMAGEFLEX_DOC_DIR ${CMAKE_INSTALL_PREFIX}/${IMAGEFLEX_DOCDIR})
set(IMAGEFLEX_PROFILE_DIR ${sysconfdir}/imageflex)

set(unit_dir $ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}/lib/systemd/system)
message(STATUS "Installing: ${unit_dir}/imageflex.service")
configure_file(${IMAGEFLEX_SOURCE_DIR}/deploy/systemd/imageflex.service.in ${unit_dir}/imageflex.service @ONLY)
list(APPEND CMAKE_INSTALL_MANIFEST_FILES ${unit_dir}/imageflex.service)

foreach(source deploy/systemd/imageflex.env config/dev.toml config/staging.toml config/prod.toml)
  get_filename_component(name ${source} NAME)
  set(installed $ENV{DESTDIR}${IMAGEFLEX_PROFILE_DIR}/${name})
  if(EXISTS ${installed})
    message(STATUS "Keeping: ${installed}")
  else()
    file(INSTALL ${IMAGEFLEX_SOURCE_DIR}/${source} DESTINATION ${IMAGEFLEX_PROFILE_DIR})  # file(INSTALL) adds DESTDIR itself
  endif()
endforeach()
