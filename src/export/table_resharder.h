// Re-sharding at export (private to export/): the number of serving shards
// is an export choice, not a training fact. A table's rows are routed as
// the entry routes ids, the row of id x to shard floor_mod(x, n), whatever
// shard of the checkpoint holds it: a checkpoint of any number of shards,
// routed by floor_mod or not, serves on n shards.
#ifndef RECSHIP_SRC_EXPORT_TABLE_RESHARDER_H_
#define RECSHIP_SRC_EXPORT_TABLE_RESHARDER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "recship/model/checkpoint.h"

namespace recship {

// Table name -> the number of shards it is served on.
using ShardCounts = std::map<std::string, int>;

// The tables of `checkpoint` among `shards` whose rows are not already where
// the serving shards want them: their checkpoint shards are not exactly
// 0 .. n-1, or some shard holds an id routed elsewhere. Reads every key.
absl::StatusOr<std::vector<std::string>> TablesToReshard(const CheckpointReader& checkpoint,
                                                         const ShardCounts& shards);

// Writes model.ckpt-<step> into `model_dir`, a checkpoint in which each
// table of `shards` has exactly its n shards, each holding the rows routed
// to it (keys and values, and timestamps where every shard of the table
// has them, for delta exports; freqs and optimizer slots, which serving
// never reads, are left out), shard i of every table in data file i; the tensors of no table
// (dense variables) are copied into data file max(n), and the other tables
// are left out. Streams the rows: memory is a buffer of rows plus the row
// numbers of one serving shard (8 bytes per row it gets). Returns the
// prefix.
// Told, every few MiB, the serving shard being written and the bytes of
// rows written of all; a non-OK status stops the write and is returned.
using ReshardProgress = std::function<absl::Status(int shard, uint64_t done, uint64_t total)>;

absl::StatusOr<std::string> WriteReshardedCheckpoint(const CheckpointReader& checkpoint,
                                                     const ShardCounts& shards,
                                                     const std::string& model_dir,
                                                     const ReshardProgress& progress = nullptr);

}  // namespace recship

#endif  // RECSHIP_SRC_EXPORT_TABLE_RESHARDER_H_
