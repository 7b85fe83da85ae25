set(VALISE_CLI_SOURCES
  src/cli/commands.cc
)
