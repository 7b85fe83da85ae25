# Packaging: a Debian package of valise (cpack -G DEB, or the `package`
# target), with the man page and the bash, zsh and fish completions. Those
# are build outputs, not committed files: the freshly built binary prints
# them from its one flag table (`valise help-man`, `valise completions
# bash|zsh|fish`, src/cli/cmd_docs.cc), so --help, the page and the
# completions cannot drift. `cmake --install` installs the same files as
# the package (share/man/man1/valise.1.gz, so `man valise` finds it under
# the prefix). Included by the top-level CMakeLists.txt, last.

set(VALISE_DOC_OUTPUTS
  ${CMAKE_BINARY_DIR}/valise.1
  ${CMAKE_BINARY_DIR}/valise.1.gz
  ${CMAKE_BINARY_DIR}/valise.bash-completion
  ${CMAKE_BINARY_DIR}/_valise
  ${CMAKE_BINARY_DIR}/valise.fish)
# gzip -n: no name or timestamp in the header, so the .gz (and the .deb)
# is the same for the same binary.
add_custom_command(OUTPUT ${VALISE_DOC_OUTPUTS}
  COMMAND sh -c "\"$1\" help-man >valise.1 && gzip -9 -n -c valise.1 >valise.1.gz && \"$1\" completions bash >valise.bash-completion && \"$1\" completions zsh >_valise && \"$1\" completions fish >valise.fish"
    sh $<TARGET_FILE:valise>
  DEPENDS valise
  WORKING_DIRECTORY ${CMAKE_BINARY_DIR}
  COMMENT "Generating the man page and shell completions from valise"
  VERBATIM)
add_custom_target(valise_docs ALL DEPENDS ${VALISE_DOC_OUTPUTS})

install(FILES ${CMAKE_BINARY_DIR}/valise.1.gz DESTINATION share/man/man1)
install(FILES ${CMAKE_BINARY_DIR}/valise.bash-completion
  DESTINATION share/bash-completion/completions RENAME valise)
install(FILES ${CMAKE_BINARY_DIR}/_valise
  DESTINATION share/zsh/vendor-completions)
install(FILES ${CMAKE_BINARY_DIR}/valise.fish
  DESTINATION share/fish/vendor_completions.d)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME valise)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "valise maintainers <valise@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "bulk disk ingest and verification against a signed manifest")
set(CPACK_PACKAGE_DESCRIPTION
  "valise verifies every file of drives shipped by hand against a signed
manifest and stages the data onto datacenter storage, reading all drives
at once (io_uring), resumably.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Depends from the binary's actual shared libraries (dpkg-shlibdeps, from
# dpkg-dev): liburing2, libxxhash0, libssl3, libisal2, libfmt9, libc6,
# libstdc++6, libgcc-s1, as ldd build/valise lists them.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The debug info of RelWithDebInfo stays in the build tree.
set(CPACK_STRIP_FILES ON)
include(CPack)
