// Serving a distributed layout (<export_dir_base>/entry, ps_<i>, dense_<i>)
// from one `recship serve` process: `--layout_filter` chooses the sub-models,
// and LayoutModelServerConfig turns the chosen sub-folders into a
// ModelServerConfig.
//
// A filter is `PATTERN[; CONDITION]`:
//
//   PATTERN    a sub-model name in which `{i}` (at most once) stands for a
//              number: `entry`, `ps_{i}`, `dense_0`. Letters, digits and '_'.
//   CONDITION  (only with `{i}`) a boolean expression over i:
//     or    := and  { ("or" | "||") and }
//     and   := cmp  { ("and" | "&&") cmp }
//     cmp   := mod  [ ("==" | "!=" | "<" | "<=" | ">" | ">=") mod ]
//     mod   := atom { "%" atom }          (the right side: a constant > 0)
//     atom  := INTEGER | "i" | "(" or ")"  (at most 32 nested parentheses)
//
// Example: `ps_{i}; i % 2 == 0` matches ps_0, ps_2, ... Comparisons do not
// chain, numbers are not booleans, and `{i}` matches a number written without
// leading zeros.
#ifndef RECSHIP_SERVING_LAYOUT_FILTER_H_
#define RECSHIP_SERVING_LAYOUT_FILTER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "recship/format/sub_model.h"
#include "recship/tensorflow_serving/config/model_server_config.pb.h"

namespace recship {

// One parsed --layout_filter. Parse() either succeeds or returns an
// InvalidArgument that quotes the filter and gives the column and text of
// the bad token; it never throws and its recursion depth is bounded.
// Matches() is total (no error, no recursion) and the object is immutable,
// so it may be shared between threads.
class LayoutFilter {
 public:
  static constexpr int kMaxNesting = 32;

  static absl::StatusOr<LayoutFilter> Parse(absl::string_view text);

  // Whether the sub-model `name` (a sub-folder name such as "ps_3") matches.
  bool Matches(absl::string_view name) const;

  // The filter as given.
  const std::string& text() const { return text_; }

  // The condition compiled to a stack program (public only for the parser).
  struct Instruction {
    enum Op { kPush, kPushI, kMod, kEq, kNe, kLt, kLe, kGt, kGe, kAnd, kOr };
    Op op = kPush;
    int64_t value = 0;  // kPush only
  };

 private:
  LayoutFilter() = default;

  std::string text_;
  std::string prefix_;  // the pattern before {i}, or all of it
  std::string suffix_;  // the pattern after {i}
  bool has_number_ = false;
  std::vector<Instruction> condition_;  // empty: always true
};

// The sub-models of the layout under `base_path`: its sub-folders named
// entry, ps_<i> or dense_<i> (i without leading zeros), in that order, by i.
// Other entries are ignored. NotFound when base_path cannot be listed.
absl::StatusOr<std::vector<SubModel>> ListLayoutSubModels(const std::string& base_path);

// One ModelConfig (latest version) per sub-model of `base_path` that matches
// any of `filters` (every sub-model when `filters` is empty). InvalidArgument
// for an empty model name, NotFound when there is no sub-model or none
// matches; that message lists the sub-models found.
absl::StatusOr<tensorflow::serving::ModelServerConfig> LayoutModelServerConfig(
    const std::string& base_path, const std::string& model_name,
    const std::vector<LayoutFilter>& filters);

}  // namespace recship

#endif  // RECSHIP_SERVING_LAYOUT_FILTER_H_
