// Rewriting a checkpoint's tables at export (private to export/), for
// re-sharding, filtering and compressing.
//
// Re-sharding: the number of serving shards is an export choice, not a
// training fact. A table's rows are routed as the entry routes ids, the row
// of id x to shard floor_mod(x, n), whatever shard of the checkpoint holds
// it: a checkpoint of any number of shards, routed by floor_mod or not,
// serves on n shards.
//
// Filtering: rows of ids seen less often than a minimum frequency (-freqs)
// or not updated since a time (-timestamps) are left out, and serve as
// unseen ids.
#ifndef RECSHIP_SRC_EXPORT_TABLE_REWRITER_H_
#define RECSHIP_SRC_EXPORT_TABLE_REWRITER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "recship/core/staged_directory.h"
#include "recship/export/export_options.h"
#include "recship/format/embedding_dtype.h"
#include "recship/model/checkpoint.h"

namespace recship {

// Table name -> the number of shards it is served on.
using ShardCounts = std::map<std::string, int>;

// The tables of `checkpoint` among `shards` whose rows are not already where
// the serving shards want them: their checkpoint shards are not exactly
// 0 .. n-1, or some shard holds an id routed elsewhere. Reads every key.
absl::StatusOr<std::vector<std::string>> TablesToReshard(const CheckpointReader& checkpoint,
                                                         const ShardCounts& shards);

// Which rows to keep.
struct RowFilter {
  std::optional<int64_t> min_frequency;  // -freqs >= this.
  std::optional<int64_t> min_timestamp;  // -timestamps >= this.
  bool active() const { return min_frequency || min_timestamp; }
};

// How RewriteTables rewrites the rows it keeps.
struct RewriteOptions {
  RowFilter filter;
  // Values are encoded so (format/embedding_dtype.h); float32 copies them.
  EmbeddingDtype encoding = EmbeddingDtype::kFloat32;
};

// The filter of ExportOptions for `checkpoint`: --max-age counts back from
// the newest -timestamps of any table of `tables` (the checkpoint's time by
// its trainer's clock). Errors name the flag when no table has timestamps.
absl::StatusOr<RowFilter> MakeRowFilter(const ExportOptions& options,
                                        const CheckpointReader& checkpoint,
                                        const ShardCounts& tables);

// Told, every MiB or so, the bytes of rows read of all; a non-OK status
// stops the write and is returned.
using RewriteProgress = std::function<absl::Status(uint64_t done, uint64_t total)>;

struct RewrittenTables {
  std::string prefix;                           // The checkpoint written.
  std::map<std::string, TableRowsKept> tables;  // Rows kept and dropped.
};

// Writes model.ckpt-<step> into `model_dir`, a checkpoint in which each
// table of `shards` has exactly its n shards, each holding the rows routed
// to it that the filter keeps (keys, values encoded as options say, and
// timestamps where every shard of the table has them, for delta exports;
// freqs and optimizer slots, which serving never reads, are left out),
// shard i of every table in data file i; the tensors of no table (dense
// variables) are copied into data file max(n), and the other tables are left
// out. A filter on a table without the tensor it reads is an error naming
// the table and the flag. Streams the rows: each checkpoint tensor is read
// once front to back (keys twice) and its rows go to all n serving shards at
// once; memory is the serving shard of every row of the table being written
// (2 bytes per row) and 8 MiB of buffered rows.
absl::StatusOr<RewrittenTables> RewriteTables(const CheckpointReader& checkpoint,
                                              const ShardCounts& shards,
                                              const RewriteOptions& options,
                                              const std::string& model_dir,
                                              const RewriteProgress& progress = nullptr);

// A checkpoint whose tables were rewritten (RewriteTables) into a staged
// folder under an export base, which goes when this does.
struct StagedRewrite {
  std::optional<StagedDirectory> folder;
  std::unique_ptr<CheckpointReader> checkpoint;
  std::map<std::string, TableRowsKept> tables;
};
absl::StatusOr<StagedRewrite> RewriteTablesInStaging(
    const CheckpointReader& checkpoint, const ShardCounts& shards, const RewriteOptions& options,
    const std::string& export_dir_base, int64_t version, const RewriteProgress& progress);

// The progress callback of an export told ExportProgress::kRewritingTables
// events, for an export of `num_ps` shards (0: standalone).
RewriteProgress ReportRewriting(const ExportProgressCallback& progress, int num_ps);

}  // namespace recship

#endif  // RECSHIP_SRC_EXPORT_TABLE_REWRITER_H_
