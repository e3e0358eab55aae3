// When a table's rows were last updated, by the `-timestamps` tensors a
// trainer writes beside them (DESIGN.md, contract 1): the newest timestamp
// among the rows of a table's shards. A version records it for the tables
// it serves (assets.extra/recship_table_times.json, a file TensorFlow
// ignores), a delta's manifest for the tables it carries, so the next delta
// need only look at rows updated at or after it.
#ifndef RECSHIP_FORMAT_TABLE_TIMES_H_
#define RECSHIP_FORMAT_TABLE_TIMES_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "recship/format/tensor.h"

namespace recship {

// assets.extra/<this> in a version.
inline constexpr char kTableTimesFilename[] = "recship_table_times.json";

// Table name -> newest `-timestamps` of its rows (seconds, as the trainer
// wrote them).
using TableTimes = std::map<std::string, int64_t>;

// The version's table times; empty when it has none (an export of a
// checkpoint without timestamps, or by an older recship). Errors name the
// file when it exists but is not a table times file.
absl::StatusOr<TableTimes> ReadTableTimes(const std::string& version_dir);
absl::Status WriteTableTimes(const std::string& path, const TableTimes& times);

// The newest of `timestamps`' values (int64 tensors), or nullopt when they
// hold none.
std::optional<int64_t> NewestTimestamp(const std::vector<Tensor>& timestamps);

}  // namespace recship

#endif  // RECSHIP_FORMAT_TABLE_TIMES_H_
