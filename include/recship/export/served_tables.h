// What one sub-model serves of its embedding tables, tracked as its rows
// change: the rows of a published version (<sub_base>/<version>/, mapped,
// found through its table index file or an index built here), under those
// of the deltas published for it (format/delta.h) and of any changes
// recorded since (Record, e.g. rows pushed to running servers).
//
// Diff gives the changes that bring what is served to a checkpoint's rows of
// the same table shards: every id whose row differs byte for byte (new ids
// included) and every served id the checkpoint no longer has. A table the
// version compresses (format/embedding_dtype.h) is compared, and its changes
// given, as the version stores it: the checkpoint's rows encoded alike. Memory is an
// index of the checkpoint's ids while Diff runs (20 bytes each) plus the
// rows changed since the version, never a copy of a table.
#ifndef RECSHIP_EXPORT_SERVED_TABLES_H_
#define RECSHIP_EXPORT_SERVED_TABLES_H_

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "recship/format/tensor.h"
#include "recship/model/checkpoint.h"

namespace recship {

class ServedTables {
 public:
  struct TableChanges {
    std::vector<int64_t> keys;  // Inserted or changed.
    std::string rows;           // Their rows, one after another.
    std::vector<int64_t> deleted;
    // From the checkpoint's -timestamps, when it has them: the newest of the
    // table's rows, and the oldest and newest of the rows changed.
    std::optional<int64_t> updated_through;
    std::optional<int64_t> rows_updated_from, rows_updated_to;

    void NoteRowUpdated(int64_t timestamp) {
      rows_updated_from = rows_updated_from ? std::min(*rows_updated_from, timestamp) : timestamp;
      rows_updated_to = rows_updated_to ? std::max(*rows_updated_to, timestamp) : timestamp;
    }
  };
  using Changes = std::map<std::string, TableChanges>;  // By table name.

  // The version's tables with its published deltas applied; those must run
  // 1, 2, ... without a gap. Errors name the folder or tensor at fault.
  static absl::StatusOr<std::unique_ptr<ServedTables>> Open(const std::string& sub_base,
                                                            int64_t version);
  ~ServedTables();

  int64_t version() const { return version_; }
  // How many published deltas Open applied.
  int64_t deltas_applied() const { return deltas_applied_; }
  std::vector<std::string> tables() const;
  // A table's row dtype and shape, for tensors of its rows.
  DataType dtype(const std::string& table) const;
  const TensorShape& row_shape(const std::string& table) const;

  // The changes that bring what is served to `checkpoint`'s rows. Where the
  // checkpoint has -timestamps, rows in place and updated before
  // `since_time` (by default: before the newest timestamp of what is served,
  // from the version's table times and its deltas) are taken as served and
  // not read; with `since_time`, a table without timestamps is an error
  // naming it.
  absl::StatusOr<Changes> Diff(const CheckpointReader& checkpoint,
                               std::optional<int64_t> since_time = std::nullopt) const;
  // Records changes as served.
  void Record(const Changes& changes);
  // Every change recorded since the version (deltas included): what a server
  // that reloaded the version without them needs again.
  Changes SinceVersion() const;

  // The rows of `changes` for `table` as a tensor [n, row_shape...].
  absl::StatusOr<Tensor> RowsTensor(const std::string& table, const TableChanges& changes) const;

 private:
  class Table;
  ServedTables() = default;

  int64_t version_ = 0;
  int64_t deltas_applied_ = 0;
  std::map<std::string, std::unique_ptr<Table>> tables_;
};

}  // namespace recship

#endif  // RECSHIP_EXPORT_SERVED_TABLES_H_
