// The subcommands of the recship binary. Each Add*Command registers one
// subcommand on the app; a failing command prints its error to stderr and
// throws CLI::RuntimeError with a non-zero exit code.
#ifndef RECSHIP_CLI_COMMANDS_H_
#define RECSHIP_CLI_COMMANDS_H_

#include "CLI/CLI.hpp"

namespace recship::cli {

void AddInspectCommand(CLI::App& app);
void AddSynthCommand(CLI::App& app);
void AddExportCommand(CLI::App& app);
void AddWarmupCommand(CLI::App& app);
void AddServeCommand(CLI::App& app);
void AddPredictCommand(CLI::App& app);
void AddDemoCommand(CLI::App& app);

}  // namespace recship::cli

#endif  // RECSHIP_CLI_COMMANDS_H_
