#include "recship/export/delta_exporter.h"

#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <unordered_map>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "recship/core/crc32c.h"
#include "recship/core/file.h"
#include "recship/core/staged_directory.h"
#include "recship/core/status_macros.h"
#include "recship/format/row_index.h"
#include "recship/format/saved_model.h"
#include "recship/format/sub_model.h"
#include "recship/format/table_index_file.h"
#include "recship/format/tensor_bundle.h"
#include "recship/model/checkpoint.h"
#include "src/export/export_steps.h"

namespace recship {
namespace {

namespace fs = std::filesystem;

std::string VariablesPrefix(const std::string& dir) {
  return (fs::path(dir) / kVariablesDirectory / kVariablesFilename).string();
}

// Table name -> the shards whose keys a bundle holds ("<t>/shard_<j>-keys"),
// ascending: the order a model's restore adds them to the table.
std::map<std::string, std::vector<int>> TableShards(const BundleReader& bundle) {
  std::map<std::string, std::vector<int>> tables;
  for (const BundleEntry& entry : bundle.entries()) {
    absl::string_view name = entry.name;
    if (!absl::EndsWith(name, "-keys")) continue;
    name.remove_suffix(5);
    size_t slash = name.rfind("/shard_");
    int shard;
    if (slash == absl::string_view::npos || !absl::SimpleAtoi(name.substr(slash + 7), &shard)) {
      continue;
    }
    tables[std::string(name.substr(0, slash))].push_back(shard);
  }
  for (auto& [name, shards] : tables) std::sort(shards.begin(), shards.end());
  return tables;
}

// The rows a sub-model serves of one table: its base version's (mapped,
// found through the base's index file or an index built here) under the
// rows of the deltas already written for that base.
class ServedRows {
 public:
  static absl::StatusOr<ServedRows> Load(const BundleReader& base, const std::string& version_dir,
                                         const std::string& table, const std::vector<int>& shards) {
    ServedRows out;
    std::vector<RowIndex::KeyRun> runs;
    for (int shard : shards) {
      RECSHIP_ASSIGN_OR_RETURN(out.keys_.emplace_back(),
                               base.Map(TableShardTensorName(table, shard, "keys")));
      RECSHIP_ASSIGN_OR_RETURN(out.values_.emplace_back(),
                               base.Map(TableShardTensorName(table, shard, "values")));
      runs.push_back({out.keys_.back(), TableRowRef(static_cast<int64_t>(runs.size()) + 1, 0)});
    }
    const Tensor& first = out.values_.front();
    out.dtype_ = first.dtype();
    out.row_shape_.assign(first.shape().begin() + 1, first.shape().end());
    out.row_bytes_ = first.shape()[0] == 0 ? 0 : first.byte_size() / first.shape()[0];
    out.index_ = out.IndexFromFile(version_dir, table);
    if (out.index_ == nullptr) {
      out.index_ = std::make_unique<RowIndex>();
      out.index_->PutAll(runs);
    }
    return out;
  }

  // Rows of the earlier deltas of this base, in order.
  absl::Status ApplyDelta(const BundleReader& delta, const std::string& table) {
    if (delta.Find(DeltaKeysName(table)) == nullptr) return absl::OkStatus();
    RECSHIP_ASSIGN_OR_RETURN(Tensor keys, delta.Read(DeltaKeysName(table)));
    RECSHIP_ASSIGN_OR_RETURN(Tensor values, delta.Read(DeltaValuesName(table)));
    RECSHIP_ASSIGN_OR_RETURN(Tensor deleted, delta.Read(DeltaDeletedName(table)));
    if (values.byte_size() != static_cast<size_t>(keys.num_elements()) * row_bytes_) {
      return absl::DataLossError(absl::StrCat(delta.prefix(), ": rows of table '", table,
                                              "' are not ", row_bytes_, " bytes"));
    }
    for (int64_t i = 0; i < keys.num_elements(); ++i) {
      overlay_[keys.flat<int64_t>()[i]] =
          std::string(reinterpret_cast<const char*>(values.data()) + i * row_bytes_, row_bytes_);
    }
    for (int64_t i = 0; i < deleted.num_elements(); ++i)
      overlay_[deleted.flat<int64_t>()[i]].reset();
    return absl::OkStatus();
  }

