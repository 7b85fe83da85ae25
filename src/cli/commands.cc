#include "cli/commands.h"
namespace valise::cli {
int Main(int, char**) { return 2; }
}
