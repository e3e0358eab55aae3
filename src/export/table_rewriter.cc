#include "src/export/table_rewriter.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "recship/core/status_macros.h"
#include "recship/format/table_times.h"

namespace recship {
namespace {

// Rows are read this many bytes at a time from each checkpoint tensor, and
// buffered up to kBufferedBytes in all before they are written.
constexpr uint64_t kReadBytes = 1 << 20;
constexpr uint64_t kBufferedBytes = 8 << 20;

int64_t FloorMod(int64_t x, int64_t n) { return ((x % n) + n) % n; }

// One table's tensors in the checkpoint, by name: per checkpoint shard, its
// keys and the per-row parts (values, then timestamps and freqs where every
// shard has them), checked against each other from the index alone.
struct SourceTable {
  std::string name;
  std::vector<int> shards;
  std::vector<int64_t> rows;         // Per checkpoint shard.
  std::vector<std::string> parts;    // "values", ...
  std::vector<BundleEntry> entries;  // Per part: the first shard's, for dtype and row shape.

  bool Has(absl::string_view part) const {
    return std::find(parts.begin(), parts.end(), part) != parts.end();
  }
};

absl::StatusOr<SourceTable> DescribeTable(const CheckpointReader& checkpoint,
                                          const std::string& table, const RewriteOptions& options) {
  SourceTable t{.name = table, .shards = checkpoint.tables().at(table)};
  const BundleReader& bundle = checkpoint.bundle();
  for (int shard : t.shards) {
    const std::string name = TableShardTensorName(table, shard, "keys");
    RECSHIP_ASSIGN_OR_RETURN(const BundleEntry* keys, bundle.Lookup(name));
    if (keys->dtype != tensorflow::DT_INT64 || keys->shape.size() != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("checkpoint ", checkpoint.prefix(), ": ", name, " is not int64 [N]"));
    }
    t.rows.push_back(keys->shape[0]);
  }
  for (const char* part : {"values", "timestamps", "freqs"}) {
    std::vector<const BundleEntry*> found;
    for (size_t s = 0; s < t.shards.size(); ++s) {
      const std::string name = TableShardTensorName(table, t.shards[s], part);
      const BundleEntry* entry = bundle.Find(name);
      if (entry == nullptr) break;
      if (entry->shape.empty() || entry->shape[0] != t.rows[s] || DataTypeSize(entry->dtype) == 0 ||
          (!found.empty() && (entry->dtype != found[0]->dtype ||
                              !std::equal(entry->shape.begin() + 1, entry->shape.end(),
                                          found[0]->shape.begin() + 1, found[0]->shape.end())))) {
        return absl::InvalidArgumentError(absl::StrCat(
            "checkpoint ", checkpoint.prefix(), ": ", name, " is ", DataTypeName(entry->dtype), " ",
            ShapeToString(entry->shape), ", not one row per key of ",
            TableShardTensorName(table, t.shards[s], "keys"), " like the table's other shards"));
      }
      found.push_back(entry);
    }
    if (found.size() == t.shards.size()) {
      t.parts.push_back(part);
      t.entries.push_back(*found.front());
    }
  }
  if (!t.Has("values")) {
    return absl::NotFoundError(absl::StrCat("checkpoint ", checkpoint.prefix(), ": table '", table,
                                            "' lacks a -values tensor for some shard"));
  }
  const BundleEntry& values = t.entries.front();
  if (options.encoding != EmbeddingDtype::kFloat32 &&
      (values.dtype != tensorflow::DT_FLOAT || values.shape.size() != 2)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--embedding-dtype ", EmbeddingDtypeName(options.encoding),
        " encodes float32 [N, dim] rows, but ", values.name, " in checkpoint ", checkpoint.prefix(),
        " is ", DataTypeName(values.dtype), " ", ShapeToString(values.shape)));
  }
  auto require = [&](const char* part, const char* flag) -> absl::Status {
    if (t.Has(part)) return absl::OkStatus();
    return absl::FailedPreconditionError(
        absl::StrCat(flag, " needs every shard's -", part, ", but checkpoint ", checkpoint.prefix(),
                     " has none for some shard of table '", table, "' (",
                     TableShardTensorName(table, t.shards.front(), part), " ...)"));
  };
  if (options.filter.min_frequency) RECSHIP_RETURN_IF_ERROR(require("freqs", "--min-frequency"));
  if (options.filter.min_timestamp) RECSHIP_RETURN_IF_ERROR(require("timestamps", "--max-age"));
  return t;
}

// Counts the bytes of rows read and tells the progress callback.
class Progress {
 public:
  Progress(const RewriteProgress& callback, uint64_t total) : callback_(callback), total_(total) {}
  absl::Status Add(uint64_t bytes) {
    done_ += bytes;
    return callback_ ? callback_(done_, total_) : absl::OkStatus();
  }