  // The row served for `key`, or null.
  const std::byte* Find(int64_t key) const {
    if (auto it = overlay_.find(key); it != overlay_.end()) {
      return it->second ? reinterpret_cast<const std::byte*>(it->second->data()) : nullptr;
    }
    int64_t ref = index_->Find(key);
    if (ref == RowIndex::kNone) return nullptr;
    const Tensor& view = values_[static_cast<size_t>((ref >> kTableRefSegmentShift) - 1)];
    return view.data() + (ref & kTableRefRowMask) * static_cast<int64_t>(row_bytes_);
  }
  // Calls f(key) for every key served.
  template <typename F>
  void ForEachKey(F&& f) const {
    index_->ForEach([&](int64_t key, int64_t) {
      if (!overlay_.contains(key)) f(key);
    });
    for (const auto& [key, row] : overlay_) {
      if (row) f(key);
    }
  }
  DataType dtype() const { return dtype_; }
  const TensorShape& row_shape() const { return row_shape_; }
  size_t row_bytes() const { return row_bytes_; }

 private:
  // The base's own index when it indexes exactly these keys, else null.
  std::unique_ptr<RowIndex> IndexFromFile(const std::string& version_dir,
                                          const std::string& table) const {
    fs::path path = fs::path(version_dir) / kExtraAssetsDirectory / kTableIndexDirectory /
                    TableIndexFilename(table);
    std::error_code ec;
    if (!fs::exists(path, ec)) return nullptr;
    absl::StatusOr<std::unique_ptr<TableIndexFile>> file = TableIndexFile::Open(path.string());
    if (!file.ok() || (*file)->views().size() != keys_.size()) return nullptr;
    for (size_t v = 0; v < keys_.size(); ++v) {
      if ((*file)->views()[v].rows != keys_[v].num_elements() ||
          (*file)->views()[v].keys_checksum != KeysChecksum(keys_[v])) {
        return nullptr;
      }
    }
    return (*file)->TakeIndex();
  }

