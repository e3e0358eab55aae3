#include "src/export/table_resharder.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "recship/core/status_macros.h"

namespace recship {
namespace {

constexpr size_t kFlushBytes = 4 << 20;

int64_t FloorMod(int64_t x, int64_t n) { return ((x % n) + n) % n; }

// One table's tensors in the checkpoint, mapped: per checkpoint shard, its
// keys and the row tensors (values, then timestamps and freqs where every
// shard has them).
struct SourceTable {
  std::vector<int> shards;
  std::vector<Tensor> keys;
  std::vector<std::string> parts;            // "values", ...
  std::vector<std::vector<Tensor>> tensors;  // [part][source shard]
};

absl::StatusOr<SourceTable> MapTable(const CheckpointReader& checkpoint, const std::string& table) {
  SourceTable t;
  t.shards = checkpoint.tables().at(table);
  const BundleReader& bundle = checkpoint.bundle();
  for (int shard : t.shards) {
    RECSHIP_ASSIGN_OR_RETURN(t.keys.emplace_back(),
                             bundle.Map(TableShardTensorName(table, shard, "keys")));
    if (t.keys.back().dtype() != tensorflow::DT_INT64 || t.keys.back().shape().size() != 1) {
      return absl::InvalidArgumentError(absl::StrCat("checkpoint ", checkpoint.prefix(), ": ",
                                                     TableShardTensorName(table, shard, "keys"),
                                                     " is not int64 [N]"));
    }
  }
  for (const char* part : {"values", "timestamps"}) {
    std::vector<Tensor> tensors;
    for (size_t s = 0; s < t.shards.size(); ++s) {
      const std::string name = TableShardTensorName(table, t.shards[s], part);
      if (bundle.Find(name) == nullptr) break;
      RECSHIP_ASSIGN_OR_RETURN(tensors.emplace_back(), bundle.Map(name));
      const Tensor& rows = tensors.back();
      if (rows.shape().empty() || rows.shape()[0] != t.keys[s].num_elements()) {
        return absl::InvalidArgumentError(
            absl::StrCat("checkpoint ", checkpoint.prefix(), ": ", name, " has shape ",
                         ShapeToString(rows.shape()), ", not one row per key of ",
                         TableShardTensorName(table, t.shards[s], "keys")));
      }
    }
    if (tensors.size() == t.shards.size()) {
      t.parts.push_back(part);
      t.tensors.push_back(std::move(tensors));
    }
  }
  if (t.parts.empty() || t.parts.front() != "values") {
    return absl::NotFoundError(absl::StrCat("checkpoint ", checkpoint.prefix(), ": table '", table,
                                            "' lacks a -values tensor for some shard"));
  }
  return t;
}

// Per checkpoint shard, the rows whose ids route to one serving shard.
using RowSelection = std::vector<std::vector<int64_t>>;

RowSelection SelectRows(const SourceTable& table, int shard, int n) {
  RowSelection rows(table.keys.size());
  for (size_t s = 0; s < table.keys.size(); ++s) {
    const auto keys = table.keys[s].flat<int64_t>();
    for (int64_t r = 0; r < static_cast<int64_t>(keys.size()); ++r) {
      if (FloorMod(keys[r], n) == shard) rows[s].push_back(r);
    }
  }
  return rows;
}

// Counts the bytes written and tells the progress callback.
class Progress {
 public:
  Progress(const ReshardProgress& callback, uint64_t total) : callback_(callback), total_(total) {}
  absl::Status Add(int shard, uint64_t bytes) {
    done_ += bytes;
    return callback_ ? callback_(shard, done_, total_) : absl::OkStatus();
  }