 private:
  const RewriteProgress& callback_;
  const uint64_t total_;
  uint64_t done_ = 0;
};

// Calls `f(first_row, rows, data)` for consecutive pieces of a checkpoint
// tensor, read front to back (its crc32c checked at the end).
template <typename F>
absl::Status ForEachPiece(const BundleReader& bundle, const std::string& name, F&& f) {
  RECSHIP_ASSIGN_OR_RETURN(TensorStream stream, bundle.OpenStream(name));
  const uint64_t row_bytes = std::max<uint64_t>(stream.row_bytes(), 1);
  const int64_t rows = std::max<int64_t>(1, static_cast<int64_t>(kReadBytes / row_bytes));
  std::vector<char> piece(static_cast<size_t>(rows) * row_bytes);
  for (int64_t first = 0; stream.remaining_bytes() > 0; first += rows) {
    const int64_t n = std::min<int64_t>(rows, stream.remaining_bytes() / row_bytes);
    RECSHIP_RETURN_IF_ERROR(stream.ReadRows(n, piece.data()));
    RECSHIP_RETURN_IF_ERROR(f(first, n, piece.data()));
  }
  return absl::OkStatus();
}

// Per checkpoint shard, the serving shard of each row (floor_mod(id, n)), or
// kLeftOut for a row the filter leaves out.
constexpr uint16_t kLeftOut = 0xffff;
using Destinations = std::vector<std::vector<uint16_t>>;

// Reads what routing needs (keys, and freqs or timestamps for a filter).
absl::StatusOr<Destinations> RouteRows(const BundleReader& bundle, const SourceTable& table, int n,
                                       const RowFilter& filter, TableRowsKept& kept) {
  Destinations dest(table.shards.size());
  for (size_t s = 0; s < table.shards.size(); ++s) {
    dest[s].assign(static_cast<size_t>(table.rows[s]), 0);
    uint16_t* d = dest[s].data();
    RECSHIP_RETURN_IF_ERROR(
        ForEachPiece(bundle, TableShardTensorName(table.name, table.shards[s], "keys"),
                     [&](int64_t first, int64_t rows, const char* data) {
                       const auto* keys = reinterpret_cast<const int64_t*>(data);
                       for (int64_t r = 0; r < rows; ++r) {
                         d[first + r] = static_cast<uint16_t>(FloorMod(keys[r], n));
                       }
                       return absl::OkStatus();
                     }));
    auto leave_out_below = [&](const char* part, int64_t minimum) {
      return ForEachPiece(bundle, TableShardTensorName(table.name, table.shards[s], part),
                          [&](int64_t first, int64_t rows, const char* data) {
                            const auto* v = reinterpret_cast<const int64_t*>(data);
                            for (int64_t r = 0; r < rows; ++r) {
                              if (v[r] < minimum) d[first + r] = kLeftOut;
                            }
                            return absl::OkStatus();
                          });
    };
    if (filter.min_frequency) {
      RECSHIP_RETURN_IF_ERROR(leave_out_below("freqs", *filter.min_frequency));
    }
    if (filter.min_timestamp) {
      RECSHIP_RETURN_IF_ERROR(leave_out_below("timestamps", *filter.min_timestamp));
    }
    for (uint16_t x : dest[s]) ++(x == kLeftOut ? kept.dropped : kept.kept);
  }
  return dest;
}