  std::vector<Tensor> keys_, values_;
  std::unique_ptr<RowIndex> index_;
  std::unordered_map<int64_t, std::optional<std::string>> overlay_;
  DataType dtype_ = tensorflow::DT_FLOAT;
  TensorShape row_shape_;
  size_t row_bytes_ = 0;
};

// One table's part of a delta.
struct TableDelta {
  std::vector<int64_t> keys;
  std::string rows;
  std::vector<int64_t> deleted;
};

absl::StatusOr<TableDelta> DiffTable(const ServedRows& served, const CheckpointReader& checkpoint,
                                     const std::string& table, const std::vector<int>& shards) {
  std::vector<Tensor> keys, values;
  std::vector<RowIndex::KeyRun> runs;
  for (int shard : shards) {
    std::string keys_name = TableShardTensorName(table, shard, "keys");
    std::string values_name = TableShardTensorName(table, shard, "values");
    RECSHIP_ASSIGN_OR_RETURN(keys.emplace_back(), checkpoint.bundle().Map(keys_name));
    RECSHIP_ASSIGN_OR_RETURN(values.emplace_back(), checkpoint.bundle().Map(values_name));
    const Tensor& v = values.back();
    if (v.dtype() != served.dtype() || v.shape().size() < 1 ||
        TensorShape(v.shape().begin() + 1, v.shape().end()) != served.row_shape() ||
        v.shape()[0] != keys.back().num_elements() || keys.back().dtype() != tensorflow::DT_INT64) {
      return absl::InvalidArgumentError(absl::StrCat(
          "checkpoint ", checkpoint.prefix(), ": ", values_name, " is ", DataTypeName(v.dtype()),
          " ", ShapeToString(v.shape()), ", but the served rows are ", DataTypeName(served.dtype()),
          " ", ShapeToString(served.row_shape()), " (with int64 keys of the same length)"));
    }
    runs.push_back({keys.back(), TableRowRef(static_cast<int64_t>(runs.size()) + 1, 0)});
  }
  RowIndex latest;  // Each id's winning occurrence in the checkpoint.
  latest.PutAll(runs);
  TableDelta delta;
  const size_t row_bytes = served.row_bytes();
  for (size_t s = 0; s < keys.size(); ++s) {
    for (int64_t row = 0; row < keys[s].num_elements(); ++row) {
      const int64_t key = keys[s].flat<int64_t>()[row];
      if (latest.Find(key) != TableRowRef(static_cast<int64_t>(s) + 1, row)) continue;
      const std::byte* now = values[s].data() + row * static_cast<int64_t>(row_bytes);
      const std::byte* before = served.Find(key);
      if (before != nullptr && std::memcmp(before, now, row_bytes) == 0) continue;
      delta.keys.push_back(key);
      delta.rows.append(reinterpret_cast<const char*>(now), row_bytes);
    }
  }
  served.ForEachKey([&](int64_t key) {
    if (latest.Find(key) == RowIndex::kNone) delta.deleted.push_back(key);
  });
  return delta;
}

absl::Status AddTableDelta(BundleWriter& writer, const std::string& table, const TableDelta& delta,
                           const ServedRows& served) {
  const auto n = static_cast<int64_t>(delta.keys.size());
  RECSHIP_RETURN_IF_ERROR(
      writer.Add(DeltaKeysName(table), Tensor::FromVector<int64_t>({n}, delta.keys)));
  TensorShape shape = {n};
  shape.insert(shape.end(), served.row_shape().begin(), served.row_shape().end());
  RECSHIP_ASSIGN_OR_RETURN(Tensor values, Tensor::Create(served.dtype(), shape));
  if (!delta.rows.empty()) std::memcpy(values.data(), delta.rows.data(), delta.rows.size());
  RECSHIP_RETURN_IF_ERROR(writer.Add(DeltaValuesName(table), values));
  return writer.Add(
      DeltaDeletedName(table),
      Tensor::FromVector<int64_t>({static_cast<int64_t>(delta.deleted.size())}, delta.deleted));
}

// The next sequence number of `root`, checking the earlier ones run 1..n.
absl::StatusOr<int64_t> NextSequence(const std::string& root) {
  std::vector<int64_t> sequences = ListDeltas(root);
  for (size_t i = 0; i < sequences.size(); ++i) {
    if (sequences[i] != static_cast<int64_t>(i) + 1) {
      return absl::FailedPreconditionError(absl::StrCat(
          root, ": ", DeltaFolderName(static_cast<int64_t>(i) + 1), " is missing before ",
          DeltaFolderName(sequences[i]), "; a delta can only follow a complete sequence"));
    }
  }
  return static_cast<int64_t>(sequences.size()) + 1;
}

// A sub-model's delta, written and not yet published.
struct StagedDelta {
  StagedDirectory staged;
  DeltaSummary::Written written;
};

absl::StatusOr<StagedDelta> WriteSubModelDelta(const std::string& sub_base,
                                               const CheckpointReader& checkpoint,
                                               const DeltaExportOptions& options) {
  const std::string version_dir =
      (fs::path(sub_base) / std::to_string(options.base_version)).string();
  RECSHIP_ASSIGN_OR_RETURN(std::unique_ptr<BundleReader> base,
                           BundleReader::Open(VariablesPrefix(version_dir)));
  const std::string root = DeltaRoot(sub_base, options.base_version);
  RECSHIP_ASSIGN_OR_RETURN(int64_t sequence, NextSequence(root));
  std::vector<std::unique_ptr<BundleReader>> earlier;
  for (int64_t s = 1; s < sequence; ++s) {
    RECSHIP_ASSIGN_OR_RETURN(
        earlier.emplace_back(),
        BundleReader::Open(VariablesPrefix((fs::path(root) / DeltaFolderName(s)).string())));
  }
  RECSHIP_ASSIGN_OR_RETURN(StagedDirectory staged,
                           StagedDirectory::Create(root, DeltaFolderName(sequence)));
  std::error_code ec;
  fs::create_directories(fs::path(staged.path()) / kVariablesDirectory, ec);
  RECSHIP_ASSIGN_OR_RETURN(
      std::unique_ptr<BundleWriter> writer,
      BundleWriter::Create(VariablesPrefix(staged.path()), {.data_alignment = 8}));
  DeltaManifest manifest;
  manifest.base_version = options.base_version;
  manifest.sequence = sequence;
  manifest.checkpoint = checkpoint.prefix();
  manifest.global_step = checkpoint.global_step().value_or(-1);
  manifest.created_unix_seconds = absl::ToUnixSeconds(ClockOrReal(options.clock).Now());
  for (const auto& [table, shards] : TableShards(*base)) {
    RECSHIP_ASSIGN_OR_RETURN(ServedRows served,
                             ServedRows::Load(*base, version_dir, table, shards));
    for (const auto& delta : earlier) RECSHIP_RETURN_IF_ERROR(served.ApplyDelta(*delta, table));
    RECSHIP_ASSIGN_OR_RETURN(TableDelta delta, DiffTable(served, checkpoint, table, shards));
    RECSHIP_RETURN_IF_ERROR(AddTableDelta(*writer, table, delta, served));
    manifest.tables[table] = {static_cast<int64_t>(delta.keys.size()),
                              static_cast<int64_t>(delta.deleted.size())};
  }
  RECSHIP_RETURN_IF_ERROR(writer->Finish());
  RECSHIP_ASSIGN_OR_RETURN(std::string index,
                           ReadFileToString(BundleIndexPath(VariablesPrefix(staged.path()))));
  manifest.index_crc32c = crc32c::Mask(crc32c::Value(index));
  RECSHIP_ASSIGN_OR_RETURN(
      auto file, WritableFile::Create((fs::path(staged.path()) / kDeltaManifestFilename).string()));
  RECSHIP_RETURN_IF_ERROR(file->Append(manifest.ToJson()));
  RECSHIP_RETURN_IF_ERROR(file->Close());
  std::string path = staged.final_path();
  return StagedDelta{std::move(staged), {sub_base, std::move(path), std::move(manifest)}};
}

// The model bases that serve tables at the base version: the standalone
// model, else each ps_<i>.
absl::StatusOr<std::vector<std::string>> SubModelBases(const std::string& export_dir_base,
                                                       int64_t version) {
  auto has_version = [&](const fs::path& base) {
    std::error_code ec;
    return fs::exists(base / std::to_string(version) / kSavedModelFilename, ec);
  };
  if (has_version(export_dir_base)) return std::vector<std::string>{export_dir_base};
  std::vector<std::string> bases;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(export_dir_base, ec)) {
    std::optional<SubModel> sub = SubModel::Parse(entry.path().filename().string());
    if (sub && sub->is_ps() && has_version(entry.path())) bases.push_back(entry.path().string());
  }
  std::sort(bases.begin(), bases.end());
  if (bases.empty()) {
    return absl::NotFoundError(absl::StrCat(
        "no version ", version, " under ", export_dir_base, " (neither ", version,
        "/saved_model.pb of a standalone model nor ps_<i>/", version, "/ of a distributed one)"));
  }
  return bases;
}

}  // namespace

