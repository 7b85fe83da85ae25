#pragma once
namespace valise::cli {
int Main(int argc, char** argv);
}
