// The names of a distributed export's sub-models (contract 2 of DESIGN.md),
// in one place for every layer:
//
//   entry     the dense network; served as "<model>"
//   ps_<i>    parameter-server shard i of every table; served as "<model>:ps_<i>"
//   dense_<i> the dense network moved to a GPU server; "<model>:dense_<i>"
//
// A standalone export has one sub-model, `standalone`, whose folder is the
// export base itself. Each sub-model of a distributed export lives in the
// folder <export_dir_base>/<name>/<version>/. An index is written without
// leading zeros, so every sub-model has exactly one name.
#ifndef RECSHIP_FORMAT_SUB_MODEL_H_
#define RECSHIP_FORMAT_SUB_MODEL_H_

#include <compare>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>

#include "absl/strings/string_view.h"

namespace recship {

// The signatures a ps_<i> sub-model serves: `lookup` (rows of ids, per table)
// and `hashtable_assign` (overwrite rows, for live updates); a dense_<i>
// sub-model serves `gpu_remote_call`.
inline constexpr char kLookupSignature[] = "lookup";
inline constexpr char kAssignSignature[] = "hashtable_assign";
inline constexpr char kGpuRemoteCallSignature[] = "gpu_remote_call";

class SubModel {
 public:
  // In publishing order: shards before the dense part, both before the
  // entry that calls them. Comparison sorts by kind, then index.
  enum class Kind { kStandalone, kPs, kDense, kEntry };

  static SubModel Standalone() { return SubModel(Kind::kStandalone, 0); }
  static SubModel Entry() { return SubModel(Kind::kEntry, 0); }
  static SubModel Ps(int64_t shard) { return SubModel(Kind::kPs, shard); }
  static SubModel Dense(int64_t index = 0) { return SubModel(Kind::kDense, index); }

  // "entry", "ps_3", "dense_0" (or "standalone"); nullopt for anything
  // else, including "ps_03", "ps_-1" and an index that overflows int64.
  static std::optional<SubModel> Parse(absl::string_view name);

  Kind kind() const { return kind_; }
  // The shard or dense index; 0 for entry and standalone.
  int64_t index() const { return index_; }
  bool is_entry() const { return kind_ == Kind::kEntry; }
  bool is_ps() const { return kind_ == Kind::kPs; }
  bool is_dense() const { return kind_ == Kind::kDense; }
  bool is_standalone() const { return kind_ == Kind::kStandalone; }

  // "entry", "ps_3", "dense_0", "standalone": also the folder name under the
  // export base (a standalone export has no such folder).
  std::string name() const;

  // The name a model server serves this sub-model of `model` under, and the
  // name an entry's remote calls ask for: `model` for entry and standalone,
  // else "<model>:<name>".
  std::string ServedName(absl::string_view model) const;

  auto operator<=>(const SubModel&) const = default;
  // Prints name(), for logs and test failures.
  friend std::ostream& operator<<(std::ostream& os, const SubModel& sub) {
    return os << sub.name();
  }

 private:
  SubModel(Kind kind, int64_t index) : kind_(kind), index_(index) {}
  Kind kind_;
  int64_t index_;
};

// An index as a sub-model name writes it: digits, no sign, no leading zero,
// within int64. nullopt otherwise.
std::optional<int64_t> ParseSubModelIndex(absl::string_view digits);

// A served name split at its last ':': "ctr:ps_3" -> {"ctr", ps_3}. A name
// without ':' is the model itself ("ctr" -> {"ctr", entry}). nullopt when
// the part after the ':' is no sub-model name.
struct ServedSubModel {
  std::string model;
  SubModel sub_model;
};
std::optional<ServedSubModel> ParseServedName(absl::string_view served_name);

}  // namespace recship

#endif  // RECSHIP_FORMAT_SUB_MODEL_H_
