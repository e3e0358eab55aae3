// The recship command line: one subcommand per job.
#include <exception>
#include <iostream>

#include "CLI/CLI.hpp"
#include "commands.h"

int main(int argc, char** argv) {
  CLI::App app{"recship: ship large recommendation models from training to serving"};
  app.require_subcommand(1);
  recship::cli::AddInspectCommand(app);
  recship::cli::AddSynthCommand(app);
  recship::cli::AddExportCommand(app);
  recship::cli::AddWarmupCommand(app);
  recship::cli::AddServeCommand(app);
  recship::cli::AddPredictCommand(app);
  recship::cli::AddDemoCommand(app);
  try {
    app.parse(argc, argv);
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
