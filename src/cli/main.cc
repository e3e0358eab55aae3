// The recship command line: one subcommand per job.
#include <iostream>

#include "CLI/CLI.hpp"
#include "commands.h"

int main(int argc, char** argv) {
  CLI::App app{"recship: ship large recommendation models from training to serving"};
  app.require_subcommand(1);
  recship::cli::AddInspectCommand(app);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
