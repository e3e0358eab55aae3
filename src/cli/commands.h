// The subcommands of the recship binary. Each Add*Command registers one
// subcommand on the app; a failing command prints its error to stderr and
// throws CLI::RuntimeError with a non-zero exit code.
#ifndef RECSHIP_CLI_COMMANDS_H_
#define RECSHIP_CLI_COMMANDS_H_

#include <iostream>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace recship {

void AddInspectCommand(CLI::App& app);
void AddSynthCommand(CLI::App& app);
void AddExportCommand(CLI::App& app);
void AddWarmupCommand(CLI::App& app);
void AddServeCommand(CLI::App& app);
void AddPredictCommand(CLI::App& app);
void AddSyncCommand(CLI::App& app);
void AddVerifyCommand(CLI::App& app);
void AddDemoCommand(CLI::App& app);

// "90d", "12h", "30m", "3600s" or "3600" (seconds), as a duration; errors
// name `flag`.
absl::StatusOr<absl::Duration> ParseAge(const std::string& text, absl::string_view flag);

// Prints "recship <command>: <message>" to stderr and ends the command with
// exit status 1.
[[noreturn]] inline void Fail(absl::string_view command, absl::string_view message) {
  std::cerr << "recship " << command << ": " << message << "\n";
  throw CLI::RuntimeError(1);
}

[[noreturn]] inline void Fail(absl::string_view command, const absl::Status& status) {
  Fail(command, status.message());
}

}  // namespace recship

#endif  // RECSHIP_CLI_COMMANDS_H_
