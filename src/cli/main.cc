// The recship command line: one subcommand per job.
#include <algorithm>
#include <exception>
#include <iostream>

#include "CLI/CLI.hpp"
#include "absl/synchronization/mutex.h"
#include "commands.h"
#include "flag_spelling.h"

int main(int argc, char** argv) {
  // Debian builds Abseil without NDEBUG, which checks lock order on every
  // Mutex::Lock through one global graph: a tenth of a busy entry's CPU. The
  // unit tests keep the check.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  CLI::App app{"recship: ship large recommendation models from training to serving"};
  app.name("recship");
  app.require_subcommand(1);
  recship::AddInspectCommand(app);
  recship::AddSynthCommand(app);
  recship::AddExportCommand(app);
  recship::AddWarmupCommand(app);
  recship::AddServeCommand(app);
  recship::AddPredictCommand(app);
  recship::AddSyncCommand(app);
  recship::AddVerifyCommand(app);
  recship::AddDemoCommand(app);
  std::vector<std::string> args = recship::NormalizeFlagSpellings(
      app, std::vector<std::string>(argv + std::min(argc, 1), argv + argc));
  // CLI11 takes the arguments last first.
  std::reverse(args.begin(), args.end());
  try {
    app.parse(args);
  } catch (const CLI::RequiredError& e) {
    // CLI11 checks required options before unknown ones, but a misspelt
    // option is the likelier cause of a missing one: name it first.
    for (const CLI::App* command : app.get_subcommands()) {
      if (!command->remaining().empty()) {
        return app.exit(CLI::ExtrasError(command->get_name(), command->remaining()));
      }
    }
    if (app.get_subcommands().empty() && !app.remaining().empty()) {
      std::vector<std::string> names;
      for (const CLI::App* command : app.get_subcommands({})) names.push_back(command->get_name());
      return app.exit(CLI::ExtrasError("unknown command '" + app.remaining().front() +
                                           "' (commands: " + CLI::detail::join(names, ", ") + ")",
                                       CLI::ExitCodes::ExtrasError));
    }
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    // Commands report expected failures as Status; this is a bug in recship.
    std::cerr << "recship: internal error: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
