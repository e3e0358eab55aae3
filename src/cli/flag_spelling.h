// Every long flag of the recship command is accepted spelt with '_' or '-'
// between its words (--model_name or --model-name), as TensorFlow Serving's
// flags use '_' and most command lines '-'. `--help` shows one spelling.
#ifndef RECSHIP_SRC_CLI_FLAG_SPELLING_H_
#define RECSHIP_SRC_CLI_FLAG_SPELLING_H_

#include <string>
#include <vector>

#include "CLI/CLI.hpp"

namespace recship {

// `args` (argv without the program name) with each long flag that `app`
// (or the subcommand it names) does not know, but knows with '_' and '-'
// swapped, rewritten to the known spelling. Everything else is unchanged.
std::vector<std::string> NormalizeFlagSpellings(CLI::App& app, std::vector<std::string> args);

}  // namespace recship

#endif  // RECSHIP_SRC_CLI_FLAG_SPELLING_H_
