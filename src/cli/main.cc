// valise: the executable. Parses the command line, runs one command, and
// turns its outcome into an exit status. The only place exceptions from
// CLI11's parser are caught.
#include "cli/commands.h"

int main(int argc, char** argv) { return valise::cli::Main(argc, argv); }
