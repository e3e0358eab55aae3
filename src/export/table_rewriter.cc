#include "src/export/table_rewriter.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "recship/core/status_macros.h"
#include "recship/format/table_times.h"

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

  const std::vector<Tensor>* Part(absl::string_view name) const {
    for (size_t p = 0; p < parts.size(); ++p) {
      if (parts[p] == name) return &tensors[p];
    }
    return nullptr;
  }
};

absl::StatusOr<SourceTable> MapTable(const CheckpointReader& checkpoint, const std::string& table,
                                     const RewriteOptions& options) {
  const RowFilter& filter = options.filter;
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
  for (const char* part : {"values", "timestamps", "freqs"}) {
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
  auto require = [&](const char* part, const char* flag) -> absl::Status {
    if (t.Part(part) != nullptr) return absl::OkStatus();
    return absl::FailedPreconditionError(
        absl::StrCat(flag, " needs every shard's -", part, ", but checkpoint ", checkpoint.prefix(),
                     " has none for some shard of table '", table, "' (",
                     TableShardTensorName(table, t.shards.front(), part), " ...)"));
  };
  const Tensor& values = t.tensors.front().front();
  if (options.encoding != EmbeddingDtype::kFloat32 &&
      (values.dtype() != tensorflow::DT_FLOAT || values.shape().size() != 2)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--embedding-dtype ", EmbeddingDtypeName(options.encoding),
                     " encodes float32 [N, dim] rows, but ",
                     TableShardTensorName(table, t.shards.front(), "values"), " in checkpoint ",
                     checkpoint.prefix(), " is ", DataTypeName(values.dtype()), " ",
                     ShapeToString(values.shape())));
  }
  if (filter.min_frequency) RECSHIP_RETURN_IF_ERROR(require("freqs", "--min-frequency"));
  if (filter.min_timestamp) RECSHIP_RETURN_IF_ERROR(require("timestamps", "--max-age"));
  return t;
}

// Per checkpoint shard, the rows whose ids route to one serving shard.
using RowSelection = std::vector<std::vector<int64_t>>;

// Per checkpoint shard, the serving shard of each row (floor_mod(id, n),
// computed once: a division per row per serving shard was most of the
// time), or kLeftOut for a row the filter leaves out.
constexpr uint16_t kLeftOut = 0xffff;
using Destinations = std::vector<std::vector<uint16_t>>;

Destinations RouteRows(const SourceTable& table, int n, const RowFilter& filter,
                       TableRowsKept& kept) {
  const std::vector<Tensor>* freqs = table.Part("freqs");
  const std::vector<Tensor>* timestamps = table.Part("timestamps");
  Destinations dest(table.keys.size());
  for (size_t s = 0; s < table.keys.size(); ++s) {
    const auto keys = table.keys[s].flat<int64_t>();
    dest[s].resize(keys.size());
    for (size_t r = 0; r < keys.size(); ++r) {
      const bool keep =
          (!filter.min_frequency || (*freqs)[s].flat<int64_t>()[r] >= *filter.min_frequency) &&
          (!filter.min_timestamp || (*timestamps)[s].flat<int64_t>()[r] >= *filter.min_timestamp);
      dest[s][r] = keep ? static_cast<uint16_t>(FloorMod(keys[r], n)) : kLeftOut;
      ++(keep ? kept.kept : kept.dropped);
    }
  }
  return dest;
}

// The rows of serving shard `shard`.
RowSelection SelectRows(const Destinations& dest, int shard) {
  RowSelection rows(dest.size());
  for (size_t s = 0; s < dest.size(); ++s) {
    for (size_t r = 0; r < dest[s].size(); ++r) {
      if (dest[s][r] == shard) rows[s].push_back(static_cast<int64_t>(r));
    }
  }
  return rows;
}

// Counts the bytes written and tells the progress callback.
class Progress {
 public:
  Progress(const RewriteProgress& callback, uint64_t total) : callback_(callback), total_(total) {}
  absl::Status Add(int shard, uint64_t bytes) {
    done_ += bytes;
    return callback_ ? callback_(shard, done_, total_) : absl::OkStatus();
  }

