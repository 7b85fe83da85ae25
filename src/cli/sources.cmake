set(VALISE_CLI_SOURCES
  src/cli/cmd_keys.cc
  src/cli/cmd_manifest.cc
  src/cli/cmd_verify.cc
  src/cli/commands.cc
  src/cli/common.cc
  src/cli/flags.cc
)