// Streams one part of the table's rows, read once from every checkpoint
// shard in order, into tensor <t>/shard_<i>-<part> of data file i for every
// serving shard i at once; float32 values are encoded as `encoding` stores
// them.
absl::Status WritePart(const BundleReader& bundle, const SourceTable& table,
                       const std::string& part, const BundleEntry& like, const Destinations& dest,
                       const std::vector<int64_t>& counts, EmbeddingDtype encoding,
                       BundleWriter& out, Progress& progress) {
  const int n = static_cast<int>(counts.size());
  const bool encode = part == "values" && encoding != EmbeddingDtype::kFloat32;
  const int64_t dim = like.shape.size() == 2 ? like.shape[1] : 0;
  DataType dtype = encode ? tensorflow::DT_INT32 : like.dtype;
  for (int i = 0; i < n; ++i) {
    TensorShape shape = like.shape;
    shape[0] = counts[static_cast<size_t>(i)];
    if (encode) shape[1] = StoredRowWidth(encoding, dim);
    RECSHIP_RETURN_IF_ERROR(
        out.BeginTensor(TableShardTensorName(table.name, i, part), dtype, shape, i));
  }
  const uint64_t flush_at = std::max<uint64_t>(64 << 10, kBufferedBytes / static_cast<uint64_t>(n));
  std::vector<std::string> buffers(static_cast<size_t>(n));
  const size_t stored_bytes =
      encode ? static_cast<size_t>(StoredRowWidth(encoding, dim)) * sizeof(int32_t) : 0;
  uint64_t row_bytes = DataTypeSize(like.dtype);
  for (size_t d = 1; d < like.shape.size(); ++d) row_bytes *= static_cast<uint64_t>(like.shape[d]);
  for (size_t s = 0; s < table.shards.size(); ++s) {
    const uint16_t* d = dest[s].data();
    auto route_piece = [&](int64_t first, int64_t rows, const char* data) -> absl::Status {
      for (int64_t r = 0; r < rows; ++r) {
        const uint16_t i = d[first + r];
        if (i == kLeftOut) continue;
        std::string& buffer = buffers[i];
        const char* row = data + static_cast<uint64_t>(r) * row_bytes;
        if (encode) {
          buffer.resize(buffer.size() + stored_bytes);
          EncodeRows(encoding, reinterpret_cast<const float*>(row), 1, dim,
                     reinterpret_cast<int32_t*>(buffer.data() + buffer.size() - stored_bytes));
        } else {
          buffer.append(row, row_bytes);
        }
        if (buffer.size() >= flush_at) {
          RECSHIP_RETURN_IF_ERROR(out.Append(i, buffer));
          buffer.clear();
        }
      }
      return progress.Add(static_cast<uint64_t>(rows) * row_bytes);
    };
    RECSHIP_RETURN_IF_ERROR(
        ForEachPiece(bundle, TableShardTensorName(table.name, table.shards[s], part), route_piece));
  }
  for (int i = 0; i < n; ++i) {
    RECSHIP_RETURN_IF_ERROR(out.Append(i, buffers[static_cast<size_t>(i)]));
    RECSHIP_RETURN_IF_ERROR(out.EndTensor(i));
  }
  return absl::OkStatus();
}

uint64_t Bytes(const BundleReader& bundle, const SourceTable& table) {
  uint64_t bytes = 0;
  for (int shard : table.shards) {
    for (const char* part : {"keys", "values", "timestamps"}) {
      if (std::string(part) != "keys" && !table.Has(part)) continue;
      bytes += bundle.Find(TableShardTensorName(table.name, shard, part))->size;
    }
  }
  return bytes;
}

absl::Status RewriteTable(const BundleReader& bundle, const SourceTable& table, int n,
                          const RewriteOptions& options, BundleWriter& out, Progress& progress,
                          TableRowsKept& kept) {
  RECSHIP_ASSIGN_OR_RETURN(Destinations dest, RouteRows(bundle, table, n, options.filter, kept));
  std::vector<int64_t> counts(static_cast<size_t>(n), 0);
  for (const auto& rows : dest) {
    for (uint16_t i : rows) {
      if (i != kLeftOut) ++counts[i];
    }
  }
  const BundleEntry& keys = *bundle.Find(TableShardTensorName(table.name, table.shards[0], "keys"));
  RECSHIP_RETURN_IF_ERROR(
      WritePart(bundle, table, "keys", keys, dest, counts, options.encoding, out, progress));
  for (size_t p = 0; p < table.parts.size(); ++p) {
    if (table.parts[p] == "freqs") continue;  // Serving never reads them.
    RECSHIP_RETURN_IF_ERROR(WritePart(bundle, table, table.parts[p], table.entries[p], dest, counts,
                                      options.encoding, out, progress));
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
      const std::string name = TableShardTensorName(table, it->second[s], "keys");
      const BundleEntry* keys = checkpoint.bundle().Find(name);
      if (keys == nullptr || keys->dtype != tensorflow::DT_INT64) break;  // PlanRestore names it.
      const int64_t num_shards = n, home = it->second[s];
      absl::Status read =
          ForEachPiece(checkpoint.bundle(), name, [&](int64_t, int64_t rows, const char* data) {
            const auto* ids = reinterpret_cast<const int64_t*>(data);
            for (int64_t r = 0; r < rows && routed; ++r) {
              routed = FloorMod(ids[r], num_shards) == home;
            }
            // Stop reading at the first id routed elsewhere.
            return routed ? absl::OkStatus() : absl::CancelledError();
          });
      if (!read.ok() && routed) return read;
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
    RECSHIP_ASSIGN_OR_RETURN(tables[table], DescribeTable(checkpoint, table, options));
    total += Bytes(checkpoint.bundle(), tables[table]);
  }
  RewrittenTables out;
  Progress progress(callback, total);
  for (const auto& [name, table] : tables) {
    RECSHIP_RETURN_IF_ERROR(RewriteTable(checkpoint.bundle(), table, shards.at(name), options,
                                         writer->bundle(), progress, out.tables[name]));
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
  return [progress, num_ps](uint64_t done, uint64_t total) {
    ExportProgress p;
    p.event = ExportProgress::Event::kRewritingTables;
    p.num_sub_models = std::max(num_ps, 1);
    p.bytes = done;
    p.total_bytes = total;
    return progress(p);
  };
}

}  // namespace recship