absl::StatusOr<DeltaSummary> ExportDelta(const std::string& model_dir,
                                         const std::string& checkpoint_path,
                                         const std::string& export_dir_base,
                                         const DeltaExportOptions& options) {
  const Clock& clock = ClockOrReal(options.clock);
  const absl::Time start = clock.Now();
  RECSHIP_ASSIGN_OR_RETURN(std::vector<std::string> bases,
                           SubModelBases(export_dir_base, options.base_version));
  RECSHIP_ASSIGN_OR_RETURN(std::string checkpoint, ResolveCheckpoint(model_dir, checkpoint_path));
  RECSHIP_ASSIGN_OR_RETURN(std::unique_ptr<CheckpointReader> reader,
                           CheckpointReader::Open(checkpoint));
  // Every sub-model's delta is written before any is published, so a failure
  // publishes none.
  std::vector<StagedDelta> staged;
  for (const std::string& base : bases) {
    RECSHIP_ASSIGN_OR_RETURN(StagedDelta delta, WriteSubModelDelta(base, *reader, options));
    staged.push_back(std::move(delta));
  }
  DeltaSummary summary;
  summary.checkpoint = reader->prefix();
  for (StagedDelta& delta : staged) {
    RECSHIP_RETURN_IF_ERROR(delta.staged.Commit().status());
    summary.deltas.push_back(std::move(delta.written));
  }
  summary.seconds = absl::ToDoubleSeconds(clock.Now() - start);
  return summary;
}

}  // namespace recship