 private:
  const RewriteProgress& callback_;
  const uint64_t total_;
  uint64_t done_ = 0;
};

// Streams the `rows` of `source` (one tensor per checkpoint shard) as tensor
// `name` of data file `shard`; float32 rows are encoded as `encoding` stores
// them.
absl::Status WriteRows(const std::vector<Tensor>& source, const RowSelection& rows, int shard,
                       const std::string& name, EmbeddingDtype encoding, BundleWriter& out,
                       Progress& progress) {
  TensorShape shape = source.front().shape();
  shape[0] = 0;
  for (const auto& selected : rows) shape[0] += static_cast<int64_t>(selected.size());
  DataType dtype = source.front().dtype();
  const bool encode = encoding != EmbeddingDtype::kFloat32;
  const int64_t dim = shape.size() == 2 ? shape[1] : 0;
  if (encode) {
    dtype = tensorflow::DT_INT32;
    shape[1] = StoredRowWidth(encoding, dim);
  }
  const size_t stored_bytes = encode ? static_cast<size_t>(shape[1]) * sizeof(int32_t) : 0;
  RECSHIP_RETURN_IF_ERROR(out.BeginTensor(name, dtype, shape, shard));
  std::string buffer;
  uint64_t read = 0;  // Bytes of rows read since the last flush.
  for (size_t s = 0; s < source.size(); ++s) {
    const int64_t count = source[s].shape()[0];
    const size_t row_bytes = count == 0 ? 0 : source[s].byte_size() / static_cast<size_t>(count);
    const char* data = reinterpret_cast<const char*>(source[s].data());
    for (int64_t r : rows[s]) {
      const char* row = data + r * static_cast<int64_t>(row_bytes);
      if (encode) {
        buffer.resize(buffer.size() + stored_bytes);
        EncodeRows(encoding, reinterpret_cast<const float*>(row), 1, dim,
                   reinterpret_cast<int32_t*>(buffer.data() + buffer.size() - stored_bytes));
      } else {
        buffer.append(row, row_bytes);
      }
      read += row_bytes;
      if (buffer.size() >= kFlushBytes) {
        RECSHIP_RETURN_IF_ERROR(out.Append(buffer));
        RECSHIP_RETURN_IF_ERROR(progress.Add(shard, read));
        buffer.clear();
        read = 0;
      }
    }
  }
  RECSHIP_RETURN_IF_ERROR(out.Append(buffer));
  RECSHIP_RETURN_IF_ERROR(progress.Add(shard, read));
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

absl::Status RewriteTable(const SourceTable& table, const std::string& name, int n,
                          const RewriteOptions& options, BundleWriter& out, Progress& progress,
                          TableRowsKept& kept) {
  const Destinations dest = RouteRows(table, n, options.filter, kept);
  for (int shard = 0; shard < n; ++shard) {
    const RowSelection rows = SelectRows(dest, shard);
    RECSHIP_RETURN_IF_ERROR(WriteRows(table.keys, rows, shard,
                                      TableShardTensorName(name, shard, "keys"),
                                      EmbeddingDtype::kFloat32, out, progress));
    for (size_t p = 0; p < table.parts.size(); ++p) {
      if (table.parts[p] == "freqs") continue;  // Serving never reads them.
      const EmbeddingDtype encoding =
          table.parts[p] == "values" ? options.encoding : EmbeddingDtype::kFloat32;
      RECSHIP_RETURN_IF_ERROR(WriteRows(table.tensors[p], rows, shard,
                                        TableShardTensorName(name, shard, table.parts[p]), encoding,
                                        out, progress));
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

absl::StatusOr<RowFilter> MakeRowFilter(const ExportOptions& options,
                                        const CheckpointReader& checkpoint,
                                        const ShardCounts& tables) {
  RowFilter filter;
  filter.min_frequency = options.min_frequency;
  if (!options.max_age) return filter;
  std::optional<int64_t> newest;
  for (const auto& [table, ignored] : tables) {
    auto it = checkpoint.tables().find(table);
    if (it == checkpoint.tables().end()) continue;
    RECSHIP_ASSIGN_OR_RETURN(std::optional<std::vector<Tensor>> timestamps,
                             checkpoint.TableTimestamps(table, it->second));
    std::optional<int64_t> table_newest = timestamps ? NewestTimestamp(*timestamps) : std::nullopt;
    if (table_newest) newest = std::max(newest.value_or(*table_newest), *table_newest);
  }
  if (!newest) {
    return absl::FailedPreconditionError(
        absl::StrCat("--max-age needs the rows' -timestamps, but checkpoint ", checkpoint.prefix(),
                     " has none for the tables exported"));
  }
  filter.min_timestamp = *newest - absl::ToInt64Seconds(*options.max_age);
  return filter;
}

absl::StatusOr<RewrittenTables> RewriteTables(const CheckpointReader& checkpoint,
                                              const ShardCounts& shards,
                                              const RewriteOptions& options,
                                              const std::string& model_dir,
                                              const RewriteProgress& callback) {
  int max_shards = 1;
  for (const auto& [table, n] : shards) max_shards = std::max(max_shards, n);
  RECSHIP_ASSIGN_OR_RETURN(std::unique_ptr<CheckpointWriter> writer,
                           CheckpointWriter::Create(model_dir, checkpoint.global_step().value_or(0),
                                                    {.num_data_shards = max_shards + 1}));
  std::map<std::string, SourceTable> tables;
  uint64_t total = 0;
  for (const auto& [table, n] : shards) {
    if (!checkpoint.tables().contains(table)) continue;
    RECSHIP_ASSIGN_OR_RETURN(tables[table], MapTable(checkpoint, table, options));
    total += Bytes(tables[table]);
  }
  RewrittenTables out;
  Progress progress(callback, total);
  for (const auto& [name, table] : tables) {
    RECSHIP_RETURN_IF_ERROR(RewriteTable(table, name, shards.at(name), options, writer->bundle(),
                                         progress, out.tables[name]));
  }
  for (const BundleEntry& entry : checkpoint.bundle().entries()) {
    if (entry.name == kGlobalStepName || IsTableTensor(entry.name, checkpoint)) continue;
    RECSHIP_ASSIGN_OR_RETURN(Tensor tensor, checkpoint.bundle().Read(entry.name));
    RECSHIP_RETURN_IF_ERROR(writer->bundle().Add(entry.name, tensor, max_shards));
  }
  RECSHIP_ASSIGN_OR_RETURN(out.prefix, writer->Finish());
  return out;
}

absl::StatusOr<StagedRewrite> RewriteTablesInStaging(
    const CheckpointReader& checkpoint, const ShardCounts& shards, const RewriteOptions& options,
    const std::string& export_dir_base, int64_t version, const RewriteProgress& progress) {
  StagedRewrite out;
  RECSHIP_ASSIGN_OR_RETURN(
      out.folder, StagedDirectory::Create(export_dir_base, absl::StrCat("tables-", version)));
  RECSHIP_ASSIGN_OR_RETURN(RewrittenTables rewritten, RewriteTables(checkpoint, shards, options,
                                                                    out.folder->path(), progress));
  RECSHIP_ASSIGN_OR_RETURN(out.checkpoint, CheckpointReader::Open(rewritten.prefix));
  out.tables = std::move(rewritten.tables);
  return out;
}

RewriteProgress ReportRewriting(const ExportProgressCallback& progress, int num_ps) {
  if (!progress) return nullptr;
  return [progress, num_ps](int shard, uint64_t done, uint64_t total) {
    ExportProgress p;
    p.event = ExportProgress::Event::kRewritingTables;
    p.sub_model = num_ps > 0 ? SubModel::Ps(shard) : SubModel::Standalone();
    p.sub_model_index = num_ps > 0 ? shard : 0;
    p.num_sub_models = std::max(num_ps, 1);
    p.bytes = done;
    p.total_bytes = total;
    return progress(p);
  };
}

}  // namespace recship
