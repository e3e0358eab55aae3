#include "flag_spelling.h"

#include <algorithm>
#include <set>

namespace recship {
namespace {

// The long names of `app`'s options, without the leading "--".
std::set<std::string> LongNames(const CLI::App& app) {
  std::set<std::string> names;
  for (const CLI::Option* option : app.get_options()) {
    for (const std::string& name : option->get_lnames()) names.insert(name);
  }
  return names;
}

std::string SwapSeparators(std::string name) {
  for (char& c : name) {
    if (c == '_') {
      c = '-';
    } else if (c == '-') {
      c = '_';
    }
  }
  return name;
}

// The subcommand `args` names (its first word that is one), or `app`.
const CLI::App* NamedCommand(CLI::App& app, const std::vector<std::string>& args) {
  for (const std::string& arg : args) {
    for (const CLI::App* command : app.get_subcommands({})) {
      if (command->get_name() == arg) return command;
    }
  }
  return &app;
}

}  // namespace

std::vector<std::string> NormalizeFlagSpellings(CLI::App& app, std::vector<std::string> args) {
  std::set<std::string> known = LongNames(*NamedCommand(app, args));
  for (std::string& arg : args) {
    if (arg == "--") break;  // What follows is not a flag.
    if (arg.size() <= 2 || arg.compare(0, 2, "--") != 0) continue;
    size_t end = std::min(arg.find('='), arg.size());
    std::string name = arg.substr(2, end - 2);
    std::string swapped = SwapSeparators(name);
    if (!known.contains(name) && known.contains(swapped)) {
      arg = "--" + swapped + arg.substr(end);
    }
  }
  return args;
}

}  // namespace recship