 private:
  const ReshardProgress& callback_;
  const uint64_t total_;
  uint64_t done_ = 0;
};

// Streams the `rows` of `source` (one tensor per checkpoint shard) as tensor
// `name` of data file `shard`.
absl::Status WriteRows(const std::vector<Tensor>& source, const RowSelection& rows, int shard,
                       const std::string& name, BundleWriter& out, Progress& progress) {
  TensorShape shape = source.front().shape();
  shape[0] = 0;
  for (const auto& selected : rows) shape[0] += static_cast<int64_t>(selected.size());
  RECSHIP_RETURN_IF_ERROR(out.BeginTensor(name, source.front().dtype(), shape, shard));
  std::string buffer;
  for (size_t s = 0; s < source.size(); ++s) {
    const int64_t count = source[s].shape()[0];
    const size_t row_bytes = count == 0 ? 0 : source[s].byte_size() / static_cast<size_t>(count);
    const char* data = reinterpret_cast<const char*>(source[s].data());
    for (int64_t r : rows[s]) {
      buffer.append(data + r * static_cast<int64_t>(row_bytes), row_bytes);
      if (buffer.size() >= kFlushBytes) {
        RECSHIP_RETURN_IF_ERROR(out.Append(buffer));
        RECSHIP_RETURN_IF_ERROR(progress.Add(shard, buffer.size()));
        buffer.clear();
      }
    }
  }
  RECSHIP_RETURN_IF_ERROR(out.Append(buffer));
  RECSHIP_RETURN_IF_ERROR(progress.Add(shard, buffer.size()));
  return out.EndTensor();
}

uint64_t Bytes(const SourceTable& table) {
  uint64_t bytes = 0;
  for (const Tensor& keys : table.keys) bytes += keys.byte_size();
  for (const auto& part : table.tensors) {
    for (const Tensor& t : part) bytes += t.byte_size();
  }
  return bytes;
}

absl::Status ReshardTable(const SourceTable& table, const std::string& name, int n,
                          BundleWriter& out, Progress& progress) {
  for (int shard = 0; shard < n; ++shard) {
    const RowSelection rows = SelectRows(table, shard, n);
    RECSHIP_RETURN_IF_ERROR(WriteRows(table.keys, rows, shard,
                                      TableShardTensorName(name, shard, "keys"), out, progress));
    for (size_t p = 0; p < table.parts.size(); ++p) {
      RECSHIP_RETURN_IF_ERROR(WriteRows(table.tensors[p], rows, shard,
                                        TableShardTensorName(name, shard, table.parts[p]), out,
                                        progress));
    }
  }
  return absl::OkStatus();
}

// Whether `name` is a tensor of one of the checkpoint's tables.
bool IsTableTensor(const std::string& name, const CheckpointReader& checkpoint) {
  size_t slash = name.rfind("/shard_");
  return slash != std::string::npos && checkpoint.tables().contains(name.substr(0, slash));
}

}  // namespace

absl::StatusOr<std::vector<std::string>> TablesToReshard(const CheckpointReader& checkpoint,
                                                         const ShardCounts& shards) {
  std::vector<std::string> out;
  for (const auto& [table, n] : shards) {
    auto it = checkpoint.tables().find(table);
    if (it == checkpoint.tables().end()) continue;  // PlanRestore names it.
    std::vector<int> wanted(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) wanted[static_cast<size_t>(i)] = i;
    bool routed = it->second == wanted;
    for (size_t s = 0; routed && s < it->second.size(); ++s) {
      RECSHIP_ASSIGN_OR_RETURN(
          Tensor keys, checkpoint.bundle().Map(TableShardTensorName(table, it->second[s], "keys")));
      if (keys.dtype() != tensorflow::DT_INT64) break;  // Left to PlanRestore to name.
      for (int64_t key : keys.flat<int64_t>()) {
        if (FloorMod(key, n) != it->second[s]) {
          routed = false;
          break;
        }
      }
    }
    if (!routed) out.push_back(table);
  }
  return out;
}

absl::StatusOr<std::string> WriteReshardedCheckpoint(const CheckpointReader& checkpoint,
                                                     const ShardCounts& shards,
                                                     const std::string& model_dir,
                                                     const ReshardProgress& callback) {
  int max_shards = 1;
  for (const auto& [table, n] : shards) max_shards = std::max(max_shards, n);
  RECSHIP_ASSIGN_OR_RETURN(std::unique_ptr<CheckpointWriter> writer,
                           CheckpointWriter::Create(model_dir, checkpoint.global_step().value_or(0),
                                                    {.num_data_shards = max_shards + 1}));
  std::map<std::string, SourceTable> tables;
  uint64_t total = 0;
  for (const auto& [table, n] : shards) {
    if (!checkpoint.tables().contains(table)) continue;
    RECSHIP_ASSIGN_OR_RETURN(tables[table], MapTable(checkpoint, table));
    total += Bytes(tables[table]);
  }
  Progress progress(callback, total);
  for (const auto& [name, table] : tables) {
    RECSHIP_RETURN_IF_ERROR(ReshardTable(table, name, shards.at(name), writer->bundle(), progress));
  }
  for (const BundleEntry& entry : checkpoint.bundle().entries()) {
    if (entry.name == kGlobalStepName || IsTableTensor(entry.name, checkpoint)) continue;
    RECSHIP_ASSIGN_OR_RETURN(Tensor tensor, checkpoint.bundle().Read(entry.name));
    RECSHIP_RETURN_IF_ERROR(writer->bundle().Add(entry.name, tensor, max_shards));
  }
  return writer->Finish();
}

}  // namespace recship
